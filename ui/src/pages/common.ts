// Helpers shared by the Backtest, Cross-pair and Runs pages.

import { h } from '../dom';
import { api } from '../transport';
import type { MetricSet, RunDetail, RunSummary } from '../types';

export async function listRuns(limit = 100): Promise<RunSummary[]> {
  return api<RunSummary[]>('GET', `/api/v1/runs?limit=${limit}`);
}

/**
 * The runs (newest first) that have a backtest. `RunSummary` does not say so in the contract,
 * so unless the server adds `has_backtest` to the summaries, the details of the runs that can
 * hold one (not ingest runs) are read, a few at a time.
 */
export async function runsWithBacktest(runs: RunSummary[]): Promise<RunSummary[]> {
  if (runs.every((r) => typeof r.has_backtest === 'boolean')) return runs.filter((r) => r.has_backtest);
  const candidates = runs.filter((r) => r.kind !== 'ingest' && r.kind !== 'synth');
  const has = new Map<string, boolean>();
  await eachDetail(candidates, (d) => has.set(d.run_id, d.has_backtest === true));
  return candidates.filter((r) => has.get(r.run_id));
}

/** A run and the artifact kinds (of those asked for) that it holds. */
export interface RunArtifacts {
  run: RunSummary;
  kinds: Set<string>;
}

/**
 * The runs (newest first) that hold an artifact of one of `kinds` (`RunDetail.artifacts[].kind`),
 * with the kinds each holds. Such artifacts come with a backtest: only the runs that can hold
 * one are read (those with `has_backtest` when the summaries say so), a few at a time.
 */
export async function runsWithArtifacts(runs: RunSummary[], kinds: string[]): Promise<RunArtifacts[]> {
  const candidates = runs.every((r) => typeof r.has_backtest === 'boolean')
    ? runs.filter((r) => r.has_backtest)
    : runs.filter((r) => r.kind !== 'ingest' && r.kind !== 'synth');
  const held = new Map<string, Set<string>>();
  await eachDetail(candidates, (d) =>
    held.set(d.run_id, new Set((d.artifacts ?? []).map((a) => a.kind).filter((k) => kinds.includes(k)))),
  );
  return candidates
    .map((run) => ({ run, kinds: held.get(run.run_id) ?? new Set<string>() }))
    .filter((r) => r.kinds.size > 0);
}

/** Reads the detail of every run, four at a time, handing each to `use`. */
async function eachDetail(runs: RunSummary[], use: (d: RunDetail) => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const r = runs[next++];
      use(await api<RunDetail>('GET', `/api/v1/runs/${encodeURIComponent(r.run_id)}`));
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** The zero forecast never calls a direction: its DA is shown as n/a, as in the CLI. */
export const NO_DIRECTION_MODEL = 'zero';

/** The pooled headline numbers of one metric set of `model`. */
export function headline(m: MetricSet | null | undefined, model?: string) {
  const directional = model !== NO_DIRECTION_MODEL;
  return {
    da: directional ? (m?.direction?.accuracy ?? null) : null,
    daCi: directional ? (m?.direction?.bootstrap ?? m?.direction?.wilson ?? null) : null,
    r2: m?.regression?.r2_vs_zero ?? null,
    ic: m?.regression?.ic ?? null,
    sharpe: m?.trading?.sharpe ?? null,
    sharpeCi: m?.trading?.sharpe_ci ?? null,
    maxDd: m?.trading?.max_drawdown ?? null,
    dsr: m?.trading?.deflated?.dsr ?? null,
    verdict: m?.verdict?.verdict ?? null,
    rows: m?.n_rows ?? null,
    decisions: m?.trading?.n_decisions ?? null,
  };
}

export function verdictChip(v: string | null, testid?: string): HTMLElement {
  const cls = v === 'skill' ? 'chip chip-succeeded' : v ? 'chip chip-not-built' : 'chip';
  return h('span', { class: cls, testid }, v ? v.replace(/_/g, ' ') : '—');
}

/** A run as an option label: "20261203T093645Z-demo-2 · demo · succeeded". */
export function runLabel(r: RunSummary): string {
  return `${r.run_id} · ${r.kind} · ${r.status}`;
}
