// The Data page's "Ingest data" panel. In the desktop window: a native file dialog (the
// `pick_and_ingest` command). In a browser: a form of paths on the server's own disk
// (`POST /api/v1/ingest`). Either way it follows the started job through the shared event
// subscription, as the Pipeline page does, and shows how it ended.

import { code, errorBox, h, onNextFrame, replace, section } from '../dom';
import type { Child } from '../dom';
import { duration, int } from '../format';
import type { PageContext } from '../page';
import { ApiError, api, isTauri, pickAndIngest, subscribe } from '../transport';
import type { IngestSummary, Job, ProgressEvent, RunDetail } from '../types';
import { applyProgress } from './pipeline';

/**
 * Builds the panel. `onJobEnd(job, mine)` is called when a job is seen ending while the page is
 * open (`mine`: this panel started it), so the page can reload what the job changed.
 */
export function ingestPanel(ctx: PageContext, onJobEnd: (job: Job, mine: boolean) => void): HTMLElement {
  const desktop = isTauri();
  const busyNote = h('span', { class: 'muted small', testid: 'ingest-busy' });
  const errorSlot = h('div', { testid: 'ingest-error-slot' });
  const jobSlot = h('div', { testid: 'ingest-job-slot' });

  /** The newest job seen, whoever started it. */
  let latest: Job | null = null;
  /** The job this panel started, as last seen. */
  let mine: Job | null = null;
  let posting = false;
  /** The error of the last start (shown until the next start, or until the blocking job ends). */
  let startError: ApiError | null = null;
  let summary: IngestSummary | null = null;
  /** The last snapshot seen of every job (by id), so a late start answer cannot hide an end. */
  const seen = new Map<number, Job>();
  let settledMine = -1;
  const stageStarted = new Map<string, number>();

  const running = () => latest !== null && latest.state === 'running';

  // ---- the controls -------------------------------------------------------------------------

  const submit = h(
    'button',
    { class: 'primary', testid: desktop ? 'ingest-pick' : 'ingest-submit', attrs: { type: desktop ? 'button' : 'submit' } },
    desktop ? 'Choose files…' : 'Ingest',
  );
  let paths: HTMLTextAreaElement | null = null;
  /** The browser form's `bqx ingest` options (empty = detected from each file). */
  const options = {} as { format: HTMLSelectElement; pair: HTMLInputElement; tz: HTMLInputElement; side: HTMLSelectElement };
  let controls: HTMLElement;
  if (desktop) {
    submit.addEventListener('click', () => void start());
    controls = h(
      'div',
      { class: 'ingest-desktop' },
      h(
        'p',
        { class: 'muted' },
        'Bar, tick or archive files on this computer (CSV, TXT, ZIP, Parquet). The format, pair, time zone and price side are detected from each file, as ',
        code('bqx ingest FILE…'),
        ' does; files that need ',
        code('--format'),
        ', ',
        code('--pair'),
        ', ',
        code('--tz'),
        ' or ',
        code('--side'),
        ' (MetaTrader exports need ',
        code('--tz'),
        ') still go through the command line.',
      ),
      h('div', { class: 'ingest-actions' }, submit, busyNote),
    );
  } else {
    options.format = h(
      'select',
      { testid: 'ingest-format', attrs: { 'aria-label': 'Format' } },
      ['auto', 'histdata', 'dukascopy', 'mt4', 'mt5', 'truefx', 'ecb', 'csv', 'parquet'].map((f) => h('option', { attrs: { value: f } }, f)),
    );
    options.pair = h('input', { testid: 'ingest-pair', attrs: { 'aria-label': 'Pair', placeholder: 'from the file', size: 10, spellcheck: 'false' } });
    options.tz = h('input', {
      testid: 'ingest-tz',
      attrs: { 'aria-label': 'Time zone', placeholder: 'e.g. Europe/Athens, UTC+2, ny-close', size: 30, spellcheck: 'false' },
    });
    options.side = h(
      'select',
      { testid: 'ingest-side', attrs: { 'aria-label': 'Side' } },
      ['', 'bid', 'ask', 'mid'].map((v) => h('option', { attrs: { value: v } }, v === '' ? 'from the file' : v)),
    );
    paths = h('textarea', {
      class: 'ingest-paths',
      testid: 'ingest-paths',
      attrs: {
        rows: 3,
        spellcheck: 'false',
        autocomplete: 'off',
        'aria-label': 'Paths of files on the server, one per line',
        placeholder: '/home/me/fx/DAT_ASCII_EURUSD_M1_2024.csv\n/home/me/fx/eurofxref-hist.zip',
      },
    });
    const area = paths;
    // Ctrl+Enter (⌘+Enter) submits; Enter alone starts a new line.
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (!submit.disabled) void start();
      }
    });
    controls = h(
      'form',
      {
        class: 'ingest-form',
        testid: 'ingest-form',
        on: {
          submit: (e) => {
            e.preventDefault();
            void start();
          },
        },
      },
      h(
        'p',
        { class: 'ingest-where', testid: 'ingest-where' },
        h('strong', null, 'Paths are on the machine running ', code('bqx serve')),
        ' — the server reads the files from its own disk; nothing is uploaded from this browser.',
      ),
      h(
        'p',
        { class: 'muted small' },
        'One absolute path per line (CSV, TXT, ZIP or Parquet). Left empty, the format, pair, time zone and price side are detected from each file, as ',
        code('bqx ingest FILE…'),
        ' does; set them as its ',
        code('--format'),
        ', ',
        code('--pair'),
        ', ',
        code('--tz'),
        ' and ',
        code('--side'),
        ' options when a file needs them (MetaTrader exports need a time zone).',
      ),
      h('div', { class: 'ingest-row' }, area, h('div', { class: 'ingest-actions' }, submit, busyNote)),
      h(
        'div',
        { class: 'ingest-options' },
        h('label', null, 'Format ', options.format),
        h('label', null, 'Pair ', options.pair),
        h('label', null, 'Time zone ', options.tz),
        h('label', null, 'Side ', options.side),
      ),
    );
  }

  /** The request body: the paths and the options that are set. */
  const ingestBody = (list: string[]): Record<string, unknown> => {
    const body: Record<string, unknown> = { paths: list };
    if (options.format && options.format.value !== 'auto') body.format = options.format.value;
    for (const k of ['pair', 'tz', 'side'] as const) {
      const v = options[k]?.value.trim();
      if (v) body[k] = k === 'pair' ? v.toUpperCase() : v;
    }
    return body;
  };

  const el = section('Ingest data', controls, errorSlot, jobSlot);
  el.dataset.testid = 'ingest-panel';

  // ---- rendering ----------------------------------------------------------------------------

  const renderControls = () => {
    submit.disabled = posting || running();
    if (paths) paths.readOnly = posting;
    const other = running() && latest !== null && latest.id !== mine?.id ? latest : null;
    replace(busyNote, other ? `Job #${other.id} (${other.kind}) is running; ingest when it has finished.` : posting && desktop ? 'Choosing files…' : '');
    submit.title = running()
      ? 'A job is running'
      : desktop
        ? 'Pick files in a dialog and ingest them into this store'
        : 'POST /api/v1/ingest: ingest these files into the store of the server';
  };

  const renderJob = () => {
    replace(errorSlot, startError ? errorBox(startError, 'ingest-error') : null);
    if (!mine) {
      replace(jobSlot);
      return;
    }
    const j = mine;
    const took =
      j.finished_at !== null ? (new Date(j.finished_at).getTime() - new Date(j.started_at).getTime()) / 1000 : Number.NaN;
    const head: Child[] = [
      h('span', { testid: 'ingest-job-id' }, `Job #${j.id} (${j.kind})`),
      ' ',
      h('span', { class: `chip chip-${chipClass(j.state)}`, testid: 'ingest-job-state' }, j.state),
    ];
    if (Number.isFinite(took)) head.push(h('span', { class: 'muted' }, ` took ${duration(Math.max(0, took))}`));
    if (j.run_id && j.state !== 'running') {
      head.push(
        h('span', { class: 'muted' }, ' · run '),
        h('a', { attrs: { href: `#/runs/${encodeURIComponent(j.run_id)}` }, testid: 'ingest-run-id' }, j.run_id),
      );
    }
    replace(
      jobSlot,
      h(
        'div',
        { class: 'ingest-job', testid: 'ingest-job' },
        h('p', { class: 'ingest-job-head' }, head),
        j.state === 'running' && j.tasks.length
          ? h(
              'div',
              { class: 'tasks', testid: 'ingest-tasks' },
              j.tasks.map((t) =>
                h(
                  'div',
                  { class: 'task' },
                  h('span', { class: 'task-name' }, t.task),
                  h('progress', { attrs: { max: Math.max(1, t.total), value: Math.min(t.done, Math.max(1, t.total)) } }),
                  h('span', { class: 'task-count num' }, `${int(t.done)} / ${int(t.total)} ${t.unit}`),
                ),
              ),
            )
          : null,
        j.error ? errorBox(new ApiError(j.error.code, j.error.message, 0), 'ingest-error') : null,
        j.state === 'succeeded' && summary ? summaryLine(summary) : null,
        j.state === 'succeeded' ? h('p', { class: 'muted small' }, 'The figures below are reloaded from the store.') : null,
      ),
    );
  };

  const render = onNextFrame(ctx.alive, () => {
    renderControls();
    renderJob();
  });

  // ---- the job ------------------------------------------------------------------------------

  /** Shows how this panel's job ended (once) and tells the page. */
  const settle = () => {
    if (!mine || mine.state === 'running' || settledMine === mine.id) return;
    const j = mine;
    settledMine = j.id;
    render();
    onJobEnd(j, true);
    if (j.state === 'succeeded' && j.run_id) {
      api<RunDetail>('GET', `/api/v1/runs/${encodeURIComponent(j.run_id)}`)
        .then((d) => {
          if (!ctx.alive() || mine?.id !== j.id) return;
          summary = ingestSummary(d);
          render();
        })
        .catch(() => undefined); // the outcome is shown already; the counts are a bonus
    }
  };

  const onJob = (j: Job) => {
    const before = seen.get(j.id);
    seen.set(j.id, j);
    if (mine && j.id === mine.id) mine = j;
    if (j.state !== 'running' && (before === undefined || before.state === 'running')) {
      // A refusal because a job was running no longer holds once it ended.
      if (startError?.code === 'conflict') startError = null;
      if (j.id !== mine?.id) onJobEnd(j, false);
    }
    if (latest === null || j.id >= latest.id) {
      latest = j;
      if (j.state !== 'running') stageStarted.clear();
    }
    render();
    settle();
  };
  // Progress belongs to the running job; it is folded in even before the start's answer names
  // the job as ours (`mine` is then the same object).
  const onProgress = (e: ProgressEvent) => {
    if (!latest || latest.state !== 'running') return;
    applyProgress(latest, e, stageStarted);
    if (mine === latest) render();
  };
  ctx.onCleanup(subscribe(onProgress, onJob));

  // The button is disabled while a job runs; the server still decides (409 `conflict` when a
  // job started elsewhere first).
  const start = async () => {
    if (posting) return;
    let list: string[] = [];
    if (!desktop && paths) {
      list = parsePaths(paths.value);
      const bad = list.find((p) => !isAbsolute(p));
      if (list.length === 0 || bad !== undefined) {
        startError = new ApiError(
          'invalid_argument',
          list.length === 0
            ? 'enter at least one path, one per line'
            : `${bad}: not an absolute path (the server would resolve it from its own working directory)`,
          0,
        );
        render();
        paths.focus();
        return;
      }
    }
    posting = true;
    startError = null;
    mine = null;
    summary = null;
    render();
    try {
      const j = desktop ? await pickAndIngest() : await api<Job>('POST', '/api/v1/ingest', ingestBody(list));
      if (!ctx.alive() || j === null) return;
      // The job's events may have overtaken this answer: keep the newer snapshot.
      mine = seen.get(j.id) ?? j;
      if (latest === null || j.id > latest.id) latest = mine;
    } catch (e) {
      if (!ctx.alive()) return;
      startError = e instanceof ApiError ? e : new ApiError('internal', e instanceof Error ? e.message : String(e), 0);
    } finally {
      posting = false;
      if (ctx.alive()) {
        render();
        settle();
      }
    }
  };

  renderControls();
  return el;
}

/** The non-empty lines, trimmed, without the quotes a file manager's "copy as path" adds. */
function parsePaths(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .map((l) => (/^(["']).*\1$/.test(l) && l.length >= 2 ? l.slice(1, -1).trim() : l))
    .filter((l) => l.length > 0);
}

/** `/…`, `C:\…`, `C:/…` or `\\server\share\…`. */
function isAbsolute(p: string): boolean {
  return /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(p);
}

function chipClass(state: string): string {
  return state === 'running' || state === 'succeeded' || state === 'failed' ? state : 'not-built';
}

/** The counts of the ingest stage of a finished ingest run, when it recorded them. */
function ingestSummary(d: RunDetail): IngestSummary | null {
  const s = d.stages.find((x) => x.stage === 'ingest')?.summary as Partial<IngestSummary> | null | undefined;
  if (!s || typeof s.read !== 'number' || typeof s.accepted !== 'number') return null;
  return {
    files: s.files ?? 0,
    read: s.read,
    accepted: s.accepted,
    rejected: s.rejected ?? 0,
    skipped: s.skipped ?? 0,
    bars_written: s.bars_written ?? 0,
  };
}

function summaryLine(s: IngestSummary): HTMLElement {
  return h(
    'p',
    { testid: 'ingest-summary' },
    `${int(s.files)} file${s.files === 1 ? '' : 's'}: ${int(s.read)} records read = ${int(s.accepted)} accepted + ${int(s.rejected)} rejected + ${int(s.skipped)} skipped; `,
    h('strong', null, `${int(s.bars_written)} new bars`),
    ' written.',
    s.rejected > 0 ? h('span', { class: 'muted' }, ' Rejected rows are kept in the store’s quarantine table.') : null,
  );
}
