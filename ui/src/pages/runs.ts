// Runs: history, one run's detail, and the comparison of two backtests.

import { code, empty, errorBox, h, loading, replace, section, table } from '../dom';
import type { Child } from '../dom';
import { NA, at, bytes, duration, fixed, pct, ppDiff, ratio, signedRatio } from '../format';
import type { PageContext } from '../page';
import { api } from '../transport';
import type { BacktestSummary, RunDetail, RunSummary } from '../types';
import { headline, listRuns, runLabel, runsWithBacktest } from './common';

export async function runsPage(ctx: PageContext): Promise<void> {
  if (ctx.rest.length > 0) return runDetail(ctx, ctx.rest[0]);
  return runHistory(ctx);
}

function runLink(id: string, testid?: string): HTMLElement {
  return h('a', { attrs: { href: `#/runs/${encodeURIComponent(id)}` }, testid }, id);
}

function statusChip(status: string, testid?: string): HTMLElement {
  const cls = status === 'succeeded' ? 'succeeded' : status === 'failed' ? 'failed' : status === 'running' ? 'running' : 'not-built';
  return h('span', { class: `chip chip-${cls}`, testid }, status);
}

function errorText(e: RunSummary['error']): string {
  if (e === null || e === undefined) return '';
  return typeof e === 'string' ? e : `${e.code}: ${e.message}`;
}

async function runHistory(ctx: PageContext): Promise<void> {
  const histSlot = h('div', null, loading());
  const cmpSlot = h('div', null, loading());
  replace(
    ctx.root,
    h('div', { class: 'page-head' }, h('h1', null, 'Runs')),
    section('History', histSlot),
    section('Compare two runs', cmpSlot),
  );

  let runs: RunSummary[];
  try {
    runs = await listRuns();
  } catch (e) {
    if (ctx.alive()) {
      replace(histSlot, errorBox(e));
      replace(cmpSlot);
    }
    return;
  }
  if (!ctx.alive()) return;
  if (runs.length === 0) {
    replace(
      histSlot,
      empty(['No runs yet — run ', code('bqx demo'), ' or start a run on the ', h('a', { attrs: { href: '#/pipeline' } }, 'Pipeline'), ' page.'], 'runs-empty'),
    );
    replace(cmpSlot, empty('Comparing needs two runs with a backtest.', 'compare-empty'));
    return;
  }
  replace(
    histSlot,
    h(
      'div',
      { class: 'scroll' },
      table(
        ['Run', 'Kind', 'Status', 'Started', 'Finished', 'Duration', 'Error'],
        runs.map((r, i) => [
          runLink(r.run_id, i === 0 ? 'newest-run-id' : `run-link-${i}`),
          r.kind,
          statusChip(r.status),
          at(r.started_at),
          at(r.finished_at),
          duration(r.seconds),
          h('span', { class: 'error-text' }, errorText(r.error)),
        ]),
        { testid: 'runs-table', numeric: [5] },
      ),
    ),
  );

  let bt: RunSummary[];
  try {
    bt = await runsWithBacktest(runs);
  } catch (e) {
    if (ctx.alive()) replace(cmpSlot, errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  if (bt.length < 2) {
    replace(
      cmpSlot,
      empty(
        [
          `Comparing needs two runs with a backtest; this store has ${bt.length}. Run the pipeline again with other settings (for example `,
          code('bqx run --seed 7'),
          ') to get a second one.',
        ],
        'compare-empty',
      ),
    );
    return;
  }
  const [wa, wb] = (ctx.params.get('compare') ?? '').split(',');
  const ids = bt.map((r) => r.run_id);
  const pickA = wa && ids.includes(wa) ? wa : ids[1];
  const pickB = wb && ids.includes(wb) ? wb : ids[0];
  const sel = (testid: string, pick: string) =>
    h(
      'select',
      { testid, attrs: { 'aria-label': testid } },
      bt.map((r) => h('option', { attrs: { value: r.run_id, selected: r.run_id === pick } }, runLabel(r))),
    );
  const a = sel('compare-a', pickA);
  const b = sel('compare-b', pickB);
  const result = h('div', null, loading());
  replace(cmpSlot, h('div', { class: 'controls' }, h('label', null, 'A ', a), h('label', null, 'B ', b)), result);

  let seq = 0;
  const compare = async () => {
    const my = ++seq;
    const p = new URLSearchParams(ctx.params);
    p.set('compare', `${a.value},${b.value}`);
    ctx.setParams(p);
    replace(result, loading());
    try {
      const [sa, sb] = await Promise.all(
        [a.value, b.value].map((id) => api<BacktestSummary>('GET', `/api/v1/runs/${encodeURIComponent(id)}/backtest`)),
      );
      if (!ctx.alive() || my !== seq) return;
      replace(result, compareTable(sa, sb));
    } catch (e) {
      if (ctx.alive() && my === seq) replace(result, errorBox(e));
    }
  };
  a.addEventListener('change', () => void compare());
  b.addEventListener('change', () => void compare());
  await compare();
}

function compareTable(a: BacktestSummary, b: BacktestSummary): HTMLElement {
  const names = [...new Set([...a.models.map((m) => m.name), ...b.models.map((m) => m.name)])];
  const get = (s: BacktestSummary, n: string) => headline(s.models.find((m) => m.name === n)?.pooled, n);
  const diff = (x: number | null, y: number | null) => (x === null || y === null ? null : y - x);
  type Col = { label: string; key: 'da' | 'r2' | 'ic' | 'sharpe' | 'dsr'; f: (x: number | null) => string; d: (x: number | null) => string };
  const cols: Col[] = [
    { label: 'DA', key: 'da', f: pct, d: ppDiff },
    { label: 'R²', key: 'r2', f: ratio, d: (x) => signedRatio(x) },
    { label: 'IC', key: 'ic', f: ratio, d: (x) => signedRatio(x) },
    { label: 'Sharpe', key: 'sharpe', f: (x) => fixed(x, 2), d: (x) => signedRatio(x, 2) },
    { label: 'DSR', key: 'dsr', f: ratio, d: (x) => signedRatio(x) },
  ];
  const head: Child[] = ['Model', ...cols.flatMap((c) => [`${c.label} A`, `${c.label} B`, `Δ ${c.label}`])];
  const rows = names.map((n) => {
    const ma = get(a, n);
    const mb = get(b, n);
    return [
      n,
      ...cols.flatMap((c) => [
        h('span', { testid: `cmp-${c.key}-a-${n}` }, c.f(ma[c.key])),
        h('span', { testid: `cmp-${c.key}-b-${n}` }, c.f(mb[c.key])),
        h('span', { class: 'diff', testid: `cmp-${c.key}-diff-${n}` }, c.d(diff(ma[c.key], mb[c.key]))),
      ]),
    ];
  });
  const numeric = Array.from({ length: cols.length * 3 }, (_, i) => i + 1);
  return h(
    'div',
    null,
    h('div', { class: 'scroll' }, table(head, rows, { testid: 'compare-table', class: 'grid compact', numeric })),
    h('p', { class: 'muted small' }, 'Pooled out-of-sample metrics (R² against the zero forecast); Δ = B − A (DA in percentage points). ', a.target !== b.target ? `Targets differ: A ${a.target}, B ${b.target}.` : `Target ${a.target}.`),
  );
}

async function runDetail(ctx: PageContext, id: string): Promise<void> {
  const body = h('div', null, loading());
  replace(
    ctx.root,
    h('div', { class: 'page-head' }, h('h1', null, 'Run ', h('span', { class: 'mono', testid: 'detail-run-id' }, id)), h('div', { class: 'spacer' }), h('a', { attrs: { href: '#/runs' } }, '← all runs')),
    body,
  );
  let d: RunDetail;
  try {
    d = await api<RunDetail>('GET', `/api/v1/runs/${encodeURIComponent(id)}`);
  } catch (e) {
    if (ctx.alive()) replace(body, errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  const args = describeArgs(d.args);
  replace(
    body,
    h(
      'dl',
      { class: 'facts facts-row' },
      h('dt', null, 'Kind'),
      h('dd', null, d.kind),
      h('dt', null, 'Status'),
      h('dd', null, statusChip(d.status, 'detail-status')),
      h('dt', null, 'Started'),
      h('dd', null, at(d.started_at)),
      h('dt', null, 'Finished'),
      h('dd', null, at(d.finished_at)),
      h('dt', null, 'Duration'),
      h('dd', { testid: 'detail-duration' }, duration(d.seconds)),
      h('dt', null, 'Arguments'),
      h('dd', { testid: 'detail-args' }, args),
      h('dt', null, 'Backtest'),
      h(
        'dd',
        null,
        d.has_backtest ? h('a', { attrs: { href: `#/backtest?run=${encodeURIComponent(d.run_id)}` }, testid: 'detail-backtest-link' }, 'open the tear-sheet') : 'none',
      ),
      (d.artifacts ?? []).some((a) => a.kind === 'crosspair' || a.kind === 'selection')
        ? [
            h('dt', null, 'Cross-pair'),
            h(
              'dd',
              null,
              h('a', { attrs: { href: `#/crosspair?run=${encodeURIComponent(d.run_id)}` }, testid: 'detail-crosspair-link' }, 'lead-lag and feature selection'),
            ),
          ]
        : null,
    ),
    d.error ? h('div', { class: 'error', attrs: { role: 'alert' } }, errorText(d.error)) : null,
    section(
      'Stages',
      d.stages.length
        ? table(
            ['Stage', 'Status', 'Started', 'Duration', 'Summary'],
            d.stages.map((s) => [
              h('span', { testid: `detail-stage-${s.stage}` }, s.stage),
              statusChip(s.status),
              at(s.started_at),
              duration(s.seconds),
              summaryCell(s.summary),
            ]),
            { testid: 'detail-stages', numeric: [3] },
          )
        : empty('This run recorded no stages.'),
    ),
    section(
      `Log (${d.logs.length})`,
      d.logs.length
        ? h(
            'div',
            { class: 'scroll scroll-y' },
            table(
              ['At', 'Stage', 'Level', 'Message'],
              d.logs.map((l) => [at(l.at), l.stage, h('span', { class: `level level-${l.level}` }, l.level), l.message]),
              { testid: 'detail-logs', class: 'grid compact' },
            ),
          )
        : empty('This run wrote no log lines.'),
    ),
    section(
      `Artifacts (${d.artifacts.length})`,
      d.artifacts.length
        ? table(
            ['Stage', 'Kind', 'Path', 'Size', 'SHA-256', 'Created'],
            d.artifacts.map((x) => [x.stage, x.kind, h('span', { class: 'mono' }, x.path), bytes(x.bytes), h('span', { class: 'mono', title: x.sha256 }, x.sha256.slice(0, 12) + '…'), at(x.created_at)]),
            { testid: 'detail-artifacts', numeric: [3] },
          )
        : empty('This run produced no artifacts.'),
    ),
  );
}

/** A stage summary (any JSON): short ones inline, longer ones folded. */
function summaryCell(summary: unknown): Child {
  if (summary === null || summary === undefined) return NA;
  if (typeof summary === 'string') return summary;
  const text = JSON.stringify(summary, null, 2);
  const flat = JSON.stringify(summary);
  if (flat.length <= 80) return h('span', { class: 'mono' }, flat);
  return h('details', null, h('summary', null, `${flat.slice(0, 60)}…`), h('pre', { class: 'json' }, text));
}

/** Run arguments as "key: value" pairs, leaving out the defaults (null, empty lists). */
function describeArgs(args: Record<string, unknown> | null | undefined): string {
  const out: string[] = [];
  const walk = (v: unknown, key: string) => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) {
      if (v.length) out.push(`${key}: ${v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ')}`);
    } else if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, key ? `${key}.${k}` : k);
    } else out.push(`${key}: ${String(v)}`);
  };
  walk(args, '');
  return out.length ? out.join(' · ') : 'defaults';
}
