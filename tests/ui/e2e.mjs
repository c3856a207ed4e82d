// Browser end-to-end test of the BQX ML web UI against a running `bqx serve`.
//
//   BQX_URL=http://127.0.0.1:8750 SHOT_DIR=/tmp/shots node tests/ui/e2e.mjs
//
// For every page it navigates, waits for the data to render (selectors, never sleeps), reads the
// same numbers from the API and checks that the page shows them, formatted as the UI formats
// them. Any console error, page error, failed request or HTTP error answer fails the test.
// Screenshots (full page, light theme, plus dark ones) go to SHOT_DIR.
//
// With BQX_E2E_RUN=1 it also starts a run from the Pipeline page, follows its live progress,
// checks the 409 answer to a second start, and waits for the run to finish; then, on the Data
// page, it ingests a path that does not exist (the job's error is shown), tries an ingest while
// a run holds the store (409), and ingests tests/ui/fixtures/GBPJPY_M1_20240305.csv (300 M1
// bars) by its absolute path, checking the new series through the API and on the page. This
// writes runs and bars to the store, so it is off by default.
//
// playwright-core comes from ui/node_modules; the browser is the system Chromium.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { painted } from './charts.mjs';
import { fileURLToPath } from 'node:url';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE = (process.env.BQX_URL ?? '').replace(/\/+$/, '');
const SHOT_DIR = resolve(process.env.SHOT_DIR ?? 'ui-shots');
const RUN_JOB = process.env.BQX_E2E_RUN === '1';
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS ?? 60000);
/** The ingest fixture (generic CSV, ISO UTC stamps) and the one series it holds. */
const FIXTURE = fileURLToPath(new URL('./fixtures/GBPJPY_M1_20240305.csv', import.meta.url));
const FIXTURE_SERIES = { pair: 'GBPJPY', timeframe: 'm1', side: 'mid', bars: 300 };
if (!BASE) {
  console.error('e2e: set BQX_URL to the server base URL, e.g. BQX_URL=http://127.0.0.1:8750');
  process.exit(2);
}
mkdirSync(SHOT_DIR, { recursive: true });

// ---- the UI's formatting rules (ui/src/format.ts) ------------------------------------------

const NA = '—';
const finite = (x) => typeof x === 'number' && Number.isFinite(x);
function fixed(x, digits = 3) {
  if (!finite(x)) return NA;
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}
const pct = (x) => (finite(x) ? `${fixed(x * 100, 1)} %` : NA);
const int = (x) => (finite(x) ? new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(x) : NA);
function sci(x, digits = 2) {
  if (!finite(x)) return NA;
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 0.001 && a < 1000 ? x.toPrecision(digits + 1) : x.toExponential(digits);
}

// ---- API ------------------------------------------------------------------------------------

async function apiGet(path) {
  const res = await fetch(BASE + path, { headers: { Accept: 'application/json' } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

async function apiPost(path, body) {
  const res = await fetch(BASE + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** Runs with a backtest, newest first (the UI's rule: details of the non-ingest runs). */
async function backtestRuns() {
  const runs = await apiGet('/api/v1/runs?limit=100');
  const out = [];
  for (const r of runs) {
    if (typeof r.has_backtest === 'boolean') {
      if (r.has_backtest) out.push(r);
      continue;
    }
    if (r.kind === 'ingest' || r.kind === 'synth') continue;
    const d = await apiGet(`/api/v1/runs/${encodeURIComponent(r.run_id)}`);
    if (d.has_backtest) out.push(r);
  }
  return out;
}

/**
 * Runs holding a cross-pair report or a feature selection, newest first, with the artifact
 * kinds each holds (the UI's rule: the details of the runs that can hold a backtest).
 */
async function crosspairRuns() {
  const runs = await apiGet('/api/v1/runs?limit=100');
  const flagged = runs.every((r) => typeof r.has_backtest === 'boolean');
  const out = [];
  for (const r of runs) {
    if (flagged ? !r.has_backtest : r.kind === 'ingest' || r.kind === 'synth') continue;
    const d = await apiGet(`/api/v1/runs/${encodeURIComponent(r.run_id)}`);
    const kinds = new Set((d.artifacts ?? []).map((a) => a.kind).filter((k) => k === 'crosspair' || k === 'selection'));
    if (kinds.size) out.push({ run: r, kinds });
  }
  return out;
}

// ---- harness --------------------------------------------------------------------------------

let passed = 0;
/** A problem expected right now (the deliberate 409), not counted. */
let tolerate = null;
const failures = [];
const problems = []; // console errors, page errors, failed requests
const shots = [];

function check(ok, what) {
  if (ok) passed++;
  else failures.push(what);
}

function eq(actual, expected, what) {
  check(actual === expected, `${what}: page shows ${JSON.stringify(actual)}, API says ${JSON.stringify(expected)}`);
}

async function step(name, fn) {
  const before = failures.length;
  try {
    await fn();
  } catch (e) {
    failures.push(`${name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const n = failures.length - before;
  console.log(`${n === 0 ? 'ok  ' : 'FAIL'} ${name}${n ? ` (${n} failed check${n > 1 ? 's' : ''})` : ''}`);
}

const tid = (id) => `[data-testid="${id}"]`;

async function text(page, sel) {
  const t = await page.textContent(sel, { timeout: TIMEOUT });
  return (t ?? '').trim();
}

async function visible(page, sel) {
  await page.waitForSelector(sel, { state: 'visible', timeout: TIMEOUT });
}

async function noJunk(page, what) {
  const body = await page.evaluate(() => document.body.innerText);
  for (const bad of ['NaN', 'undefined', '[object Object]', 'Infinity']) {
    check(!body.includes(bad), `${what}: the page text contains "${bad}"`);
  }
}

/** No "NaN" or "null" anywhere in the page's text, collapsed <details> and option labels included. */
async function noNulls(page, what) {
  const all = await page.evaluate(() => `${document.body.innerText}\n${document.querySelector('.page')?.textContent ?? ''}`);
  check(!all.includes('NaN'), `${what}: the page text contains "NaN"`);
  check(!/\bnull\b/.test(all), `${what}: the page text contains "null"`);
}

async function shot(page, name) {
  await painted(page, TIMEOUT);
  const path = join(SHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
}

async function go(page, route) {
  await page.click(tid(`nav-${route}`));
  await visible(page, tid(`page-${route}`));
}

// ---- pages ----------------------------------------------------------------------------------

async function pipelinePage(page) {
  const p = await apiGet('/api/v1/pipeline');
  await visible(page, tid('stage-table'));
  await visible(page, `${tid('stage-graph')} canvas`);
  const running = p.job?.state === 'running';
  for (const s of p.stages) {
    eq(await text(page, tid(`stage-${s.name}`)), s.name, `pipeline: stage ${s.name}`);
    if (!running) {
      const want = !s.built ? 'not built' : s.runnable ? 'runnable' : 'built';
      eq(await text(page, tid(`stage-state-${s.name}`)), want, `pipeline: state of ${s.name}`);
    }
  }
  const rows = await page.locator(`${tid('stage-table')} tbody tr`).count();
  eq(rows, p.stages.length, 'pipeline: stage rows');
  const disabled = await page.isDisabled(tid('run-button'));
  eq(disabled, running, 'pipeline: run button disabled while a job runs');
  if (p.job) {
    await visible(page, tid('job-id'));
    eq(await text(page, tid('job-id')), `#${p.job.id} (${p.job.kind})`, 'pipeline: job id');
  } else {
    await visible(page, `${tid('job-panel')} ${tid('empty')}`);
  }
  await noJunk(page, 'pipeline');
}

async function dataPage(page) {
  const [health, cov] = await Promise.all([apiGet('/api/v1/data/health'), apiGet('/api/v1/data/coverage')]);
  await visible(page, tid('health-table'));
  await visible(page, `${tid('coverage-chart')} canvas`);
  await visible(page, tid('price-caption'));
  const pairs = new Set(health.series.map((s) => s.pair));
  eq(await text(page, tid('health-pair-count')), String(pairs.size), 'data: pair count');
  eq(await text(page, tid('health-series-count')), String(health.series.length), 'data: series count');
  eq(await page.locator(`${tid('health-table')} tbody tr`).count(), health.series.length, 'data: health table rows');
  eq(await text(page, tid('data-bars')), int(health.bars), 'data: bar count');
  const covPairs = new Set(cov.pairs.map((p) => p.pair));
  eq(await text(page, tid('coverage-pair-count')), String(covPairs.size), 'data: coverage pairs');
  eq(covPairs.size, 28, 'data: the demo store covers the 28 pairs');
  eq(
    await page.getAttribute(tid('coverage-chart'), 'data-row-count'),
    String(cov.pairs.length),
    'data: heatmap rows',
  );
  for (const panel of health.panels) {
    eq(
      await page.locator(`${tid(`triangles-${panel.timeframe}`)} tbody tr`).count(),
      panel.triangles.length,
      `data: triangle residual rows (${panel.timeframe})`,
    );
  }
  const pair = pairs.has('EURUSD') ? 'EURUSD' : [...pairs].sort()[0];
  const s = await apiGet(`/api/v1/data/series?pair=${pair}&points=1000`);
  const caption = await text(page, tid('price-caption'));
  check(caption.startsWith(`${s.pair} ${s.timeframe} ${s.side}: ${int(s.total_points)} bars`), `data: price caption "${caption}" vs ${s.pair} ${int(s.total_points)} bars`);
  eq(await page.getAttribute(tid('price-chart'), 'data-pair'), s.pair, 'data: price chart pair');
  await visible(page, `${tid('price-chart')} canvas`);
  // The ingest panel (read-only here: nothing is submitted).
  await visible(page, tid('ingest-form'));
  await visible(page, tid('ingest-paths'));
  const where = await text(page, tid('ingest-where'));
  check(where.includes('machine running bqx serve'), `data: the ingest panel says where the paths are ("${where}")`);
  await noJunk(page, 'data');
  await shot(page, 'data-light');

  // Another pair through the selector.
  const other = [...pairs].sort().find((p) => p !== pair);
  if (other) {
    const o = await apiGet(`/api/v1/data/series?pair=${other}&points=1000`);
    await page.selectOption(tid('price-pair'), other);
    await page.waitForSelector(`${tid('price-chart')}[data-pair="${other}"]`, { timeout: TIMEOUT });
    await visible(page, tid('price-caption'));
    const c2 = await text(page, tid('price-caption'));
    check(c2.startsWith(`${o.pair} ${o.timeframe} ${o.side}: ${int(o.total_points)} bars`), `data: caption after choosing ${other}: "${c2}"`);
  }
  await noJunk(page, 'data');
}

async function backtestPage(page) {
  const runs = await backtestRuns();
  if (runs.length === 0) {
    await visible(page, tid('backtest-empty'));
    check(false, 'backtest: the store has no run with a backtest (run `bqx demo` first)');
    return;
  }
  const runId = runs[0].run_id;
  const bt = await apiGet(`/api/v1/runs/${encodeURIComponent(runId)}/backtest`);
  await visible(page, tid('pooled-table'));
  eq(await text(page, tid('run-id')), runId, 'backtest: newest run with a backtest');
  eq(await text(page, tid('bt-pair-count')), String(bt.series.length), 'backtest: pairs');
  for (const m of bt.models) {
    const p = m.pooled;
    // The zero forecast calls no direction: n/a, as in the CLI's tear-sheet.
    const directional = m.name !== 'zero';
    eq(await text(page, tid(`pooled-da-${m.name}`)), directional ? pct(p.direction?.accuracy) : NA, `backtest: pooled DA of ${m.name}`);
    eq(await text(page, tid(`pooled-sharpe-${m.name}`)), fixed(p.trading?.sharpe, 2), `backtest: pooled Sharpe of ${m.name}`);
    eq(await text(page, tid(`pooled-r2-${m.name}`)), fixed(p.regression?.r2_vs_zero, 3), `backtest: pooled R² of ${m.name}`);
    eq(await text(page, tid(`pooled-dsr-${m.name}`)), fixed(p.trading?.deflated?.dsr, 3), `backtest: pooled DSR of ${m.name}`);
    const ci = p.direction?.bootstrap ?? p.direction?.wilson;
    eq(await text(page, tid(`pooled-da-ci-${m.name}`)), ci && directional ? `[${pct(ci.lo)}, ${pct(ci.hi)}]` : NA, `backtest: DA interval of ${m.name}`);
  }
  eq(await text(page, tid('pooled-da-ceiling')), pct(bt.ceiling.directional_accuracy), 'backtest: ceiling DA');

  // The selected model (default: the first that is not a baseline: zero forecast, drift).
  const model = await page.inputValue(tid('bt-model'));
  const wantModel = (bt.models.find((m) => m.name !== 'zero' && m.name !== 'drift') ?? bt.models[0]).name;
  eq(model, wantModel, 'backtest: default model');
  const q = `model=${encodeURIComponent(model)}`;
  const base = `/api/v1/runs/${encodeURIComponent(runId)}`;
  const [eqty, folds, pairs] = await Promise.all([
    apiGet(`${base}/equity?${q}&points=1000`),
    apiGet(`${base}/backtest/folds?${q}`),
    apiGet(`${base}/backtest/pairs?${q}`),
  ]);
  await visible(page, tid('folds-table'));
  await visible(page, tid('pairs-table'));
  if (eqty.ts.length) {
    await visible(page, tid('equity-final'));
    await visible(page, `${tid('equity-chart')} canvas`);
    eq(await text(page, tid('equity-final')), fixed(eqty.equity[eqty.equity.length - 1], 4), 'backtest: final pooled equity');
  }
  eq(await page.locator(`${tid('folds-table')} tbody tr`).count(), folds.length, 'backtest: fold rows');
  await visible(page, `${tid('folds-chart')} canvas`);
  if (folds.length) {
    eq(await text(page, tid(`fold-da-${folds[0].fold}`)), pct(folds[0].metrics.direction?.accuracy), 'backtest: DA of the first fold');
  }
  eq(await page.locator(`${tid('pairs-table')} tbody tr`).count(), pairs.length, 'backtest: pair rows');
  for (const pm of pairs.slice(0, 3)) {
    eq(await text(page, tid(`pair-da-${pm.pair}`)), pct(pm.all_folds.direction?.accuracy), `backtest: DA of ${pm.pair}`);
    eq(await text(page, tid(`pair-sharpe-${pm.pair}`)), fixed(pm.all_folds.trading?.sharpe, 2), `backtest: Sharpe of ${pm.pair}`);
  }
  await noJunk(page, 'backtest');
  await shot(page, 'backtest-light');

  // One pair's equity and folds, chosen by clicking the pair in the table.
  const pick = pairs.find((p) => p.pair === 'EURUSD') ?? pairs[0];
  if (pick) {
    const [pe, pf] = await Promise.all([
      apiGet(`${base}/equity?${q}&pair=${pick.pair}&points=1000`),
      apiGet(`${base}/backtest/folds?${q}&pair=${pick.pair}`),
    ]);
    await page.click(tid(`pair-link-${pick.pair}`));
    await page.waitForFunction(
      ([sel, pair]) => document.querySelector(sel)?.textContent?.includes(pair),
      [tid('equity-caption'), pick.pair],
      { timeout: TIMEOUT },
    );
    if (pe.ts.length) {
      eq(await text(page, tid('equity-final')), fixed(pe.equity[pe.equity.length - 1], 4), `backtest: final equity of ${pick.pair}`);
    }
    await visible(page, tid('folds-table'));
    eq(await page.locator(`${tid('folds-table')} tbody tr`).count(), pf.length, `backtest: fold rows of ${pick.pair}`);
    if (pf.length) {
      eq(await text(page, tid(`fold-da-${pf[0].fold}`)), pct(pf[0].metrics.direction?.accuracy), `backtest: first fold DA of ${pick.pair}`);
    }
  }
  // Another model through the selector.
  const other = bt.models.find((m) => m.name !== model && m.name !== 'zero');
  if (other) {
    const op = await apiGet(`${base}/backtest/pairs?model=${encodeURIComponent(other.name)}`);
    await page.selectOption(tid('bt-model'), other.name);
    const p0 = op[0];
    await page.waitForFunction(
      ([sel, want]) => document.querySelector(sel)?.textContent?.trim() === want,
      [tid(`pair-da-${p0.pair}`), pct(p0.all_folds.direction?.accuracy)],
      { timeout: TIMEOUT },
    );
    passed++;
  }
}

async function runsPage(page) {
  const runs = await apiGet('/api/v1/runs?limit=100');
  if (runs.length === 0) {
    await visible(page, tid('runs-empty'));
    return;
  }
  await visible(page, tid('runs-table'));
  eq(await page.locator(`${tid('runs-table')} tbody tr`).count(), runs.length, 'runs: history rows');
  eq(await text(page, tid('newest-run-id')), runs[0].run_id, 'runs: newest run');
  const bt = await backtestRuns();
  if (bt.length >= 2) {
    await visible(page, tid('compare-table'));
    const [a, b] = await Promise.all(
      [bt[1], bt[0]].map((r) => apiGet(`/api/v1/runs/${encodeURIComponent(r.run_id)}/backtest`)),
    );
    for (const m of b.models) {
      const ma = a.models.find((x) => x.name === m.name);
      eq(await text(page, tid(`cmp-da-b-${m.name}`)), pct(m.pooled.direction?.accuracy), `runs: compare DA (B) of ${m.name}`);
      if (ma) eq(await text(page, tid(`cmp-da-a-${m.name}`)), pct(ma.pooled.direction?.accuracy), `runs: compare DA (A) of ${m.name}`);
    }
  } else {
    await visible(page, tid('compare-empty'));
  }
  await noJunk(page, 'runs');
  await shot(page, 'runs-light');

  // The newest run's detail.
  const d = await apiGet(`/api/v1/runs/${encodeURIComponent(runs[0].run_id)}`);
  await page.click(tid('newest-run-id'));
  await visible(page, tid('detail-run-id'));
  eq(await text(page, tid('detail-run-id')), d.run_id, 'run detail: id');
  eq(await text(page, tid('detail-status')), d.status, 'run detail: status');
  if (d.stages.length) {
    await visible(page, tid('detail-stages'));
    eq(await page.locator(`${tid('detail-stages')} tbody tr`).count(), d.stages.length, 'run detail: stage rows');
    for (const s of d.stages) eq(await text(page, tid(`detail-stage-${s.stage}`)), s.stage, `run detail: stage ${s.stage}`);
  }
  if (d.logs.length) eq(await page.locator(`${tid('detail-logs')} tbody tr`).count(), d.logs.length, 'run detail: log rows');
  if (d.artifacts.length) eq(await page.locator(`${tid('detail-artifacts')} tbody tr`).count(), d.artifacts.length, 'run detail: artifact rows');
  if (d.has_backtest) await visible(page, tid('detail-backtest-link'));
  await noJunk(page, 'run detail');
  await shot(page, 'run-detail-light');
}

async function runsWithKind(kind) {
  const runs = await apiGet('/api/v1/runs?limit=100');
  const out = [];
  for (const r of runs) {
    if (r.kind === 'ingest' || r.kind === 'synth') continue;
    const d = await apiGet(`/api/v1/runs/${encodeURIComponent(r.run_id)}`);
    if ((d.artifacts ?? []).some((a) => a.kind === kind)) out.push(r);
  }
  return out;
}

async function trainingPage(page) {
  const runs = await runsWithKind('training');
  if (runs.length === 0) {
    await visible(page, tid('training-empty'));
    check(false, 'training: the store has no run with a training artifact (run `bqx demo` first)');
    return;
  }
  const runId = runs[0].run_id;
  const base = `/api/v1/runs/${encodeURIComponent(runId)}`;
  const units = await apiGet(`${base}/training`);
  const bt = await apiGet(`${base}/backtest`);
  check(units.length > 0, 'training: the artifact lists units');
  eq(await page.inputValue(tid('tr-run')), runId, 'training: the newest run with a training artifact');
  eq(await page.inputValue(tid('tr-network')), 'multitask', 'training: default network');
  const pairs = new Set(units.filter((u) => u.model === 'multitask').map((u) => u.pair));
  eq(await page.locator(`${tid('tr-pair')} option`).count(), pairs.size, 'training: one pair option per trained pair');
  await visible(page, `${tid('training-chart')} canvas`);
  await page.waitForSelector(`${tid('training-chart')}[data-rendered="1"]`, { timeout: TIMEOUT });
  const info = await text(page, tid('training-unit'));
  const pair = await page.inputValue(tid('tr-pair'));
  const fold = await page.inputValue(tid('tr-fold'));
  const u = units.find((x) => x.model === 'multitask' && x.pair === pair && String(x.fold) === fold);
  check(u !== undefined, 'training: the shown unit exists in the artifact');
  if (u) {
    check(info.includes(`${u.curves.length} seeds`), `training: unit caption names the seeds (${info})`);
    check(info.includes(String(u.curves[0].best_epoch)), 'training: unit caption names the kept epoch');
  }
  // The volatility head's loss exists for the multi-task network only.
  await page.selectOption(tid('tr-head'), 'vol');
  await page.waitForSelector(`${tid('training-chart')}[data-rendered="1"]`, { timeout: TIMEOUT });
  await page.selectOption(tid('tr-network'), 'singletask');
  eq(await page.inputValue(tid('tr-head')), 'total', 'training: the control has no volatility head (falls back to the total)');
  const mt = bt.models.find((m) => m.name === 'multitask');
  check(mt?.heads?.regime, 'training: the backtest judges the regime head');
  if (mt?.heads?.regime) {
    const cells = await page.locator(`${tid('confusion')} tbody td`).allInnerTexts();
    const total = cells
      .filter((_, i) => i % 6 !== 0)
      .map((c) => Number(c.replace(/,/g, '')))
      .reduce((a, b) => a + b, 0);
    eq(total, mt.heads.regime.n, 'training: the confusion matrix counts every judged row');
    await visible(page, tid('heads-vol'));
  }
  if (bt.same_units) {
    eq(await page.locator(`${tid('same-units')} tbody tr`).count(), bt.same_units.models.length, 'training: every model on the networks\' units');
  }
  await shot(page, 'training-light');
}

async function embeddingsPage(page) {
  const runs = await runsWithKind('embeddings');
  if (runs.length === 0) {
    await visible(page, tid('embeddings-empty'));
    check(false, 'embeddings: the store has no run with an embeddings artifact (run `bqx demo` first)');
    return;
  }
  const runId = runs[0].run_id;
  const folds = await apiGet(`/api/v1/runs/${encodeURIComponent(runId)}/embeddings`);
  check(folds.length > 0, 'embeddings: the artifact has folds');
  const last = folds[folds.length - 1];
  eq(await page.inputValue(tid('em-fold')), String(last.fold), 'embeddings: default fold (the last)');
  await visible(page, `${tid('embedding-scatter')} canvas`);
  await page.waitForSelector(`${tid('embedding-scatter')}[data-rendered="1"]`, { timeout: TIMEOUT });
  eq(await page.locator(`${tid('cluster-profiles')} tbody tr`).count(), last.clusters.length, 'embeddings: one profile row per cluster');
  eq(await page.locator(`${tid('reconstruction')} tbody tr`).count(), last.reconstruction.length, 'embeddings: one row per feature family');
  const summary = await text(page, tid('embed-summary'));
  check(summary.includes(`k = ${last.k}`), `embeddings: summary names k (${summary})`);
  await page.selectOption(tid('em-color'), 'regime');
  await page.waitForSelector(`${tid('embedding-scatter')}[data-rendered="1"]`, { timeout: TIMEOUT });
  check((await page.evaluate(() => location.hash)).includes('by=regime'), 'embeddings: the colour choice is in the URL');
  await shot(page, 'embeddings-light');
}

async function livePage(page) {
  const sessions = await apiGet('/api/v1/online');
  if (sessions.length === 0) {
    await visible(page, tid('live-empty'));
    check(false, 'live: the store has no online session (run `bqx demo` first)');
    return;
  }
  const s = sessions[0];
  const view = await apiGet(`/api/v1/online/${encodeURIComponent(s.session)}`);
  const alerts = await apiGet(`/api/v1/alerts?session=${encodeURIComponent(s.session)}&limit=5000`);
  await visible(page, tid('live-signals'));
  eq(await page.inputValue(tid('live-session')), s.session, 'live: the most recently updated session');
  const rows = page.locator(`${tid('live-signals')} tbody tr`);
  eq(await rows.count(), view.pairs.length, 'live: one signal row per pair');
  // Every row shows the API's newest prediction of its pair, formatted as the UI formats it.
  for (let i = 0; i < (await rows.count()); i++) {
    const cells = await rows.nth(i).locator('td').allInnerTexts();
    const p = view.pairs.find((x) => x.pair === cells[0]);
    check(p !== undefined, `live: row ${cells[0]} is a pair of the session`);
    if (!p || !p.latest) continue;
    const k = view.members.length;
    eq(cells[2], fixed(p.latest.ensemble, 4), `live: ${p.pair} ensemble signal`);
    eq(cells[3], fixed(p.latest.members[0], 4), `live: ${p.pair} frozen member`);
    eq(cells[3 + k], p.latest.weights.map((w) => fixed(w, 2)).join(' / '), `live: ${p.pair} weights`);
    eq(cells[6 + k], int(p.score.matured), `live: ${p.pair} matured labels`);
    check(cells[1] === (p.latest.ensemble > 0 ? '↓ bearish' : '↑ bullish'), `live: ${p.pair} direction follows the BQX sign (${cells[1]})`);
  }
  const status = await text(page, tid('live-status'));
  check(status.includes(int(s.live_bars)), `live: the status names the live bars (${status})`);
  check(status.includes(int(view.pooled.matured)), 'live: the status names the matured labels');
  await visible(page, `${tid('live-timeline')} canvas`);
  await page.waitForSelector(`${tid('live-timeline')}[data-rendered="1"]`, { timeout: TIMEOUT });
  const pair = await page.inputValue(tid('live-pair'));
  const p = view.pairs.find((x) => x.pair === pair);
  const caption = await text(page, tid('live-timeline-caption'));
  check(p && caption.includes(`${int(p.timeline.length)} blocks`), `live: the caption counts the pair's blocks (${caption})`);
  if (alerts.length > 0) {
    await page.waitForSelector(`${tid('drift-timeline')}[data-rendered="1"]`, { timeout: TIMEOUT });
    const count = await text(page, tid('alerts-count'));
    check(count.startsWith(`${int(alerts.length)} alerts`), `live: every alert of the session is counted (${count})`);
    eq(await page.locator(`${tid('alerts-table')} tbody tr`).count(), Math.min(100, alerts.length), 'live: the newest alerts are listed');
    const first = await page.locator(`${tid('alerts-table')} tbody tr`).first().locator('td').allInnerTexts();
    eq(first[2], alerts[0].pair, 'live: the newest alert first');
    eq(first[6], alerts[0].playbook, 'live: the alert links its playbook entry');
  } else {
    await visible(page, tid('alerts-empty'));
  }
  // Champion/challenger: one row per pair with the API's champion; a rollback is offered only
  // where a challenger was promoted; the decision log lists the API's decisions.
  const ccRows = page.locator(`${tid('champions-table')} tbody tr`);
  eq(await ccRows.count(), view.pairs.length, 'live: one champion row per pair');
  for (const q of view.pairs) {
    const row = page.locator(`${tid('champions-table')} tbody tr`, { hasText: q.pair });
    const cells = await row.locator('td').allInnerTexts();
    eq(cells[1], q.champion === 0 ? 'offline fit (0)' : `challenger ${q.champion}`, `live: ${q.pair} champion`);
    eq(await page.locator(tid(`rollback-${q.pair}`)).isDisabled(), q.champions.length < 2, `live: ${q.pair} rollback offered only after a promotion`);
  }
  const decisions = view.pairs.flatMap((q) => q.decisions);
  if (decisions.length === 0) {
    await visible(page, tid('decisions-empty'));
  } else {
    eq(await page.locator(`${tid('decisions-table')} tbody tr`).count(), Math.min(50, decisions.length), 'live: the decision log');
  }
  const other = view.pairs.map((x) => x.pair).find((x) => x !== pair);
  if (other) {
    await page.selectOption(tid('live-pair'), other);
    await page.waitForSelector(`${tid('live-timeline')}[data-rendered="1"]`, { timeout: TIMEOUT });
    check((await page.evaluate(() => location.hash)).includes(`pair=${other}`), 'live: the pair choice is in the URL');
  }
  await shot(page, 'live-light');
}

async function crosspairPage(page) {
  const runs = await crosspairRuns();
  if (runs.length === 0) {
    await visible(page, tid('crosspair-empty'));
    check(false, 'cross-pair: the store has no run with a crosspair artifact (run `bqx demo` first)');
    return;
  }
  // The page's default: the newest run with a cross-pair report.
  const entry = runs.find((r) => r.kinds.has('crosspair'));
  check(entry !== undefined, 'cross-pair: no run holds a crosspair artifact');
  if (!entry) return;
  const runId = entry.run.run_id;
  const base = `/api/v1/runs/${encodeURIComponent(runId)}`;
  const xp = await apiGet(`${base}/crosspair`);
  const sel = entry.kinds.has('selection') ? await apiGet(`${base}/selection`) : null;
  await visible(page, tid('cp-run-id'));
  eq(await text(page, tid('cp-run-id')), runId, 'cross-pair: the newest run with a cross-pair report');

  // Fold: the last of the ids of both reports.
  const ids = [...new Set([...xp.folds.map((f) => f.fold), ...(sel?.folds ?? []).map((f) => f.fold)])].sort((a, b) => a - b);
  check(xp.folds.length > 0, 'cross-pair: the report has no fold');
  const fold = await page.inputValue(tid('cp-fold'));
  eq(fold, ids.length ? String(ids[ids.length - 1]) : '', 'cross-pair: default fold (the last)');
  const f = xp.folds.find((x) => String(x.fold) === fold);
  if (f) {
    // The heatmap: one row per follower of the fold.
    await visible(page, `${tid('crosspair-heatmap')} canvas`);
    const rows = Number(await page.getAttribute(tid('crosspair-heatmap'), 'data-row-count'));
    eq(rows, f.pairs.length, 'cross-pair: heatmap rows (followers of the fold)');
    check(rows >= 1, `cross-pair: the heatmap has ${rows} follower rows`);
    const leaders = new Set([...f.pairs.map((p) => p.pair), ...f.pairs.flatMap((p) => p.leaders.map((l) => l.leader))]);
    eq(Number(await page.getAttribute(tid('crosspair-heatmap'), 'data-col-count')), leaders.size, 'cross-pair: heatmap columns (leaders)');
    eq(await text(page, tid('cp-follower-count')), String(f.pairs.length), 'cross-pair: follower count');
    const kept = f.pairs.flatMap((p) => p.kept);
    eq(await text(page, tid('cp-kept-count')), `${int(kept.length)} (${int(kept.filter((k) => k.significant).length)} significant)`, 'cross-pair: kept relations');

    // The chosen follower's tables (default: the first row), then another one.
    const checkFollower = async (pair) => {
      const fo = f.pairs.find((p) => p.pair === pair);
      check(fo !== undefined, `cross-pair: follower ${pair} is in the report`);
      if (!fo) return;
      eq(await text(page, tid('cp-follower-pair')), pair, 'cross-pair: follower shown');
      eq(await page.locator(`${tid('cp-sisters')} tbody tr`).count(), fo.sisters.length, `cross-pair: sister rows of ${pair}`);
      if (fo.momentum.length) eq(await page.locator(`${tid('cp-momentum')} tbody tr`).count(), fo.momentum.length, `cross-pair: momentum rows of ${pair}`);
      else await visible(page, tid('cp-momentum-empty'));
      eq(await page.locator(`${tid('cp-kept')} tbody tr`).count(), fo.kept.length, `cross-pair: kept rows of ${pair}`);
      for (const k of fo.kept) {
        eq(await text(page, tid(`cp-kept-q-${k.slot}`)), sci(k.q), `cross-pair: q of ${k.leader} → ${pair}`);
        eq(await text(page, tid(`cp-kept-sig-${k.slot}`)), k.significant ? 'significant' : 'filled, not significant', `cross-pair: flag of ${k.leader} → ${pair}`);
      }
    };
    const follower = await page.inputValue(tid('cp-follower'));
    eq(await page.getAttribute(tid('crosspair-heatmap'), 'data-follower'), follower, 'cross-pair: framed row');
    await checkFollower(follower);
    const other = f.pairs.find((p) => p.pair !== follower);
    if (other) {
      await page.selectOption(tid('cp-follower'), other.pair);
      await page.waitForSelector(`${tid('crosspair-heatmap')}[data-follower="${other.pair}"]`, { timeout: TIMEOUT });
      await checkFollower(other.pair);
    }
  }

  // The feature selection.
  check(sel !== null, 'cross-pair: the run has no selection artifact');
  if (sel) {
    await visible(page, tid('sel-folds'));
    eq(await text(page, tid('sel-k')), int(sel.k), 'selection: k');
    eq(await text(page, tid('sel-candidates')), int(sel.candidates), 'selection: candidates');
    eq(await text(page, tid('sel-jaccard')), fixed(sel.stability.jaccard_mean, 3), 'selection: Jaccard mean');
    eq(await text(page, tid('sel-kuncheva')), fixed(sel.stability.kuncheva_mean, 3), 'selection: Kuncheva mean');
    eq(await page.locator(`${tid('sel-folds')} tbody tr`).count(), sel.folds.length, 'selection: fold rows');
    for (const sf of sel.folds) {
      eq(await text(page, tid(`sel-constant-${sf.fold}`)), int(sf.dropped_constant.length), `selection: constants dropped in fold ${sf.fold}`);
      eq(await text(page, tid(`sel-correlated-${sf.fold}`)), int(sf.dropped_correlated.length), `selection: correlated dropped in fold ${sf.fold}`);
    }
    const sf = sel.folds.find((x) => String(x.fold) === fold);
    check(sf !== undefined, `selection: no result for fold ${fold}`);
    if (sf) {
      await visible(page, tid('sel-top'));
      const top = await page.locator(`${tid('sel-top')} tbody tr`).count();
      eq(top, Math.min(30, sf.scores.feature.length), 'selection: top-feature rows');
      check(top >= 1, 'selection: the top-feature table has rows');
      // The k selected come first, in the report's (Borda) order.
      const shown = await page.locator(`${tid('sel-top')} tbody tr td:nth-child(2)`).allTextContents();
      const want = sf.selected.slice(0, Math.min(30, shown.length));
      eq(JSON.stringify(shown.slice(0, want.length).map((t) => t.trim())), JSON.stringify(want), 'selection: selected features in Borda order');
    }
    if (sel.stability.per_feature.some((r) => r.folds_selected > 0)) await visible(page, `${tid('sel-stability-chart')} canvas`);
  }
  await noJunk(page, 'cross-pair');
  await noNulls(page, 'cross-pair');
  await shot(page, 'crosspair-light');
  await page.click(tid('theme-toggle'));
  await shot(page, 'crosspair-dark');
  await page.click(tid('theme-toggle'));
}

/** Starts a run from the UI, follows it live, checks the 409 of a second start. */
async function liveRun(page) {
  await go(page, 'pipeline');
  await visible(page, tid('stage-table'));
  const before = await apiGet('/api/v1/runs?limit=1');
  // A fold span the server cannot read: its 400 names the field, and nothing starts.
  await page.click(`${tid('fold-options')} summary`);
  await page.fill(tid('fold-train'), '2 weeks');
  await page.waitForSelector(`${tid('run-button')}:not([disabled])`, { timeout: TIMEOUT });
  tolerate = /400/;
  try {
    await page.click(tid('run-button'));
    await visible(page, tid('run-error'));
  } finally {
    tolerate = null;
  }
  check((await text(page, tid('run-error'))).includes('--train'), 'pipeline: a bad fold span is refused, naming it');
  eq((await apiGet('/api/v1/runs?limit=1'))[0]?.run_id, before[0]?.run_id, 'pipeline: nothing started');
  await page.fill(tid('fold-train'), '');
  await page.waitForSelector(`${tid('run-button')}:not([disabled])`, { timeout: TIMEOUT });
  await page.click(tid('run-button'));
  await visible(page, tid('job-state'));
  await page.waitForSelector(`${tid('run-button')}[disabled]`, { timeout: TIMEOUT });
  passed++;
  // A second start while the job runs: 409 from the API, shown by the UI.
  const second = await apiPost('/api/v1/runs', {});
  const job = await apiGet('/api/v1/health');
  if (job.job?.state === 'running') {
    eq(second.status, 409, 'live: second POST /runs while running');
    eq(second.body?.error?.code, 'conflict', 'live: 409 code');
    // Force the disabled button (as a second window would) to see the UI's message.
    await page.evaluate((sel) => {
      const b = document.querySelector(sel);
      if (b) b.disabled = false;
    }, tid('run-button'));
    tolerate = /409/;
    await page.click(tid('run-button'));
    await visible(page, tid('run-error'));
    tolerate = null;
    const msg = await text(page, tid('run-error'));
    check(msg.includes('already running'), `live: 409 message shown ("${msg}")`);
    // Live progress: the job's stages move on through progress events.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-testid^="job-stage-"]')].some((e) =>
          ['running', 'succeeded'].includes(e.textContent?.trim() ?? ''),
        ),
      null,
      { timeout: TIMEOUT, polling: 100 },
    );
    passed++;
    await shot(page, 'pipeline-running-light');
  }
  await page.waitForFunction(
    (sel) => ['succeeded', 'failed'].includes(document.querySelector(sel)?.textContent?.trim() ?? ''),
    tid('job-state'),
    { timeout: 30 * 60 * 1000, polling: 500 },
  );
  const finalState = await text(page, tid('job-state'));
  eq(finalState, 'succeeded', 'live: the run finished');
  await page.waitForSelector(`${tid('run-button')}:not([disabled])`, { timeout: TIMEOUT });
  const after = await apiGet('/api/v1/runs?limit=1');
  check(after[0]?.run_id !== before[0]?.run_id, 'live: a new run is registered');
  const runLink = await text(page, tid('job-run-id'));
  eq(runLink, after[0]?.run_id, 'live: job links its run');
  check(!(await page.isVisible(tid('run-error'))), 'live: the 409 message is cleared when the job ends');
  await shot(page, 'pipeline-finished-light');
  // The new run is the Backtest page's default.
  const bt = await backtestRuns();
  await go(page, 'backtest');
  await visible(page, tid('pooled-table'));
  eq(await text(page, tid('run-id')), bt[0]?.run_id, 'live: the backtest page shows the newest run');
}

/** The figures' load counter of the Data page (`data-loads`, bumped after every (re)load). */
async function figureLoads(page) {
  return Number((await page.getAttribute(tid('data-figures'), 'data-loads')) ?? '0');
}

/** Waits for the Data page to reload its figures after `before` loads. */
async function reloaded(page, before) {
  await page.waitForFunction(
    ([sel, n]) => Number(document.querySelector(sel)?.getAttribute('data-loads') ?? '0') > n,
    [tid('data-figures'), before],
    { timeout: TIMEOUT },
  );
}

/** Submits the ingest form with `paths` and waits for the job to end; resolves to its state. */
async function ingestThroughForm(page, paths) {
  await page.waitForSelector(`${tid('ingest-submit')}:not([disabled])`, { timeout: TIMEOUT });
  const previous = (await page.locator(tid('ingest-job-id')).count()) ? await text(page, tid('ingest-job-id')) : null;
  await page.fill(tid('ingest-paths'), paths.join('\n'));
  await page.click(tid('ingest-submit'));
  // The new job (not the one shown before), until it ends.
  await page.waitForFunction(
    ([idSel, stateSel, prev]) => {
      const id = document.querySelector(idSel)?.textContent?.trim();
      const state = document.querySelector(stateSel)?.textContent?.trim() ?? '';
      return id !== undefined && id !== prev && ['succeeded', 'failed'].includes(state);
    },
    [tid('ingest-job-id'), tid('ingest-job-state'), previous],
    { timeout: 10 * 60 * 1000, polling: 100 },
  );
  return text(page, tid('ingest-job-state'));
}

/** Ingests through the Data page's form: a missing path, a refused start (409), the fixture. */
async function liveIngest(page) {
  await go(page, 'data');
  await visible(page, tid('health-table'));
  await visible(page, tid('ingest-form'));
  await visible(page, tid('price-caption'));

  // 1. A path that does not exist: the job fails and the page shows the API's error.
  const missing = '/nonexistent/bqx-e2e/GBPJPY_missing.csv';
  let loads = await figureLoads(page);
  eq(await ingestThroughForm(page, [missing]), 'failed', 'ingest: a missing path fails the job');
  await visible(page, tid('ingest-error'));
  const failed = (await apiGet('/api/v1/health')).job;
  eq(failed?.kind, 'ingest', 'ingest: the API reports the ingest job');
  const apiError = failed?.error;
  check(typeof apiError?.message === 'string' && apiError.message.includes(missing), `ingest: the API's error names the path (${JSON.stringify(apiError)})`);
  const shown = await text(page, tid('ingest-error'));
  check(
    apiError?.message && shown.includes(apiError.message) && shown.includes(apiError.code),
    `ingest: the page shows the API's error code and message ("${shown}" vs ${JSON.stringify(apiError)})`,
  );
  eq(await text(page, tid('ingest-job-id')), `Job #${failed?.id} (ingest)`, 'ingest: the failed job is shown');
  await reloaded(page, loads); // nothing may read the store while the next job holds it
  await noJunk(page, 'ingest (missing path)');
  await shot(page, 'data-ingest-error-light');

  // 1b. A bad option value: the API refuses it with a 400 naming the field; no job starts.
  const jobsBefore = (await apiGet('/api/v1/health')).job?.id;
  await page.fill(tid('ingest-tz'), 'Mars/Olympus');
  await page.fill(tid('ingest-paths'), FIXTURE);
  tolerate = /400/;
  try {
    await page.click(tid('ingest-submit'));
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('`tz`'), tid('ingest-error'), {
      timeout: TIMEOUT,
    });
  } finally {
    tolerate = null;
  }
  const badTz = await text(page, tid('ingest-error'));
  check(badTz.includes('invalid_argument') && badTz.includes('Mars/Olympus'), `ingest: a bad time zone is refused, naming the field ("${badTz}")`);
  eq((await apiGet('/api/v1/health')).job?.id, jobsBefore, 'ingest: no job started for a refused option');
  await page.fill(tid('ingest-tz'), '');

  // 2. A start while a run holds the store: the form is disabled; a forced submit gets the 409.
  const started = await apiPost('/api/v1/runs', {});
  eq(started.status, 202, 'ingest: a run started through the API');
  const run = started.body;
  await page.waitForSelector(`${tid('ingest-submit')}[disabled]`, { timeout: TIMEOUT });
  passed++;
  if ((await apiGet('/api/v1/health')).job?.state === 'running') {
    const busy = await text(page, tid('ingest-busy'));
    check(busy.includes(`Job #${run?.id} (run) is running`), `ingest: the panel says which job runs ("${busy}")`);
    await page.fill(tid('ingest-paths'), FIXTURE);
    await page.evaluate((sel) => {
      const b = document.querySelector(sel);
      if (b) b.disabled = false;
    }, tid('ingest-submit'));
    tolerate = /409/;
    try {
      await page.click(tid('ingest-submit'));
      await page.waitForFunction(
        (sel) => document.querySelector(sel)?.textContent?.includes('already running'),
        tid('ingest-error'),
        { timeout: TIMEOUT },
      );
    } finally {
      tolerate = null;
    }
    const msg = await text(page, tid('ingest-error'));
    check(msg.includes('A job is already running.') && msg.includes(`job ${run?.id} (run) is running`), `ingest: 409 message shown ("${msg}")`);
    check(!(await page.isVisible(tid('ingest-job'))), 'ingest: no job shown for a refused start');
  } else {
    console.log('     (the run ended before the refused start could be checked)');
  }
  await page.waitForSelector(`${tid('ingest-submit')}:not([disabled])`, { timeout: 30 * 60 * 1000 });
  const ran = (await apiGet('/api/v1/health')).job;
  eq(ran?.state, 'succeeded', 'ingest: the blocking run finished');
  check(!(await page.isVisible(tid('ingest-error'))), 'ingest: the 409 message is cleared when the run ends');

  // 3. The fixture, by its absolute path.
  const before = await apiGet('/api/v1/data/health');
  const had = before.series.some((s) => s.pair === FIXTURE_SERIES.pair && s.timeframe === FIXTURE_SERIES.timeframe && s.side === FIXTURE_SERIES.side);
  loads = await figureLoads(page);
  // With the options `bqx ingest --format csv --side mid` would take (what detection finds too).
  await page.selectOption(tid('ingest-format'), 'csv');
  await page.selectOption(tid('ingest-side'), 'mid');
  eq(await ingestThroughForm(page, [FIXTURE]), 'succeeded', 'ingest: the fixture job succeeded');
  await reloaded(page, loads);
  const job = (await apiGet('/api/v1/health')).job;
  const after = await apiGet('/api/v1/data/health');
  const series = after.series.find((s) => s.pair === FIXTURE_SERIES.pair && s.timeframe === FIXTURE_SERIES.timeframe && s.side === FIXTURE_SERIES.side);
  check(series !== undefined, `ingest: /data/health lists ${FIXTURE_SERIES.pair} ${FIXTURE_SERIES.timeframe} ${FIXTURE_SERIES.side}`);
  eq(series?.bars, FIXTURE_SERIES.bars, 'ingest: bars of the new series (API)');
  eq(series?.first, Date.UTC(2024, 2, 5, 10, 0) * 1000, 'ingest: first bar of the new series (API)');
  eq(after.series.length, before.series.length + (had ? 0 : 1), 'ingest: one more series (API)');
  eq(after.bars, before.bars + (had ? 0 : FIXTURE_SERIES.bars), 'ingest: bar total (API)');
  // The outcome: the job's run and the counts of its report.
  eq(await text(page, tid('ingest-run-id')), job?.run_id, 'ingest: the job links its run');
  const detail = await apiGet(`/api/v1/runs/${encodeURIComponent(job?.run_id ?? '')}`);
  const sum = detail.stages.find((s) => s.stage === 'ingest')?.summary;
  await visible(page, tid('ingest-summary'));
  const summary = await text(page, tid('ingest-summary'));
  check(
    summary.startsWith(`1 file: ${int(sum?.read)} records read = ${int(sum?.accepted)} accepted`) &&
      summary.includes(`${int(sum?.bars_written)} new bars written`),
    `ingest: the summary "${summary}" vs the run's report ${JSON.stringify(sum)}`,
  );
  eq(sum?.read, FIXTURE_SERIES.bars, 'ingest: records read');
  eq(sum?.bars_written, had ? 0 : FIXTURE_SERIES.bars, 'ingest: new bars written');
  // The page's figures were reloaded and show the new series.
  const { pair, timeframe, side } = FIXTURE_SERIES;
  eq(await text(page, tid('health-series-count')), String(after.series.length), 'ingest: series count on the page');
  eq(await text(page, tid('data-bars')), int(after.bars), 'ingest: bar count on the page');
  eq(await page.locator(`${tid('health-table')} tbody tr`).count(), after.series.length, 'ingest: health table rows');
  eq(await text(page, tid(`health-bars-${pair}-${timeframe}-${side}`)), int(FIXTURE_SERIES.bars), 'ingest: the new series in the health table');
  const cov = await apiGet('/api/v1/data/coverage');
  eq(await page.getAttribute(tid('coverage-chart'), 'data-row-count'), String(cov.pairs.length), 'ingest: heatmap rows');
  await page.selectOption(tid('price-pair'), pair);
  await page.selectOption(tid('price-timeframe'), timeframe);
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent?.trim().startsWith(want),
    [tid('price-caption'), `${pair} ${timeframe} ${side}: ${int(FIXTURE_SERIES.bars)} bars from 2024-03-05 to 2024-03-05`],
    { timeout: TIMEOUT },
  );
  passed++;
  await noJunk(page, 'ingest');
  await shot(page, 'data-ingested-light');
  await page.click(tid('theme-toggle'));
  await shot(page, 'data-ingested-dark');
  await page.click(tid('theme-toggle'));
}

// ---- main -----------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
let closing = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !(tolerate && tolerate.test(m.text()))) problems.push(`console error: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (closing) return;
    // The event stream never completes: a reload or close aborts it by design.
    if (new URL(r.url()).pathname === '/api/v1/events' && r.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !(tolerate && tolerate.test(String(r.status())))) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });

  await step('open the UI', async () => {
    await page.goto(`${BASE}/#/pipeline`, { waitUntil: 'domcontentloaded' });
    await visible(page, tid('page-pipeline'));
    eq(await page.getAttribute('html', 'data-theme'), 'light', 'theme follows prefers-color-scheme (light)');
  });
  await step('pipeline page', async () => {
    await pipelinePage(page);
    await shot(page, 'pipeline-light');
  });
  await step('data page', async () => {
    await go(page, 'data');
    await dataPage(page);
  });
  await step('backtest page', async () => {
    await go(page, 'backtest');
    await backtestPage(page);
  });
  await step('runs page', async () => {
    await go(page, 'runs');
    await runsPage(page);
  });
  await step('cross-pair page', async () => {
    await go(page, 'crosspair');
    await crosspairPage(page);
  });
  await step('training page', async () => {
    await go(page, 'training');
    await trainingPage(page);
  });
  await step('embeddings page', async () => {
    await go(page, 'embeddings');
    await embeddingsPage(page);
  });
  await step('live page', async () => {
    await go(page, 'live');
    await livePage(page);
  });
  await step('dark theme (toggle, persisted)', async () => {
    await go(page, 'backtest');
    await visible(page, tid('pooled-table'));
    await page.click(tid('theme-toggle'));
    eq(await page.getAttribute('html', 'data-theme'), 'dark', 'theme after the toggle');
    await visible(page, tid('equity-final'));
    await shot(page, 'backtest-dark');
    await page.reload({ waitUntil: 'domcontentloaded' });
    await visible(page, tid('pooled-table'));
    eq(await page.getAttribute('html', 'data-theme'), 'dark', 'theme after a reload (localStorage)');
    await go(page, 'data');
    await visible(page, `${tid('coverage-chart')} canvas`);
    await visible(page, tid('price-caption'));
    await shot(page, 'data-dark');
    await page.click(tid('theme-toggle'));
    eq(await page.getAttribute('html', 'data-theme'), 'light', 'theme toggled back');
  });
  if (RUN_JOB) await step('live run (BQX_E2E_RUN=1)', () => liveRun(page));
  if (RUN_JOB) await step('ingest from the Data page (BQX_E2E_RUN=1)', () => liveIngest(page));
  closing = true;
  await context.close();
  closing = false;

  await step('dark theme from prefers-color-scheme', async () => {
    const dark = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    const p2 = await dark.newPage();
    p2.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error (dark): ${m.text()}`);
    });
    p2.on('pageerror', (e) => problems.push(`page error (dark): ${e.message}`));
    await p2.goto(`${BASE}/#/pipeline`, { waitUntil: 'domcontentloaded' });
    await visible(p2, tid('stage-table'));
    eq(await p2.getAttribute('html', 'data-theme'), 'dark', 'theme follows prefers-color-scheme (dark)');
    await shot(p2, 'pipeline-dark');
    closing = true;
    await dark.close();
  });
} finally {
  closing = true;
  await browser.close();
}

for (const p of problems) failures.push(p);
console.log('\nscreenshots:');
for (const s of shots) console.log(`  ${s}`);
if (failures.length) {
  console.log('\nfailures:');
  for (const f of failures) console.log(`  - ${f}`);
}
console.log(`\ne2e: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
