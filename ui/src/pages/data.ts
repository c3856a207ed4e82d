// Data: the store's figures (coverage heatmap, per-series health, panel triangle residuals and a
// price chart) and the "Ingest data" panel (pages/ingest.ts).

import { coverageHeatmap, disposeDetached, priceChart } from '../charts';
import { code, empty, errorBox, h, loading, replace, section, table } from '../dom';
import { date, dateTime, int, pct, sci } from '../format';
import type { PageContext } from '../page';
import { ApiError, api } from '../transport';
import type { Coverage, DataHealth, PriceSeries, SeriesHealth } from '../types';
import { ingestPanel } from './ingest';

const NO_DATA = () =>
  empty(['No data in this store yet — run ', code('bqx demo'), ' or ', code('bqx ingest FILE…'), ', then reload.'], 'data-empty');

export async function dataPage(ctx: PageContext): Promise<void> {
  const summary = h('div', { testid: 'data-summary' }, loading());
  const figures = h('div', { testid: 'data-figures' });

  // The figures are (re)loaded on their own: after an ingest from this page, and after any job
  // that held the store while they were loading.
  // `data-loads` on the figures counts the finished loads (a hook for the e2e test).
  let seq = 0;
  let loads = 0;
  let inFlight = false;
  let busy = false;
  let endedWhileLoading = false;
  const reload = async (): Promise<void> => {
    const my = ++seq;
    inFlight = true;
    endedWhileLoading = false;
    const wasBusy = await loadFigures(ctx, summary, figures, () => ctx.alive() && my === seq);
    if (my !== seq || !ctx.alive()) return;
    inFlight = false;
    busy = wasBusy;
    figures.dataset.loads = String(++loads);
    // The job that held the store ended before this load could see it: look again (once).
    if (busy && endedWhileLoading) void reload();
  };

  const ingest = ingestPanel(ctx, (_job, mine) => {
    if (inFlight) endedWhileLoading = true;
    if (mine || busy) void reload();
  });

  replace(ctx.root, h('div', { class: 'page-head' }, h('h1', null, 'Data')), summary, ingest, figures);
  await reload();
}

/**
 * Fills the summary and the figures (coverage, price, health) from the store. Resolves to true
 * when the store was in use by a job (a message is shown instead). `current()` is false once a
 * newer load or another page took over.
 */
async function loadFigures(
  ctx: PageContext,
  summary: HTMLElement,
  figures: HTMLElement,
  current: () => boolean,
): Promise<boolean> {
  const covChart = h('div', { class: 'chart chart-heatmap', testid: 'coverage-chart' });
  const covSlot = h('div', null, loading());
  const healthSlot = h('div', null, loading());
  const panelSlot = h('div', null, loading());
  const priceControls = h('div', { class: 'controls' });
  const priceChartEl = h('div', { class: 'chart chart-price', testid: 'price-chart' });
  const priceSlot = h('div', null, loading());

  const [cov, health] = await Promise.allSettled([
    api<Coverage>('GET', '/api/v1/data/coverage'),
    api<DataHealth>('GET', '/api/v1/data/health'),
  ]);
  if (!current()) return false;

  // While a job writes the store the server cannot read it: say so (the page reloads the
  // figures when the job ends).
  const busy = [cov, health]
    .map((r) => (r.status === 'rejected' && r.reason instanceof ApiError && r.reason.code === 'store_in_use' ? r.reason : null))
    .find((e) => e !== null);
  if (busy) {
    replace(summary);
    replace(
      figures,
      empty(
        [`The store is in use (${busy.message}); the data views come back when the job ends (see the `, h('a', { attrs: { href: '#/pipeline' } }, 'Pipeline'), ' page).'],
        'data-busy',
      ),
    );
    disposeDetached();
    return true;
  }

  replace(
    figures,
    section('Coverage (bars per month)', covSlot, covChart),
    section('Price', priceControls, priceSlot, priceChartEl),
    section('Series health', healthSlot),
    section('Panel health', panelSlot),
  );
  disposeDetached(); // the charts of an earlier load
  covChart.hidden = true;
  priceChartEl.hidden = true;

  // Coverage.
  if (cov.status === 'rejected') replace(covSlot, errorBox(cov.reason));
  else if (cov.value.pairs.length === 0 || cov.value.months.length === 0) replace(covSlot, NO_DATA());
  else {
    const c = cov.value;
    covChart.hidden = false;
    const rows = coverageHeatmap(covChart, c);
    covChart.dataset.rowCount = String(rows.length);
    const pairs = new Set(c.pairs.map((p) => p.pair));
    replace(
      covSlot,
      h(
        'p',
        { class: 'muted', testid: 'coverage-caption' },
        h('span', { testid: 'coverage-pair-count' }, String(pairs.size)),
        ` pairs, ${c.pairs.length} series, ${c.months.length} months (${c.months[0]} … ${c.months[c.months.length - 1]}). Empty cells: no bars that month.`,
      ),
    );
  }

  // Health.
  if (health.status === 'rejected') {
    replace(summary, errorBox(health.reason));
    replace(healthSlot);
    replace(panelSlot);
  } else {
    const d = health.value;
    const pairs = new Set(d.series.map((s) => s.pair));
    replace(
      summary,
      h(
        'dl',
        { class: 'facts facts-row' },
        h('dt', null, 'Store'),
        h('dd', { testid: 'data-store' }, d.store),
        h('dt', null, 'Bars'),
        h('dd', { testid: 'data-bars' }, int(d.bars)),
        h('dt', null, 'Pairs'),
        h('dd', { testid: 'health-pair-count' }, String(pairs.size)),
        h('dt', null, 'Series'),
        h('dd', { testid: 'health-series-count' }, String(d.series.length)),
        h('dt', null, 'Source files'),
        h('dd', null, int(d.source_files)),
        h('dt', null, 'Quarantined rows'),
        h(
          'dd',
          { testid: 'data-quarantined' },
          int(d.quarantined),
          d.quarantine_by_kind.length ? ` (${d.quarantine_by_kind.map(([k, n]) => `${k}: ${int(n)}`).join(', ')})` : '',
        ),
      ),
    );
    replace(healthSlot, d.series.length ? healthTable(d.series) : NO_DATA());
    replace(
      panelSlot,
      d.panels.length
        ? d.panels.map((p) =>
            h(
              'div',
              { class: 'panel-health', testid: `panel-${p.timeframe}` },
              h(
                'p',
                null,
                `Timeframe ${p.timeframe}: ${int(p.rows)} aligned rows, ${int(p.complete_rows)} with all pairs (${pct(p.rows ? p.complete_rows / p.rows : null)}), ${p.pairs_present} pairs present.`,
              ),
              p.triangles.length
                ? [
                    h('h3', null, `Triangle residuals (${p.triangles.length}, worst first)`),
                    h(
                      'p',
                      { class: 'muted' },
                      'Log residual ln P(ab) − ln P(ac) + ln P(bc): zero when the three pairs are consistent.',
                    ),
                    h(
                      'div',
                      { class: 'scroll scroll-y' },
                      table(
                        ['Triangle', 'Rows', 'Mean |residual|', 'Max |residual|', 'At'],
                        p.triangles.map((t) => [t.triangle, int(t.rows), sci(t.mean_abs), sci(t.max_abs), dateTime(t.max_at)]),
                        { testid: `triangles-${p.timeframe}`, numeric: [1, 2, 3] },
                      ),
                    ),
                  ]
                : h('p', { class: 'muted' }, 'No complete triangle of pairs in this panel.'),
            ),
          )
        : empty('No aligned panel: the store has no series yet.'),
    );
  }

  // Price chart: the pair in the URL, else EURUSD, else the first stored.
  const options: { pair: string; timeframe: string; side: string }[] =
    health.status === 'fulfilled'
      ? health.value.series.map((s) => ({ pair: s.pair, timeframe: s.timeframe, side: s.side }))
      : cov.status === 'fulfilled'
        ? cov.value.pairs
        : [];
  if (options.length === 0) {
    replace(priceSlot, health.status === 'fulfilled' || cov.status === 'fulfilled' ? NO_DATA() : null);
    return false;
  }
  const healthSeries: SeriesHealth[] = health.status === 'fulfilled' ? health.value.series : [];
  const pairs = [...new Set(options.map((o) => o.pair))].sort();
  const wanted = ctx.params.get('pair');
  const initial = wanted && pairs.includes(wanted) ? wanted : pairs.includes('EURUSD') ? 'EURUSD' : pairs[0];
  const pairSelect = h(
    'select',
    { testid: 'price-pair', attrs: { 'aria-label': 'Pair' } },
    pairs.map((p) => h('option', { attrs: { value: p, selected: p === initial } }, p)),
  );
  const tfSelect = h('select', { testid: 'price-timeframe', attrs: { 'aria-label': 'Timeframe' } });
  replace(priceControls, h('label', null, 'Pair ', pairSelect), h('label', null, 'Timeframe ', tfSelect));

  const fillTimeframes = () => {
    const tfs = [...new Set(options.filter((o) => o.pair === pairSelect.value).map((o) => o.timeframe))];
    const want = ctx.params.get('timeframe');
    replace(tfSelect, tfs.map((t) => h('option', { attrs: { value: t, selected: t === want } }, t)));
    tfSelect.disabled = tfs.length < 2;
  };

  let priceSeq = 0;
  const loadPrice = async () => {
    const my = ++priceSeq;
    const pair = pairSelect.value;
    const tf = tfSelect.value;
    const q = new URLSearchParams({ pair, points: '1000' });
    if (tf) q.set('timeframe', tf);
    // Kept in the page's params too, so a reload of the figures (after an ingest) shows it again.
    ctx.params.set('pair', pair);
    if (tf) ctx.params.set('timeframe', tf);
    ctx.setParams(ctx.params);
    replace(priceSlot, loading());
    try {
      const s = await api<PriceSeries>('GET', `/api/v1/data/series?${q}`);
      if (!current() || my !== priceSeq) return;
      if (s.ts.length === 0) {
        priceChartEl.hidden = true;
        replace(priceSlot, empty(`No bars stored for ${pair}.`));
        return;
      }
      priceChartEl.hidden = false;
      priceChartEl.dataset.pair = s.pair;
      priceChart(priceChartEl, s);
      // The stored span (the decimated series starts its last bucket before the last bar).
      const hs = healthSeries.find((x) => x.pair === s.pair && x.timeframe === s.timeframe && x.side === s.side);
      const first = hs?.first ?? s.ts[0];
      const last = hs?.last ?? s.ts[s.ts.length - 1];
      replace(
        priceSlot,
        h(
          'p',
          { class: 'muted', testid: 'price-caption' },
          `${s.pair} ${s.timeframe} ${s.side}: ${int(s.total_points)} bars from ${date(first)} to ${date(last)}`,
          s.points < s.total_points ? `, shown as ${int(s.points)} points (line: close; band: min/max of each bucket).` : '.',
        ),
      );
    } catch (e) {
      if (!current() || my !== priceSeq) return;
      priceChartEl.hidden = true;
      replace(priceSlot, errorBox(e));
    }
  };
  pairSelect.addEventListener('change', () => {
    fillTimeframes();
    void loadPrice();
  });
  tfSelect.addEventListener('change', () => void loadPrice());
  fillTimeframes();
  await loadPrice();
  return false;
}

function healthTable(series: SeriesHealth[]): HTMLElement {
  const sorted = [...series].sort((a, b) => a.pair.localeCompare(b.pair) || a.timeframe.localeCompare(b.timeframe) || a.side.localeCompare(b.side));
  const flag = (n: number) => h('span', { class: n > 0 ? 'warn' : undefined }, int(n));
  return h(
    'div',
    { class: 'scroll' },
    table(
      ['Pair', 'Side', 'TF', 'Bars', 'First', 'Last', 'Gaps', 'Largest gap', 'Stale runs', 'Longest stale', 'Close-only', 'OHLC violations', 'DST shifts (missing)'],
      sorted.map((s) => [
        h('span', { testid: `health-pair-${s.pair}` }, s.pair),
        s.side,
        s.timeframe,
        h('span', { testid: `health-bars-${s.pair}-${s.timeframe}-${s.side}` }, int(s.bars)),
        date(s.first),
        date(s.last),
        flag(s.gaps),
        s.largest_gaps.length ? `${s.largest_gaps[0].hours.toFixed(0)} h from ${date(s.largest_gaps[0].from)}` : '—',
        int(s.stale_runs),
        int(s.longest_stale_run),
        s.close_only ? 'yes' : 'no',
        flag(s.ohlc_violations),
        `${s.dst_shifts.length} (${s.missing_dst_shifts})`,
      ]),
      { testid: 'health-table', numeric: [3, 6, 8, 9, 11] },
    ),
  );
}
