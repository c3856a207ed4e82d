// Training (stage 2.18): the multi-task network and its single-task control, trained per pair
// and fold. Loss curves per head (seeds overlaid, validation dashed, the kept epoch marked),
// the extra heads judged against their baselines (volatility vs the no-change forecast, regime
// vs the majority class, with the confusion matrix), and every model on the networks' units.

import { disposeDetached, trainingCurves } from '../charts';
import type { CurveHead } from '../charts';
import { code, empty, errorBox, h, loading, replace, section, table } from '../dom';
import { NA, fixed, int, pct, pctInterval, ratioInterval, sci } from '../format';
import type { PageContext } from '../page';
import { api } from '../transport';
import type { BacktestSummary, HeadReport, SameUnits, TrainingUnit } from '../types';
import { listRuns, runLabel, runsWithArtifacts, verdictChip } from './common';
import { canonical } from './crosspair';

const TRAINING = 'training';
const CLASSES = ['strong down', 'down', 'flat', 'up', 'strong up'];
const HEADS: { id: CurveHead; label: string }[] = [
  { id: 'total', label: 'weighted total' },
  { id: 'bqx', label: 'BQX (MSE)' },
  { id: 'vol', label: 'volatility (MSE)' },
  { id: 'regime', label: 'regime (cross-entropy)' },
];

function select(testid: string, label: string): HTMLSelectElement {
  return h('select', { testid, attrs: { 'aria-label': label } });
}

function fill(el: HTMLSelectElement, values: string[], want: string | null, text = (v: string) => v): void {
  replace(el, values.map((v) => h('option', { attrs: { value: v } }, text(v))));
  el.value = want !== null && values.includes(want) ? want : (values[values.length - 1] ?? '');
  el.disabled = values.length < 2;
}

function headsView(name: string, heads: HeadReport): HTMLElement {
  const parts: HTMLElement[] = [];
  if (heads.vol) {
    const v = heads.vol;
    parts.push(
      h(
        'p',
        { testid: 'heads-vol' },
        `Volatility head: R² against the no-change forecast ${v.r2_vs_no_change === null ? NA : fixed(v.r2_vs_no_change, 3)} `,
        h('span', { class: 'muted' }, ratioInterval(v.r2_interval, 3)),
        ` over ${int(v.n)} test rows (MAE ${sci(v.mae)} vs ${sci(v.mae_no_change)} for no change; above 0 = better than no change).`,
      ),
    );
  }
  if (heads.regime) {
    const g = heads.regime;
    parts.push(
      h(
        'p',
        { testid: 'heads-regime' },
        `Regime head: accuracy ${pct(g.accuracy)} `,
        h('span', { class: 'muted' }, pctInterval(g.accuracy_interval)),
        ` vs ${pct(g.majority_accuracy)} for the majority class; macro-F1 ${fixed(g.macro_f1, 3)} `,
        h('span', { class: 'muted' }, ratioInterval(g.macro_f1_interval, 3)),
        ` vs ${fixed(g.majority_macro_f1, 3)}.`,
      ),
      table(
        ['actual \\ predicted', ...CLASSES],
        g.confusion.map((row, k) => [CLASSES[k], ...row.map((c) => int(c))]),
        { testid: 'confusion', numeric: [1, 2, 3, 4, 5] },
      ),
    );
  }
  return section([`${name}'s extra heads `, h('span', { class: 'muted small' }, '(pooled test rows)')], ...parts);
}

function sameUnitsView(same: SameUnits): HTMLElement {
  return section(
    [
      'Every model on the networks\u2019 units ',
      h('span', { class: 'muted small' }, `(the last ${same.folds.length} folds: compare the networks here)`),
    ],
    table(
      ['model', 'units', 'rows', 'R² vs mean', 'dir. accuracy', '95% CI', 'Sharpe', 'verdict'],
      same.models.map((m) => {
        const p = m.pooled;
        const d = p.direction;
        return [
          m.name,
          int(m.units),
          int(p.n_rows),
          fixed(p.regression?.r2_vs_train_mean ?? null, 4),
          m.name === 'zero' || !d ? NA : pct(d.accuracy),
          m.name === 'zero' || !d ? '' : pctInterval(d.bootstrap ?? d.wilson),
          fixed(p.trading?.sharpe ?? null, 2),
          verdictChip(p.verdict?.verdict ?? null),
        ];
      }),
      { testid: 'same-units', numeric: [1, 2, 3, 4, 6] },
    ),
  );
}

export async function trainingPage(ctx: PageContext): Promise<void> {
  const controls = h('div', { class: 'controls' });
  const body = h('div', null, loading());
  replace(ctx.root, h('div', { class: 'page-head' }, h('h1', null, 'Training')), controls, body);

  let runs;
  try {
    runs = await runsWithArtifacts(await listRuns(), [TRAINING]);
  } catch (e) {
    if (ctx.alive()) replace(body, errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  if (runs.length === 0) {
    replace(
      body,
      empty(
        [
          'No run with trained networks yet — run ',
          code('bqx demo'),
          ' or start a run on the ',
          h('a', { attrs: { href: '#/pipeline' } }, 'Pipeline'),
          ' page (the train stage writes them unless the networks are off).',
        ],
        'training-empty',
      ),
    );
    return;
  }

  const runSelect = select('tr-run', 'Run');
  replace(
    runSelect,
    runs.map((r) => h('option', { attrs: { value: r.run.run_id } }, runLabel(r.run))),
  );
  const wantRun = ctx.params.get('run');
  runSelect.value = runs.some((r) => r.run.run_id === wantRun) ? (wantRun as string) : runs[0].run.run_id;
  const netSelect = select('tr-network', 'Network');
  const pairSelect = select('tr-pair', 'Pair');
  const foldSelect = select('tr-fold', 'Fold');
  const headSelect = select('tr-head', 'Loss');
  replace(headSelect, HEADS.map((x) => h('option', { attrs: { value: x.id } }, x.label)));
  headSelect.value = HEADS.some((x) => x.id === ctx.params.get('head')) ? (ctx.params.get('head') as string) : 'total';
  replace(
    controls,
    h('label', null, 'Run ', runSelect),
    h('label', null, 'Network ', netSelect),
    h('label', null, 'Pair ', pairSelect),
    h('label', null, 'Fold ', foldSelect),
    h('label', null, 'Loss ', headSelect),
  );

  const chartEl = h('div', {
    class: 'chart chart-curves',
    testid: 'training-chart',
    attrs: { role: 'img', 'aria-label': 'Training and validation loss per epoch' },
  });
  const unitInfo = h('p', { class: 'muted small', testid: 'training-unit' });
  const resultsSlot = h('div', null, loading());
  replace(
    body,
    section(
      ['Loss per epoch ', h('span', { class: 'muted small' }, '(solid: training, dashed: validation, dot: the kept epoch)')],
      unitInfo,
      chartEl,
    ),
    resultsSlot,
  );

  let units: TrainingUnit[] = [];
  let seq = 0;

  const unit = (): TrainingUnit | undefined =>
    units.find(
      (u) => u.model === netSelect.value && u.pair === pairSelect.value && String(u.fold) === foldSelect.value,
    );

  const updateUrl = () => {
    const p = new URLSearchParams();
    p.set('run', runSelect.value);
    for (const [k, el] of [
      ['network', netSelect],
      ['pair', pairSelect],
      ['fold', foldSelect],
      ['head', headSelect],
    ] as const) {
      if (el.value) p.set(k, el.value);
    }
    ctx.setParams(p);
  };

  const draw = () => {
    const u = unit();
    const multi = u?.curves[0]?.epochs[0]?.train.vol !== null && u?.curves[0]?.epochs[0]?.train.vol !== undefined;
    for (const opt of Array.from(headSelect.options)) {
      opt.disabled = !multi && (opt.value === 'vol' || opt.value === 'regime');
    }
    if (!multi && (headSelect.value === 'vol' || headSelect.value === 'regime')) headSelect.value = 'total';
    if (!u) {
      chartEl.hidden = true;
      replace(unitInfo, 'No unit for this choice.');
      return;
    }
    chartEl.hidden = false;
    replace(
      unitInfo,
      `${u.model} · ${u.pair} · fold ${u.fold}: ${int(u.n_train_used)} of ${int(u.n_train)} training rows used, ` +
        `${int(u.n_valid)} validation rows; ${u.curves.length} seeds, kept epochs ` +
        u.curves.map((c) => `${c.best_epoch}${c.stopped_early ? '' : ' (no early stop)'}`).join(', '),
    );
    trainingCurves(chartEl, u.curves, headSelect.value as CurveHead);
    updateUrl();
  };

  const fillChoices = (first: boolean) => {
    const want = (k: string, el: HTMLSelectElement) => (first ? ctx.params.get(k) : el.value || null);
    const nets = [...new Set(units.map((u) => u.model))].sort();
    fill(netSelect, nets, want('network', netSelect) ?? 'multitask');
    const ofNet = units.filter((u) => u.model === netSelect.value);
    fill(pairSelect, canonical(ofNet.map((u) => u.pair)), want('pair', pairSelect) ?? canonical(ofNet.map((u) => u.pair))[0] ?? null);
    const folds = [...new Set(ofNet.filter((u) => u.pair === pairSelect.value).map((u) => u.fold))].sort((a, b) => a - b);
    fill(foldSelect, folds.map(String), want('fold', foldSelect));
  };

  const loadRun = async (first: boolean) => {
    const my = ++seq;
    const path = `/api/v1/runs/${encodeURIComponent(runSelect.value)}`;
    replace(resultsSlot, loading());
    const [t, b] = await Promise.allSettled([
      api<TrainingUnit[]>('GET', `${path}/training`),
      api<BacktestSummary>('GET', `${path}/backtest`),
    ]);
    if (!ctx.alive() || my !== seq) return;
    if (t.status === 'rejected') {
      replace(body, errorBox(t.reason));
      return;
    }
    units = t.value;
    fillChoices(first);
    draw();
    if (b.status === 'rejected') {
      replace(resultsSlot, errorBox(b.reason));
    } else {
      const parts: HTMLElement[] = [];
      for (const m of b.value.models) if (m.heads) parts.push(headsView(m.name, m.heads));
      if (b.value.same_units) parts.push(sameUnitsView(b.value.same_units));
      replace(resultsSlot, ...(parts.length ? parts : [empty('The backtest of this run reports no network results.')]));
    }
    disposeDetached();
  };

  runSelect.addEventListener('change', () => void loadRun(false));
  netSelect.addEventListener('change', () => {
    fillChoices(false);
    draw();
  });
  pairSelect.addEventListener('change', () => {
    fillChoices(false);
    draw();
  });
  foldSelect.addEventListener('change', draw);
  headSelect.addEventListener('change', draw);
  await loadRun(true);
}
