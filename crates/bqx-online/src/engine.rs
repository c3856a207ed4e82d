//! The bar-by-bar loop of one or many pairs: incremental features, predictions, matured labels,
//! learning, ensemble weights, detectors and alerts.
//!
//! For every pair the loop keeps the same feature kernels as the batch path
//! ([`bqx_features::FeatureSet`]), so the features at a bar are bit-identical to the batch
//! features of the same history. At row `t` each member predicts the BQX target
//! `y(t) = bqx_return_W(t + h)`; the inputs and the predictions are kept as a *pending*
//! prediction. When row `t + h` arrives the label `bqx_return_W(t + h)` is known: it is paired
//! with the **inputs of row t** that were kept (never the current ones), each member's error is
//! scored, the detectors see it and the online learners (RLS and the Hoeffding tree) learn from
//! `(x(t), y(t))`.
//!
//! State and durability: everything but the kernels is plain serializable data
//! ([`LoopState`]). Kernels are deterministic functions of a pair's past bars, so a resumed
//! loop rebuilds them by replaying the stored bars up to the checkpoint
//! ([`OnlineLoop::restore`]); learners, detectors, weights and pending predictions come from the
//! checkpoint. Each bar is consumed exactly once: a bar at or before a pair's last timestamp
//! is refused.

use std::collections::{BTreeMap, VecDeque};

use bqx_domain::Pair;
use bqx_features::{BarInput, FeatureSet, Kernel};
use serde::{Deserialize, Serialize};

use crate::adwin::{Adwin, AdwinConfig};
use crate::champion::{
    Challenger, Champion, Decision, DecisionKind, PairedTest, RetrainRequest, hac_interval,
};
use crate::ensemble::{ErrorWindow, softmax_weights};
use crate::page_hinkley::{PageHinkley, PageHinkleyConfig};
use crate::psi::{PsiMonitor, PsiReference};
use crate::rls::{Rls, RlsConfig};
use crate::tree::{HoeffdingTree, TreeConfig};

/// The loop's parameters (features.md § 2.19 for the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnlineConfig {
    /// BQX window W of the target.
    pub window: usize,
    /// Horizon h: the label of row t matures at row t + h.
    pub horizon: usize,
    /// Matured errors per member that the weights look at.
    pub error_window: usize,
    /// τ = tau_scale · median member MAE.
    pub tau_scale: f64,
    /// Equal weights until every member has this many matured errors.
    pub min_errors: usize,
    /// The error detectors (ADWIN, Page–Hinkley) see every `detector_stride`-th matured error
    /// (0: the horizon). Consecutive labels share h − 1 of their h bars, so their errors are
    /// strongly autocorrelated; the detectors' false-alarm rates assume independent values, so
    /// by default they see non-overlapping labels only.
    pub detector_stride: usize,
    /// ADWIN tests for a cut every `adwin_clock` values. river's default (32) suits a value per
    /// event; the loop's detectors see one value per `detector_stride` bars, so they test at
    /// every value (1) and detect up to 32 values sooner.
    pub adwin_clock: u32,
    /// ADWIN δ of a confirmed drift.
    pub adwin_drift: f64,
    /// ADWIN δ of a warning.
    pub adwin_warning: f64,
    pub page_hinkley: PageHinkleyConfig,
    /// PSI: values per feature in the sliding window (0: chosen by the caller from the
    /// timeframe — the app uses one trading week of bars, at least 250).
    pub psi_window: usize,
    /// PSI is checked every this many rows.
    pub psi_every: usize,
    /// PSI of a moderate shift (an info alert).
    pub psi_warning: f64,
    /// PSI of a major shift (a warning alert).
    pub psi_critical: f64,
    pub rls: RlsConfig,
    /// The online tree member.
    pub tree: TreeConfig,
    /// Matured labels per block of the static-vs-adaptive timeline.
    pub timeline_block: usize,
    /// Blocks kept per pair (the oldest are dropped).
    pub timeline_blocks: usize,
    /// Champion/challenger ([`crate::champion`]): a confirmed drift of the frozen member's
    /// error starts a challenger.
    pub retrain: bool,
    /// Matured labels after the drift the challenger is fitted on (0: 10 h, at least 300).
    pub retrain_labels: usize,
    /// Bars between handing the data to the app and the challenger's first shadow prediction
    /// (0: h). The fit runs off the loop's thread in that time.
    pub retrain_delay: usize,
    /// Matured shadow predictions the promotion is decided on (0: 20 h, at least 300).
    pub challenger_labels: usize,
    /// Normal quantile of the promotion interval (1.96: 95 %, two-sided).
    pub promote_z: f64,
    /// Decisions kept per pair (the oldest are dropped).
    pub decisions_kept: usize,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        OnlineConfig {
            window: 60,
            horizon: 60,
            error_window: 100,
            tau_scale: 0.1,
            min_errors: 20,
            detector_stride: 0,
            adwin_clock: 1,
            adwin_drift: 0.002,
            adwin_warning: 0.01,
            page_hinkley: PageHinkleyConfig::default(),
            psi_window: 0,
            psi_every: 100,
            psi_warning: 0.1,
            psi_critical: 0.25,
            rls: RlsConfig::default(),
            tree: TreeConfig::member(),
            timeline_block: 250,
            timeline_blocks: 400,
            retrain: true,
            retrain_labels: 0,
            retrain_delay: 0,
            challenger_labels: 0,
            promote_z: 1.96,
            decisions_kept: 200,
        }
    }
}

impl OnlineConfig {
    /// The effective detector stride.
    pub fn stride(&self) -> u64 {
        auto(self.detector_stride, self.horizon) as u64
    }

    /// Effective labels a challenger is fitted on.
    pub fn retrain_labels(&self) -> usize {
        auto(self.retrain_labels, (10 * self.horizon).max(300))
    }

    /// Effective bars between a retrain request and the challenger's first prediction.
    pub fn retrain_delay(&self) -> u64 {
        auto(self.retrain_delay, self.horizon) as u64
    }

    /// Effective shadow labels a promotion is decided on.
    pub fn challenger_labels(&self) -> usize {
        auto(self.challenger_labels, (20 * self.horizon).max(300))
    }

    /// Newey–West lags of the promotion interval: twice the overlap of consecutive labels.
    pub fn hac_lags(&self) -> usize {
        2 * self.horizon
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.promote_z > 0.0 && self.promote_z.is_finite()) || self.decisions_kept == 0 {
            return Err("promote_z and decisions_kept must be positive".into());
        }
        if self.retrain_labels() < 20 || self.challenger_labels() < 20 {
            return Err("retrain_labels and challenger_labels must be at least 20".into());
        }
        if self.window == 0 || self.horizon == 0 || self.adwin_clock == 0 {
            return Err("window, horizon and adwin_clock must be at least 1".into());
        }
        for (name, d) in [
            ("adwin_drift", self.adwin_drift),
            ("adwin_warning", self.adwin_warning),
        ] {
            if !(d > 0.0 && d < 1.0) {
                return Err(format!("{name} must be in (0, 1), got {d}"));
            }
        }
        let l = self.rls.forgetting;
        if !(l > 0.0 && l <= 1.0) {
            return Err(format!("rls.forgetting must be in (0, 1], got {l}"));
        }
        self.tree.validate()?;
        if self.tau_scale.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
            || self.error_window == 0
            || self.psi_every == 0
            || self.psi_window == 0
            || self.timeline_block == 0
            || self.timeline_blocks == 0
        {
            return Err(
                "tau_scale, error_window, psi_every, psi_window and the timeline sizes must be \
                 positive"
                    .into(),
            );
        }
        Ok(())
    }
}

/// A configured size, or its default where the configuration says 0 ("auto").
fn auto(configured: usize, default: usize) -> usize {
    if configured == 0 { default } else { configured }
}

/// A linear model on standardized inputs (the frozen member).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

impl LinearModel {
    pub fn predict(&self, z: &[f64]) -> f64 {
        self.intercept
            + z.iter()
                .zip(&self.coefficients)
                .map(|(a, b)| a * b)
                .sum::<f64>()
    }
}

/// What was fitted offline for one pair, on training rows only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairModel {
    pub pair: Pair,
    /// Input feature names (columns of the pair's feature set).
    pub inputs: Vec<String>,
    /// Standardization of the inputs (training mean and std).
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// The frozen member.
    pub frozen: LinearModel,
    /// The online learners' states after learning the training rows: the loop starts from
    /// them. Not kept in checkpoints (the loop's own learners are), so a restored model holds
    /// empty ones.
    #[serde(skip)]
    pub rls: Rls,
    #[serde(skip)]
    pub tree: HoeffdingTree,
    /// The frozen member's training MAE: detectors see errors divided by it.
    pub error_scale: f64,
    /// Training distribution of each input (`None`: too few or constant values).
    pub psi: Vec<Option<PsiReference>>,
    /// The last training bar (UTC µs).
    pub trained_until: i64,
}

impl PairModel {
    /// Standardizes raw inputs; `None` when one is not finite (warm-up).
    pub fn standardize(&self, raw: &[f64]) -> Option<Vec<f64>> {
        raw.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(x, (m, s))| x.is_finite().then(|| (x - m) / s))
            .collect()
    }
}

/// The members of the ensemble, in prediction order.
pub const MEMBERS: [&str; 3] = ["frozen", "rls", "tree"];

/// Severity of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// The numbers behind an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `adwin`, `adwin_warning`, `page_hinkley` or `psi`.
    pub detector: String,
    /// What the number is (`|mean(W0) − mean(W1)|`, `PH statistic`, `PSI`).
    pub statistic: String,
    pub value: f64,
    pub threshold: f64,
    /// Values the statistic was computed on.
    pub window: u64,
    /// The level before and after: the mean scaled error of the window before and after the
    /// cut (ADWIN), the statistic before and after the update (Page–Hinkley), or the largest
    /// PSI of a training window and the live window's PSI (PSI).
    pub before: f64,
    pub after: f64,
}

/// A drift alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Bar time (UTC µs).
    pub ts: i64,
    pub pair: Pair,
    pub severity: Severity,
    /// The member or feature the alert is about.
    pub subject: String,
    pub reason: String,
    pub evidence: Evidence,
    /// Anchor in `docs/playbook.md`.
    pub playbook: String,
}

/// The predictions of one bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub pair: Pair,
    pub ts: i64,
    /// One per member ([`MEMBERS`]).
    pub members: Vec<f64>,
    pub weights: Vec<f64>,
    pub ensemble: f64,
}

/// A label that matured at this bar, with the errors of the predictions made h rows earlier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matured {
    pub pair: Pair,
    /// When the prediction was made.
    pub made_ts: i64,
    pub ts: i64,
    pub label: f64,
    /// The predictions per member and the ensemble's.
    pub predictions: Vec<f64>,
    pub ensemble: f64,
    /// `label − prediction` per member.
    pub errors: Vec<f64>,
    pub ensemble_error: f64,
}

/// What one bar produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BarOutcome {
    pub signal: Option<Signal>,
    pub matured: Option<Matured>,
    pub alerts: Vec<Alert>,
    /// Champion/challenger decisions taken at this bar.
    pub decisions: Vec<Decision>,
    /// A challenger's training data, to be fitted by the caller and installed with
    /// [`OnlineLoop::install`] before [`OnlineLoop::due`] says it is needed.
    pub retrain: Option<RetrainRequest>,
}

/// A prediction waiting for its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    row: u64,
    ts: i64,
    /// Standardized inputs of row `row`.
    z: Vec<f64>,
    members: Vec<f64>,
    ensemble: f64,
    /// The members' weights in the ensemble.
    weights: Vec<f64>,
    /// The shadow challenger's id and prediction, when one was predicting.
    shadow: Option<(u32, f64)>,
}

/// Detectors and errors of one member.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MemberState {
    errors: ErrorWindow,
    adwin: Adwin,
    warning: Adwin,
    ph: PageHinkley,
}

impl MemberState {
    fn new(cfg: &OnlineConfig) -> MemberState {
        MemberState {
            errors: ErrorWindow::new(cfg.error_window),
            adwin: Adwin::new(AdwinConfig {
                clock: cfg.adwin_clock,
                ..AdwinConfig::with_delta(cfg.adwin_drift)
            }),
            warning: Adwin::new(AdwinConfig {
                clock: cfg.adwin_clock,
                ..AdwinConfig::with_delta(cfg.adwin_warning)
            }),
            ph: PageHinkley::new(cfg.page_hinkley),
        }
    }
}

/// Running totals of matured predictions (the static vs adaptive comparison).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub matured: u64,
    /// Σ|error| per member, then the ensemble.
    pub abs_error: Vec<f64>,
    /// Correct signs per member, then the ensemble (a zero label counts as neither).
    pub hits: Vec<u64>,
    pub signed: u64,
}

/// A block of consecutive matured labels: how the members and the ensemble did over time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Times of the first and last matured label (UTC µs).
    pub from: i64,
    pub to: i64,
    pub matured: u64,
    /// Σ|error| per member then the ensemble.
    pub abs_error: Vec<f64>,
    /// Σ of the frozen member's weight in the matured predictions.
    pub w_frozen: f64,
}

impl Block {
    /// MAE per member then the ensemble.
    pub fn mae(&self) -> Vec<f64> {
        let n = self.matured.max(1) as f64;
        self.abs_error.iter().map(|e| e / n).collect()
    }

    /// Mean weight of the frozen member.
    pub fn mean_w_frozen(&self) -> f64 {
        self.w_frozen / self.matured.max(1) as f64
    }
}

/// The serializable state of one pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairState {
    pub model: PairModel,
    /// Positions of the inputs in the feature row.
    columns: Vec<usize>,
    /// Bars consumed, history included.
    pub rows: u64,
    pub last_ts: Option<i64>,
    /// Bars consumed in live mode.
    pub live_rows: u64,
    closes: VecDeque<f64>,
    pending: VecDeque<Pending>,
    rls: Rls,
    tree: HoeffdingTree,
    members: Vec<MemberState>,
    psi: Vec<Option<PsiMonitor>>,
    /// Highest PSI level alerted per input (0 none, 1 info, 2 warning), re-armed when the PSI
    /// falls under half the information threshold.
    psi_level: Vec<u8>,
    pub totals: Totals,
    pub last_weights: Vec<f64>,
    /// Closed blocks of the timeline, oldest first, and the one being filled.
    pub timeline: VecDeque<Block>,
    pub open_block: Block,
    /// Every model that served as the frozen member, the current one last.
    pub champions: Vec<Champion>,
    pub challenger: Option<Challenger>,
    /// The decision log, oldest first.
    pub decisions: VecDeque<Decision>,
    next_challenger: u32,
}

impl PairState {
    /// The newest prediction (its label has not matured yet).
    pub fn latest(&self) -> Option<Signal> {
        self.pending.back().map(|p| Signal {
            pair: self.model.pair,
            ts: p.ts,
            members: p.members.clone(),
            weights: p.weights.clone(),
            ensemble: p.ensemble,
        })
    }
}

/// Everything a checkpoint holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoopState {
    pub config: OnlineConfig,
    /// The feature names of every pair's kernel set (must match on restore).
    pub feature_names: BTreeMap<Pair, Vec<String>>,
    pub pairs: BTreeMap<Pair, PairState>,
}

/// Errors of the loop.
#[derive(Debug, thiserror::Error)]
pub enum OnlineError {
    #[error("invalid online configuration: {0}")]
    Config(String),
    #[error("{pair}: the model's input {name:?} is not a feature of the pair's kernel set")]
    UnknownInput { pair: Pair, name: String },
    #[error("{pair}: no model for this pair")]
    UnknownPair { pair: Pair },
    #[error("{pair}: bar at {ts} is not after the last consumed bar ({last})")]
    NotAfter { pair: Pair, ts: i64, last: i64 },
    #[error("{pair}: bar at {ts} has a close that is not finite and positive ({close})")]
    BadClose { pair: Pair, ts: i64, close: f64 },
    #[error("{pair}: the checkpoint's feature names differ from the kernel set's")]
    SchemaMismatch { pair: Pair },
    #[error("{pair}: restoring replayed {got} bars but the checkpoint consumed {want}")]
    RestoreCount { pair: Pair, got: u64, want: u64 },
    #[error("{pair}: challenger {id} must be installed before the next bar")]
    ChallengerNotReady { pair: Pair, id: u32 },
    #[error("{pair}: no challenger {id} is waiting for its model")]
    UnknownChallenger { pair: Pair, id: u32 },
    #[error("{pair}: only the offline champion has served; there is nothing to roll back")]
    NothingToRollBack { pair: Pair },
}

struct Runtime {
    kernel: FeatureSet,
    row: Vec<f64>,
}

/// The loop.
pub struct OnlineLoop {
    state: LoopState,
    kernels: BTreeMap<Pair, Runtime>,
}

impl std::fmt::Debug for OnlineLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineLoop")
            .field("pairs", &self.state.pairs.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn columns_of(model: &PairModel, names: &[String]) -> Result<Vec<usize>, OnlineError> {
    model
        .inputs
        .iter()
        .map(|n| {
            names
                .iter()
                .position(|m| m == n)
                .ok_or_else(|| OnlineError::UnknownInput {
                    pair: model.pair,
                    name: n.clone(),
                })
        })
        .collect()
}

impl OnlineLoop {
    /// A fresh loop: one `(model, kernel set)` per pair; the kernels must be fresh.
    pub fn new(
        config: OnlineConfig,
        pairs: Vec<(PairModel, FeatureSet)>,
    ) -> Result<OnlineLoop, OnlineError> {
        config.validate().map_err(OnlineError::Config)?;
        let mut state = LoopState {
            config,
            feature_names: BTreeMap::new(),
            pairs: BTreeMap::new(),
        };
        let mut kernels = BTreeMap::new();
        for (model, mut kernel) in pairs {
            kernel.reset();
            let names = kernel.names();
            let columns = columns_of(&model, &names)?;
            let cfg = &state.config;
            let n = MEMBERS.len();
            let ps = PairState {
                columns,
                rows: 0,
                last_ts: None,
                live_rows: 0,
                closes: VecDeque::with_capacity(cfg.window + 1),
                pending: VecDeque::new(),
                rls: model.rls.clone(),
                tree: model.tree.clone(),
                members: (0..n).map(|_| MemberState::new(cfg)).collect(),
                psi: model
                    .psi
                    .iter()
                    .map(|r| r.clone().map(|r| PsiMonitor::new(r, cfg.psi_window)))
                    .collect(),
                psi_level: vec![0; model.inputs.len()],
                totals: Totals {
                    matured: 0,
                    abs_error: vec![0.0; n + 1],
                    hits: vec![0; n + 1],
                    signed: 0,
                },
                last_weights: vec![1.0 / n as f64; n],
                timeline: VecDeque::new(),
                open_block: Block::default(),
                champions: vec![Champion {
                    id: 0,
                    model: model.frozen.clone(),
                    since_ts: model.trained_until,
                }],
                challenger: None,
                decisions: VecDeque::new(),
                next_challenger: 1,
                model,
            };
            let pair = ps.model.pair;
            state.feature_names.insert(pair, names);
            state.pairs.insert(pair, ps);
            kernels.insert(
                pair,
                Runtime {
                    row: vec![f64::NAN; kernel.width()],
                    kernel,
                },
            );
        }
        Ok(OnlineLoop { state, kernels })
    }

    /// Rebuilds a loop from a checkpoint: `history(pair)` must yield the pair's stored bars up
    /// to and including the checkpoint's last bar, in order; they only advance the kernels.
    pub fn restore(
        state: LoopState,
        mut kernels: Vec<(Pair, FeatureSet)>,
        mut history: impl FnMut(Pair) -> Result<Vec<BarInput>, String>,
    ) -> Result<OnlineLoop, RestoreError> {
        state.config.validate().map_err(OnlineError::Config)?;
        let mut rt = BTreeMap::new();
        for (pair, mut kernel) in kernels.drain(..) {
            let ps = state
                .pairs
                .get(&pair)
                .ok_or(OnlineError::UnknownPair { pair })?;
            kernel.reset();
            if state.feature_names.get(&pair) != Some(&kernel.names()) {
                return Err(OnlineError::SchemaMismatch { pair }.into());
            }
            let mut row = vec![f64::NAN; kernel.width()];
            let bars = history(pair).map_err(RestoreError::History)?;
            let upto: Vec<&BarInput> = bars
                .iter()
                .filter(|b| ps.last_ts.is_some_and(|l| b.ts <= l))
                .collect();
            if upto.len() as u64 != ps.rows {
                return Err(OnlineError::RestoreCount {
                    pair,
                    got: upto.len() as u64,
                    want: ps.rows,
                }
                .into());
            }
            for b in upto {
                kernel.update(b, &mut row);
            }
            rt.insert(pair, Runtime { kernel, row });
        }
        if let Some(&pair) = state.pairs.keys().find(|p| !rt.contains_key(p)) {
            return Err(OnlineError::UnknownPair { pair }.into());
        }
        Ok(OnlineLoop { state, kernels: rt })
    }

    pub fn state(&self) -> &LoopState {
        &self.state
    }

    pub fn config(&self) -> &OnlineConfig {
        &self.state.config
    }

    pub fn pairs(&self) -> impl Iterator<Item = Pair> + '_ {
        self.state.pairs.keys().copied()
    }

    /// The feature row of `pair` after its last bar (with a kernel set restricted by
    /// `FeatureSet::retain_for`, only the retained columns are computed; the rest are NaN).
    pub fn features(&self, pair: Pair) -> Option<&[f64]> {
        self.kernels.get(&pair).map(|r| r.row.as_slice())
    }

    /// Consumes a bar of history: advances the features and the label buffer only.
    pub fn warm(&mut self, pair: Pair, bar: &BarInput) -> Result<(), OnlineError> {
        self.advance(pair, bar)?;
        Ok(())
    }

    /// Consumes a live bar: features, matured label (scored, learned, detected), predictions.
    pub fn step(&mut self, pair: Pair, bar: &BarInput) -> Result<BarOutcome, OnlineError> {
        if let Some(id) = self.due(pair) {
            return Err(OnlineError::ChallengerNotReady { pair, id });
        }
        let label = self.advance(pair, bar)?;
        let cfg = self.state.config.clone();
        let ps = self.state.pairs.get_mut(&pair).expect("advanced above");
        let rt = self.kernels.get(&pair).expect("advanced above");
        let row = ps.rows - 1;
        ps.live_rows += 1;
        let mut out = BarOutcome::default();

        // 0. A fitted challenger starts its shadow at its due row.
        start_shadow(ps, &cfg, row, bar.ts, &mut out);

        // 1. The label of the prediction made h rows ago, paired with that row's inputs.
        while ps
            .pending
            .front()
            .is_some_and(|p| p.row + cfg.horizon as u64 <= row)
        {
            let p = ps.pending.pop_front().expect("front exists");
            if p.row + cfg.horizon as u64 == row
                && let Some(y) = label
            {
                out.matured = Some(mature(ps, &cfg, p, y, bar.ts, row, &mut out));
            }
        }

        // 2. Inputs and feature drift.
        let raw: Vec<f64> = ps.columns.iter().map(|&j| rt.row[j]).collect();
        for (i, m) in ps.psi.iter_mut().enumerate() {
            if let Some(m) = m {
                m.update(raw[i]);
            }
        }
        if ps.live_rows.is_multiple_of(cfg.psi_every as u64) {
            check_psi(ps, &cfg, bar.ts, &mut out.alerts);
        }

        // 3. Predictions.
        if let Some(z) = ps.model.standardize(&raw) {
            let members = vec![
                ps.model.frozen.predict(&z),
                ps.rls.predict(&z),
                ps.tree.predict(&z),
            ];
            let windows: Vec<&ErrorWindow> = ps.members.iter().map(|m| &m.errors).collect();
            let weights = softmax_weights(&windows, cfg.tau_scale, cfg.min_errors);
            let ensemble = members.iter().zip(&weights).map(|(p, w)| p * w).sum();
            ps.last_weights.clone_from(&weights);
            let shadow = match &ps.challenger {
                Some(Challenger::Shadow { id, model, .. }) => Some((*id, model.predict(&z))),
                _ => None,
            };
            ps.pending.push_back(Pending {
                row,
                ts: bar.ts,
                z,
                members: members.clone(),
                ensemble,
                weights: weights.clone(),
                shadow,
            });
            out.signal = Some(Signal {
                pair,
                ts: bar.ts,
                members,
                weights,
                ensemble,
            });
        }
        Ok(out)
    }

    /// The challenger whose model must be installed before `pair`'s next bar, if any.
    pub fn due(&self, pair: Pair) -> Option<u32> {
        let ps = self.state.pairs.get(&pair)?;
        match &ps.challenger {
            Some(Challenger::Fitting {
                id,
                due_row,
                fitted: None,
                ..
            }) if *due_row <= ps.rows => Some(*id),
            _ => None,
        }
    }

    /// Every challenger handed out for fitting whose model is not installed yet (a resumed
    /// loop's caller fits them again: the fit is a function of the request).
    pub fn retrain_requests(&self) -> Vec<RetrainRequest> {
        self.state
            .pairs
            .iter()
            .filter_map(|(&pair, ps)| match &ps.challenger {
                Some(Challenger::Fitting {
                    id,
                    z,
                    y,
                    fitted: None,
                    ..
                }) => Some(RetrainRequest {
                    pair,
                    id: *id,
                    z: z.clone(),
                    y: y.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Installs a challenger's fitted model (or why the fit failed); it starts predicting at
    /// its due row.
    pub fn install(
        &mut self,
        pair: Pair,
        id: u32,
        fitted: Result<LinearModel, String>,
    ) -> Result<(), OnlineError> {
        let ps = self
            .state
            .pairs
            .get_mut(&pair)
            .ok_or(OnlineError::UnknownPair { pair })?;
        match &mut ps.challenger {
            Some(Challenger::Fitting {
                id: cid,
                fitted: slot @ None,
                ..
            }) if *cid == id => {
                *slot = Some(fitted);
                Ok(())
            }
            _ => Err(OnlineError::UnknownChallenger { pair, id }),
        }
    }

    /// Makes the previous champion of `pair` serve again (see [`PairState::rollback`]).
    pub fn rollback(&mut self, pair: Pair) -> Result<Decision, OnlineError> {
        self.state.rollback(pair)
    }

    /// Advances the kernels and the close buffer; returns `bqx_return_W` at this bar (the label
    /// of the row h earlier) when defined.
    fn advance(&mut self, pair: Pair, bar: &BarInput) -> Result<Option<f64>, OnlineError> {
        let w = self.state.config.window;
        let ps = self
            .state
            .pairs
            .get_mut(&pair)
            .ok_or(OnlineError::UnknownPair { pair })?;
        if let Some(last) = ps.last_ts
            && bar.ts <= last
        {
            return Err(OnlineError::NotAfter {
                pair,
                ts: bar.ts,
                last,
            });
        }
        if !(bar.close.is_finite() && bar.close > 0.0) {
            return Err(OnlineError::BadClose {
                pair,
                ts: bar.ts,
                close: bar.close,
            });
        }
        let rt = self.kernels.get_mut(&pair).expect("a kernel per pair");
        rt.kernel.update(bar, &mut rt.row);
        ps.rows += 1;
        ps.last_ts = Some(bar.ts);
        if ps.closes.len() == w + 1 {
            ps.closes.pop_front();
        }
        ps.closes.push_back(bar.close);
        Ok((ps.closes.len() == w + 1).then(|| {
            // Same arithmetic as the batch target (bqx_eval::targets::bqx_return): a direct
            // sum of the W previous closes, oldest first.
            let r = bar.close;
            let s: f64 = ps.closes.iter().take(w).sum();
            (s - w as f64 * r) / r
        }))
    }
}

/// A restore failure.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Online(#[from] OnlineError),
    #[error("reading the stored history: {0}")]
    History(String),
}

fn mature(
    ps: &mut PairState,
    cfg: &OnlineConfig,
    p: Pending,
    y: f64,
    ts: i64,
    row: u64,
    out: &mut BarOutcome,
) -> Matured {
    let alerts = &mut out.alerts;
    let mut champion_drift = false;
    let pair = ps.model.pair;
    let errors: Vec<f64> = p.members.iter().map(|m| y - m).collect();
    let ensemble_error = y - p.ensemble;
    let t = &mut ps.totals;
    t.matured += 1;
    for (k, e) in errors.iter().chain([&ensemble_error]).enumerate() {
        t.abs_error[k] += e.abs();
    }
    let b = &mut ps.open_block;
    if b.matured == 0 {
        b.from = ts;
        b.abs_error = vec![0.0; errors.len() + 1];
    }
    b.to = ts;
    b.matured += 1;
    b.w_frozen += p.weights[0];
    for (k, e) in errors.iter().chain([&ensemble_error]).enumerate() {
        b.abs_error[k] += e.abs();
    }
    if b.matured as usize == cfg.timeline_block {
        let full = std::mem::take(b);
        if ps.timeline.len() == cfg.timeline_blocks {
            ps.timeline.pop_front();
        }
        ps.timeline.push_back(full);
    }
    let t = &mut ps.totals;
    if y != 0.0 {
        t.signed += 1;
        for (k, pred) in p.members.iter().chain([&p.ensemble]).enumerate() {
            if pred.signum() == y.signum() {
                t.hits[k] += 1;
            }
        }
    }
    let scale = ps.model.error_scale;
    let detect = (t.matured - 1).is_multiple_of(cfg.stride());
    for (k, (m, e)) in ps.members.iter_mut().zip(&errors).enumerate() {
        let s = e.abs() / scale;
        m.errors.push(e.abs());
        if !detect {
            continue;
        }
        let subject = MEMBERS[k];
        let (w_before, mean_before) = (m.adwin.width(), m.adwin.mean());
        if m.adwin.update(s) {
            champion_drift |= k == 0;
            alerts.push(Alert {
                ts,
                pair,
                severity: Severity::Critical,
                subject: subject.into(),
                reason: format!(
                    "the {subject} member's error changed: ADWIN (δ = {}) cut its window; the \
                     mean scaled |error| went from {mean_before:.3} over {w_before} labels to \
                     {:.3} over the most recent {}",
                    cfg.adwin_drift,
                    m.adwin.mean(),
                    m.adwin.width()
                ),
                evidence: Evidence {
                    detector: "adwin".into(),
                    statistic: "mean scaled |error| of the recent sub-window".into(),
                    value: m.adwin.mean(),
                    threshold: cfg.adwin_drift,
                    window: w_before as u64 + 1,
                    before: mean_before,
                    after: m.adwin.mean(),
                },
                playbook: "docs/playbook.md#error-drift".into(),
            });
        }
        let (ww_before, wmean_before) = (m.warning.width(), m.warning.mean());
        if m.warning.update(s) {
            alerts.push(Alert {
                ts,
                pair,
                severity: Severity::Warning,
                subject: subject.into(),
                reason: format!(
                    "the {subject} member's error may be changing: ADWIN at the warning level \
                     (δ = {}) cut its window",
                    cfg.adwin_warning
                ),
                evidence: Evidence {
                    detector: "adwin_warning".into(),
                    statistic: "mean scaled |error| of the recent sub-window".into(),
                    value: m.warning.mean(),
                    threshold: cfg.adwin_warning,
                    window: ww_before as u64 + 1,
                    before: wmean_before,
                    after: m.warning.mean(),
                },
                playbook: "docs/playbook.md#error-warning".into(),
            });
        }
        let stat_before = m.ph.statistic();
        if m.ph.update(s) {
            alerts.push(Alert {
                ts,
                pair,
                severity: Severity::Warning,
                subject: subject.into(),
                reason: format!(
                    "the {subject} member's mean error shifted: Page–Hinkley's statistic {:.1} \
                     passed λ = {}",
                    m.ph.statistic(),
                    cfg.page_hinkley.threshold
                ),
                evidence: Evidence {
                    detector: "page_hinkley".into(),
                    statistic: "max(U − min U, max L − L) on scaled |error|".into(),
                    value: m.ph.statistic(),
                    threshold: cfg.page_hinkley.threshold,
                    window: m.errors.len() as u64,
                    before: stat_before,
                    after: m.ph.statistic(),
                },
                playbook: "docs/playbook.md#error-shift".into(),
            });
        }
    }
    challenge(ps, cfg, &p, y, ts, row, champion_drift, out);
    // The online learners learn the matured pair (x(t−h), y(t−h)).
    ps.rls.update(&p.z, y);
    ps.tree.update(&p.z, y);
    Matured {
        pair,
        made_ts: p.ts,
        ts,
        label: y,
        predictions: p.members,
        ensemble: p.ensemble,
        errors,
        ensemble_error,
    }
}

fn check_psi(ps: &mut PairState, cfg: &OnlineConfig, ts: i64, alerts: &mut Vec<Alert>) {
    for (i, m) in ps.psi.iter().enumerate() {
        let Some(m) = m else { continue };
        if !m.is_full() {
            continue;
        }
        let v = m.psi();
        // Thresholds: the conventional ones, raised to how far the training windows themselves
        // wandered (the median for information, the largest for a warning).
        let r = m.reference();
        let (info_at, warn_at) = (
            cfg.psi_warning.max(r.train_median),
            cfg.psi_critical.max(r.train_max),
        );
        let level = if v >= warn_at {
            2
        } else if v >= info_at {
            1
        } else {
            0
        };
        if level == 0 {
            // Re-armed only well below the threshold (hysteresis): a PSI hovering around it
            // raises one alert, not one per check.
            if v < 0.5 * info_at {
                ps.psi_level[i] = 0;
            }
            continue;
        }
        if level <= ps.psi_level[i] {
            continue;
        }
        ps.psi_level[i] = level;
        // A moved feature is a reason to look, not a confirmed loss of accuracy: PSI alerts
        // are warnings (major shift) or information (moderate); critical is kept for error
        // drift confirmed by ADWIN.
        let (severity, threshold) = if level == 2 {
            (Severity::Warning, warn_at)
        } else {
            (Severity::Info, info_at)
        };
        let name = &ps.model.inputs[i];
        alerts.push(Alert {
            ts,
            pair: ps.model.pair,
            severity,
            subject: name.clone(),
            reason: format!(
                "the distribution of {name} moved away from training: PSI {v:.3} over the last \
                 {} bars (≥ {threshold:.3}; training windows reached {:.3})",
                m.len(),
                r.train_max
            ),
            evidence: Evidence {
                detector: "psi".into(),
                statistic: "population stability index vs training deciles".into(),
                value: v,
                threshold,
                window: m.len() as u64,
                before: r.train_max,
                after: v,
            },
            playbook: "docs/playbook.md#feature-drift".into(),
        });
    }
}

/// Appends a decision to the pair's bounded log and to the bar's outcome.
fn log_decision(ps: &mut PairState, cfg: &OnlineConfig, out: &mut Vec<Decision>, d: Decision) {
    if ps.decisions.len() == cfg.decisions_kept {
        ps.decisions.pop_front();
    }
    ps.decisions.push_back(d.clone());
    out.push(d);
}

fn champion_id(ps: &PairState) -> u32 {
    ps.champions.last().map_or(0, |c| c.id)
}

/// A fitted challenger starts predicting in shadow at its due row; a failed fit is logged.
fn start_shadow(ps: &mut PairState, cfg: &OnlineConfig, row: u64, ts: i64, out: &mut BarOutcome) {
    let ready = matches!(
        &ps.challenger,
        Some(Challenger::Fitting { due_row, fitted: Some(_), .. }) if *due_row <= row
    );
    if !ready {
        return;
    }
    let Some(Challenger::Fitting {
        id,
        fitted: Some(fitted),
        y: rows,
        ..
    }) = ps.challenger.take()
    else {
        unreachable!("checked above")
    };
    match fitted {
        Ok(model) => {
            ps.challenger = Some(Challenger::Shadow {
                id,
                model,
                since_ts: ts,
                needed: cfg.challenger_labels(),
                champion_abs: Vec::new(),
                challenger_abs: Vec::new(),
            });
        }
        Err(why) => {
            let pair = ps.model.pair;
            let reason = format!("challenger {id} could not be fitted ({why}); the champion stays");
            out.alerts.push(Alert {
                ts,
                pair,
                severity: Severity::Warning,
                subject: MEMBERS[0].into(),
                reason: reason.clone(),
                evidence: Evidence {
                    detector: "challenger".into(),
                    statistic: "labels the fit was given".into(),
                    value: rows.len() as f64,
                    threshold: 0.0,
                    window: rows.len() as u64,
                    before: 0.0,
                    after: 0.0,
                },
                playbook: "docs/playbook.md#challenger".into(),
            });
            let d = Decision {
                pair,
                ts,
                kind: DecisionKind::FitFailed,
                challenger: id,
                champion: champion_id(ps),
                reason,
                test: None,
            };
            log_decision(ps, cfg, &mut out.decisions, d);
        }
    }
}

/// The champion/challenger part of a matured label: collect, score the shadow, decide, or
/// start a challenger after a confirmed drift of the champion's error.
#[allow(clippy::too_many_arguments)]
fn challenge(
    ps: &mut PairState,
    cfg: &OnlineConfig,
    p: &Pending,
    y: f64,
    ts: i64,
    row: u64,
    champion_drift: bool,
    out: &mut BarOutcome,
) {
    let pair = ps.model.pair;
    match ps.challenger.take() {
        Some(Challenger::Collecting {
            id,
            started_ts,
            needed,
            mut z,
            y: mut ys,
        }) => {
            z.push(p.z.clone());
            ys.push(y);
            if ys.len() < needed {
                ps.challenger = Some(Challenger::Collecting {
                    id,
                    started_ts,
                    needed,
                    z,
                    y: ys,
                });
                return;
            }
            let delay = cfg.retrain_delay();
            out.retrain = Some(RetrainRequest {
                pair,
                id,
                z: z.clone(),
                y: ys.clone(),
            });
            let d = Decision {
                pair,
                ts,
                kind: DecisionKind::RetrainRequested,
                challenger: id,
                champion: champion_id(ps),
                reason: format!(
                    "{} labels matured since the drift; challenger {id} is fitted on them off the \
                     loop and predicts in shadow from {delay} bars on",
                    ys.len()
                ),
                test: None,
            };
            ps.challenger = Some(Challenger::Fitting {
                id,
                due_row: row + delay,
                z,
                y: ys,
                fitted: None,
            });
            log_decision(ps, cfg, &mut out.decisions, d);
        }
        Some(Challenger::Shadow {
            id,
            model,
            since_ts,
            needed,
            mut champion_abs,
            mut challenger_abs,
        }) => {
            if let Some((sid, pred)) = p.shadow
                && sid == id
            {
                champion_abs.push((y - p.members[0]).abs());
                challenger_abs.push((y - pred).abs());
            }
            if challenger_abs.len() < needed {
                ps.challenger = Some(Challenger::Shadow {
                    id,
                    model,
                    since_ts,
                    needed,
                    champion_abs,
                    challenger_abs,
                });
                return;
            }
            decide(ps, cfg, ts, id, model, &champion_abs, &challenger_abs, out);
        }
        other => ps.challenger = other,
    }
    if champion_drift && cfg.retrain && ps.challenger.is_none() {
        let id = ps.next_challenger;
        ps.next_challenger += 1;
        let needed = cfg.retrain_labels();
        ps.challenger = Some(Challenger::Collecting {
            id,
            started_ts: ts,
            needed,
            z: Vec::new(),
            y: Vec::new(),
        });
        let d = Decision {
            pair,
            ts,
            kind: DecisionKind::RetrainStarted,
            challenger: id,
            champion: champion_id(ps),
            reason: format!(
                "ADWIN confirmed a drift of the frozen member's error; challenger {id} will be \
                 fitted on the next {needed} matured labels"
            ),
            test: None,
        };
        log_decision(ps, cfg, &mut out.decisions, d);
    }
}

/// Promotes the challenger when the lower bound of the paired difference's interval is above 0.
#[allow(clippy::too_many_arguments)]
fn decide(
    ps: &mut PairState,
    cfg: &OnlineConfig,
    ts: i64,
    id: u32,
    model: LinearModel,
    champion_abs: &[f64],
    challenger_abs: &[f64],
    out: &mut BarOutcome,
) {
    let pair = ps.model.pair;
    let n = challenger_abs.len();
    let d: Vec<f64> = champion_abs
        .iter()
        .zip(challenger_abs)
        .map(|(a, b)| a - b)
        .collect();
    let (mean, lo, hi) = hac_interval(&d, cfg.hac_lags(), cfg.promote_z);
    let test = PairedTest {
        labels: n,
        champion_mae: champion_abs.iter().sum::<f64>() / n as f64,
        challenger_mae: challenger_abs.iter().sum::<f64>() / n as f64,
        mean_diff: mean,
        lo,
        hi,
        hac_lags: cfg.hac_lags().min(n.saturating_sub(1)),
        z: cfg.promote_z,
    };
    let promoted = lo > 0.0;
    let before = champion_id(ps);
    let summary = format!(
        "over {n} paired labels the champion's MAE was {:.4} and challenger {id}'s {:.4}; the \
         mean difference {mean:.4} has the interval [{lo:.4}, {hi:.4}]",
        test.champion_mae, test.challenger_mae
    );
    let (kind, severity, reason) = if promoted {
        ps.champions.push(Champion {
            id,
            model: model.clone(),
            since_ts: ts,
        });
        ps.model.frozen = model;
        // The new champion's detectors start afresh; its error window starts from its own
        // shadow errors, which are out-of-sample errors of the same model.
        let mut fresh = MemberState::new(cfg);
        for &e in &challenger_abs[n.saturating_sub(cfg.error_window)..] {
            fresh.errors.push(e);
        }
        ps.members[0] = fresh;
        (
            DecisionKind::Promoted,
            Severity::Warning,
            format!("challenger {id} replaced champion {before} as the frozen member: {summary}"),
        )
    } else {
        (
            DecisionKind::Rejected,
            Severity::Info,
            format!(
                "challenger {id} was discarded, champion {before} stays: {summary}, which does \
                 not exclude 0 on the challenger's side"
            ),
        )
    };
    out.alerts.push(Alert {
        ts,
        pair,
        severity,
        subject: MEMBERS[0].into(),
        reason: reason.clone(),
        evidence: Evidence {
            detector: "challenger".into(),
            statistic: "mean |e_champion| − |e_challenger| (Newey–West interval)".into(),
            value: mean,
            threshold: 0.0,
            window: n as u64,
            before: test.champion_mae,
            after: test.challenger_mae,
        },
        playbook: "docs/playbook.md#challenger".into(),
    });
    let d = Decision {
        pair,
        ts,
        kind,
        challenger: id,
        champion: champion_id(ps),
        reason,
        test: Some(test),
    };
    log_decision(ps, cfg, &mut out.decisions, d);
}

impl PairState {
    /// Makes the previous champion serve again: the current one is dropped from the stack, the
    /// frozen member's detectors start afresh and a challenger in flight is discarded. The
    /// decision is logged at the pair's last bar.
    pub fn rollback(&mut self, cfg: &OnlineConfig) -> Result<Decision, OnlineError> {
        let pair = self.model.pair;
        if self.champions.len() < 2 {
            return Err(OnlineError::NothingToRollBack { pair });
        }
        let gone = self.champions.pop().expect("two or more");
        let back = self.champions.last().expect("one or more");
        self.model.frozen = back.model.clone();
        self.members[0] = MemberState::new(cfg);
        let discarded = self.challenger.take().map(|c| c.id());
        let d = Decision {
            pair,
            ts: self.last_ts.unwrap_or(self.model.trained_until),
            kind: DecisionKind::RolledBack,
            challenger: gone.id,
            champion: back.id,
            reason: format!(
                "rolled back: champion {} (serving since {}) replaced by champion {}{}",
                gone.id,
                gone.since_ts,
                back.id,
                discarded.map_or(String::new(), |c| format!("; challenger {c} discarded"))
            ),
            test: None,
        };
        if self.decisions.len() == cfg.decisions_kept {
            self.decisions.pop_front();
        }
        self.decisions.push_back(d.clone());
        Ok(d)
    }
}

impl LoopState {
    /// [`PairState::rollback`] on a stored state (a stopped session's checkpoint).
    pub fn rollback(&mut self, pair: Pair) -> Result<Decision, OnlineError> {
        let ps = self
            .pairs
            .get_mut(&pair)
            .ok_or(OnlineError::UnknownPair { pair })?;
        ps.rollback(&self.config)
    }
}
