// The shapes of docs/api.md (BQX ML HTTP API v1). Timestamps are Unix microseconds unless the
// field name ends in `_at` (RFC 3339 strings). Fields the contract marks optional or that may
// be absent on older servers are typed as optional.

export interface ErrorBody {
  code: string;
  message: string;
}

export type StageStatus = 'pending' | 'running' | 'succeeded' | 'failed' | string;

export interface JobStage {
  stage: string;
  status: StageStatus;
  seconds: number | null;
}

export interface JobTask {
  task: string;
  done: number;
  total: number;
  unit: string;
}

export interface Job {
  id: number;
  kind: string;
  state: 'running' | 'succeeded' | 'failed' | string;
  run_id: string | null;
  started_at: string;
  finished_at: string | null;
  error: ErrorBody | null;
  stages: JobStage[];
  tasks: JobTask[];
  log: string[];
}

export interface Health {
  version: string;
  store: string;
  job: Job | null;
}

export interface PipelineStage {
  name: string;
  built: boolean;
  runnable: boolean;
  /** Fitted per fold on training rows; artifacts keyed by fold and input fingerprint. */
  per_fold: boolean;
  /** One line on what the stage does. */
  about: string;
  depends_on: string[];
}

export interface Pipeline {
  stages: PipelineStage[];
  job: Job | null;
}

/** A `ProgressEvent` of the running job (`event: progress`). */
export type ProgressEvent =
  | { event: 'run_started'; run_id: string; kind: string }
  | { event: 'stage_started'; stage: string }
  | { event: 'stage_finished'; stage: string; status: string; secs: number }
  | { event: 'task_started'; task: string; total: number; unit: string }
  | { event: 'task_advanced'; task: string; delta: number }
  | { event: 'task_total'; task: string; total: number }
  | { event: 'task_finished'; task: string }
  | { event: 'message'; text: string };

export interface RunSummary {
  run_id: string;
  kind: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  error: ErrorBody | string | null;
  seconds: number | null;
  args: Record<string, unknown>;
  /** Not in the contract's RunSummary; used when a server sends it. */
  has_backtest?: boolean;
}

export interface RunStage {
  stage: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  seconds: number | null;
  summary: unknown;
}

export interface RunLog {
  stage: string;
  at: string;
  level: string;
  message: string;
}

export interface RunArtifact {
  stage: string;
  kind: string;
  path: string;
  sha256: string;
  bytes: number;
  created_at: string;
}

/** The `summary` of the `ingest` stage of an ingest run (`read = accepted + rejected + skipped`). */
export interface IngestSummary {
  files: number;
  read: number;
  accepted: number;
  rejected: number;
  skipped: number;
  bars_written: number;
}

export interface RunDetail extends RunSummary {
  stages: RunStage[];
  logs: RunLog[];
  artifacts: RunArtifact[];
  has_backtest: boolean;
}

export interface Interval {
  lo: number;
  hi: number;
}

export interface RegressionMetrics {
  n: number;
  r2_vs_zero: number | null;
  r2_vs_train_mean: number | null;
  mae: number | null;
  rmse: number | null;
  ic: number | null;
  std_ratio: number | null;
  mean_error: number | null;
}

export interface DirectionMetrics {
  n: number;
  hits: number;
  accuracy: number | null;
  wilson: Interval | null;
  bootstrap: Interval | null;
  block_len: number | null;
  confidence: number | null;
}

export interface Deflated {
  dsr: number | null;
  n_trials?: number;
  expected_max_sharpe?: number | null;
  [k: string]: unknown;
}

export interface TradingMetrics {
  n_decisions: number;
  sharpe: number | null;
  sharpe_ci: Interval | null;
  sortino: number | null;
  max_drawdown: number | null;
  calmar: number | null;
  hit_rate: number | null;
  hit_rate_ci: Interval | null;
  profit_factor: number | null;
  turnover: number | null;
  total_return: number | null;
  annualized_return: number | null;
  psr: number | null;
  deflated: Deflated | null;
  [k: string]: unknown;
}

/** evaluation.md's verdict rule, judged against the overlap ceiling and the drift baseline. */
export interface SkillVerdict {
  directional_accuracy_lower: number;
  drift_directional_accuracy: number | null;
  /** The higher of the ceiling's DA and the drift baseline's DA. */
  directional_accuracy_bar: number;
  r2_vs_train_mean: number | null;
  /** `skill` or `not_skill`. */
  verdict: string;
  reasons: string[];
}

export interface MetricSet {
  n_rows: number;
  regression: RegressionMetrics | null;
  direction: DirectionMetrics | null;
  trading: TradingMetrics | null;
  verdict: SkillVerdict | null;
}

export interface Ceiling {
  family: string;
  window: number;
  horizon: number;
  r2: number | null;
  directional_accuracy: number | null;
}

export interface Fold {
  id: number;
  train_start: number;
  valid_start: number;
  test_start: number;
  test_end: number;
  partial: boolean;
}

export interface BacktestSeries {
  pair: string;
  rows: number;
  first_ts: number | null;
  last_ts: number | null;
  first_complete_ts: number | null;
}

export interface BacktestModel {
  name: string;
  spec: Record<string, unknown>;
  units: number;
  skipped_units: number;
  trials: unknown;
  pooled: MetricSet;
  /** A multi-task network's volatility and regime heads. */
  heads?: HeadReport | null;
}

export interface Interval {
  lo: number;
  hi: number;
}

export interface HeadReport {
  vol: {
    n: number;
    r2_vs_no_change: number | null;
    r2_interval: Interval | null;
    mae: number;
    mae_no_change: number;
  } | null;
  regime: {
    n: number;
    accuracy: number;
    accuracy_interval: Interval | null;
    majority_accuracy: number;
    macro_f1: number;
    macro_f1_interval: Interval | null;
    majority_macro_f1: number;
    /** `confusion[actual][predicted]`, strong down … strong up. */
    confusion: number[][];
  } | null;
}

/** Every model on the units the networks trained on (when they cover only the last folds). */
export interface SameUnits {
  folds: number[];
  models: { name: string; units: number; pooled: MetricSet }[];
}

export interface HeadLosses {
  total: number;
  bqx: number;
  vol: number | null;
  regime: number | null;
}

export interface HeadEpoch {
  epoch: number;
  learning_rate: number;
  train: HeadLosses;
  valid: HeadLosses | null;
  valid_bqx_mae: number | null;
}

export interface SeedCurve {
  seed: number;
  best_epoch: number;
  stopped_early: boolean;
  epochs: HeadEpoch[];
}

/** One network unit of the run's `training` artifact (`GET /runs/{id}/training`). */
export interface TrainingUnit {
  model: string;
  pair: string;
  fold: number;
  n_train: number;
  n_valid: number;
  n_train_used: number;
  regime_cuts: number[];
  majority_class: number;
  curves: SeedCurve[];
}

export interface BacktestSummary {
  target: string;
  config: Record<string, unknown>;
  ceiling: Ceiling;
  folds: Fold[];
  series: BacktestSeries[];
  notes: string[];
  n_features: number;
  models: BacktestModel[];
  same_units?: SameUnits | null;
}

export interface PairMetrics {
  pair: string;
  all_folds: MetricSet;
}

export interface FoldMetrics {
  fold: number;
  first_ts: number | null;
  last_ts: number | null;
  metrics: MetricSet;
}

export interface Equity {
  model: string;
  pair: string | null;
  points: number;
  total_points: number;
  ts: number[];
  equity: number[];
  drawdown: number[];
}

export interface CoverageSeries {
  pair: string;
  timeframe: string;
  side: string;
  bars: number[];
}

export interface Coverage {
  months: string[];
  pairs: CoverageSeries[];
}

export interface PriceSeries {
  pair: string;
  timeframe: string;
  side: string;
  points: number;
  total_points: number;
  ts: number[];
  close: number[];
  low: number[];
  high: number[];
}

export interface Gap {
  from: number;
  to: number;
  hours: number;
}

export interface SeriesHealth {
  pair: string;
  side: string;
  timeframe: string;
  bars: number;
  first: number | null;
  last: number | null;
  gaps: number;
  largest_gaps: Gap[];
  dst_shifts: unknown[];
  missing_dst_shifts: number;
  stale_runs: number;
  longest_stale_run: number;
  ohlc_violations: number;
  close_only: boolean;
}

export interface TriangleHealth {
  triangle: string;
  rows: number;
  mean_abs: number;
  max_abs: number;
  max_at: number | null;
}

export interface PanelHealth {
  timeframe: string;
  rows: number;
  complete_rows: number;
  pairs_present: number;
  coverage: [string, number][];
  triangles: TriangleHealth[];
}

export interface DataHealth {
  store: string;
  schema_versions: [number, number];
  source_files: number;
  bars: number;
  quarantined: number;
  quarantine_by_kind: [string, number][];
  series: SeriesHealth[];
  panels: PanelHealth[];
}

// ---------------------------------------------------------------------------------------------
// Stage 2.16 cross-pair interactions (`GET /runs/{id}/crosspair`, run artifact kind `crosspair`)
// and feature selection (`GET /runs/{id}/selection`, artifact kind `selection`). Numbers a
// computation can leave undefined (NaN, serialized as null) are typed `number | null`.

/** A fold boundary: Unix microseconds, or an RFC 3339 string. */
export type FoldInstant = number | string;

export interface CrossPairSister {
  pair: string;
  corr: number | null;
  /** One of the 6 most correlated sisters (vol ratios and correlation drift). */
  chosen: boolean;
}

export interface CrossPairMomentum {
  slot: number;
  term: string;
  window: number;
  sister: string;
  spearman: number | null;
}

/** A candidate leader of the follower at its best lag (Granger-style F test). */
export interface CrossPairLeader {
  leader: string;
  lag: number;
  f: number | null;
  p: number | null;
  /** Benjamini–Hochberg q over the follower's leaders × lags tests. */
  q: number | null;
}

/** A lead-lag relation turned into features; `significant` = q < fdr_level. */
export interface CrossPairKept {
  slot: number;
  leader: string;
  lag: number;
  q: number | null;
  significant: boolean;
}

export interface CrossPairFollower {
  pair: string;
  sisters: CrossPairSister[];
  momentum: CrossPairMomentum[];
  leaders: CrossPairLeader[];
  kept: CrossPairKept[];
}

export interface CrossPairFold {
  fold: number;
  train_start: FoldInstant;
  test_start: FoldInstant;
  pairs: CrossPairFollower[];
}

export interface CrossPairReport {
  timeframe: string;
  max_lag: number;
  fdr_level: number;
  folds: CrossPairFold[];
}

export interface DroppedCorrelated {
  feature: string;
  kept: string;
  rho: number | null;
}

/** Column-wise scores of every ranked feature (same order as `feature`). */
export interface SelectionScores {
  feature: string[];
  mutual_info: (number | null)[];
  spearman: (number | null)[];
  forest: (number | null)[];
  lasso: (number | null)[];
  borda: (number | null)[];
}

export interface SelectionFold {
  fold: number;
  n_rows: number;
  dropped_constant: string[];
  dropped_correlated: DroppedCorrelated[];
  /** The k selected features, in Borda order. */
  selected: string[];
  scores: SelectionScores;
}

export interface FeatureStability {
  feature: string;
  folds_selected: number;
  share: number;
}

export interface SelectionStability {
  jaccard_mean: number | null;
  kuncheva_mean: number | null;
  per_feature: FeatureStability[];
}

export interface SelectionReport {
  k: number;
  candidates: number;
  rows_per_fold_max: number;
  folds: SelectionFold[];
  stability: SelectionStability;
}

/** One fold of the run's `embeddings` artifact (`GET /runs/{id}/embeddings`, stage 2.17). */
export interface EmbedFold {
  fold: number;
  n_train: number;
  n_valid: number;
  n_inputs: number;
  best_epoch: number;
  stopped_early: boolean;
  curve: { epoch: number; train_mse: number; valid_mse: number | null }[];
  reconstruction: { family: string; features: number; mse: number }[];
  unit_std: number[];
  constant_units: number[];
  /** Per hidden encoder block, ReLU units that never fire on the training rows. */
  dead_units?: number[];
  k: number;
  silhouette: number | null;
  clusters: {
    cluster: number;
    train_rows: number;
    test_rows: number;
    mean_vol: number | null;
    mean_bqx: number | null;
    /** `null` when no test row of the cluster has a known future move. */
    regime_share: number[] | null;
  }[];
  projection: {
    explained: [number, number];
    x: number[];
    y: number[];
    cluster: number[];
    regime: number[];
    pair: string[];
  };
}

// ---- the online loop (stage 2.19) -----------------------------------------------------------

export interface Evidence {
  detector: string;
  statistic: string;
  value: number;
  threshold: number;
  window: number;
  before: number;
  after: number;
}

/** An alert as raised (events) — `ts` is the bar time in Unix µs. */
export interface Alert {
  ts: number;
  pair: string;
  severity: 'info' | 'warning' | 'critical';
  subject: string;
  reason: string;
  evidence: Evidence;
  playbook: string;
}

/** An alert as stored (`/api/v1/alerts`). */
export interface AlertView {
  id: number;
  session: string;
  run_id: string;
  time: string;
  pair: string;
  severity: 'info' | 'warning' | 'critical';
  detector: string;
  subject: string;
  reason: string;
  evidence: Evidence;
  playbook: string;
  created_at: string;
}

export interface Signal {
  pair: string;
  ts: number;
  members: number[];
  weights: number[];
  ensemble: number;
}

export interface OnlineScore {
  matured: number;
  /** Per member (frozen, rls) then the ensemble. */
  mae: number[];
  da: number[];
}

export interface OnlineBlock {
  from: number;
  to: number;
  matured: number;
  mae: number[];
  w_frozen: number;
}

export interface OnlinePair {
  pair: string;
  inputs: string[];
  train_rows: number;
  live_bars: number;
  score: OnlineScore;
  weights: number[];
  latest: Signal | null;
  timeline: OnlineBlock[];
  /** Id of the frozen member's model (0: the offline fit) and every id that served, oldest first. */
  champion: number;
  champions: number[];
  challenger: ChallengerView | null;
  /** Newest first. */
  decisions: Decision[];
}

export interface ChallengerView {
  id: number;
  stage: 'collecting' | 'fitting' | 'shadow';
  labels: number;
  needed: number;
}

export interface PairedTest {
  labels: number;
  champion_mae: number;
  challenger_mae: number;
  mean_diff: number;
  lo: number;
  hi: number;
  hac_lags: number;
  z: number;
}

export type DecisionKind = 'retrain_started' | 'retrain_requested' | 'fit_failed' | 'promoted' | 'rejected' | 'rolled_back';

export interface Decision {
  pair: string;
  ts: number;
  kind: DecisionKind;
  challenger: number;
  champion: number;
  reason: string;
  test: PairedTest | null;
}

export interface OnlineSession {
  session: string;
  source: string;
  timeframe: string;
  pairs: string[];
  live_bars: number;
  run_id: string;
  created_at: string;
  updated_at: string;
}

export interface OnlineSessionView {
  summary: OnlineSession;
  members: string[];
  pooled: OnlineScore;
  pairs: OnlinePair[];
}

export type OnlineEvent =
  | ({ event: 'alert' } & Alert)
  | { event: 'signals'; ts: number; signals: Signal[] }
  | ({ event: 'decision' } & Decision)
  | { event: 'started'; session: string; pairs: string[]; live_bars: number; resumed_at: number }
  | { event: 'checkpoint'; live_bars: number; stats: unknown };
