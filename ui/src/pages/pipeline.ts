// Pipeline: the stage graph and the live state of the current job.

import { stageGraph } from '../charts';
import type { StageState } from '../charts';
import { code, empty, errorBox, h, loading, onNextFrame, replace, section, table } from '../dom';
import { at, duration, int } from '../format';
import type { PageContext } from '../page';
import { ApiError, api, subscribe } from '../transport';
import type { Job, Pipeline, PipelineStage, ProgressEvent } from '../types';

const LOG_LINES = 15;

export async function pipelinePage(ctx: PageContext): Promise<void> {
  const runButton = h('button', { class: 'primary', testid: 'run-button' }, 'Start / resume run');
  const runError = h('div', { testid: 'run-error-slot' });
  // The folds of the run (empty: the defaults per timeframe). Spans: bars (2000), days (90d),
  // months (6mo), years (5y); the server checks them and lays the folds out before any work.
  const span = (name: string, label: string, hint: string) => {
    const input = h('input', {
      testid: `fold-${name}`,
      attrs: { type: 'text', size: '6', placeholder: hint, 'aria-label': label },
    }) as HTMLInputElement;
    return { name, input, el: h('label', { class: 'small' }, `${label} `, input) };
  };
  const spans = [
    span('train', 'Training', 'default'),
    span('test', 'Test block', 'default'),
    span('step', 'Step', 'test block'),
    span('rolling', 'Rolling window', 'expanding'),
  ];
  const folds = h(
    'details',
    { class: 'fold-options', testid: 'fold-options' },
    h('summary', null, 'Folds'),
    h(
      'p',
      { class: 'muted small' },
      'Empty: 6 months of training and 1-month test blocks intraday, 5 years and 1 year on daily bars. ' +
        'A span is bars (2000), days (90d), months (6mo) or years (5y); the plan is in the job log.',
    ),
    h('div', { class: 'controls' }, ...spans.map((s) => s.el)),
  );
  const graphEl = h('div', { class: 'chart chart-graph', testid: 'stage-graph' });
  const stageTable = h('div', { testid: 'stage-table-slot' }, loading());
  const jobEl = h('div', { testid: 'job-panel' }, loading());

  replace(
    ctx.root,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Pipeline'),
      h('div', { class: 'spacer' }),
      runButton,
    ),
    folds,
    runError,
    section('Stages', graphEl, legend(), stageTable),
    section('Current job', jobEl),
  );

  let pipeline: Pipeline | null = null;
  let job: Job | null = null;
  let posting = false;
  const stageStarted = new Map<string, number>();

  const stateOf = (s: PipelineStage): StageState => {
    const js = job?.stages.find((x) => x.stage === s.name);
    if (job && js && (job.state === 'running' || js.status === 'failed')) {
      if (js.status === 'running' || js.status === 'pending' || js.status === 'failed') return js.status;
      if (js.status === 'succeeded') return 'succeeded';
    }
    if (!s.built) return 'not built';
    return s.runnable ? 'runnable' : 'built';
  };

  const running = () => job !== null && job.state === 'running';

  const renderButton = () => {
    runButton.disabled = posting || running() || pipeline === null;
    runButton.title = running() ? 'A job is running' : 'POST /api/v1/runs: runs every stage whose inputs changed';
  };

  const renderStages = () => {
    if (!pipeline) return;
    if (pipeline.stages.length === 0) {
      graphEl.hidden = true;
      replace(stageTable, empty('The server reports no pipeline stages.'));
      return;
    }
    graphEl.hidden = false;
    stageGraph(graphEl, pipeline.stages, stateOf);
    replace(
      stageTable,
      table(
        ['Stage', 'State', 'Built', 'Runnable', 'Depends on', 'Job status', 'Duration', 'Per fold', 'What it does'],
        pipeline.stages.map((s) => {
          const st = stateOf(s);
          const js = job?.stages.find((x) => x.stage === s.name);
          return [
            h('span', { testid: `stage-${s.name}` }, s.name),
            stateChip(st, `stage-state-${s.name}`),
            s.built ? 'yes' : 'no',
            s.runnable ? 'yes' : 'no',
            s.depends_on.length ? s.depends_on.join(', ') : '—',
            js ? js.status : '—',
            js ? stageDuration(js.stage, js.seconds) : '—',
            s.per_fold ? 'yes' : '—',
            s.about || '—',
          ];
        }),
        { testid: 'stage-table', numeric: [6] },
      ),
    );
  };

  const stageDuration = (stage: string, seconds: number | null): string => {
    if (seconds !== null) return duration(seconds);
    const t0 = stageStarted.get(stage);
    return t0 !== undefined && running() ? `${duration((Date.now() - t0) / 1000)} …` : '—';
  };

  const renderJob = () => {
    if (!job) {
      replace(
        jobEl,
        empty([
          'No job has run since the server started. Press ',
          h('strong', null, 'Start / resume run'),
          ' to run the pipeline on this store, or run ',
          code('bqx demo'),
          ' to create a demo store.',
        ]),
      );
      return;
    }
    const j = job;
    const elapsed =
      j.finished_at === null
        ? (Date.now() - new Date(j.started_at).getTime()) / 1000
        : (new Date(j.finished_at).getTime() - new Date(j.started_at).getTime()) / 1000;
    replace(
      jobEl,
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'Job'),
        h('dd', { testid: 'job-id' }, `#${j.id} (${j.kind})`),
        h('dt', null, 'State'),
        h('dd', null, stateChip(j.state === 'running' ? 'running' : j.state === 'failed' ? 'failed' : 'succeeded', 'job-state', j.state)),
        h('dt', null, 'Run'),
        h(
          'dd',
          null,
          j.run_id ? h('a', { attrs: { href: `#/runs/${encodeURIComponent(j.run_id)}` }, testid: 'job-run-id' }, j.run_id) : '—',
        ),
        h('dt', null, 'Started'),
        h('dd', null, at(j.started_at)),
        h('dt', null, j.finished_at ? 'Took' : 'Elapsed'),
        h('dd', { testid: 'job-elapsed' }, Number.isFinite(elapsed) ? duration(Math.max(0, elapsed)) : '—'),
      ),
      j.error ? errorBox(new ApiError(j.error.code, j.error.message, 0), 'job-error') : null,
      j.stages.length
        ? table(
            ['Stage', 'Status', 'Duration'],
            j.stages.map((s) => [s.stage, stateChip(chipState(s.status), `job-stage-${s.stage}`, s.status), stageDuration(s.stage, s.seconds)]),
            { testid: 'job-stages', numeric: [2] },
          )
        : null,
      j.tasks.length
        ? h(
            'div',
            { class: 'tasks', testid: 'job-tasks' },
            j.tasks.map((t) =>
              h(
                'div',
                { class: 'task', testid: `task-${t.task}` },
                h('span', { class: 'task-name' }, t.task),
                h('progress', { attrs: { max: Math.max(1, t.total), value: Math.min(t.done, Math.max(1, t.total)) } }),
                h('span', { class: 'task-count num' }, `${int(t.done)} / ${int(t.total)} ${t.unit}`),
              ),
            ),
          )
        : null,
      h('h3', null, 'Log'),
      j.log.length
        ? h('pre', { class: 'log', testid: 'job-log' }, j.log.slice(-LOG_LINES).join('\n'))
        : h('p', { class: 'muted' }, 'No log lines yet.'),
    );
  };

  const render = onNextFrame(ctx.alive, () => {
    renderButton();
    renderStages();
    renderJob();
  });

  const refreshPipeline = async () => {
    try {
      const p = await api<Pipeline>('GET', '/api/v1/pipeline');
      if (!ctx.alive()) return;
      pipeline = p;
      if (p.job && (!job || p.job.id >= job.id)) job = p.job;
      render();
    } catch (e) {
      if (!ctx.alive()) return;
      replace(stageTable, errorBox(e));
      graphEl.hidden = true;
    }
  };

  const onProgress = (e: ProgressEvent) => {
    if (!job || job.state !== 'running') return;
    applyProgress(job, e, stageStarted);
    render();
  };
  const onJob = (j: Job) => {
    const wasRunning = running();
    if (job && j.id < job.id) return;
    job = j;
    if (wasRunning && j.state !== 'running') replace(runError);
    for (const s of j.stages) if (s.status === 'running' && !stageStarted.has(s.stage)) stageStarted.set(s.stage, Date.now());
    render();
    if (wasRunning && j.state !== 'running') void refreshPipeline();
  };
  ctx.onCleanup(subscribe(onProgress, onJob));

  const tick = window.setInterval(() => {
    if (running()) render();
  }, 1000);
  ctx.onCleanup(() => window.clearInterval(tick));

  runButton.addEventListener('click', async () => {
    posting = true;
    renderButton();
    replace(runError);
    try {
      const body: Record<string, string> = {};
      for (const s of spans) if (s.input.value.trim() !== '') body[s.name] = s.input.value.trim();
      const j = await api<Job>('POST', '/api/v1/runs', body);
      if (!ctx.alive()) return;
      if (!job || j.id >= job.id) job = j;
    } catch (e) {
      if (!ctx.alive()) return;
      replace(runError, errorBox(e, 'run-error'));
    } finally {
      posting = false;
      if (ctx.alive()) render();
    }
  });

  await refreshPipeline();
}

function chipState(status: string): StageState {
  return status === 'running' || status === 'pending' || status === 'failed' || status === 'succeeded'
    ? status
    : 'not built';
}

function stateChip(state: StageState, testid: string, label: string = state): HTMLElement {
  return h('span', { class: `chip chip-${state.replace(' ', '-')}`, testid }, label);
}

function legend(): HTMLElement {
  const items: [StageState, string][] = [
    ['runnable', 'built; run by Start / resume run'],
    ['built', 'built; not run from here'],
    ['not built', 'planned, not implemented yet'],
    ['pending', 'waiting in the current job'],
    ['running', ''],
    ['succeeded', ''],
    ['failed', ''],
  ];
  return h(
    'div',
    { class: 'legend' },
    items.map(([s, what]) =>
      h('span', { class: 'legend-item', title: what || undefined }, h('span', { class: `dot chip-${s.replace(' ', '-')}` }), s),
    ),
  );
}

/**
 * Applies one progress event to the local copy of the running job, as the server folds it into
 * its own snapshot (so the next `job` event agrees with what is shown).
 */
export function applyProgress(job: Job, e: ProgressEvent, stageStarted: Map<string, number>): void {
  const log = (line: string) => {
    job.log.push(line);
    if (job.log.length > 200) job.log.splice(0, job.log.length - 200);
  };
  const stage = (name: string) => {
    let s = job.stages.find((x) => x.stage === name);
    if (!s) {
      s = { stage: name, status: 'pending', seconds: null };
      job.stages.push(s);
    }
    return s;
  };
  const task = (name: string) => job.tasks.find((t) => t.task === name);
  switch (e.event) {
    case 'run_started':
      job.run_id = e.run_id;
      break;
    case 'stage_started':
      stage(e.stage).status = 'running';
      stageStarted.set(e.stage, Date.now());
      log(`stage ${e.stage} started`);
      break;
    case 'stage_finished': {
      const s = stage(e.stage);
      s.status = e.status;
      s.seconds = e.secs;
      log(`stage ${e.stage} ${e.status} in ${e.secs.toFixed(1)} s`);
      break;
    }
    case 'task_started':
      job.tasks = job.tasks.filter((t) => t.task !== e.task);
      job.tasks.push({ task: e.task, done: 0, total: e.total, unit: e.unit });
      break;
    case 'task_advanced': {
      const t = task(e.task);
      if (t) t.done += e.delta;
      break;
    }
    case 'task_total': {
      const t = task(e.task);
      if (t) t.total = e.total;
      break;
    }
    case 'task_finished': {
      const t = task(e.task);
      if (t) t.done = Math.max(t.done, t.total);
      break;
    }
    case 'message':
      log(e.text);
      break;
  }
}
