//! `bqx online`: the stage-2.19 loop over stored bars or a replayed file.
//!
//! A session is one loop over a fixed set of series. For each pair, the bars before the live
//! start are its **training part**: the frozen member (a ridge on the pair's own features, its
//! penalty chosen on the training part's last 20 %), the inputs, their standardization, the
//! PSI references and the online learner's starting state are fitted there and nowhere else.
//! The loop then consumes the live bars one at a time in time order, through the same kernels
//! as the batch features ([`bqx_online::OnlineLoop`]).
//!
//! - `--from-store`: the live part is the last `1 − train_fraction` of each pair's stored bars;
//! - `--replay FILE`: the file is ingested first (validation, quarantine and storage are
//!   ingest's), and its bars after each pair's previously stored history are the live part.
//!
//! Durability: every `checkpoint_every` live bars (and at the end) the rows produced since the
//! previous checkpoint go to DuckDB, then the loop state with the new alerts to the registry
//! ([`bqx_store::Store::online_checkpoint`]). Running the same request again resumes from the
//! checkpoint: the rows after it are deleted, the kernels are rebuilt from the stored bars up
//! to it, and the loop continues with the next bar — each bar is consumed once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bqx_domain::{BarColumns, Pair};
use bqx_eval::targets::bqx_target;
use bqx_features::{BarInput, FeatureSet, SourceCaps, compute_batch, pearson_pairwise};
use bqx_models::{Matrix, Regressor, Ridge, RidgeConfig};
use bqx_online::{
    Alert, Decision, Evidence, HoeffdingTree, LinearModel, LoopState, MEMBERS, OnlineConfig,
    OnlineLoop, PairModel, PsiMonitor, PsiReference, RetrainRequest, Rls, Severity, Signal,
};
use bqx_store::{
    AlertRow, OnlineCheckpoint, OnlineMaturedRow, OnlineSignalRow, RunStatus, SeriesKey,
    SeriesSummary, Store,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ingest::{IngestRequest, ingest, ingest_with_store};
use crate::progress::{task_advanced, task_finished, task_started};
use crate::run::is_close_only;
use crate::{AppError, ErrorCode, Progress, open_store};

/// Version of the session logic (part of the session key).
const ONLINE_VERSION: u32 = 2;
/// Minimum training rows with every input and the target defined.
pub const MIN_TRAIN_ROWS: usize = 200;

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnlineRequest {
    /// Replay this file (ingested first); `None`: replay the store's own bars.
    pub replay: Option<PathBuf>,
    /// After the stored bars, keep watching this folder: a file created or changed in it (any
    /// ingest format) is ingested, and its new bars go through the loop.
    pub watch: Option<PathBuf>,
    /// Watch the store's own inbox (`<store>/inbox`, where `POST /api/v1/bars` puts bars)
    /// instead of a folder of one's own.
    pub watch_inbox: bool,
    /// Seconds between two looks at the watched folder.
    pub poll_seconds: f64,
    /// Pairs (empty: every stored pair of the timeframe).
    pub pairs: Vec<Pair>,
    /// Timeframe (`M1`, `H1`, `D1`…; default: the one with the most stored pairs).
    pub timeframe: Option<String>,
    /// `--from-store`: the share of each pair's bars used for training.
    pub train_fraction: f64,
    /// Inputs per pair (the most correlated with the target on the training part).
    pub inputs: usize,
    /// Replay at N× the bars' own pace (`None`: as fast as possible).
    pub speed: Option<f64>,
    /// Stop after this many live bars (the state is checkpointed; running again resumes).
    pub max_bars: Option<u64>,
    /// Live bars between checkpoints.
    pub checkpoint_every: u64,
    /// Forget an existing checkpoint of the same session and start again.
    pub fresh: bool,
    pub config: OnlineConfig,
}

impl Default for OnlineRequest {
    fn default() -> Self {
        OnlineRequest {
            replay: None,
            watch: None,
            watch_inbox: false,
            poll_seconds: 1.0,
            pairs: Vec::new(),
            timeframe: None,
            train_fraction: 0.7,
            inputs: 16,
            speed: None,
            max_bars: None,
            checkpoint_every: 10_000,
            fresh: false,
            config: OnlineConfig::default(),
        }
    }
}

/// What a session is: fixed at its start, part of its checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionPlan {
    version: u32,
    /// `store` or the SHA-256 of the replayed file.
    source: String,
    series: Vec<SeriesKey>,
    /// First live bar time per pair (the training part is everything before).
    live_from: BTreeMap<Pair, i64>,
    train_fraction: f64,
    inputs: usize,
    config: OnlineConfig,
}

/// A checkpoint's state column.
#[derive(Serialize, Deserialize)]
struct Saved {
    plan: SessionPlan,
    state: LoopState,
    train_rows: BTreeMap<Pair, usize>,
}

/// A checkpoint's state as stored: MessagePack with field names (self-describing, so a reader
/// can take only the plan). It is megabytes (trees' histograms, pending inputs, timelines), and
/// binary floats make it half the size of JSON and several times faster to write.
fn encode_state(v: &impl Serialize) -> Result<Vec<u8>, AppError> {
    rmp_serde::to_vec_named(v).map_err(internal)
}

/// Reads a stored state: MessagePack, or JSON text from sessions written before.
fn decode_state<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.first() == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(internal)
    } else {
        rmp_serde::from_slice(bytes).map_err(internal)
    }
}

/// [`Saved`] by reference, for writing a checkpoint.
#[derive(Serialize)]
struct SavedRef<'a> {
    plan: &'a SessionPlan,
    state: &'a LoopState,
    train_rows: &'a BTreeMap<Pair, usize>,
}

/// Something the loop wants the user to see.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OnlineEvent {
    Started {
        session: String,
        pairs: Vec<Pair>,
        live_bars: u64,
        resumed_at: u64,
    },
    Alert(Alert),
    /// A champion/challenger decision (retrain started or requested, promotion, rejection,
    /// failed fit).
    Decision(Decision),
    /// The latest signals after a bar time (sent every `signal_every` live bars).
    Signals {
        ts: i64,
        signals: Vec<Signal>,
    },
    Checkpoint {
        live_bars: u64,
        stats: OnlineStats,
    },
    /// A file of the watched folder was ingested.
    Watched {
        file: PathBuf,
        bars_written: u64,
        rejected: u64,
    },
    /// A file of the watched folder could not be ingested (it is retried when it changes).
    WatchError {
        file: PathBuf,
        message: String,
    },
}

/// What the bars since the previous checkpoint did (for counters such as Prometheus').
#[derive(Debug, Clone, Default, Serialize)]
pub struct OnlineStats {
    /// Live bars consumed.
    pub bars: u64,
    /// Seconds per bar from its arrival to its predictions, learning and detectors (store
    /// writes excluded), one per bar; kept in the process (not serialized).
    #[serde(skip)]
    pub step_seconds: Vec<f32>,
    pub pairs: Vec<PairStats>,
}

/// One pair's matured labels since the previous checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct PairStats {
    pub pair: Pair,
    pub matured: u64,
    /// Labels with a sign (a zero label counts for neither direction).
    pub signed: u64,
    /// Σ|error| per member ([`MEMBERS`]) then the ensemble.
    pub abs_error: Vec<f64>,
    /// Correct signs per member then the ensemble.
    pub hits: Vec<u64>,
    /// The weights in force after the last bar.
    pub weights: Vec<f64>,
}

/// Accuracy of one pair (or all pairs pooled) over the matured labels.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineScore {
    pub matured: u64,
    /// MAE per member ([`MEMBERS`]) then the ensemble.
    pub mae: Vec<f64>,
    /// Directional accuracy per member then the ensemble.
    pub da: Vec<f64>,
}

/// One block of a pair's matured labels (static vs adaptive over time).
#[derive(Debug, Clone, Serialize)]
pub struct OnlineBlock {
    /// Matured-label times of the block (UTC µs, inclusive).
    pub from: i64,
    pub to: i64,
    pub matured: u64,
    /// MAE per member then the ensemble.
    pub mae: Vec<f64>,
    /// Mean frozen-member weight of the predictions that matured in the block.
    pub w_frozen: f64,
}

/// One pair of the session.
#[derive(Debug, Clone, Serialize)]
pub struct OnlinePair {
    pub pair: Pair,
    pub inputs: Vec<String>,
    pub train_rows: usize,
    pub live_bars: u64,
    pub score: OnlineScore,
    pub weights: Vec<f64>,
    /// The newest prediction.
    pub latest: Option<Signal>,
    /// The session's matured labels in blocks of `timeline_block` labels (the configuration's),
    /// oldest first; the last block may be partly filled.
    pub timeline: Vec<OnlineBlock>,
    /// Id of the frozen member's model (0: the offline fit) and the ids that served before it.
    pub champion: u32,
    pub champions: Vec<u32>,
    pub challenger: Option<ChallengerView>,
    /// The decision log, newest first.
    pub decisions: Vec<Decision>,
}

/// A challenger in flight.
#[derive(Debug, Clone, Serialize)]
pub struct ChallengerView {
    pub id: u32,
    /// `collecting`, `fitting` or `shadow`.
    pub stage: &'static str,
    /// Labels collected (collecting) or scored in shadow, and how many are needed.
    pub labels: usize,
    pub needed: usize,
}

fn pair_view(
    pair: Pair,
    s: &bqx_online::PairState,
    train_rows: &BTreeMap<Pair, usize>,
) -> OnlinePair {
    OnlinePair {
        pair,
        inputs: s.model.inputs.clone(),
        train_rows: train_rows.get(&pair).copied().unwrap_or(0),
        live_bars: s.live_rows,
        score: score(&s.totals),
        weights: s.last_weights.clone(),
        latest: s.latest(),
        timeline: timeline(s),
        champion: s.champions.last().map_or(0, |c| c.id),
        champions: s.champions.iter().map(|c| c.id).collect(),
        challenger: s.challenger.as_ref().map(|c| {
            let (stage, labels, needed) = c.progress();
            ChallengerView {
                id: c.id(),
                stage,
                labels,
                needed,
            }
        }),
        decisions: s.decisions.iter().rev().cloned().collect(),
    }
}

/// The pair's timeline from the loop state: the closed blocks and the one being filled.
fn timeline(s: &bqx_online::PairState) -> Vec<OnlineBlock> {
    s.timeline
        .iter()
        .chain((s.open_block.matured > 0).then_some(&s.open_block))
        .map(|b| OnlineBlock {
            from: b.from,
            to: b.to,
            matured: b.matured,
            mae: b.mae(),
            w_frozen: b.mean_w_frozen(),
        })
        .collect()
}

/// The session after this call.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineReport {
    pub session: String,
    pub run_id: String,
    pub timeframe: String,
    pub members: Vec<&'static str>,
    /// Live bars consumed before this call (0 for a new session).
    pub resumed_at: u64,
    /// Live bars consumed in total / available.
    pub live_bars: u64,
    pub live_total: u64,
    pub complete: bool,
    pub pooled: OnlineScore,
    pub pairs: Vec<OnlinePair>,
    /// Alerts raised in this call, by severity.
    pub alerts: BTreeMap<String, u64>,
    pub seconds: f64,
    /// Wall time of the live replay (steps and checkpoint writes; fitting and warm-up excluded).
    pub replay_seconds: f64,
    /// Live bars consumed in this call per second of `replay_seconds`.
    pub bars_per_second: f64,
    /// Of `replay_seconds`: the checkpoint writes (state serialization, rows to DuckDB, state
    /// and alerts to the registry).
    pub checkpoint_seconds: f64,
}

fn bad(m: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::InvalidArgument, m.into())
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("online: {e}"))
}

fn bar_at(b: &BarColumns, i: usize) -> BarInput {
    BarInput::from_columns(b, i)
}

fn kernel_for(bars: &BarColumns) -> FeatureSet {
    FeatureSet::for_source(SourceCaps::of(bars, is_close_only(bars)))
}

/// The loop's kernel set for a pair: the same set, advancing only the kernels its inputs need
/// (the inputs are bit-identical to the full set's; `FeatureSet::retain_for`).
fn live_kernel(bars: &BarColumns, inputs: &[String]) -> Result<FeatureSet, AppError> {
    let mut k = kernel_for(bars);
    k.retain_for(inputs).map_err(internal)?;
    Ok(k)
}

fn sha256_file(path: &Path) -> Result<String, AppError> {
    let bytes = std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The series of the session: one per pair, on one timeframe.
fn choose_series(
    summaries: &[SeriesSummary],
    req: &OnlineRequest,
) -> Result<Vec<SeriesSummary>, AppError> {
    if summaries.is_empty() {
        return Err(bad(
            "the store has no bars: ingest some first (`bqx ingest FILE`) or run `bqx demo`",
        ));
    }
    let tf = match &req.timeframe {
        Some(t) => {
            let tf: bqx_domain::Timeframe = t
                .parse()
                .map_err(|e| bad(format!("timeframe {t:?}: {e}")))?;
            tf
        }
        None => {
            let mut by_tf: BTreeMap<bqx_domain::Timeframe, usize> = BTreeMap::new();
            for s in summaries {
                *by_tf.entry(s.key.timeframe).or_default() += 1;
            }
            by_tf
                .into_iter()
                .max_by_key(|&(tf, n)| (n, std::cmp::Reverse(tf)))
                .map(|(tf, _)| tf)
                .expect("non-empty")
        }
    };
    let mut chosen: BTreeMap<Pair, SeriesSummary> = BTreeMap::new();
    for s in summaries.iter().filter(|s| s.key.timeframe == tf) {
        if !req.pairs.is_empty() && !req.pairs.contains(&s.key.pair) {
            continue;
        }
        // One side per pair: the longest series.
        let keep = chosen.get(&s.key.pair).is_none_or(|c| s.bars > c.bars);
        if keep {
            chosen.insert(s.key.pair, s.clone());
        }
    }
    if let Some(p) = req.pairs.iter().find(|p| !chosen.contains_key(p)) {
        return Err(bad(format!("{p}: no stored {tf} bars")));
    }
    if chosen.is_empty() {
        return Err(bad(format!("no stored {tf} bars")));
    }
    Ok(chosen.into_values().collect())
}

/// Pearson correlation over the rows where both are finite, with their count; `None` with fewer
/// than 30 such rows or a constant side.
fn corr(x: &[f64], y: &[f64]) -> Option<(f64, usize)> {
    let (r, n) = pearson_pairwise(x, y);
    (n >= 30 && r.is_finite()).then_some((r, n))
}

/// Whether a feature's distribution holds within the training part: the PSI of its second half
/// against the deciles of its first half is under 0.25 (a major shift). Price levels and other
/// trending inputs fail it; an online learner fed them extrapolates far outside what it saw.
fn stable(column: &[f64]) -> bool {
    let v: Vec<f64> = column.iter().copied().filter(|x| x.is_finite()).collect();
    let half = v.len() / 2;
    let Some(reference) = PsiReference::fit(&v[..half], 10) else {
        return false;
    };
    let mut m = PsiMonitor::new(reference, v.len() - half);
    for &x in &v[half..] {
        m.update(x);
    }
    m.psi() < 0.25
}

/// Fits a pair's offline model on its training bars only.
pub(crate) fn fit_pair_model(
    pair: Pair,
    train: &BarColumns,
    mut kernel: FeatureSet,
    cfg: &OnlineConfig,
    n_inputs: usize,
) -> Result<(PairModel, usize), AppError> {
    let fm = compute_batch(&mut kernel, train).map_err(internal)?;
    // Labels that need bars after the training part are NaN: nothing crosses into live data.
    let y = bqx_target(&train.close, cfg.window, cfg.horizon).map_err(internal)?;
    let labelled = y.iter().filter(|v| v.is_finite()).count();
    // Candidates: defined on at least half the labelled rows and stable within the training part
    // ([`stable`]); ranked by |corr| with the target; a candidate almost collinear (|r| > 0.95)
    // with one already chosen is skipped.
    let mut ranked: Vec<(usize, f64)> = (0..fm.n_cols())
        .filter_map(|j| {
            let (r, n) = corr(fm.column(j), &y)?;
            (n * 2 >= labelled && r.is_finite() && stable(fm.column(j))).then_some((j, r.abs()))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = Vec::new();
    for (j, _) in ranked {
        if chosen.len() == n_inputs {
            break;
        }
        let dup = chosen
            .iter()
            .any(|&k| corr(fm.column(j), fm.column(k)).is_some_and(|(r, _)| r.abs() > 0.95));
        if !dup {
            chosen.push(j);
        }
    }
    let rows: Vec<usize> = (0..fm.n_rows)
        .filter(|&i| y[i].is_finite() && chosen.iter().all(|&j| fm.get(i, j).is_finite()))
        .collect();
    if chosen.is_empty() || rows.len() < MIN_TRAIN_ROWS {
        return Err(bad(format!(
            "{pair}: the training part ({} bars) has {} rows with the inputs and the target \
             (h = {}, W = {}) defined; the online loop needs at least {MIN_TRAIN_ROWS}: store \
             more history or lower --train-fraction's complement",
            train.len(),
            rows.len(),
            cfg.horizon,
            cfg.window
        )));
    }
    let cols: Vec<Vec<f64>> = chosen
        .iter()
        .map(|&j| rows.iter().map(|&i| fm.get(i, j)).collect())
        .collect();
    let col_refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let x = Matrix::from_columns(&col_refs).map_err(internal)?;
    let yy: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
    // Penalty chosen on the last 20 % of the training rows (time order), then refitted on all.
    let cut = rows.len() * 4 / 5;
    let mut probe = Ridge::new(RidgeConfig::default()).map_err(internal)?;
    let xa = x.slice_rows(0..cut).map_err(internal)?;
    let xb = x.slice_rows(cut..rows.len()).map_err(internal)?;
    probe
        .fit(&xa, &yy[..cut], Some((&xb, &yy[cut..])))
        .map_err(internal)?;
    let alpha = probe.state().map_or(1.0, |s| s.alpha);
    let valid_pred = probe.predict(&xb).map_err(internal)?;
    let error_scale = valid_pred
        .iter()
        .zip(&yy[cut..])
        .map(|(p, y)| (y - p).abs())
        .sum::<f64>()
        / (rows.len() - cut) as f64;
    let mut ridge = Ridge::new(RidgeConfig {
        alpha,
        alphas: Vec::new(),
    })
    .map_err(internal)?;
    ridge.fit(&x, &yy, None).map_err(internal)?;
    let st = ridge.state().expect("fitted");
    let mean = st.scaler.mean().to_vec();
    let std = st.scaler.std().to_vec();
    let mut rls = Rls::new(chosen.len(), cfg.rls);
    let mut tree = HoeffdingTree::new(chosen.len(), cfg.tree);
    let mut z = vec![0.0; chosen.len()];
    for (r, &yv) in yy.iter().enumerate() {
        for (k, zk) in z.iter_mut().enumerate() {
            *zk = (cols[k][r] - mean[k]) / std[k];
        }
        rls.update(&z, yv);
        tree.update(&z, yv);
    }
    let names = fm.names.clone();
    Ok((
        PairModel {
            pair,
            inputs: chosen.iter().map(|&j| names[j].clone()).collect(),
            // Calendar features are functions of the clock: a window of them differs from the
            // training distribution by construction, so they are not monitored.
            psi: chosen
                .iter()
                .zip(&cols)
                .map(|(&j, c)| {
                    if names[j].starts_with("cal_") {
                        None
                    } else {
                        PsiReference::fit(c, 10).map(|r| r.calibrate(c, cfg.psi_window))
                    }
                })
                .collect(),
            mean,
            std,
            frozen: LinearModel {
                coefficients: st.coefficients.clone(),
                intercept: st.intercept,
            },
            rls,
            tree,
            error_scale: if error_scale > 0.0 { error_scale } else { 1.0 },
            trained_until: *train.ts.last().expect("non-empty training part"),
        },
        rows.len(),
    ))
}

/// Fits a challenger on its request: a ridge on the standardized inputs, the penalty chosen on
/// the last 20 % of the rows (time order), then refitted on all — the champion's recipe on
/// the labels matured after the drift.
pub(crate) fn fit_challenger(r: &RetrainRequest) -> Result<LinearModel, String> {
    let n = r.y.len();
    let k = r.z.first().map_or(0, Vec::len);
    if n < 20 || k == 0 {
        return Err(format!("{n} rows of {k} inputs are too few to fit"));
    }
    let cols: Vec<Vec<f64>> = (0..k)
        .map(|j| r.z.iter().map(|row| row[j]).collect())
        .collect();
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let x = Matrix::from_columns(&refs).map_err(|e| e.to_string())?;
    let cut = n * 4 / 5;
    let mut probe = Ridge::new(RidgeConfig::default()).map_err(|e| e.to_string())?;
    let xa = x.slice_rows(0..cut).map_err(|e| e.to_string())?;
    let xb = x.slice_rows(cut..n).map_err(|e| e.to_string())?;
    probe
        .fit(&xa, &r.y[..cut], Some((&xb, &r.y[cut..])))
        .map_err(|e| e.to_string())?;
    let alpha = probe.state().map_or(1.0, |s| s.alpha);
    let mut ridge = Ridge::new(RidgeConfig {
        alpha,
        alphas: Vec::new(),
    })
    .map_err(|e| e.to_string())?;
    ridge.fit(&x, &r.y, None).map_err(|e| e.to_string())?;
    let (coefficients, intercept) = ridge.state().ok_or("not fitted")?.raw_coefficients();
    if !(intercept.is_finite() && coefficients.iter().all(|c| c.is_finite())) {
        return Err("the fit is not finite".into());
    }
    Ok(LinearModel {
        coefficients,
        intercept,
    })
}

/// Fits challengers on a thread of its own, so the loop never waits for a fit unless the
/// challenger is due before its fit is done (the loop's decisions then stay the same as if
/// the fit had been instant: see [`bqx_online::champion`]).
struct Retrainer {
    jobs: Option<std::sync::mpsc::Sender<RetrainRequest>>,
    done: std::sync::mpsc::Receiver<(Pair, u32, Result<LinearModel, String>)>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Retrainer {
    fn new() -> Retrainer {
        let (jobs, rx) = std::sync::mpsc::channel::<RetrainRequest>();
        let (tx, done) = std::sync::mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("bqx-retrain".into())
            .spawn(move || {
                for r in rx {
                    let fitted = fit_challenger(&r);
                    if tx.send((r.pair, r.id, fitted)).is_err() {
                        break;
                    }
                }
            })
            .expect("spawning the retrain thread");
        Retrainer {
            jobs: Some(jobs),
            done,
            worker: Some(worker),
        }
    }

    fn submit(&self, r: RetrainRequest) {
        if let Some(j) = &self.jobs {
            // The worker outlives the sender; a send can only fail if it panicked, which the
            // wait below reports.
            let _ = j.send(r);
        }
    }

    /// Installs every finished fit; with `wait_for`, blocks until that challenger's is in.
    fn install(&self, lp: &mut OnlineLoop, wait_for: Option<(Pair, u32)>) -> Result<(), AppError> {
        loop {
            let next = if let Some((p, id)) = wait_for
                && lp.due(p) == Some(id)
            {
                match self.done.recv() {
                    Ok(v) => v,
                    Err(_) => return Err(internal("the retrain thread stopped")),
                }
            } else {
                match self.done.try_recv() {
                    Ok(v) => v,
                    Err(_) => return Ok(()),
                }
            };
            let (pair, id, fitted) = next;
            lp.install(pair, id, fitted).map_err(internal)?;
        }
    }
}

impl Drop for Retrainer {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The live bars not consumed yet, in time order across pairs (pair order within a time): bars at
/// or after the pair's live start and after its last consumed bar.
fn live_queue(
    bars: &BTreeMap<Pair, BarColumns>,
    live_from: &BTreeMap<Pair, i64>,
    lp: &OnlineLoop,
) -> Vec<(i64, Pair, usize)> {
    let mut queue = Vec::new();
    for (&pair, b) in bars {
        let from = live_from[&pair];
        let done = lp.state().pairs[&pair].last_ts;
        let start =
            b.ts.partition_point(|&t| t < from.max(done.map_or(i64::MIN, |d| d + 1)));
        queue.extend((start..b.len()).map(|i| (b.ts[i], pair, i)));
    }
    queue.sort_unstable();
    queue
}

/// The watched folder: which files were seen with which size and modification time.
pub(crate) struct Watcher {
    dir: PathBuf,
    seen: BTreeMap<PathBuf, (u64, std::time::SystemTime)>,
    /// The session's timeframe, for files of one bar.
    timeframe: Option<bqx_domain::Timeframe>,
    /// The session's price side: the folder carries the session's bars.
    side: Option<bqx_domain::PriceSide>,
}

impl Watcher {
    fn new(dir: &Path, timeframe: Option<bqx_domain::Timeframe>) -> Watcher {
        Watcher {
            dir: dir.to_path_buf(),
            seen: BTreeMap::new(),
            timeframe,
            side: None,
        }
    }

    /// Ingests every file created or changed since the last look (hidden files and names ending
    /// in `.tmp` or `.part` — files still being written — are left alone); `true` when bars
    /// were written. A file that fails is reported and retried only once it changes again.
    fn ingest_changed(&mut self, store: &mut Store, on_event: &mut dyn FnMut(OnlineEvent)) -> bool {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return false;
        };
        let mut files: Vec<(PathBuf, (u64, std::time::SystemTime))> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_name()?.to_string_lossy().to_string();
                if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part") {
                    return None;
                }
                let m = e.metadata().ok().filter(|m| m.is_file())?;
                Some((path, (m.len(), m.modified().ok()?)))
            })
            .filter(|(p, sig)| self.seen.get(p) != Some(sig))
            .collect();
        files.sort();
        let mut wrote = false;
        for (file, sig) in files {
            self.seen.insert(file.clone(), sig);
            let req = IngestRequest {
                side: self.side,
                // A file of a single bar cannot tell its period: it is the session's.
                timeframe: self.timeframe,
                ..IngestRequest::files(vec![file.clone()])
            };
            match ingest_with_store(store, &req, &crate::NoProgress) {
                Ok(r) => {
                    wrote |= r.totals.bars_written > 0;
                    on_event(OnlineEvent::Watched {
                        file,
                        bars_written: r.totals.bars_written,
                        rejected: r.totals.rejected,
                    });
                }
                Err(e) => on_event(OnlineEvent::WatchError {
                    file,
                    message: e.to_string(),
                }),
            }
        }
        wrote
    }
}

/// Rows produced since the last checkpoint.
#[derive(Default)]
struct Pending {
    signals: Vec<OnlineSignalRow>,
    matured: Vec<OnlineMaturedRow>,
    alerts: Vec<AlertRow>,
}

fn alert_row(a: &Alert, session: &str, run_id: &str) -> AlertRow {
    AlertRow {
        id: 0,
        session: session.into(),
        run_id: run_id.into(),
        ts: a.ts,
        pair: a.pair.to_string(),
        severity: a.severity.as_str().into(),
        detector: a.evidence.detector.clone(),
        subject: a.subject.clone(),
        reason: a.reason.clone(),
        evidence: serde_json::to_string(&a.evidence).unwrap_or_default(),
        playbook: a.playbook.clone(),
        created_at: String::new(),
    }
}

fn score(t: &bqx_online::Totals) -> OnlineScore {
    let m = t.matured.max(1) as f64;
    let s = t.signed.max(1) as f64;
    OnlineScore {
        matured: t.matured,
        mae: t.abs_error.iter().map(|e| e / m).collect(),
        da: t.hits.iter().map(|&h| h as f64 / s).collect(),
    }
}

fn pooled(states: &[&bqx_online::Totals]) -> OnlineScore {
    let mut t = bqx_online::Totals {
        abs_error: vec![0.0; MEMBERS.len() + 1],
        hits: vec![0; MEMBERS.len() + 1],
        ..Default::default()
    };
    for s in states {
        t.matured += s.matured;
        t.signed += s.signed;
        for k in 0..t.abs_error.len() {
            t.abs_error[k] += s.abs_error[k];
            t.hits[k] += s.hits[k];
        }
    }
    score(&t)
}

/// Runs (or resumes) a session; `on_event` sees the start, every alert, the signals every
/// `signal_every` live bars and each checkpoint.
/// PSI window when the configuration leaves it to the timeframe: one trading week (5 days) of
/// bars, at least 250.
fn auto_psi_window(tf_secs: u32) -> usize {
    ((5 * 86_400) / tf_secs.max(1) as usize).max(250)
}

///
/// Setting `stop` ends the call after the current bar with a checkpoint (running the same
/// request again continues).
pub fn online(
    store_dir: &Path,
    req: &OnlineRequest,
    progress: &dyn Progress,
    signal_every: u64,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(OnlineEvent),
) -> Result<OnlineReport, AppError> {
    let started = Instant::now();
    let mut req = req.clone();
    if req.watch_inbox {
        if req.watch.is_some() {
            return Err(bad("watch_inbox and watch exclude each other"));
        }
        let inbox = store_dir.join(INBOX);
        std::fs::create_dir_all(&inbox)
            .map_err(|e| internal(format!("{}: {e}", inbox.display())))?;
        req.watch = Some(inbox);
    }
    let auto_psi = req.config.psi_window == 0;
    if auto_psi {
        // Resolved below from the timeframe; validated with a placeholder here.
        req.config.psi_window = 1;
    }
    req.config.validate().map_err(bad)?;
    if !(req.train_fraction > 0.0 && req.train_fraction < 1.0) {
        return Err(bad(format!(
            "--train-fraction must be in (0, 1), got {}",
            req.train_fraction
        )));
    }
    if req.inputs == 0 || req.checkpoint_every == 0 {
        return Err(bad("--inputs and --checkpoint-every must be at least 1"));
    }
    if let Some(s) = req.speed
        && !(s > 0.0 && s.is_finite())
    {
        return Err(bad(format!("--speed must be positive, got {s}")));
    }
    if let Some(dir) = &req.watch {
        if req.replay.is_some() {
            return Err(bad("--watch and --replay exclude each other"));
        }
        if !dir.is_dir() {
            return Err(bad(format!("--watch {}: not a directory", dir.display())));
        }
        if !(req.poll_seconds > 0.0 && req.poll_seconds.is_finite()) {
            return Err(bad("--poll-seconds must be positive"));
        }
    }
    // A replayed file is ingested first; its bars after the history stored before are live.
    let (source, history_end) = match &req.replay {
        None => ("store".to_string(), None),
        Some(file) => {
            let sha = sha256_file(file)?;
            let before: BTreeMap<SeriesKey, i64> = {
                let store = open_store(store_dir, "bqx online")?;
                store
                    .series_summaries()?
                    .into_iter()
                    .map(|s| (s.key, s.last_ts))
                    .collect()
            };
            ingest(
                store_dir,
                &IngestRequest::files(vec![file.clone()]),
                progress,
            )?;
            (sha, Some(before))
        }
    };
    let mut store = open_store(store_dir, "bqx online")?;
    let asked_tf: Option<bqx_domain::Timeframe> =
        req.timeframe.as_deref().and_then(|t| t.parse().ok());
    let mut watcher = req.watch.as_deref().map(|d| Watcher::new(d, asked_tf));
    if let Some(w) = watcher.as_mut()
        && store.series_summaries()?.is_empty()
    {
        // An empty store: what the folder holds is all there is to plan a session on.
        w.ingest_changed(&mut store, on_event);
    }
    let summaries = store.series_summaries()?;
    let series = choose_series(&summaries, &req)?;
    if let Some(w) = watcher.as_mut() {
        // The folder carries the session's bars: its side, and its timeframe where a file
        // cannot tell. What it already holds is stored before the bars are read.
        w.timeframe = Some(series[0].key.timeframe);
        w.side = Some(series[0].key.side);
        w.ingest_changed(&mut store, on_event);
    }
    if auto_psi {
        req.config.psi_window = auto_psi_window(series[0].key.timeframe.secs());
    }
    let req = &req;
    let mut bars: BTreeMap<Pair, BarColumns> = BTreeMap::new();
    for s in &series {
        bars.insert(s.key.pair, store.load_series(s.key)?);
    }
    let mut live_from: BTreeMap<Pair, i64> = BTreeMap::new();
    for s in &series {
        let b = &bars[&s.key.pair];
        let from = match history_end.as_ref().and_then(|h| h.get(&s.key)) {
            Some(&last) => last + 1,
            None => b.ts[((b.len() as f64 * req.train_fraction) as usize).min(b.len() - 1)],
        };
        live_from.insert(s.key.pair, from);
    }
    let plan = SessionPlan {
        version: ONLINE_VERSION,
        source,
        series: series.iter().map(|s| s.key).collect(),
        live_from,
        train_fraction: req.train_fraction,
        inputs: req.inputs,
        config: req.config.clone(),
    };
    // The session key leaves out `live_from` for a replay (the file's bars are stored after a
    // first call), so that running the same replay again resumes it.
    let key_plan = serde_json::json!({
        "version": plan.version, "source": plan.source, "series": plan.series,
        "train_fraction": if req.replay.is_some() { None } else { Some(plan.train_fraction) },
        "inputs": plan.inputs, "config": plan.config,
    });
    let session = hex::encode(Sha256::digest(key_plan.to_string().as_bytes()))[..16].to_string();
    if req.fresh {
        store.online_forget(&session)?;
    }
    let args = serde_json::json!({ "session": session, "request": req });
    let run_id = store.begin_run("online", &args)?;
    let result = run_session(
        &mut store,
        &run_id,
        &session,
        plan,
        bars,
        watcher,
        req,
        progress,
        signal_every,
        stop,
        on_event,
    );
    let status = if result.is_ok() {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    let err = result.as_ref().err().map(|e| e.to_string());
    store.finish_run(&run_id, status, err.as_deref())?;
    let mut report = result?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn run_session(
    store: &mut Store,
    run_id: &str,
    session: &str,
    plan: SessionPlan,
    mut bars: BTreeMap<Pair, BarColumns>,
    mut watcher: Option<Watcher>,
    req: &OnlineRequest,
    progress: &dyn Progress,
    signal_every: u64,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(OnlineEvent),
) -> Result<OnlineReport, AppError> {
    let t0 = Instant::now();
    let saved = store.online_session(session)?;
    let (plan, mut lp, resumed_at, train_rows) = match saved {
        Some(row) => {
            let saved: Saved = decode_state(&row.state)?;
            let last: Vec<(Pair, Option<i64>)> = saved
                .state
                .pairs
                .iter()
                .map(|(p, s)| (*p, s.last_ts))
                .collect();
            store.online_truncate(session, &last)?;
            let kernels = bars
                .iter()
                .map(|(p, b)| {
                    let inputs = saved
                        .state
                        .pairs
                        .get(p)
                        .map_or(&[][..], |s| s.model.inputs.as_slice());
                    Ok((*p, live_kernel(b, inputs)?))
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            let bars = &bars;
            let lp = OnlineLoop::restore(saved.state, kernels, |p| {
                let b = bars.get(&p).ok_or("no bars")?;
                Ok((0..b.len()).map(|i| bar_at(b, i)).collect())
            })
            .map_err(|e| bad(format!("resuming session {session}: {e}")))?;
            (saved.plan, lp, row.live_bars, saved.train_rows)
        }
        None => {
            task_started(progress, "online: fit", bars.len() as u64, "pairs");
            let mut models = Vec::new();
            let mut train_rows = BTreeMap::new();
            for (&pair, b) in &bars {
                let from = plan.live_from[&pair];
                let n_train = b.ts.partition_point(|&t| t < from);
                let train = b.slice(0..n_train);
                let (model, rows) =
                    fit_pair_model(pair, &train, kernel_for(b), &req.config, req.inputs)?;
                train_rows.insert(pair, rows);
                let kernel = live_kernel(b, &model.inputs)?;
                models.push((model, kernel));
                task_advanced(progress, "online: fit", 1);
            }
            task_finished(progress, "online: fit");
            let mut lp = OnlineLoop::new(req.config.clone(), models).map_err(internal)?;
            for (&pair, b) in &bars {
                let from = plan.live_from[&pair];
                for i in 0..b.ts.partition_point(|&t| t < from) {
                    lp.warm(pair, &bar_at(b, i)).map_err(internal)?;
                }
            }
            (plan, lp, 0, train_rows)
        }
    };
    let live_total = |bars: &BTreeMap<Pair, BarColumns>| -> u64 {
        bars.iter()
            .map(|(p, b)| (b.len() - b.ts.partition_point(|&t| t < plan.live_from[p])) as u64)
            .sum()
    };
    on_event(OnlineEvent::Started {
        session: session.into(),
        pairs: bars.keys().copied().collect(),
        live_bars: live_total(&bars),
        resumed_at,
    });
    let t_replay = Instant::now();
    let budget = req.max_bars.unwrap_or(u64::MAX);
    let todo = live_total(&bars).saturating_sub(resumed_at).min(budget);
    task_started(progress, "online: replay", todo, "bars");
    let mut pending = Pending::default();
    let mut stats = OnlineStats::default();
    let mut by_pair: BTreeMap<Pair, PairStats> = BTreeMap::new();
    let mut live = resumed_at;
    let mut alerts_by: BTreeMap<String, u64> = BTreeMap::new();
    let mut latest: BTreeMap<Pair, Signal> = BTreeMap::new();
    let mut prev_ts: Option<i64> = None;
    let mut checkpoint_seconds = 0.0;
    let mut checkpoint = |store: &mut Store, lp: &OnlineLoop, pending: &mut Pending, live: u64| {
        let t = Instant::now();
        let state = encode_state(&SavedRef {
            plan: &plan,
            state: lp.state(),
            train_rows: &train_rows,
        })?;
        store
            .online_checkpoint(OnlineCheckpoint {
                session,
                run_id,
                request: &serde_json::to_string(req).unwrap_or_default(),
                state: &state,
                live_bars: live,
                signals: &pending.signals,
                matured: &pending.matured,
                alerts: &pending.alerts,
            })
            .map_err(AppError::from)?;
        *pending = Pending::default();
        checkpoint_seconds += t.elapsed().as_secs_f64();
        Ok::<(), AppError>(())
    };
    let retrainer = Retrainer::new();
    // A resumed loop may hold requests whose fits were lost with the process: fit them again
    // (the fit is a function of the request).
    for r in lp.retrain_requests() {
        retrainer.submit(r);
    }
    let mut n: u64 = 0;
    'feed: loop {
        let queue = live_queue(&bars, &plan.live_from, &lp);
        for &(ts, pair, i) in &queue {
            if stop.load(Ordering::Relaxed) || n >= budget {
                break 'feed;
            }
            if let (Some(speed), Some(p)) = (req.speed, prev_ts)
                && ts > p
            {
                // Gaps (nights, weekends) are capped at one second of wall time.
                let secs = ((ts - p) as f64 / 1e6 / speed).min(1.0);
                std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            }
            prev_ts = Some(ts);
            let bar = bar_at(&bars[&pair], i);
            let due = lp.due(pair).map(|id| (pair, id));
            retrainer.install(&mut lp, due)?;
            let t_step = Instant::now();
            let out = lp.step(pair, &bar).map_err(internal)?;
            stats.step_seconds.push(t_step.elapsed().as_secs_f32());
            stats.bars += 1;
            live += 1;
            let ps = by_pair.entry(pair).or_insert_with(|| PairStats {
                pair,
                matured: 0,
                signed: 0,
                abs_error: vec![0.0; MEMBERS.len() + 1],
                hits: vec![0; MEMBERS.len() + 1],
                weights: Vec::new(),
            });
            if let Some(s) = &out.signal {
                pending.signals.push(OnlineSignalRow {
                    pair,
                    ts,
                    frozen: s.members[0],
                    rls: s.members[1],
                    tree: s.members[2],
                    ensemble: s.ensemble,
                    w_frozen: s.weights[0],
                    w_rls: s.weights[1],
                    w_tree: s.weights[2],
                });
                latest.insert(pair, s.clone());
                ps.weights.clone_from(&s.weights);
            }
            if let Some(m) = &out.matured {
                ps.matured += 1;
                for (k, e) in m.errors.iter().chain([&m.ensemble_error]).enumerate() {
                    ps.abs_error[k] += e.abs();
                }
                for (k, p) in m.predictions.iter().chain([&m.ensemble]).enumerate() {
                    if m.label != 0.0 && p.signum() == m.label.signum() {
                        ps.hits[k] += 1;
                    }
                }
                if m.label != 0.0 {
                    ps.signed += 1;
                }
                pending.matured.push(OnlineMaturedRow {
                    pair,
                    made_ts: m.made_ts,
                    ts: m.ts,
                    label: m.label,
                    e_frozen: m.errors[0],
                    e_rls: m.errors[1],
                    e_tree: m.errors[2],
                    e_ensemble: m.ensemble_error,
                });
            }
            if let Some(r) = out.retrain {
                retrainer.submit(r);
            }
            for d in out.decisions {
                on_event(OnlineEvent::Decision(d));
            }
            for a in out.alerts {
                *alerts_by.entry(a.severity.as_str().into()).or_default() += 1;
                pending.alerts.push(alert_row(&a, session, run_id));
                on_event(OnlineEvent::Alert(a));
            }
            n += 1;
            if signal_every > 0 && n.is_multiple_of(signal_every) {
                on_event(OnlineEvent::Signals {
                    ts,
                    signals: latest.values().cloned().collect(),
                });
            }
            if n.is_multiple_of(req.checkpoint_every) {
                checkpoint(store, &lp, &mut pending, live)?;
                stats.pairs = std::mem::take(&mut by_pair).into_values().collect();
                on_event(OnlineEvent::Checkpoint {
                    live_bars: live,
                    stats: std::mem::take(&mut stats),
                });
            }
            if n.is_multiple_of(1000) {
                task_advanced(progress, "online: replay", 1000);
            }
        }
        // The stored bars are done; a watched folder keeps the loop going.
        let Some(w) = watcher.as_mut() else {
            break 'feed;
        };
        if !pending.signals.is_empty() || !pending.alerts.is_empty() {
            checkpoint(store, &lp, &mut pending, live)?;
            stats.pairs = std::mem::take(&mut by_pair).into_values().collect();
            on_event(OnlineEvent::Checkpoint {
                live_bars: live,
                stats: std::mem::take(&mut stats),
            });
        }
        loop {
            if stop.load(Ordering::Relaxed) || n >= budget {
                break 'feed;
            }
            if w.ingest_changed(store, on_event) {
                for s in &plan.series {
                    bars.insert(s.pair, store.load_series(*s)?);
                }
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs_f64(req.poll_seconds));
        }
    }
    checkpoint(store, &lp, &mut pending, live)?;
    stats.pairs = std::mem::take(&mut by_pair).into_values().collect();
    on_event(OnlineEvent::Checkpoint {
        live_bars: live,
        stats,
    });
    task_finished(progress, "online: replay");
    let consumed = live - resumed_at;
    let live_total = live_total(&bars);
    let pairs: Vec<OnlinePair> = lp
        .state()
        .pairs
        .iter()
        .map(|(&pair, s)| pair_view(pair, s, &train_rows))
        .collect();
    let totals: Vec<&bqx_online::Totals> = lp.state().pairs.values().map(|s| &s.totals).collect();
    let secs = t0.elapsed().as_secs_f64();
    let replay_seconds = t_replay.elapsed().as_secs_f64();
    Ok(OnlineReport {
        session: session.into(),
        run_id: run_id.into(),
        timeframe: plan
            .series
            .first()
            .map(|k| k.timeframe.to_string())
            .unwrap_or_default(),
        members: MEMBERS.to_vec(),
        resumed_at,
        live_bars: live,
        live_total,
        complete: live == live_total,
        pooled: pooled(&totals),
        pairs,
        alerts: alerts_by,
        seconds: secs,
        replay_seconds,
        bars_per_second: consumed as f64 / replay_seconds.max(1e-9),
        checkpoint_seconds,
    })
}

/// A stored alert as the CLI, the API and the UI show it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub id: i64,
    pub session: String,
    pub run_id: String,
    /// Bar time (RFC 3339, UTC).
    pub time: String,
    pub pair: String,
    pub severity: String,
    pub detector: String,
    pub subject: String,
    pub reason: String,
    pub evidence: serde_json::Value,
    pub playbook: String,
    pub created_at: String,
}

/// Alerts of one session (all with `None`), newest first; none when the store has no registry.
pub fn alerts(
    store_dir: &Path,
    session: Option<&str>,
    limit: usize,
) -> Result<Vec<AlertView>, AppError> {
    let Some(reg) = bqx_store::RegistryReader::open(store_dir)? else {
        return Ok(Vec::new());
    };
    Ok(reg
        .alerts(session, limit.clamp(1, 10_000))?
        .into_iter()
        .map(|a| AlertView {
            id: a.id,
            time: chrono::DateTime::from_timestamp_micros(a.ts)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            evidence: serde_json::from_str(&a.evidence).unwrap_or(serde_json::Value::Null),
            session: a.session,
            run_id: a.run_id,
            pair: a.pair,
            severity: a.severity,
            detector: a.detector,
            subject: a.subject,
            reason: a.reason,
            playbook: a.playbook,
            created_at: a.created_at,
        })
        .collect())
}

/// A session as listed.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineSessionSummary {
    pub session: String,
    /// `store`, or the SHA-256 of the replayed file.
    pub source: String,
    pub timeframe: String,
    pub pairs: Vec<Pair>,
    pub live_bars: u64,
    pub run_id: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A session at its last checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineSessionView {
    pub summary: OnlineSessionSummary,
    pub members: Vec<&'static str>,
    pub config: OnlineConfig,
    pub pooled: OnlineScore,
    pub pairs: Vec<OnlinePair>,
}

fn summary(row: &bqx_store::OnlineSessionRow, plan: &SessionPlan) -> OnlineSessionSummary {
    OnlineSessionSummary {
        session: row.session.clone(),
        source: plan.source.clone(),
        timeframe: plan
            .series
            .first()
            .map(|k| k.timeframe.to_string())
            .unwrap_or_default(),
        pairs: plan.series.iter().map(|k| k.pair).collect(),
        live_bars: row.live_bars,
        run_id: row.run_id.clone(),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
    }
}

/// Every session with a checkpoint, most recently updated first.
pub fn online_sessions(store_dir: &Path) -> Result<Vec<OnlineSessionSummary>, AppError> {
    #[derive(Deserialize)]
    struct PlanOnly {
        plan: SessionPlan,
    }
    let Some(reg) = bqx_store::RegistryReader::open(store_dir)? else {
        return Ok(Vec::new());
    };
    reg.online_sessions()?
        .iter()
        .map(|row| {
            let p: PlanOnly = decode_state(&row.state)?;
            Ok(summary(row, &p.plan))
        })
        .collect()
}

/// One session at its last checkpoint.
pub fn online_session(store_dir: &Path, session: &str) -> Result<OnlineSessionView, AppError> {
    let missing = || {
        AppError::new(
            ErrorCode::NotFound,
            format!("no online session {session:?}"),
        )
    };
    let reg = bqx_store::RegistryReader::open(store_dir)?.ok_or_else(missing)?;
    let row = reg.online_session(session)?.ok_or_else(missing)?;
    let saved: Saved = decode_state(&row.state)?;
    let totals: Vec<&bqx_online::Totals> = saved.state.pairs.values().map(|s| &s.totals).collect();
    Ok(OnlineSessionView {
        summary: summary(&row, &saved.plan),
        members: MEMBERS.to_vec(),
        config: saved.state.config.clone(),
        pooled: pooled(&totals),
        pairs: saved
            .state
            .pairs
            .iter()
            .map(|(&p, s)| pair_view(p, s, &saved.train_rows))
            .collect(),
    })
}

/// Makes the previous champion of `pair` serve again in a stopped session: the checkpoint's
/// state is changed (the decision joins the pair's log) and an information alert is recorded,
/// in one checkpoint write. Running the session again resumes with the rolled-back champion.
pub fn online_rollback(store_dir: &Path, session: &str, pair: &str) -> Result<Decision, AppError> {
    let pair = Pair::parse(pair).map_err(|e| bad(format!("pair {pair:?}: {e}")))?;
    let mut store = open_store(store_dir, "bqx online rollback")?;
    let row = store.online_session(session)?.ok_or_else(|| {
        AppError::new(
            ErrorCode::NotFound,
            format!("no online session {session:?}"),
        )
    })?;
    let mut saved: Saved = decode_state(&row.state)?;
    let d = saved.state.rollback(pair).map_err(|e| match e {
        bqx_online::OnlineError::UnknownPair { .. } => AppError::new(
            ErrorCode::NotFound,
            format!("session {session} has no pair {pair}"),
        ),
        e => AppError::new(ErrorCode::Conflict, e.to_string()),
    })?;
    let alert = Alert {
        ts: d.ts,
        pair,
        severity: Severity::Info,
        subject: MEMBERS[0].into(),
        reason: d.reason.clone(),
        evidence: Evidence {
            detector: "rollback".into(),
            statistic: "champion id".into(),
            value: f64::from(d.champion),
            threshold: 0.0,
            window: 0,
            before: f64::from(d.challenger),
            after: f64::from(d.champion),
        },
        playbook: "docs/playbook.md#challenger".into(),
    };
    let state = encode_state(&saved)?;
    store.online_checkpoint(OnlineCheckpoint {
        session,
        run_id: &row.run_id,
        request: &row.request,
        state: &state,
        live_bars: row.live_bars,
        signals: &[],
        matured: &[],
        alerts: &[alert_row(&alert, session, &row.run_id)],
    })?;
    Ok(d)
}

/// The folder under the store where `POST /api/v1/bars` puts bars for the online loop.
pub const INBOX: &str = "inbox";
/// Bars one `POST /api/v1/bars` may carry.
pub const MAX_POSTED_BARS: usize = 5_000;

/// Bars sent over HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarsRequest {
    pub pair: String,
    pub bars: Vec<PostedBar>,
}

/// One bar: its open time (RFC 3339) and prices; volume optional (all bars or none).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostedBar {
    pub time: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    #[serde(default)]
    pub volume: Option<f64>,
}

/// Where the bars went.
#[derive(Debug, Clone, Serialize)]
pub struct BarsAccepted {
    /// The file written into the inbox (relative to the store).
    pub file: String,
    pub bars: usize,
}

/// Writes posted bars into `<store>/inbox` as a generic CSV (under a temporary name, then
/// renamed, so a watcher never reads half a file). Only the shape is checked here; an online
/// loop watching the inbox ingests the file with ingest's validation and quarantine, the
/// session's side, and the session's timeframe when the file cannot tell it.
pub fn post_bars(store_dir: &Path, req: &BarsRequest) -> Result<BarsAccepted, AppError> {
    let pair = Pair::parse(&req.pair).map_err(|e| bad(format!("`pair` {:?}: {e}", req.pair)))?;
    if req.bars.is_empty() || req.bars.len() > MAX_POSTED_BARS {
        return Err(bad(format!(
            "`bars`: 1 to {MAX_POSTED_BARS} bars per request, got {}",
            req.bars.len()
        )));
    }
    let with_volume = req.bars[0].volume.is_some();
    let mut text = String::from(if with_volume {
        "timestamp,pair,open,high,low,close,volume\n"
    } else {
        "timestamp,pair,open,high,low,close\n"
    });
    for (i, b) in req.bars.iter().enumerate() {
        let t = chrono::DateTime::parse_from_rfc3339(&b.time).map_err(|e| {
            bad(format!(
                "`bars[{i}].time` {:?}: not an RFC 3339 time ({e})",
                b.time
            ))
        })?;
        if b.volume.is_some() != with_volume {
            return Err(bad(format!(
                "`bars[{i}].volume`: give a volume on every bar or on none"
            )));
        }
        let t = t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ");
        text.push_str(&format!(
            "{t},{pair},{},{},{},{}",
            b.open, b.high, b.low, b.close
        ));
        if let Some(v) = b.volume {
            text.push_str(&format!(",{v}"));
        }
        text.push('\n');
    }
    let inbox = store_dir.join(INBOX);
    std::fs::create_dir_all(&inbox).map_err(|e| internal(format!("{}: {e}", inbox.display())))?;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!(
        "bars-{stamp}-{}-{pair}.csv",
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = inbox.join(format!("{name}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| internal(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, inbox.join(&name))
        .map_err(|e| internal(format!("{}: {e}", inbox.display())))?;
    Ok(BarsAccepted {
        file: format!("{INBOX}/{name}"),
        bars: req.bars.len(),
    })
}
