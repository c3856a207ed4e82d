// Cross-pair (stage 2.16): the lead-lag discovery of every fold (Granger tests of each pair on
// every other one, Benjamini–Hochberg q-values) as a follower × leader matrix; one follower's
// sisters, momentum products and kept relations; the feature selection (ranker scores in Borda
// order, the drops, and how stable the choice is across folds).

import { disposeDetached, leadLagHeatmap, stabilityBars } from '../charts';
import { code, empty, errorBox, h, loading, replace, section, table } from '../dom';
import type { Child } from '../dom';
import { NA, fixed, instant, int, pct, ratio, sci } from '../format';
import type { PageContext } from '../page';
import { api } from '../transport';
import type {
  CrossPairFold,
  CrossPairFollower,
  CrossPairReport,
  FeatureStability,
  SelectionFold,
  SelectionReport,
} from '../types';
import { listRuns, runLabel, runsWithArtifacts } from './common';
import type { RunArtifacts } from './common';

/** The 28 pairs in canonical order (`Pair::ALL`, crates/bqx-domain/src/pair.rs). */
export const PAIR_ORDER = [
  'EURGBP', 'EURAUD', 'EURNZD', 'EURUSD', 'EURCAD', 'EURCHF', 'EURJPY',
  'GBPAUD', 'GBPNZD', 'GBPUSD', 'GBPCAD', 'GBPCHF', 'GBPJPY',
  'AUDNZD', 'AUDUSD', 'AUDCAD', 'AUDCHF', 'AUDJPY',
  'NZDUSD', 'NZDCAD', 'NZDCHF', 'NZDJPY',
  'USDCAD', 'USDCHF', 'USDJPY',
  'CADCHF', 'CADJPY',
  'CHFJPY',
];

/** Pairs in canonical order; a name outside the 28 goes last, alphabetically. */
export function canonical(pairs: Iterable<string>): string[] {
  const rank = (p: string) => {
    const i = PAIR_ORDER.indexOf(p);
    return i < 0 ? PAIR_ORDER.length : i;
  };
  return [...new Set(pairs)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Rows of the top-features table. */
const TOP_FEATURES = 30;

const CROSSPAIR = 'crosspair';
const SELECTION = 'selection';

export async function crosspairPage(ctx: PageContext): Promise<void> {
  const controls = h('div', { class: 'controls' });
  const body = h('div', null, loading());
  replace(ctx.root, h('div', { class: 'page-head' }, h('h1', null, 'Cross-pair')), controls, body);

  let runs: RunArtifacts[];
  try {
    runs = await runsWithArtifacts(await listRuns(), [CROSSPAIR, SELECTION]);
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
          'No run with cross-pair results yet — run ',
          code('bqx demo'),
          ' or start a run on the ',
          h('a', { attrs: { href: '#/pipeline' } }, 'Pipeline'),
          ' page (the cross-pair stage and the feature selection write them).',
        ],
        'crosspair-empty',
      ),
    );
    return;
  }

  // The run in the URL, else the newest with a cross-pair report, else the newest.
  const wantRun = ctx.params.get('run');
  const initialRun =
    runs.find((r) => r.run.run_id === wantRun) ?? runs.find((r) => r.kinds.has(CROSSPAIR)) ?? runs[0];
  const runSelect = h(
    'select',
    { testid: 'cp-run', attrs: { 'aria-label': 'Run' } },
    runs.map((r) =>
      h(
        'option',
        { attrs: { value: r.run.run_id, selected: r === initialRun } },
        `${runLabel(r.run)}${r.kinds.has(CROSSPAIR) ? '' : ' · selection only'}`,
      ),
    ),
  );
  runSelect.value = initialRun.run.run_id;
  const foldSelect = h('select', { testid: 'cp-fold', attrs: { 'aria-label': 'Fold' } });
  const foldLabel = h('label', null, 'Fold ', foldSelect);
  const followerSelect = h('select', { testid: 'cp-follower', attrs: { 'aria-label': 'Follower pair' } });
  const followerLabel = h('label', null, 'Follower ', followerSelect);
  replace(
    controls,
    h('label', null, 'Run ', runSelect),
    foldLabel,
    followerLabel,
  );

  const overview = h('div');
  const heatmapEl = h('div', {
    class: 'chart chart-leadlag',
    testid: 'crosspair-heatmap',
    attrs: { role: 'img', 'aria-label': 'Lead-lag matrix' },
  });
  const heatmapSlot = h('div', null, loading());
  const followerTitle = h('span', null, 'Follower');
  const followerSlot = h('div', null, loading());
  const selectionSlot = h('div', null, loading());
  const followerSection = section(followerTitle, followerSlot);
  replace(
    body,
    overview,
    section(
      ['Lead-lag relations ', h('span', { class: 'muted small' }, '(leader → follower, training rows of the fold)')],
      heatmapSlot,
      heatmapEl,
    ),
    followerSection,
    section('Feature selection', selectionSlot),
  );
  heatmapEl.hidden = true;

  let xp: CrossPairReport | null = null;
  let xpError: unknown = null;
  let sel: SelectionReport | null = null;
  let selError: unknown = null;
  let seq = 0;

  const entry = (): RunArtifacts => runs.find((r) => r.run.run_id === runSelect.value) ?? runs[0];
  const foldId = (): number | null => (foldSelect.value === '' ? null : Number(foldSelect.value));
  const xpFold = (): CrossPairFold | null => xp?.folds.find((f) => f.fold === foldId()) ?? null;
  const selFold = (): SelectionFold | null => sel?.folds.find((f) => f.fold === foldId()) ?? null;
  const followersOf = (f: CrossPairFold | null): CrossPairFollower[] => {
    if (!f) return [];
    const order = canonical(f.pairs.map((p) => p.pair));
    return order.map((p) => f.pairs.find((x) => x.pair === p)).filter((x): x is CrossPairFollower => x !== undefined);
  };

  const updateUrl = () => {
    const p = new URLSearchParams();
    p.set('run', runSelect.value);
    if (foldSelect.value) p.set('fold', foldSelect.value);
    if (followerSelect.value) p.set('follower', followerSelect.value);
    ctx.setParams(p);
  };

  // ---- choices ------------------------------------------------------------------------------

  const fillFolds = (want: string | null) => {
    const ids = [...new Set([...(xp?.folds ?? []).map((f) => f.fold), ...(sel?.folds ?? []).map((f) => f.fold)])].sort(
      (a, b) => a - b,
    );
    replace(
      foldSelect,
      ids.map((id) => {
        const f = xp?.folds.find((x) => x.fold === id);
        const label = f ? `${id} · train from ${instant(f.train_start)} · test from ${instant(f.test_start)}` : String(id);
        return h('option', { attrs: { value: String(id) } }, label);
      }),
    );
    // The fold asked for, else the last (it trains on the most rows).
    const pick = want !== null && ids.map(String).includes(want) ? want : ids.length ? String(ids[ids.length - 1]) : '';
    foldSelect.value = pick;
    foldSelect.disabled = ids.length < 2;
    foldLabel.hidden = ids.length === 0;
  };

  const fillFollowers = (want: string | null) => {
    const pairs = followersOf(xpFold()).map((f) => f.pair);
    replace(followerSelect, pairs.map((p) => h('option', { attrs: { value: p } }, p)));
    followerSelect.value = want !== null && pairs.includes(want) ? want : (pairs[0] ?? '');
    followerSelect.disabled = pairs.length < 2;
    followerLabel.hidden = pairs.length === 0;
  };

  // ---- loading ------------------------------------------------------------------------------

  const loadRun = async (first: boolean) => {
    const my = ++seq;
    const run = entry();
    const path = `/api/v1/runs/${encodeURIComponent(run.run.run_id)}`;
    replace(overview);
    replace(heatmapSlot, loading());
    replace(followerSlot, loading());
    replace(selectionSlot, loading());
    heatmapEl.hidden = true;
    // Only the artifacts the run lists are asked for (the others would answer 404).
    const [a, b] = await Promise.allSettled([
      run.kinds.has(CROSSPAIR) ? api<CrossPairReport>('GET', `${path}/crosspair`) : Promise.resolve(null),
      run.kinds.has(SELECTION) ? api<SelectionReport>('GET', `${path}/selection`) : Promise.resolve(null),
    ]);
    if (!ctx.alive() || my !== seq) return;
    xp = a.status === 'fulfilled' ? a.value : null;
    xpError = a.status === 'rejected' ? a.reason : null;
    sel = b.status === 'fulfilled' ? b.value : null;
    selError = b.status === 'rejected' ? b.reason : null;
    fillFolds(first ? ctx.params.get('fold') : foldSelect.value || null);
    fillFollowers(first ? ctx.params.get('follower') : followerSelect.value || null);
    updateUrl();
    renderAll();
  };

  // ---- rendering ----------------------------------------------------------------------------

  const renderAll = () => {
    renderOverview();
    renderHeatmap();
    renderFollower();
    renderSelection();
    disposeDetached(); // the stability chart of the previous rendering
  };

  const renderOverview = () => {
    const f = xpFold();
    const followers = followersOf(f);
    const kept = followers.flatMap((x) => x.kept);
    const significant = kept.filter((k) => k.significant).length;
    replace(
      overview,
      h(
        'dl',
        { class: 'facts facts-row' },
        h('dt', null, 'Run'),
        h('dd', { testid: 'cp-run-id' }, runSelect.value),
        xp
          ? [
              h('dt', null, 'Timeframe'),
              h('dd', null, xp.timeframe),
              h('dt', null, 'Lags tested'),
              h('dd', null, `1 … ${int(xp.max_lag)}`),
              h('dt', null, 'FDR level'),
              h('dd', null, `q < ${fixed(xp.fdr_level, 3)}`),
              h('dt', null, 'Folds'),
              h('dd', { testid: 'cp-fold-count' }, String(xp.folds.length)),
            ]
          : null,
        f
          ? [
              h('dt', null, 'Train from'),
              h('dd', { testid: 'cp-train-start' }, instant(f.train_start)),
              h('dt', null, 'Test from'),
              h('dd', { testid: 'cp-test-start' }, instant(f.test_start)),
              h('dt', null, 'Followers'),
              h('dd', { testid: 'cp-follower-count' }, String(followers.length)),
              h('dt', null, 'Kept relations'),
              h('dd', { testid: 'cp-kept-count' }, `${int(kept.length)} (${int(significant)} significant)`),
            ]
          : null,
      ),
    );
  };

  const renderHeatmap = () => {
    const hide = (msg: Child) => {
      heatmapEl.hidden = true;
      heatmapEl.dataset.rowCount = '0';
      replace(heatmapSlot, msg);
    };
    if (xpError !== null) return hide(errorBox(xpError));
    if (!xp) return hide(empty('This run has no cross-pair report (only a feature selection).', 'crosspair-none'));
    if (xp.folds.length === 0) return hide(empty('The cross-pair report has no fold: no fold had enough training rows.', 'crosspair-no-fold'));
    const f = xpFold();
    if (!f) return hide(empty(`The cross-pair report has no results for fold ${foldSelect.value}.`, 'crosspair-no-fold'));
    const followers = followersOf(f);
    if (followers.length === 0) return hide(empty('No pair was analysed in this fold (the store has too few pairs).', 'crosspair-no-pairs'));
    const rows = followers.map((x) => x.pair);
    const cols = canonical([...rows, ...followers.flatMap((x) => x.leaders.map((l) => l.leader))]);
    heatmapEl.hidden = false;
    heatmapEl.classList.toggle('rows-s', rows.length <= 6);
    heatmapEl.classList.toggle('rows-m', rows.length > 6 && rows.length <= 14);
    heatmapEl.dataset.rowCount = String(rows.length);
    heatmapEl.dataset.colCount = String(cols.length);
    heatmapEl.dataset.follower = followerSelect.value;
    heatmapEl.setAttribute(
      'aria-label',
      `Lead-lag matrix of fold ${f.fold}: ${rows.length} follower rows × ${cols.length} leader columns, colour −log10 q; the follower ${followerSelect.value} is framed. The tables below list each follower's leaders.`,
    );
    leadLagHeatmap(heatmapEl, { rows, cols, followers, selected: followerSelect.value || null }, (pair) => {
      if (pair === followerSelect.value || !rows.includes(pair)) return;
      followerSelect.value = pair;
      onFollower();
      followerSection.scrollIntoView({ block: 'nearest' });
    });
    const tests = Math.max(0, cols.length - 1) * xp.max_lag;
    replace(
      heatmapSlot,
      h(
        'p',
        { class: 'muted', testid: 'crosspair-caption' },
        `${rows.length} follower${rows.length === 1 ? '' : 's'} × ${cols.length} leaders. Colour: −log10 q of the leader's best lag (Granger F test of its one-bar returns on the follower's, lags 1 … ${xp.max_lag}; Benjamini–Hochberg q over the follower's ${int(tests)} tests). `,
        'Click a row (or pick a follower above) for its details.',
      ),
      h(
        'div',
        { class: 'legend', attrs: { 'aria-hidden': 'true' } },
        h('span', { class: 'legend-item' }, h('span', { class: 'mark mark-sig' }), `kept, significant (q < ${fixed(xp.fdr_level, 3)})`),
        h('span', { class: 'legend-item' }, h('span', { class: 'mark mark-filled' }), 'kept, filled, not significant'),
        h('span', { class: 'legend-item' }, h('span', { class: 'mark mark-row' }), 'chosen follower'),
        h('span', { class: 'legend-item' }, h('span', { class: 'mark mark-none' }), 'no q value'),
        h('span', { class: 'legend-item' }, 'blank: not tested (diagonal)'),
      ),
    );
  };

  const renderFollower = () => {
    const f = followersOf(xpFold()).find((x) => x.pair === followerSelect.value);
    if (!f) {
      replace(followerTitle, 'Follower');
      replace(
        followerSlot,
        empty(xp ? 'No follower to show for this fold.' : 'No cross-pair report in this run.', 'follower-empty'),
      );
      return;
    }
    replace(followerTitle, 'Follower ', h('span', { testid: 'cp-follower-pair' }, f.pair));
    const chosen = f.sisters.filter((s) => s.chosen).length;
    const sisters = h(
      'div',
      { class: 'cp-block' },
      h('h3', null, `Sisters (${f.sisters.length}, ${chosen} chosen)`),
      f.sisters.length
        ? table(
            ['Sister', 'Correlation', 'Chosen'],
            f.sisters.map((s) => [
              s.pair,
              ratio(s.corr),
              s.chosen ? h('span', { class: 'chip chip-built' }, 'chosen') : h('span', { class: 'muted' }, 'no'),
            ]),
            { testid: 'cp-sisters', class: 'grid compact', numeric: [1] },
          )
        : empty('No sister pair in the store.'),
      h('p', { class: 'muted small' }, 'Correlation of one-bar returns on the training rows; the most correlated sisters feed the volatility ratios and correlation drift.'),
    );
    const momentum = h(
      'div',
      { class: 'cp-block' },
      h('h3', null, `Momentum products (${f.momentum.length})`),
      f.momentum.length
        ? table(
            ['Slot', 'Term', 'Window', 'Sister', 'Spearman'],
            f.momentum.map((m) => [int(m.slot), m.term, int(m.window), m.sister, ratio(m.spearman)]),
            { testid: 'cp-momentum', class: 'grid compact', numeric: [0, 2, 4] },
          )
        : empty('No momentum product: the run had no target for this pair.', 'cp-momentum-empty'),
      h('p', { class: 'muted small' }, 'Products of this pair\'s and a sister\'s regression terms, ranked by |Spearman| with the target on the training rows.'),
    );
    const kept = h(
      'div',
      { class: 'cp-block' },
      h('h3', null, `Kept lead-lag relations (${f.kept.length})`),
      f.kept.length
        ? table(
            ['Slot', 'Leader', 'Lag', 'q', 'Significant'],
            f.kept.map((k) => [
              int(k.slot),
              k.leader,
              int(k.lag),
              h('span', { testid: `cp-kept-q-${k.slot}` }, sci(k.q)),
              k.significant
                ? h('span', { class: 'chip chip-succeeded', testid: `cp-kept-sig-${k.slot}` }, 'significant')
                : h('span', { class: 'muted', testid: `cp-kept-sig-${k.slot}` }, 'filled, not significant'),
            ]),
            { testid: 'cp-kept', class: 'grid compact', numeric: [0, 2, 3] },
          )
        : empty('No relation kept.', 'cp-kept-empty'),
      h('p', { class: 'muted small' }, `The leaders with the smallest p at their best lag; significant when q < ${fixed(xp?.fdr_level, 3)}, else the slot is filled anyway.`),
    );
    const leaders = h(
      'details',
      null,
      h('summary', null, `All ${f.leaders.length} candidate leaders of ${f.pair} (best lag each)`),
      h(
        'div',
        { class: 'scroll scroll-y' },
        table(
          ['Leader', 'Best lag', 'F', 'p', 'q', 'Kept'],
          f.leaders.map((l) => {
            const k = f.kept.find((x) => x.leader === l.leader);
            return [l.leader, int(l.lag), fixed(l.f, 2), sci(l.p), sci(l.q), k ? (k.significant ? 'significant' : 'filled') : ''];
          }),
          { testid: 'cp-leaders', class: 'grid compact', numeric: [1, 2, 3, 4] },
        ),
      ),
    );
    replace(followerSlot, h('div', { class: 'cp-follower' }, sisters, momentum, kept), leaders);
  };

  const renderSelection = () => {
    if (selError !== null) return replace(selectionSlot, errorBox(selError));
    if (!sel) return replace(selectionSlot, empty('This run has no feature-selection report.', 'selection-empty'));
    const s = sel;
    const st = s.stability;
    const facts = h(
      'dl',
      { class: 'facts facts-row' },
      h('dt', null, 'k (features kept)'),
      h('dd', { testid: 'sel-k' }, int(s.k)),
      h('dt', null, 'Candidates'),
      h('dd', { testid: 'sel-candidates' }, int(s.candidates)),
      h('dt', null, 'Rows per fold (max)'),
      h('dd', null, int(s.rows_per_fold_max)),
      h('dt', null, 'Folds'),
      h('dd', { testid: 'sel-fold-count' }, String(s.folds.length)),
      h('dt', null, 'Jaccard (mean)'),
      h('dd', { testid: 'sel-jaccard' }, ratio(st.jaccard_mean)),
      h('dt', null, 'Kuncheva (mean)'),
      h('dd', { testid: 'sel-kuncheva' }, ratio(st.kuncheva_mean)),
    );
    if (s.folds.length === 0) {
      replace(selectionSlot, facts, empty('The selection report has no fold.', 'selection-no-fold'));
      return;
    }
    const current = foldId();
    const [stable, drawStable] = stability(st.per_feature, s.folds.length);
    const perFold = h(
      'div',
      { class: 'scroll' },
      table(
        ['Fold', 'Rows', 'Dropped: constant', 'Dropped: correlated', 'Scored', 'Selected'],
        s.folds.map((f) => [
          f.fold === current ? h('strong', null, `${f.fold} (shown)`) : String(f.fold),
          int(f.n_rows),
          h('span', { testid: `sel-constant-${f.fold}` }, int(f.dropped_constant.length)),
          h('span', { testid: `sel-correlated-${f.fold}` }, int(f.dropped_correlated.length)),
          int(f.scores.feature.length),
          int(f.selected.length),
        ]),
        { testid: 'sel-folds', class: 'grid compact', numeric: [1, 2, 3, 4, 5] },
      ),
    );
    replace(
      selectionSlot,
      facts,
      h('h3', null, 'Per fold'),
      perFold,
      h('h3', null, `Top ${TOP_FEATURES} features of fold ${foldSelect.value || NA}`),
      topFeatures(selFold(), s.k, foldSelect.value),
      h('h3', null, 'Stability across folds'),
      stable,
    );
    drawStable();
  };

  /** The fold's features in Borda order (the selected ones first), with each ranker's score. */
  const topFeatures = (f: SelectionFold | null, k: number, fold: string): HTMLElement => {
    if (!f) return empty(`The selection report has no results for fold ${fold || NA}.`, 'sel-top-empty');
    const order = bordaOrder(f);
    if (order.length === 0) return empty('No feature was scored in this fold.', 'sel-top-empty');
    const sc = f.scores;
    const chosen = new Set(f.selected);
    const at = (xs: (number | null)[], i: number) => xs[i] ?? null;
    const top = order.slice(0, TOP_FEATURES);
    const correlated = f.dropped_correlated;
    return h(
      'div',
      null,
      h(
        'p',
        { class: 'muted small' },
        `${int(order.length)} features scored; the ${int(f.selected.length)} selected (k = ${int(k)}) first, in Borda order, then the rest by their Borda score.`,
      ),
      h(
        'div',
        { class: 'scroll' },
        table(
          [
            '#',
            'Feature',
            'Selected',
            h('span', { title: 'Mutual information with the target' }, 'Mutual info'),
            h('span', { title: 'Spearman rank correlation with the target' }, 'Spearman'),
            h('span', { title: 'Random-forest impurity importance' }, 'Forest'),
            h('span', { title: 'Lasso path entry: α at which the feature enters ÷ α max (higher: earlier)' }, 'Lasso entry'),
            h('span', { title: 'Borda points summed over the four rankers (higher: better)' }, 'Borda'),
          ],
          top.map((i, n) => [
            String(n + 1),
            h('span', { class: 'mono' }, sc.feature[i]),
            chosen.has(sc.feature[i]) ? h('span', { class: 'chip chip-succeeded' }, 'selected') : h('span', { class: 'muted' }, 'no'),
            sci(at(sc.mutual_info, i)),
            ratio(at(sc.spearman, i)),
            sci(at(sc.forest, i)),
            ratio(at(sc.lasso, i)),
            points(at(sc.borda, i)),
          ]),
          { testid: 'sel-top', class: 'grid compact', numeric: [0, 3, 4, 5, 6, 7] },
        ),
      ),
      h(
        'details',
        null,
        h('summary', null, `Dropped before ranking: ${f.dropped_constant.length} constant, ${correlated.length} correlated`),
        f.dropped_constant.length
          ? h('p', { class: 'small' }, h('strong', null, 'Constant: '), f.dropped_constant.join(', '))
          : null,
        correlated.length
          ? h(
              'div',
              { class: 'scroll scroll-y' },
              table(
                ['Dropped', 'Kept instead', 'ρ'],
                correlated.map((c) => [h('span', { class: 'mono' }, c.feature), h('span', { class: 'mono' }, c.kept), ratio(c.rho)]),
                { testid: 'sel-dropped-correlated', class: 'grid compact', numeric: [2] },
              ),
            )
          : null,
      ),
    );
  };

  /** The stability block and the function that draws its chart (once the block is in the page). */
  const stability = (per: FeatureStability[], folds: number): [HTMLElement, () => void] => {
    const top = [...per]
      .filter((r) => r.folds_selected > 0)
      .sort((a, b) => b.folds_selected - a.folds_selected || b.share - a.share || a.feature.localeCompare(b.feature))
      .slice(0, TOP_FEATURES);
    if (top.length === 0) return [empty('No feature was selected in any fold.', 'sel-stability-empty'), () => {}];
    const chart = h('div', {
      class: `chart chart-stability${top.length <= 10 ? ' rows-s' : ''}`,
      testid: 'sel-stability-chart',
      attrs: { role: 'img', 'aria-label': `Share of the ${folds} folds that selected each of the ${top.length} most often selected features` },
    });
    const out = h(
      'div',
      null,
      h(
        'p',
        { class: 'muted small' },
        `The ${top.length} features selected in the most folds (of ${folds}). Mean pairwise Jaccard ${ratio(sel?.stability.jaccard_mean)}, Kuncheva ${ratio(sel?.stability.kuncheva_mean)} (1: the same features every fold; Kuncheva 0: no more overlap than chance).`,
      ),
      chart,
      h(
        'details',
        null,
        h('summary', null, 'As a table'),
        table(
          ['Feature', 'Folds selected', 'Share'],
          top.map((r) => [h('span', { class: 'mono' }, r.feature), `${int(r.folds_selected)} / ${int(folds)}`, pct(r.share)]),
          { testid: 'sel-stability', class: 'grid compact', numeric: [1, 2] },
        ),
      ),
    );
    return [out, () => stabilityBars(chart, top, folds)];
  };

  // ---- events -------------------------------------------------------------------------------

  const onFollower = () => {
    updateUrl();
    renderHeatmap();
    renderFollower();
  };

  runSelect.addEventListener('change', () => void loadRun(false));
  foldSelect.addEventListener('change', () => {
    fillFollowers(followerSelect.value || null);
    updateUrl();
    renderAll();
  });
  followerSelect.addEventListener('change', onFollower);

  await loadRun(true);
}

/** Borda points: whole numbers as integers ("1,234"), anything else with one decimal. */
function points(x: number | null): string {
  return typeof x === 'number' && Number.isInteger(x) ? int(x) : fixed(x, 1);
}

/**
 * Indices of `f.scores.feature` in Borda order: the selected features first (the report gives
 * them in that order), then the others by Borda score, in the direction the selected ones show
 * (higher first unless the first selected scores below the last), undefined scores last.
 */
export function bordaOrder(f: SelectionFold): number[] {
  const names = f.scores.feature;
  const borda = (i: number): number | null => {
    const v = f.scores.borda[i];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  const index = new Map(names.map((n, i) => [n, i]));
  const picked = f.selected.map((n) => index.get(n)).filter((i): i is number => i !== undefined);
  let higherFirst = true;
  if (picked.length >= 2) {
    const a = borda(picked[0]);
    const b = borda(picked[picked.length - 1]);
    if (a !== null && b !== null && a !== b) higherFirst = a > b;
  }
  const inPicked = new Set(picked);
  const rest = names
    .map((_, i) => i)
    .filter((i) => !inPicked.has(i))
    .sort((i, j) => {
      const a = borda(i);
      const b = borda(j);
      if (a === null || b === null) return a === b ? i - j : a === null ? 1 : -1;
      return (higherFirst ? b - a : a - b) || i - j;
    });
  return [...picked, ...rest];
}
