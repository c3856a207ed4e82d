// Backtest: pooled tear-sheet of every model beside the zero forecast and the overlap ceiling,
// equity and drawdown, per-pair metrics and per-fold directional accuracy.

import { equityChart, foldDaChart } from '../charts';
import { code, empty, errorBox, h, loading, replace, section, table } from '../dom';
import type { Child } from '../dom';
import { NA, date, fixed, int, pct, pctInterval, ratio, ratioInterval } from '../format';
import type { PageContext } from '../page';
import { api } from '../transport';
import type { BacktestSummary, Equity, FoldMetrics, PairMetrics, RunSummary } from '../types';
import { headline, listRuns, runLabel, runsWithBacktest, verdictChip } from './common';

export async function backtestPage(ctx: PageContext): Promise<void> {
  const controls = h('div', { class: 'controls' });
  const body = h('div', null, loading());
  replace(ctx.root, h('div', { class: 'page-head' }, h('h1', null, 'Backtest')), controls, body);

  let runs: RunSummary[];
  try {
    runs = await runsWithBacktest(await listRuns());
  } catch (e) {
    if (ctx.alive()) replace(body, errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  if (runs.length === 0) {
    replace(
      body,
      empty(
        ['No run with a backtest yet — run ', code('bqx demo'), ' or start a run on the ', h('a', { attrs: { href: '#/pipeline' } }, 'Pipeline'), ' page.'],
        'backtest-empty',
      ),
    );
    return;
  }

  const wantRun = ctx.params.get('run');
  const runSelect = h(
    'select',
    { testid: 'bt-run', attrs: { 'aria-label': 'Run' } },
    runs.map((r) => h('option', { attrs: { value: r.run_id, selected: r.run_id === wantRun } }, runLabel(r))),
  );
  const modelSelect = h('select', { testid: 'bt-model', attrs: { 'aria-label': 'Model' } });
  const scopeSelect = h('select', { testid: 'bt-scope', attrs: { 'aria-label': 'Scope' } });
  replace(
    controls,
    h('label', null, 'Run ', runSelect),
    h('label', null, 'Model ', modelSelect),
    h('label', null, 'Equity and folds of ', scopeSelect),
  );

  const overview = h('div');
  const pooledSlot = h('div', null, loading());
  const equityEl = h('div', { class: 'chart chart-equity', testid: 'equity-chart' });
  const equitySlot = h('div', null, loading());
  const foldsEl = h('div', { class: 'chart chart-folds', testid: 'folds-chart' });
  const foldsSlot = h('div', null, loading());
  const pairsSlot = h('div', null, loading());
  const notesSlot = h('div');
  replace(
    body,
    overview,
    section('Pooled metrics (all pairs, all folds, out of sample)', pooledSlot),
    section(['Equity and drawdown ', h('span', { class: 'muted small' }, '(decisions every horizon, costs included)')], equitySlot, equityEl),
    section('Per fold', foldsEl, foldsSlot),
    section('Per pair (all folds)', pairsSlot),
    notesSlot,
  );

  let summary: BacktestSummary | null = null;
  // One counter per kind of request, so a late answer never overwrites a newer choice.
  let runSeq = 0;
  let eqSeq = 0;
  let pairSeq = 0;

  const updateUrl = () => {
    const p = new URLSearchParams();
    p.set('run', runSelect.value);
    if (modelSelect.value) p.set('model', modelSelect.value);
    if (scopeSelect.value) p.set('scope', scopeSelect.value);
    ctx.setParams(p);
  };

  const runPath = () => `/api/v1/runs/${encodeURIComponent(runSelect.value)}`;

  const loadRun = async () => {
    const my = ++runSeq;
    replace(pooledSlot, loading());
    replace(overview);
    let s: BacktestSummary;
    try {
      s = await api<BacktestSummary>('GET', `${runPath()}/backtest`);
    } catch (e) {
      if (!ctx.alive() || my !== runSeq) return;
      replace(pooledSlot, errorBox(e));
      return;
    }
    if (!ctx.alive() || my !== runSeq) return;
    summary = s;
    const names = s.models.map((m) => m.name);
    const wantModel = ctx.params.get('model');
    const current = modelSelect.value;
    const pick =
      [current, wantModel].find((m) => m && names.includes(m)) ?? names.find((n) => n !== 'zero' && n !== 'drift') ?? names[0] ?? '';
    replace(modelSelect, names.map((n) => h('option', { attrs: { value: n, selected: n === pick } }, n)));
    modelSelect.value = pick;
    const pairs = s.series.map((x) => x.pair);
    const wantScope = scopeSelect.value || ctx.params.get('scope') || 'pooled';
    replace(
      scopeSelect,
      h('option', { attrs: { value: 'pooled' } }, 'pooled portfolio'),
      pairs.map((p) => h('option', { attrs: { value: p } }, p)),
    );
    scopeSelect.value = wantScope === 'pooled' || pairs.includes(wantScope) ? wantScope : 'pooled';
    renderOverview(s);
    renderPooled(s);
    replace(
      notesSlot,
      s.notes.length ? section('Notes', h('ul', { class: 'notes' }, s.notes.map((n) => h('li', null, n)))) : null,
    );
    updateUrl();
    await loadModel();
  };

  const loadModel = async () => {
    await Promise.all([loadEquityAndFolds(), loadPairs()]);
  };

  const modelQuery = () => `model=${encodeURIComponent(modelSelect.value)}`;
  const scopeQuery = () => (scopeSelect.value && scopeSelect.value !== 'pooled' ? `&pair=${encodeURIComponent(scopeSelect.value)}` : '');

  const loadEquityAndFolds = async () => {
    const my = ++eqSeq;
    replace(equitySlot, loading());
    replace(foldsSlot, loading());
    const [eq, folds] = await Promise.allSettled([
      api<Equity>('GET', `${runPath()}/equity?${modelQuery()}${scopeQuery()}&points=1000`),
      api<FoldMetrics[]>('GET', `${runPath()}/backtest/folds?${modelQuery()}${scopeQuery()}`),
    ]);
    if (!ctx.alive() || my !== eqSeq) return;
    if (eq.status === 'rejected') {
      equityEl.hidden = true;
      replace(equitySlot, errorBox(eq.reason));
    } else if (eq.value.ts.length === 0) {
      equityEl.hidden = true;
      replace(equitySlot, empty(`The model ${modelSelect.value} made no trading decision here, so there is no equity curve.`, 'equity-empty'));
    } else {
      const e = eq.value;
      equityEl.hidden = false;
      equityChart(equityEl, e);
      const minDd = e.drawdown.reduce((a, b) => Math.min(a, b), 0);
      replace(
        equitySlot,
        h(
          'p',
          { class: 'muted', testid: 'equity-caption' },
          `${e.model}, ${e.pair ?? 'pooled portfolio'}: final cumulative log return `,
          h('strong', { testid: 'equity-final' }, fixed(e.equity[e.equity.length - 1], 4)),
          `, deepest drawdown ${fixed(minDd, 4)}; ${int(e.total_points)} points`,
          e.points < e.total_points ? ` (shown as ${int(e.points)})` : '',
          '.',
        ),
      );
    }
    if (folds.status === 'rejected') {
      foldsEl.hidden = true;
      replace(foldsSlot, errorBox(folds.reason));
    } else if (folds.value.length === 0) {
      foldsEl.hidden = true;
      replace(foldsSlot, empty('No fold has out-of-sample rows for this choice.'));
    } else {
      const f = folds.value;
      foldsEl.hidden = false;
      foldDaChart(foldsEl, f, summary?.ceiling.directional_accuracy ?? null);
      replace(
        foldsSlot,
        h('p', { class: 'muted' }, 'Directional accuracy per test fold with its 95 % block-bootstrap interval; dashed line: 50 %.'),
        h(
          'div',
          { class: 'scroll' },
          table(
            ['Fold', 'Test period', 'Rows', 'DA', 'DA interval', 'R² vs zero', 'IC', 'Sharpe', 'Sharpe interval', 'Verdict'],
            f.map((x) => {
              const m = headline(x.metrics, modelSelect.value);
              return [
                String(x.fold),
                `${date(x.first_ts)} … ${date(x.last_ts)}`,
                int(m.rows),
                h('span', { testid: `fold-da-${x.fold}` }, pct(m.da)),
                pctInterval(m.daCi),
                ratio(m.r2),
                ratio(m.ic),
                fixed(m.sharpe, 2),
                ratioInterval(m.sharpeCi),
                verdictChip(m.verdict),
              ];
            }),
            { testid: 'folds-table', numeric: [2, 3, 5, 6, 7] },
          ),
        ),
      );
    }
  };

  const loadPairs = async () => {
    const my = ++pairSeq;
    replace(pairsSlot, loading());
    let rows: PairMetrics[];
    try {
      rows = await api<PairMetrics[]>('GET', `${runPath()}/backtest/pairs?${modelQuery()}`);
    } catch (e) {
      if (ctx.alive() && my === pairSeq) replace(pairsSlot, errorBox(e));
      return;
    }
    if (!ctx.alive() || my !== pairSeq) return;
    if (rows.length === 0) {
      replace(pairsSlot, empty('No per-pair metrics for this model.'));
      return;
    }
    replace(
      pairsSlot,
      h('p', { class: 'muted' }, 'Click a pair to show its equity and folds above. Intervals: 95 %, block bootstrap.'),
      h(
        'div',
        { class: 'scroll' },
        table(
          ['Pair', 'Rows', 'DA', 'DA interval', 'R² vs zero', 'IC', 'Sharpe', 'Sharpe interval', 'Max drawdown', 'DSR', 'Verdict'],
          rows.map((r) => {
            const m = headline(r.all_folds, modelSelect.value);
            return [
              h(
                'a',
                {
                  attrs: { href: '#' },
                  testid: `pair-link-${r.pair}`,
                  on: {
                    click: (e) => {
                      e.preventDefault();
                      scopeSelect.value = r.pair;
                      scopeSelect.dispatchEvent(new Event('change'));
                      equityEl.scrollIntoView({ block: 'center' });
                    },
                  },
                },
                r.pair,
              ),
              int(m.rows),
              h('span', { testid: `pair-da-${r.pair}` }, pct(m.da)),
              pctInterval(m.daCi),
              ratio(m.r2),
              ratio(m.ic),
              h('span', { testid: `pair-sharpe-${r.pair}` }, fixed(m.sharpe, 2)),
              ratioInterval(m.sharpeCi),
              pct(m.maxDd),
              ratio(m.dsr),
              verdictChip(m.verdict),
            ];
          }),
          { testid: 'pairs-table', numeric: [1, 2, 4, 5, 6, 8, 9] },
        ),
      ),
    );
  };

  const renderOverview = (s: BacktestSummary) => {
    const c = s.ceiling;
    replace(
      overview,
      h(
        'dl',
        { class: 'facts facts-row' },
        h('dt', null, 'Run'),
        h('dd', { testid: 'run-id' }, runSelect.value),
        h('dt', null, 'Target'),
        h('dd', { testid: 'bt-target' }, s.target),
        h('dt', null, 'Features'),
        h('dd', null, int(s.n_features)),
        h('dt', null, 'Pairs'),
        h('dd', { testid: 'bt-pair-count' }, String(s.series.length)),
        h('dt', null, 'Folds'),
        h('dd', { testid: 'bt-fold-count' }, `${s.folds.length}${s.folds.some((f) => f.partial) ? ' (last partial)' : ''}`),
        h('dt', null, 'Test span'),
        h('dd', null, s.folds.length ? `${date(s.folds[0].test_start)} … ${date(s.folds[s.folds.length - 1].test_end)}` : NA),
        h('dt', null, 'Overlap ceiling'),
        h('dd', null, `${c.family} window ${c.window}, horizon ${c.horizon}: R² ${ratio(c.r2)}, DA ${pct(c.directional_accuracy)}`),
      ),
    );
  };

  const renderPooled = (s: BacktestSummary) => {
    const models = s.models;
    const c = s.ceiling;
    type Row = [string, (m: ReturnType<typeof headline>, name: string) => Child, Child, string?];
    const rows: Row[] = [
      ['Directional accuracy', (m, n) => h('span', { testid: `pooled-da-${n}` }, pct(m.da)), h('span', { testid: 'pooled-da-ceiling' }, pct(c.directional_accuracy))],
      ['DA interval (95 %)', (m, n) => h('span', { testid: `pooled-da-ci-${n}` }, pctInterval(m.daCi)), NA],
      ['R² vs zero', (m, n) => h('span', { testid: `pooled-r2-${n}` }, ratio(m.r2)), h('span', { testid: 'pooled-r2-ceiling' }, ratio(c.r2))],
      ['IC (rank)', (m, n) => h('span', { testid: `pooled-ic-${n}` }, ratio(m.ic)), NA],
      ['Sharpe (annualized)', (m, n) => h('span', { testid: `pooled-sharpe-${n}` }, fixed(m.sharpe, 2)), NA],
      ['Sharpe interval (95 %)', (m, n) => h('span', { testid: `pooled-sharpe-ci-${n}` }, ratioInterval(m.sharpeCi)), NA],
      ['Max drawdown', (m, n) => h('span', { testid: `pooled-maxdd-${n}` }, pct(m.maxDd)), NA],
      ['Deflated Sharpe (DSR)', (m, n) => h('span', { testid: `pooled-dsr-${n}` }, ratio(m.dsr)), NA],
      ['Decisions', (m) => int(m.decisions), NA],
      ['Verdict (vs ceiling and drift)', (m, n) => verdictChip(m.verdict, `pooled-verdict-${n}`), NA],
    ];
    const heads = models.map((m) => (m.name === 'zero' ? 'zero forecast' : m.name === 'drift' ? 'drift (training mean)' : m.name));
    replace(
      pooledSlot,
      h(
        'div',
        { class: 'scroll' },
        table(
          ['Metric', ...heads, 'overlap ceiling'],
          rows.map(([label, cell, ceil]) => [label, ...models.map((m) => cell(headline(m.pooled, m.name), m.name)), ceil]),
          { testid: 'pooled-table', class: 'grid pooled', numeric: [...models.map((_, i) => i + 1), models.length + 1] },
        ),
      ),
      h(
        'p',
        { class: 'muted small' },
        'An interval that contains 50 % (DA) or 0 (Sharpe) is not evidence of skill. The zero forecast never predicts a direction and never trades; the overlap ceiling is what the target\'s overlap with its own recent path gives for free.',
      ),
    );
  };

  runSelect.addEventListener('change', () => void loadRun());
  modelSelect.addEventListener('change', () => {
    updateUrl();
    void loadModel();
  });
  scopeSelect.addEventListener('change', () => {
    updateUrl();
    void loadEquityAndFolds();
  });

  await loadRun();
}
