// Every chart of the UI, on ECharts (modular imports, canvas renderer). Tooltips render as rich
// text on the canvas, so no HTML strings are built from data and no inline styles are needed.

import * as echarts from 'echarts/core';
import { BarChart, CustomChart, GraphChart, HeatmapChart, LineChart, ScatterChart } from 'echarts/charts';
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  MarkPointComponent,
  TooltipComponent,
  VisualMapComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { EChartsCoreOption } from 'echarts/core';

import { date, fixed, int, pct, sci } from './format';
import type {
  AlertView,
  Coverage,
  CrossPairFollower,
  EmbedFold,
  CrossPairKept,
  CrossPairLeader,
  Equity,
  FeatureStability,
  FoldMetrics,
  OnlineBlock,
  PipelineStage,
  PriceSeries,
  SeedCurve,
} from './types';

echarts.use([
  BarChart,
  CustomChart,
  GraphChart,
  HeatmapChart,
  LineChart,
  ScatterChart,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  MarkPointComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export type Theme = 'light' | 'dark';

function currentTheme(): Theme {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

/** Colours that read well on both themes. */
export const COLORS = {
  accent: '#3b82f6',
  ok: '#16a34a',
  warn: '#d97706',
  bad: '#dc2626',
  muted: '#94a3b8',
  band: 'rgba(59, 130, 246, 0.22)',
  zero: '#64748b',
};

interface Live {
  chart: echarts.ECharts;
  observer: ResizeObserver;
  /** For options that depend on the theme: rebuilt when the theme changes. */
  build?: () => EChartsCoreOption;
}

const live = new Map<HTMLElement, Live>();

const BASE: EChartsCoreOption = {
  backgroundColor: 'transparent',
  animation: false,
  textStyle: { fontFamily: 'inherit' },
};

/** Like `mount`, for an option that depends on the theme (rebuilt when the theme changes). */
function mountThemed(el: HTMLElement, build: () => EChartsCoreOption): echarts.ECharts {
  const chart = mount(el, build());
  const l = live.get(el);
  if (l) l.build = build;
  return chart;
}

/** Draws `option` into `el` (reusing the chart already there) and keeps it sized to `el`. */
export function mount(el: HTMLElement, option: EChartsCoreOption): echarts.ECharts {
  let l = live.get(el);
  if (!l) {
    const chart = echarts.init(el, currentTheme(), { renderer: 'canvas' });
    // `data-rendered` tells tests (and anyone waiting) that the canvas shows the latest option.
    chart.on('finished', () => {
      el.dataset.rendered = '1';
    });
    const observer = new ResizeObserver(() => {
      el.dataset.rendered = '0';
      chart.resize();
    });
    observer.observe(el);
    l = { chart, observer };
    live.set(el, l);
  }
  el.dataset.rendered = '0';
  l.build = undefined;
  l.chart.setOption({ ...BASE, ...option }, { notMerge: true });
  return l.chart;
}

/** Disposes the charts whose element left the document (after a page change). */
export function disposeDetached(): void {
  for (const [el, l] of live) {
    if (!el.isConnected) {
      l.observer.disconnect();
      l.chart.dispose();
      live.delete(el);
    }
  }
}

/** Applies the page theme to every live chart. */
export function applyTheme(): void {
  const t = currentTheme();
  for (const [el, l] of live) {
    el.dataset.rendered = '0';
    l.chart.setTheme(t);
    if (l.build) l.chart.setOption({ ...BASE, ...l.build() }, { notMerge: true });
    else l.chart.setOption(BASE);
  }
}

const richTooltip = { renderMode: 'richText' as const, confine: true };

const ms = (us: number) => us / 1000;

// ---------------------------------------------------------------------------------------------
// Pipeline stage graph.

export type StageState =
  | 'runnable'
  | 'built'
  | 'not built'
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed';

export const STAGE_COLORS: Record<StageState, string> = {
  runnable: COLORS.accent,
  built: '#0d9488',
  'not built': COLORS.muted,
  pending: '#8b5cf6',
  running: COLORS.warn,
  succeeded: COLORS.ok,
  failed: COLORS.bad,
};

/** Stages laid out left to right by dependency depth; edges point from dependency to stage. */
export function stageGraph(
  el: HTMLElement,
  stages: PipelineStage[],
  stateOf: (s: PipelineStage) => StageState,
): void {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const depth = new Map<string, number>();
  const depthOf = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const s = byName.get(name);
    let d = 0;
    if (s && !seen.has(name)) {
      seen.add(name);
      for (const dep of s.depends_on) {
        if (byName.has(dep)) d = Math.max(d, depthOf(dep, seen) + 1);
      }
    }
    depth.set(name, d);
    return d;
  };
  stages.forEach((s) => depthOf(s.name, new Set()));
  // Columns by depth; each column centred vertically.
  const perDepth = new Map<number, number>();
  for (const s of stages) {
    const d = depth.get(s.name) ?? 0;
    perDepth.set(d, (perDepth.get(d) ?? 0) + 1);
  }
  mountThemed(el, () => stageGraphOption(stages, stateOf, byName, depth, perDepth));
}

function stageGraphOption(
  stages: PipelineStage[],
  stateOf: (s: PipelineStage) => StageState,
  byName: Map<string, PipelineStage>,
  depth: Map<string, number>,
  perDepth: Map<number, number>,
): EChartsCoreOption {
  const dark = currentTheme() === 'dark';
  const dimFill = dark ? '#26303b' : '#e2e8f0';
  const dimText = dark ? '#a3b0bf' : '#475569';
  const rowsAt = new Map<number, number>();
  const nodes = stages.map((s) => {
    const d = depth.get(s.name) ?? 0;
    const row = rowsAt.get(d) ?? 0;
    rowsAt.set(d, row + 1);
    const state = stateOf(s);
    const dim = state === 'not built';
    return {
      name: s.name,
      x: d * 160,
      y: (row - ((perDepth.get(d) ?? 1) - 1) / 2) * 62,
      value: state,
      symbol: 'roundRect',
      symbolSize: [118, 44],
      itemStyle: {
        color: dim ? dimFill : STAGE_COLORS[state],
        borderColor: STAGE_COLORS[state],
        borderWidth: 1.5,
        borderType: dim ? 'dashed' : 'solid',
      },
      label: {
        show: true,
        formatter: `{name|${s.name}}\n{state|${state}}`,
        rich: {
          name: { fontSize: 13, fontWeight: 'bold', lineHeight: 17, color: dim ? dimText : '#fff' },
          state: { fontSize: 11, lineHeight: 14, color: dim ? dimText : '#fff' },
        },
      },
    };
  });
  const links = stages.flatMap((s) =>
    s.depends_on.filter((d) => byName.has(d)).map((d) => ({ source: d, target: s.name })),
  );
  return {
    tooltip: {
      ...richTooltip,
      formatter: (p: { dataType?: string; name?: string; value?: unknown; data?: { source?: string; target?: string } }) => {
        if (p.dataType === 'edge') return `${p.data?.source} → ${p.data?.target}`;
        const s = byName.get(p.name ?? '');
        const deps = s && s.depends_on.length ? `\ndepends on ${s.depends_on.join(', ')}` : '';
        return `${p.name}: ${String(p.value)}${deps}`;
      },
    },
    series: [
      {
        type: 'graph',
        layout: 'none',
        roam: false,
        data: nodes,
        links,
        edgeSymbol: ['none', 'arrow'],
        edgeSymbolSize: 9,
        lineStyle: { color: COLORS.muted, width: 1.5, curveness: 0, opacity: 0.9 },
        left: 70,
        right: 70,
        top: 34,
        bottom: 34,
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Data coverage heatmap: one row per stored series, one column per month.

export function seriesLabel(s: { pair: string; timeframe: string; side: string }, unique: boolean): string {
  return unique ? s.pair : `${s.pair} ${s.timeframe} ${s.side}`;
}

export function coverageHeatmap(el: HTMLElement, cov: Coverage): string[] {
  const pairCount = new Map<string, number>();
  for (const p of cov.pairs) pairCount.set(p.pair, (pairCount.get(p.pair) ?? 0) + 1);
  const rows = cov.pairs.map((p) => seriesLabel(p, pairCount.get(p.pair) === 1));
  const data: [number, number, number | '-'][] = [];
  let max = 0;
  cov.pairs.forEach((p, y) => {
    p.bars.forEach((n, x) => {
      data.push([x, y, n > 0 ? n : '-']);
      if (n > max) max = n;
    });
  });
  mount(el, {
    tooltip: {
      ...richTooltip,
      formatter: (p: { value: [number, number, number | '-'] }) => {
        const [x, y, v] = p.value;
        return `${rows[y]} ${cov.months[x]}: ${v === '-' ? 'no bars' : `${int(v)} bars`}`;
      },
    },
    grid: { left: 120, right: 24, top: 16, bottom: 80 },
    xAxis: { type: 'category', data: cov.months, splitArea: { show: false } },
    yAxis: { type: 'category', data: rows, inverse: true, axisLabel: { interval: 0, fontSize: 11 } },
    visualMap: {
      min: 0,
      max: Math.max(1, max),
      calculable: true,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      itemHeight: 200,
      inRange: { color: ['#dbeafe', '#60a5fa', '#1d4ed8'] },
      text: [`${int(max)} bars`, '0'],
    },
    series: [{ type: 'heatmap', data, progressive: 0, emphasis: { itemStyle: { borderColor: '#000', borderWidth: 1 } } }],
  });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Price line with the min/max band of each decimation bucket.

export function priceChart(el: HTMLElement, s: PriceSeries): void {
  const t = s.ts.map(ms);
  const low = s.low.map((v, i) => [t[i], v]);
  const span = s.high.map((v, i) => [t[i], v - s.low[i]]);
  const close = s.close.map((v, i) => [t[i], v]);
  mount(el, {
    tooltip: {
      ...richTooltip,
      trigger: 'axis',
      formatter: (ps: { dataIndex: number }[]) => {
        const i = ps[0]?.dataIndex ?? 0;
        return `${date(s.ts[i])}\nclose ${fixed(s.close[i], 5)}\nlow ${fixed(s.low[i], 5)}  high ${fixed(s.high[i], 5)}`;
      },
    },
    legend: { data: ['close', 'min/max band'], top: 0 },
    grid: { left: 64, right: 24, top: 32, bottom: 64 },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', scale: true },
    dataZoom: [{ type: 'inside' }, { type: 'slider', height: 20, bottom: 12 }],
    series: [
      { name: 'low', type: 'line', data: low, stack: 'band', symbol: 'none', lineStyle: { opacity: 0 }, silent: true },
      {
        name: 'min/max band',
        type: 'line',
        data: span,
        stack: 'band',
        symbol: 'none',
        lineStyle: { opacity: 0 },
        areaStyle: { color: COLORS.band },
        itemStyle: { color: COLORS.band },
        silent: true,
      },
      { name: 'close', type: 'line', data: close, symbol: 'none', lineStyle: { width: 1.2, color: COLORS.accent }, itemStyle: { color: COLORS.accent } },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Equity (cumulative log return) above its drawdown.

export function equityChart(el: HTMLElement, e: Equity): void {
  const t = e.ts.map(ms);
  mount(el, {
    tooltip: {
      ...richTooltip,
      trigger: 'axis',
      formatter: (ps: { dataIndex: number }[]) => {
        const i = ps[0]?.dataIndex ?? 0;
        return `${date(e.ts[i])}\nequity ${fixed(e.equity[i], 4)}\ndrawdown ${fixed(e.drawdown[i], 4)}`;
      },
    },
    axisPointer: { link: [{ xAxisIndex: 'all' }] },
    grid: [
      { left: 64, right: 24, top: 28, height: '50%' },
      { left: 64, right: 24, top: '66%', bottom: 56 },
    ],
    xAxis: [
      { type: 'time', gridIndex: 0, axisLabel: { show: false } },
      { type: 'time', gridIndex: 1 },
    ],
    yAxis: [
      { type: 'value', gridIndex: 0, scale: true, name: 'cum. log return', nameTextStyle: { align: 'left' } },
      { type: 'value', gridIndex: 1, name: 'drawdown', nameTextStyle: { align: 'left' }, max: 0, splitNumber: 3 },
    ],
    dataZoom: [{ type: 'inside', xAxisIndex: [0, 1] }, { type: 'slider', xAxisIndex: [0, 1], height: 18, bottom: 8 }],
    series: [
      {
        name: 'equity',
        type: 'line',
        xAxisIndex: 0,
        yAxisIndex: 0,
        data: e.equity.map((v, i) => [t[i], v]),
        symbol: 'none',
        lineStyle: { color: COLORS.accent, width: 1.4 },
        itemStyle: { color: COLORS.accent },
        markLine: { silent: true, symbol: 'none', lineStyle: { color: COLORS.zero, type: 'dashed' }, label: { show: false }, data: [{ yAxis: 0 }] },
      },
      {
        name: 'drawdown',
        type: 'line',
        xAxisIndex: 1,
        yAxisIndex: 1,
        data: e.drawdown.map((v, i) => [t[i], v]),
        symbol: 'none',
        lineStyle: { color: COLORS.bad, width: 1 },
        itemStyle: { color: COLORS.bad },
        areaStyle: { color: 'rgba(220, 38, 38, 0.25)' },
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Directional accuracy per fold with its interval as error bars.

export function foldDaChart(el: HTMLElement, folds: FoldMetrics[], ceilingDa: number | null): void {
  const cats = folds.map((f) => `${f.fold}`);
  const acc = folds.map((f) => f.metrics.direction?.accuracy ?? null);
  const iv = folds.map((f) => f.metrics.direction?.bootstrap ?? f.metrics.direction?.wilson ?? null);
  const bars = iv.map((b, i) => (b ? [i, b.lo, b.hi] : [i, null, null]));
  const marks: object[] = [{ yAxis: 0.5, name: '50 %', lineStyle: { color: COLORS.zero, type: 'dashed' } }];
  if (ceilingDa !== null && ceilingDa !== 0.5) {
    marks.push({ yAxis: ceilingDa, name: 'ceiling', lineStyle: { color: COLORS.warn, type: 'dotted' } });
  }
  mount(el, {
    tooltip: {
      ...richTooltip,
      trigger: 'axis',
      formatter: (ps: { dataIndex: number }[]) => {
        const i = ps[0]?.dataIndex ?? 0;
        const f = folds[i];
        const b = iv[i];
        return `fold ${f.fold} (${date(f.first_ts)} … ${date(f.last_ts)})\nDA ${pct(acc[i])}${b ? `  [${pct(b.lo)}, ${pct(b.hi)}]` : ''}`;
      },
    },
    grid: { left: 64, right: 24, top: 24, bottom: 40 },
    xAxis: { type: 'category', data: cats, name: 'fold', nameLocation: 'middle', nameGap: 26 },
    yAxis: {
      type: 'value',
      scale: true,
      axisLabel: { formatter: (v: number) => `${(v * 100).toFixed(0)} %` },
    },
    series: [
      {
        type: 'custom',
        name: 'interval',
        data: bars,
        encode: { x: 0, y: [1, 2] },
        renderItem: (_params: unknown, api: CustomApi) => {
          const lo = api.value(1);
          const hi = api.value(2);
          if (lo === null || hi === null || Number.isNaN(lo) || Number.isNaN(hi)) return null;
          const x = api.value(0);
          const a = api.coord([x, lo]);
          const b = api.coord([x, hi]);
          const w = Math.min(10, api.size([1, 0])[0] * 0.25);
          const style = { stroke: COLORS.accent, lineWidth: 1.4 };
          return {
            type: 'group',
            children: [
              { type: 'line', shape: { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, style },
              { type: 'line', shape: { x1: a[0] - w, y1: a[1], x2: a[0] + w, y2: a[1] }, style },
              { type: 'line', shape: { x1: b[0] - w, y1: b[1], x2: b[0] + w, y2: b[1] }, style },
            ],
          };
        },
        z: 1,
      },
      {
        type: 'scatter',
        name: 'DA',
        data: acc,
        symbolSize: 8,
        itemStyle: { color: COLORS.accent },
        z: 2,
        markLine: { silent: true, symbol: 'none', label: { formatter: '{b}', position: 'end' }, data: marks },
      },
    ],
  });
}

interface CustomApi {
  value(dim: number): number;
  coord(v: [number, number]): [number, number];
  size(v: [number, number]): [number, number];
}

// ---------------------------------------------------------------------------------------------
// Cross-pair lead-lag matrix: one row per follower, one column per candidate leader; colour =
// −log10 q of the leader's best lag. Kept relations are outlined (solid with a dot when
// significant, dashed when they only filled a slot), the chosen follower's row is framed.

/** The smallest q the colour scale tells apart (−log10 q is capped at 12). */
const Q_FLOOR = 1e-12;

export interface LeadLagMatrix {
  /** Follower pairs (rows, top to bottom). */
  rows: string[];
  /** Leader pairs (columns, left to right). */
  cols: string[];
  followers: CrossPairFollower[];
  /** The framed row (the follower shown below the chart). */
  selected: string | null;
}

interface LeadLagCell {
  follower: string;
  test: CrossPairLeader;
  kept: CrossPairKept | null;
  /** −log10 q, or null when q is undefined. */
  score: number | null;
}

/** Draws the matrix; `onRow` gets the follower of a clicked cell or row label. */
export function leadLagHeatmap(el: HTMLElement, m: LeadLagMatrix, onRow: (follower: string) => void): void {
  const colAt = new Map(m.cols.map((c, i) => [c, i]));
  const rowAt = new Map(m.rows.map((r, i) => [r, i]));
  const cells: LeadLagCell[] = [];
  const data: [number, number, number][] = [];
  const marks: [number, number, number][] = [];
  let top = 0;
  for (const f of m.followers) {
    const y = rowAt.get(f.pair);
    if (y === undefined) continue;
    const keptBy = new Map(f.kept.map((k) => [k.leader, k]));
    for (const t of f.leaders) {
      const x = colAt.get(t.leader);
      if (x === undefined || t.leader === f.pair) continue;
      const q = t.q;
      const score = typeof q === 'number' && Number.isFinite(q) ? -Math.log10(Math.max(q, Q_FLOOR)) : null;
      if (score !== null) top = Math.max(top, score);
      const kept = keptBy.get(t.leader) ?? null;
      cells.push({ follower: f.pair, test: t, kept, score });
      // Undefined q: −1, below the scale, drawn in the "no value" colour.
      data.push([x, y, score === null ? -1 : Math.max(0, score)]);
    }
    for (const k of f.kept) {
      const x = colAt.get(k.leader);
      if (x !== undefined) marks.push([x, y, k.significant ? 1 : 0]);
    }
  }
  const selectedRow = m.selected === null ? undefined : rowAt.get(m.selected);
  if (selectedRow !== undefined) marks.push([0, selectedRow, 2]);
  const max = Math.min(-Math.log10(Q_FLOOR), Math.max(2, Math.ceil(top)));
  const chart = mountThemed(el, () => leadLagOption(m, cells, data, marks, max));
  chart.off('click');
  chart.on('click', (p: { componentType?: string; seriesType?: string; dataIndex?: number; value?: unknown }) => {
    if (p.componentType === 'yAxis' && typeof p.value === 'string') onRow(p.value);
    else if (p.seriesType === 'heatmap' && p.dataIndex !== undefined) {
      const c = cells[p.dataIndex];
      if (c) onRow(c.follower);
    }
  });
}

function leadLagOption(
  m: LeadLagMatrix,
  cells: LeadLagCell[],
  data: [number, number, number][],
  marks: [number, number, number][],
  max: number,
): EChartsCoreOption {
  const dark = currentTheme() === 'dark';
  const ink = dark ? '#f8fafc' : '#0f172a';
  // Undefined q: a warm grey, apart from the blue scale and from the blank (untested) cells.
  const none = dark ? '#57534e' : '#d6d3d1';
  const scale = dark ? ['#1e293b', '#1d4ed8', '#60a5fa', '#e0f2fe'] : ['#e8f0fe', '#93c5fd', '#2563eb', '#172554'];
  const last = m.cols.length - 1;
  return {
    tooltip: {
      ...richTooltip,
      formatter: (p: { seriesType?: string; dataIndex: number }) => {
        if (p.seriesType !== 'heatmap') return '';
        const c = cells[p.dataIndex];
        if (!c) return '';
        const t = c.test;
        const kept = c.kept
          ? `\nkept (slot ${c.kept.slot}, lag ${c.kept.lag}): ${c.kept.significant ? 'significant' : 'filled, not significant'}`
          : '\nnot kept';
        return (
          `${t.leader} → ${c.follower}\nbest lag ${t.lag}: F ${fixed(t.f, 2)}, p ${sci(t.p)}, q ${sci(t.q)}` +
          `\n−log10 q ${fixed(c.score, 2)}${kept}`
        );
      },
    },
    grid: { left: 76, right: 96, top: 12, bottom: 74 },
    xAxis: {
      type: 'category',
      data: m.cols,
      name: 'leader',
      nameLocation: 'middle',
      nameGap: 58,
      axisLabel: { interval: 0, rotate: 90, fontSize: 10 },
      splitArea: { show: false },
    },
    yAxis: {
      type: 'category',
      data: m.rows,
      inverse: true,
      name: 'follower',
      nameLocation: 'middle',
      nameGap: 62,
      triggerEvent: true,
      axisLabel: {
        interval: 0,
        fontSize: 11,
        formatter: (v: string) => (v === m.selected ? `{sel|${v}}` : v),
        rich: { sel: { fontWeight: 'bold', color: COLORS.accent, fontSize: 11 } },
      },
    },
    visualMap: {
      seriesIndex: 0,
      min: 0,
      max,
      calculable: false,
      orient: 'vertical',
      right: 4,
      top: 'middle',
      itemHeight: 220,
      inRange: { color: scale },
      outOfRange: { color: none },
      text: [`−log10 q ${max}`, '0'],
      formatter: (v: number) => fixed(v, 1),
    },
    series: [
      {
        type: 'heatmap',
        data,
        progressive: 0,
        cursor: 'pointer',
        emphasis: { itemStyle: { borderColor: ink, borderWidth: 1 } },
      },
      {
        type: 'custom',
        name: 'kept',
        data: marks,
        encode: { x: 0, y: 1 },
        silent: true,
        z: 3,
        renderItem: (_params: unknown, api: CustomApi) => {
          const kind = api.value(2);
          const y = api.value(1);
          const [w, hgt] = api.size([1, 1]);
          if (kind === 2) {
            const a = api.coord([0, y]);
            const b = api.coord([last, y]);
            return {
              type: 'rect',
              shape: { x: a[0] - w / 2, y: a[1] - hgt / 2, width: b[0] - a[0] + w, height: hgt },
              style: { fill: 'none', stroke: COLORS.warn, lineWidth: 2 },
            };
          }
          const c = api.coord([api.value(0), y]);
          const box = { x: c[0] - w / 2 + 1.5, y: c[1] - hgt / 2 + 1.5, width: Math.max(1, w - 3), height: Math.max(1, hgt - 3) };
          if (kind === 1) {
            return {
              type: 'group',
              children: [
                { type: 'rect', shape: box, style: { fill: 'none', stroke: ink, lineWidth: 2 } },
                { type: 'circle', shape: { cx: c[0], cy: c[1], r: Math.max(1.5, Math.min(w, hgt) * 0.16) }, style: { fill: ink, stroke: dark ? '#0f172a' : '#ffffff', lineWidth: 1 } },
              ],
            };
          }
          return { type: 'rect', shape: box, style: { fill: 'none', stroke: ink, lineWidth: 1.2, lineDash: [3, 2] } };
        },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Feature-selection stability: the share of folds that selected each feature.

export function stabilityBars(el: HTMLElement, rows: FeatureStability[], folds: number): void {
  const names = rows.map((r) => r.feature);
  mount(el, {
    tooltip: {
      ...richTooltip,
      trigger: 'item',
      formatter: (p: { dataIndex: number }) => {
        const r = rows[p.dataIndex];
        return r ? `${r.feature}\nselected in ${int(r.folds_selected)} of ${int(folds)} folds (${pct(r.share)})` : '';
      },
    },
    grid: { left: 240, right: 64, top: 8, bottom: 36 },
    xAxis: {
      type: 'value',
      min: 0,
      max: 1,
      axisLabel: { formatter: (v: number) => `${(v * 100).toFixed(0)} %` },
      name: 'share of folds',
      nameLocation: 'middle',
      nameGap: 24,
    },
    yAxis: {
      type: 'category',
      data: names,
      inverse: true,
      axisLabel: { interval: 0, fontSize: 11, width: 228, overflow: 'truncate' },
    },
    series: [
      {
        type: 'bar',
        data: rows.map((r) => (Number.isFinite(r.share) ? r.share : 0)),
        barMaxWidth: 14,
        itemStyle: { color: COLORS.accent },
        label: {
          show: true,
          position: 'right',
          formatter: (p: { dataIndex: number }) => {
            const r = rows[p.dataIndex];
            return r ? `${int(r.folds_selected)}/${int(folds)}` : '';
          },
        },
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Training curves of a network unit: one line per seed and split, the kept epoch marked.

/** Which loss a training chart shows. */
export type CurveHead = 'total' | 'bqx' | 'vol' | 'regime';

const SEED_COLORS = ['#3b82f6', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#dc2626'];

export function trainingCurves(el: HTMLElement, curves: SeedCurve[], head: CurveHead): void {
  const series: Record<string, unknown>[] = [];
  // Seeds are 64-bit numbers (beyond a double's integers): named by their order.
  curves.forEach((c, k) => {
    const color = SEED_COLORS[k % SEED_COLORS.length];
    const train = c.epochs.map((e) => [e.epoch, e.train[head]]);
    const valid = c.epochs.filter((e) => e.valid).map((e) => [e.epoch, e.valid ? e.valid[head] : null]);
    series.push({
      name: `seed ${k + 1} train`,
      type: 'line',
      data: train,
      symbol: 'none',
      lineStyle: { color, width: 1.2 },
      itemStyle: { color },
    });
    series.push({
      name: `seed ${k + 1} validation`,
      type: 'line',
      data: valid,
      symbol: 'none',
      lineStyle: { color, width: 1.2, type: 'dashed' },
      itemStyle: { color },
      markPoint: {
        symbol: 'circle',
        symbolSize: 8,
        label: { show: false },
        data: c.epochs
          .filter((e) => e.epoch === c.best_epoch && e.valid)
          .map((e) => ({ name: 'kept', coord: [e.epoch, e.valid ? e.valid[head] : null] })),
      },
    });
  });
  mount(el, {
    tooltip: { ...richTooltip, trigger: 'axis', valueFormatter: (v: number) => fixed(v, 4) },
    legend: { type: 'scroll', bottom: 0 },
    grid: { left: 64, right: 24, top: 28, bottom: 56 },
    xAxis: { type: 'value', name: 'epoch', minInterval: 1, nameLocation: 'middle', nameGap: 24 },
    yAxis: {
      type: 'value',
      scale: true,
      name: head === 'regime' ? 'cross-entropy (nats)' : 'MSE (standardized)',
      nameTextStyle: { align: 'left' },
    },
    series,
  });
}

// ---------------------------------------------------------------------------------------------
// The 2-D projection of a fold's embeddings, coloured by cluster or by regime.

const CLUSTER_COLORS = [
  '#3b82f6', '#16a34a', '#d97706', '#9333ea', '#0891b2',
  '#dc2626', '#65a30d', '#db2777', '#475569', '#ca8a04',
];
const REGIME_COLORS = ['#b91c1c', '#f87171', '#94a3b8', '#4ade80', '#15803d'];
const REGIME_NAMES = ['strong down', 'down', 'flat', 'up', 'strong up'];

export function embeddingScatter(el: HTMLElement, p: EmbedFold['projection'], by: 'cluster' | 'regime'): void {
  const groups = new Map<number, number[][]>();
  p.x.forEach((x, i) => {
    const g = by === 'cluster' ? p.cluster[i] : p.regime[i];
    if (by === 'regime' && g > 4) return;
    const list = groups.get(g) ?? [];
    list.push([x, p.y[i], i]);
    groups.set(g, list);
  });
  const keys = [...groups.keys()].sort((a, b) => a - b);
  mount(el, {
    tooltip: {
      ...richTooltip,
      trigger: 'item',
      formatter: (q: { data: number[]; seriesName: string }) =>
        `${p.pair[q.data[2]]} · ${q.seriesName}\n(${fixed(q.data[0], 2)}, ${fixed(q.data[1], 2)})`,
    },
    legend: { type: 'scroll', bottom: 0 },
    grid: { left: 56, right: 24, top: 24, bottom: 56 },
    xAxis: { type: 'value', scale: true, name: `PC1 (${pct(p.explained[0])})`, nameLocation: 'middle', nameGap: 24 },
    yAxis: { type: 'value', scale: true, name: `PC2 (${pct(p.explained[1])})` },
    series: keys.map((g) => ({
      name: by === 'cluster' ? `cluster ${g}` : REGIME_NAMES[g],
      type: 'scatter',
      symbolSize: 4,
      data: groups.get(g),
      itemStyle: {
        color: by === 'cluster' ? CLUSTER_COLORS[g % CLUSTER_COLORS.length] : REGIME_COLORS[g],
        opacity: 0.7,
      },
    })),
  });
}

// ---------------------------------------------------------------------------------------------
// The online loop: a pair's error over time (static vs adaptive) with the frozen member's weight,
// and the drift timeline of every pair's alerts.

const MEMBER_COLORS = ['#64748b', '#0891b2', '#d97706'];

export function onlineTimeline(el: HTMLElement, blocks: OnlineBlock[], members: string[]): void {
  const names = [...members, 'ensemble'];
  mount(el, {
    tooltip: { ...richTooltip, trigger: 'axis', valueFormatter: (v: number) => fixed(v, 4) },
    legend: { type: 'scroll', bottom: 0 },
    grid: { left: 64, right: 56, top: 28, bottom: 56 },
    xAxis: { type: 'time' },
    yAxis: [
      { type: 'value', scale: true, name: 'MAE per block', nameTextStyle: { align: 'left' } },
      { type: 'value', min: 0, max: 1, name: 'weight of frozen', splitLine: { show: false } },
    ],
    series: [
      ...names.map((name, k) => ({
        name: `MAE ${name}`,
        type: 'line',
        symbol: 'none',
        data: blocks.map((b) => [b.to / 1000, b.mae[k]]),
        lineStyle: { color: MEMBER_COLORS[k % MEMBER_COLORS.length], width: name === 'ensemble' ? 2.2 : 1.2 },
        itemStyle: { color: MEMBER_COLORS[k % MEMBER_COLORS.length] },
      })),
      {
        name: 'weight of frozen',
        type: 'line',
        yAxisIndex: 1,
        symbol: 'none',
        step: 'end',
        data: blocks.map((b) => [b.to / 1000, b.w_frozen]),
        lineStyle: { color: '#9333ea', width: 1, type: 'dashed' },
        itemStyle: { color: '#9333ea' },
      },
    ],
  });
}

const SEVERITY_COLORS: Record<string, string> = { info: '#0891b2', warning: '#d97706', critical: '#dc2626' };
const DETECTOR_SYMBOLS: Record<string, string> = {
  adwin: 'circle',
  adwin_warning: 'emptyCircle',
  page_hinkley: 'diamond',
  psi: 'triangle',
};

export function driftTimeline(el: HTMLElement, alerts: AlertView[], pairs: string[]): void {
  const severities = ['critical', 'warning', 'info'];
  mount(el, {
    tooltip: {
      ...richTooltip,
      trigger: 'item',
      formatter: (q: { data: [number, string, string, string, string] }) =>
        `${q.data[1]} · ${q.data[2]} · ${q.data[3]}\n${q.data[4]}`,
    },
    legend: { bottom: 0 },
    grid: { left: 72, right: 24, top: 16, bottom: 56 },
    xAxis: { type: 'time' },
    yAxis: { type: 'category', data: pairs, inverse: true, axisLabel: { fontSize: 10 } },
    series: severities.map((sev) => ({
      name: sev,
      type: 'scatter',
      symbolSize: 9,
      itemStyle: { color: SEVERITY_COLORS[sev] },
      data: alerts
        .filter((a) => a.severity === sev)
        .map((a) => ({
          value: [Date.parse(a.time), a.pair, a.detector, a.subject, a.reason],
          symbol: DETECTOR_SYMBOLS[a.detector] ?? 'circle',
        })),
    })),
  });
}
