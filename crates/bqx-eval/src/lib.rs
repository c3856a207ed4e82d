//! Evaluation for BQX ML: targets, purged walk-forward folds, metrics, trading simulation and
//! reports (spec: `evaluation.md`).
//!
//! Pure: no IO, no clock, no database; models come from `bqx-models`. Every output is deterministic — the same
//! inputs and seed give identical values (bootstraps are seeded per resample, maps are
//! `BTreeMap`s), whatever the number of threads.
//!
//! - [`targets`]: the BQX target, future volatility, future log return, regime cuts, and the
//!   overlap ceiling shown beside every result.
//! - [`folds`]: purged, embargoed walk-forward folds planned in time on a reference axis and
//!   mapped to each pair's rows.
//! - [`metrics`]: regression metrics (R² vs zero and vs the training mean, MAE, RMSE, IC, std
//!   ratio, bias) and directional accuracy with Wilson and block-bootstrap intervals.
//! - [`trading`]: non-overlapping decisions every `h` bars, costs, Sharpe/Sortino/drawdown/…
//!   with bootstrap intervals, probabilistic and deflated Sharpe ratios.
//! - [`report`]: per fold / per pair / pooled metric sets and their canonical JSON.
//! - [`backtest`]: the walk-forward backtest joining features, models and all of the above:
//!   units (model × fold × pair) fitted on training parts only, resumable through a cache.
//! - [`embed`]: stage 2.17 per fold — the pooled autoencoder read row batch by row batch
//!   from the feature columns, its embeddings, and their interpretation (k-means, silhouette,
//!   cluster profiles, 2-D projection, reconstruction error per family).
//! - [`networks`]: stage 2.18's networks as backtest units (auxiliary targets, seeds, the
//!   volatility and regime heads judged against no-change and the majority class).
//! - [`bootstrap`], [`stats`]: the shared statistical machinery.

pub mod backtest;
pub mod bootstrap;
pub mod embed;
mod error;
pub mod folds;
pub mod metrics;
pub mod networks;
pub mod report;
pub mod select;
pub mod stats;
pub mod targets;
pub mod trading;

pub use bootstrap::{BootstrapConfig, Interval};
pub use error::{EvalError, Result};
pub use folds::{FoldConfig, FoldPlan, FoldRows, PlannedFold, Span, TrainWindow, Validation};
pub use metrics::{DirectionMetrics, RegressionMetrics, direction, regression};
pub use report::{EvalReport, FoldOutcome, MetricSet, ReportConfig, build_report, render_json};
pub use targets::{OverlapCeiling, RegimeCuts, bqx_target, future_log_return, future_vol};
pub use trading::{
    DecisionLog, Market, PnlSeries, Signal, Threshold, TradingConfig, TradingMetrics, Trials,
    simulate, trading_metrics,
};
