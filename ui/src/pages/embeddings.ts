// Embeddings (stage 2.17): per fold, the autoencoder's 64-unit embedding of every row. A 2-D
// projection of test rows coloured by k-means cluster or by the regime of the future move, each
// cluster's profile, the silhouette, constant units and the reconstruction error per family.

import { disposeDetached, embeddingScatter } from '../charts';
import { code, empty, errorBox, h, loading, replace, section, table } from '../dom';
import { NA, fixed, int, pct, sci } from '../format';
import type { PageContext } from '../page';
import { api } from '../transport';
import type { EmbedFold } from '../types';
import { listRuns, runLabel, runsWithArtifacts } from './common';

const EMBEDDINGS = 'embeddings';
const REGIMES = ['strong down', 'down', 'flat', 'up', 'strong up'];

function foldView(f: EmbedFold): HTMLElement[] {
  const last = f.curve[f.curve.length - 1];
  return [
    h(
      'p',
      { testid: 'embed-summary' },
      `${int(f.n_train)} training rows of ${int(f.n_inputs)} inputs (every pair pooled), ${int(f.n_valid)} validation rows; ` +
        `kept epoch ${f.best_epoch} of ${f.curve.length}${f.stopped_early ? ' (early stop)' : ''}, ` +
        `validation MSE ${last?.valid_mse === null || last === undefined ? NA : fixed(last.valid_mse, 3)} (standardized; 1 ≈ the mean). ` +
        `k-means with k = ${f.k}: silhouette ${f.silhouette === null ? NA : fixed(f.silhouette, 3)}. ` +
        `Constant embedding units: ${f.constant_units.length === 0 ? 'none' : f.constant_units.join(', ')}. ` +
        `Dead ReLU units per hidden encoder layer: ${(f.dead_units ?? []).length === 0 ? NA : (f.dead_units ?? []).join(' / ')}.`,
    ),
  ];
}

export async function embeddingsPage(ctx: PageContext): Promise<void> {
  const controls = h('div', { class: 'controls' });
  const body = h('div', null, loading());
  replace(ctx.root, h('div', { class: 'page-head' }, h('h1', null, 'Embeddings')), controls, body);

  let runs;
  try {
    runs = await runsWithArtifacts(await listRuns(), [EMBEDDINGS]);
  } catch (e) {
    if (ctx.alive()) replace(body, errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  if (runs.length === 0) {
    replace(
      body,
      empty(
        ['No run with embeddings yet — run ', code('bqx demo'), ' (the embed stage writes them unless ', code('--embeddings off'), ').'],
        'embeddings-empty',
      ),
    );
    return;
  }
  const runSelect = h('select', { testid: 'em-run', attrs: { 'aria-label': 'Run' } });
  replace(runSelect, runs.map((r) => h('option', { attrs: { value: r.run.run_id } }, runLabel(r.run))));
  const wantRun = ctx.params.get('run');
  runSelect.value = runs.some((r) => r.run.run_id === wantRun) ? (wantRun as string) : runs[0].run.run_id;
  const foldSelect = h('select', { testid: 'em-fold', attrs: { 'aria-label': 'Fold' } });
  const colorSelect = h('select', { testid: 'em-color', attrs: { 'aria-label': 'Colour by' } });
  replace(colorSelect, [
    h('option', { attrs: { value: 'cluster' } }, 'cluster'),
    h('option', { attrs: { value: 'regime' } }, 'regime of the future move'),
  ]);
  colorSelect.value = ctx.params.get('by') === 'regime' ? 'regime' : 'cluster';
  replace(
    controls,
    h('label', null, 'Run ', runSelect),
    h('label', null, 'Fold ', foldSelect),
    h('label', null, 'Colour by ', colorSelect),
  );

  const summary = h('div');
  const scatterEl = h('div', {
    class: 'chart chart-scatter',
    testid: 'embedding-scatter',
    attrs: { role: 'img', 'aria-label': 'Embeddings of test rows, first two principal components' },
  });
  const profiles = h('div');
  const recon = h('div');
  replace(
    body,
    summary,
    section(['Projection ', h('span', { class: 'muted small' }, '(a sample of test rows; axes: principal components of the training embeddings)')], scatterEl),
    section(['Cluster profiles ', h('span', { class: 'muted small' }, '(clusters fitted on training rows, profiled on test rows)')], profiles),
    section(['Reconstruction error per family ', h('span', { class: 'muted small' }, '(validation rows, standardized MSE)')], recon),
  );

  let folds: EmbedFold[] = [];
  let seq = 0;

  const draw = () => {
    const f = folds.find((x) => String(x.fold) === foldSelect.value);
    if (!f) return;
    replace(summary, ...foldView(f));
    embeddingScatter(scatterEl, f.projection, colorSelect.value as 'cluster' | 'regime');
    replace(
      profiles,
      table(
        ['cluster', 'train rows', 'test rows', 'mean vol (past h)', 'mean BQX target', ...REGIMES],
        f.clusters.map((c) => [
          String(c.cluster),
          int(c.train_rows),
          int(c.test_rows),
          c.mean_vol === null ? NA : sci(c.mean_vol),
          c.mean_bqx === null ? NA : sci(c.mean_bqx),
          ...(c.regime_share ?? REGIMES.map(() => null)).map((s) => (s === null ? NA : pct(s))),
        ]),
        { testid: 'cluster-profiles', numeric: [1, 2, 3, 4, 5, 6, 7, 8, 9] },
      ),
    );
    replace(
      recon,
      table(
        ['family', 'features', 'MSE'],
        f.reconstruction.map((r) => [r.family, int(r.features), fixed(r.mse, 3)]),
        { testid: 'reconstruction', numeric: [1, 2] },
      ),
    );
    const p = new URLSearchParams();
    p.set('run', runSelect.value);
    p.set('fold', foldSelect.value);
    p.set('by', colorSelect.value);
    ctx.setParams(p);
    disposeDetached();
  };

  const loadRun = async (first: boolean) => {
    const my = ++seq;
    replace(summary, loading());
    try {
      const got = await api<EmbedFold[]>('GET', `/api/v1/runs/${encodeURIComponent(runSelect.value)}/embeddings`);
      if (!ctx.alive() || my !== seq) return;
      folds = got;
    } catch (e) {
      if (ctx.alive() && my === seq) replace(summary, errorBox(e));
      return;
    }
    const ids = folds.map((f) => String(f.fold));
    replace(foldSelect, ids.map((id) => h('option', { attrs: { value: id } }, id)));
    const want = first ? ctx.params.get('fold') : null;
    foldSelect.value = want !== null && ids.includes(want) ? want : (ids[ids.length - 1] ?? '');
    foldSelect.disabled = ids.length < 2;
    draw();
  };

  runSelect.addEventListener('change', () => void loadRun(false));
  foldSelect.addEventListener('change', draw);
  colorSelect.addEventListener('change', draw);
  await loadRun(true);
}
