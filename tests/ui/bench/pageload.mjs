// Page-load benchmark of the web UI against a running `bqx serve` (see pageload.sh).
//
//   BQX_URL=http://127.0.0.1:PORT node tests/ui/bench/pageload.mjs [REPEATS=7]
//
// For each page it opens a fresh browser context (no HTTP cache, no JS heap), navigates and
// stops the clock when the page shows its data and every chart has drawn (ECharts' `finished`,
// exposed as data-rendered="1"), then the next paint. The first load of a page is reported on
// its own: it includes the server's first read of the store (e.g. the million-bar series from
// DuckDB). The figures are whole page loads as a user sees them: network, JSON parse, DOM and
// chart rendering, in headless Chromium at 1280×800.

import { createRequire } from 'node:module';
import { painted } from '../charts.mjs';

const require = createRequire(new URL('../../../ui/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE = (process.env.BQX_URL ?? '').replace(/\/+$/, '');
const REPEATS = Number(process.argv[2] ?? 7);
if (!BASE) {
  console.error('pageload: set BQX_URL');
  process.exit(2);
}

async function apiGet(path) {
  const res = await fetch(BASE + path);
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return res.json();
}

const tid = (t) => `[data-testid="${t}"]`;
const TIMEOUT = 120_000;

const runs = await apiGet('/api/v1/runs?limit=10000');
const withBacktest = runs.find((r) => r.has_backtest);
const health = await apiGet('/api/v1/data/health');
const biggest = [...health.series].sort((a, b) => b.bars - a.bars)[0];
console.error(`pageload: ${runs.length} runs; largest series ${biggest.pair} ${biggest.timeframe} with ${biggest.bars} bars`);

const pages = [
  {
    name: `Runs (${runs.length} runs)`,
    hash: '#/runs',
    ready: async (page) => {
      await page.waitForFunction(
        ([sel, n]) => document.querySelectorAll(sel).length === n,
        [`${tid('runs-table')} tbody tr`, Math.min(runs.length, 100)],
        { timeout: TIMEOUT },
      );
    },
  },
  {
    name: `Data (${biggest.pair} ${biggest.timeframe}, ${biggest.bars.toLocaleString('en-US')} bars)`,
    hash: `#/data?pair=${biggest.pair}&timeframe=${biggest.timeframe}`,
    ready: async (page) => {
      const want = biggest.bars.toLocaleString('en-US');
      await page.waitForFunction(
        ([sel, text]) => document.querySelector(sel)?.textContent?.includes(text),
        [tid('price-caption'), `${want} bars`],
        { timeout: TIMEOUT },
      );
      await page.waitForSelector(`${tid('price-chart')} canvas`, { timeout: TIMEOUT });
      await page.waitForSelector(`${tid('coverage-chart')} canvas`, { timeout: TIMEOUT });
    },
  },
  ...(withBacktest
    ? [
        {
          name: `Backtest (run ${withBacktest.run_id})`,
          hash: `#/backtest?run=${encodeURIComponent(withBacktest.run_id)}`,
          ready: async (page) => {
            await page.waitForSelector(tid('pooled-table'), { timeout: TIMEOUT });
            await page.waitForSelector(`${tid('equity-chart')} canvas`, { timeout: TIMEOUT });
          },
        },
      ]
    : []),
  {
    name: 'Pipeline',
    hash: '#/pipeline',
    ready: async (page) => {
      await page.waitForSelector(tid('stage-table'), { timeout: TIMEOUT });
      await page.waitForSelector(`${tid('stage-graph')} canvas`, { timeout: TIMEOUT });
    },
  },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const results = [];
try {
  for (const p of pages) {
    const times = [];
    let bytes = 0;
    for (let i = 0; i < REPEATS; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      let got = 0;
      page.on('response', async (r) => {
        const len = Number(r.headers()['content-length'] ?? 0);
        got += len;
      });
      const t0 = performance.now();
      await page.goto(`${BASE}/${p.hash}`, { waitUntil: 'domcontentloaded' });
      await p.ready(page);
      await painted(page, TIMEOUT);
      const ms = performance.now() - t0;
      if (errors.length) throw new Error(`${p.name}: ${errors.join('; ')}`);
      times.push(ms);
      bytes = got;
      await context.close();
    }
    const rest = times.slice(1);
    results.push({ page: p.name, first_ms: times[0], median_ms: median(rest), max_ms: Math.max(...rest), bytes });
  }
} finally {
  await browser.close();
}
console.log('| Page | first load | median of the next ' + (REPEATS - 1) + ' | slowest of those | bytes over the wire |');
console.log('|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.page} | ${r.first_ms.toFixed(0)} ms | ${r.median_ms.toFixed(0)} ms | ${r.max_ms.toFixed(0)} ms | ${r.bytes.toLocaleString('en-US')} |`);
}
console.log(JSON.stringify(results));
