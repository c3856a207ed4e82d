//! Stage 2.18: the multi-task network (shared trunk; BQX, volatility and regime heads) and its
//! single-task control (the same trunk with the BQX head only).

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::layers::{
    Activation, BlockSpec, STREAM_DROPOUT, STREAM_INIT, STREAM_SHUFFLE, Snapshot, Stack, TrainMode,
    batches, chain, check_common, rng,
};
use crate::checkpoint::NamedValues;
use crate::device::DeviceChoice;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::mlp::{NamedTensor, TargetScaling};
use crate::model::ModelKind;
use crate::scaler::StandardScaler;

/// Rows per forward pass when predicting or validating (bounds memory, not results).
const EVAL_CHUNK: usize = 8192;

/// Which heads a network trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tasks {
    /// BQX, volatility and regime heads on the shared trunk.
    Multi,
    /// The BQX head only (the control of the ablation).
    Single,
}

/// The loss weights of the three heads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossWeights {
    pub bqx: f64,
    pub vol: f64,
    pub regime: f64,
}

/// Hyper-parameters of [`MultiTaskNet`] (defaults: features.md § Stage 2.18).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiTaskConfig {
    pub tasks: Tasks,
    /// Trunk widths (ReLU, BatchNorm, dropout after each), default `[256, 128]`.
    pub trunk: Vec<usize>,
    pub trunk_dropout: f64,
    pub batch_norm: bool,
    /// Hidden width of the BQX head (→ 1), default 64.
    pub bqx_head: usize,
    /// Hidden width of the volatility head (→ 1), default 32.
    pub vol_head: usize,
    /// Hidden width of the regime head (→ `n_regimes` logits), default 32.
    pub regime_head: usize,
    pub n_regimes: usize,
    /// `1.0·MSE(bqx) + 0.3·MSE(vol) + 0.3·CE(regime)` on standardized targets.
    pub loss_weights: LossWeights,
    pub learning_rate: f64,
    /// AdamW decoupled weight decay on weight matrices (not biases or BatchNorm).
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Early stopping on the validation BQX MAE after this many epochs without improvement.
    pub patience: usize,
    /// The learning rate is multiplied by `lr_factor` after every `lr_patience` epochs
    /// without improvement.
    pub lr_patience: usize,
    pub lr_factor: f64,
    pub seed: u64,
    pub device: DeviceChoice,
}

impl Default for MultiTaskConfig {
    fn default() -> Self {
        MultiTaskConfig {
            tasks: Tasks::Multi,
            trunk: vec![256, 128],
            trunk_dropout: 0.3,
            batch_norm: true,
            bqx_head: 64,
            vol_head: 32,
            regime_head: 32,
            n_regimes: 5,
            loss_weights: LossWeights {
                bqx: 1.0,
                vol: 0.3,
                regime: 0.3,
            },
            learning_rate: 1e-3,
            weight_decay: 1e-2,
            batch_size: 512,
            max_epochs: 100,
            patience: 10,
            lr_patience: 5,
            lr_factor: 0.5,
            seed: 0,
            device: DeviceChoice::Auto,
        }
    }
}

impl MultiTaskConfig {
    /// The single-task control of this configuration (same trunk, BQX head only).
    pub fn single_task(&self) -> MultiTaskConfig {
        MultiTaskConfig {
            tasks: Tasks::Single,
            ..self.clone()
        }
    }

    /// `"multitask"` or `"singletask"`.
    pub fn name(&self) -> &'static str {
        match self.tasks {
            Tasks::Multi => "multitask",
            Tasks::Single => "singletask",
        }
    }

    pub fn validate(&self) -> Result<()> {
        check_common(
            self.name(),
            self.learning_rate,
            self.weight_decay,
            self.batch_size,
            self.max_epochs,
            self.patience,
            self.trunk_dropout,
        )?;
        let bad = |m: &str| Err(Error::InvalidConfig(format!("{}: {m}", self.name())));
        if self.trunk.is_empty() || self.trunk.contains(&0) {
            return bad("the trunk needs ≥ 1 layer, every width ≥ 1");
        }
        if self.bqx_head == 0 || self.vol_head == 0 || self.regime_head == 0 {
            return bad("head widths must be ≥ 1");
        }
        if self.n_regimes < 2 {
            return bad("n_regimes must be ≥ 2");
        }
        let w = self.loss_weights;
        if ![w.bqx, w.vol, w.regime]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0)
            || w.bqx <= 0.0
        {
            return bad("loss weights must be ≥ 0, the BQX weight > 0");
        }
        if self.lr_patience == 0 || !(self.lr_factor > 0.0 && self.lr_factor <= 1.0) {
            return bad("lr_patience must be ≥ 1 and lr_factor in (0, 1]");
        }
        Ok(())
    }

    /// Trunk, then the heads' block specs for `n_inputs` features.
    pub(crate) fn layout(&self, n_inputs: usize) -> Layout {
        let d = self.trunk_dropout as f32;
        let trunk = chain(n_inputs, &self.trunk, self.batch_norm, d, None);
        let top = *self.trunk.last().expect("validated: non-empty trunk");
        let head =
            |w: usize, out: usize| chain(top, &[w], false, 0.0, Some((out, Activation::Linear)));
        Layout {
            trunk,
            bqx: head(self.bqx_head, 1),
            vol: (self.tasks == Tasks::Multi).then(|| head(self.vol_head, 1)),
            regime: (self.tasks == Tasks::Multi).then(|| head(self.regime_head, self.n_regimes)),
        }
    }
}

pub(crate) struct Layout {
    pub trunk: Vec<BlockSpec>,
    pub bqx: Vec<BlockSpec>,
    pub vol: Option<Vec<BlockSpec>>,
    pub regime: Option<Vec<BlockSpec>>,
}

/// The targets of one set of rows: BQX, volatility (both in their own units) and the regime
/// class (`0..n_regimes`, strong down … strong up).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiTargets {
    pub bqx: Vec<f64>,
    pub vol: Vec<f64>,
    pub regime: Vec<u32>,
}

impl MultiTargets {
    fn check(&self, rows: usize, n_regimes: usize, what: &str) -> Result<()> {
        if self.bqx.len() != rows || self.vol.len() != rows || self.regime.len() != rows {
            return Err(Error::Shape(format!(
                "{what}: {rows} rows but targets of lengths {}, {}, {}",
                self.bqx.len(),
                self.vol.len(),
                self.regime.len()
            )));
        }
        if let Some(i) = self
            .bqx
            .iter()
            .chain(&self.vol)
            .position(|v| !v.is_finite())
        {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Mlp,
                reason: format!("{what}: non-finite target at position {i}"),
            });
        }
        if let Some(c) = self.regime.iter().find(|&&c| c as usize >= n_regimes) {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Mlp,
                reason: format!("{what}: regime class {c} ≥ {n_regimes}"),
            });
        }
        Ok(())
    }
}

/// A network's outputs for some rows (targets' own units; regime as probabilities).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiOutput {
    pub bqx: Vec<f64>,
    /// Volatility forecasts (multi-task only).
    pub vol: Option<Vec<f64>>,
    /// `regime[i]`: the class probabilities of row `i` (multi-task only).
    pub regime: Option<Vec<Vec<f64>>>,
}

/// Losses of one epoch per head (standardized units; cross-entropy in nats).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeadLosses {
    pub total: f64,
    pub bqx: f64,
    pub vol: Option<f64>,
    pub regime: Option<f64>,
}

/// One epoch of the training curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadEpoch {
    pub epoch: usize,
    pub learning_rate: f64,
    pub train: HeadLosses,
    pub valid: Option<HeadLosses>,
    /// Validation MAE of the BQX head in the target's units (the early-stopping criterion).
    pub valid_bqx_mae: Option<f64>,
}

/// What a fit did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetFitReport {
    pub n_train: usize,
    pub n_valid: usize,
    pub epochs: Vec<HeadEpoch>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    pub stopped_early: bool,
}

/// The fitted state: scalers and the three parts.
#[derive(Debug)]
pub(crate) struct MtState {
    pub n_inputs: usize,
    pub scaler: StandardScaler,
    pub bqx_scaling: TargetScaling,
    pub vol_scaling: TargetScaling,
    pub trunk: Stack,
    pub bqx: Stack,
    pub vol: Option<Stack>,
    pub regime: Option<Stack>,
}

impl MtState {
    fn parts(&self) -> Vec<(&'static str, &Stack)> {
        let mut v = vec![("trunk", &self.trunk), ("bqx_head", &self.bqx)];
        if let Some(s) = &self.vol {
            v.push(("vol_head", s));
        }
        if let Some(s) = &self.regime {
            v.push(("regime_head", s));
        }
        v
    }
    fn parts_mut(&mut self) -> Vec<&mut Stack> {
        let mut v = vec![&mut self.trunk, &mut self.bqx];
        if let Some(s) = &mut self.vol {
            v.push(s);
        }
        if let Some(s) = &mut self.regime {
            v.push(s);
        }
        v
    }

    /// Forward pass of standardized rows → (bqx `[n]`, vol `[n]`, regime logits `[n, k]`).
    fn forward(
        &mut self,
        x: &Tensor,
        mut train: Option<&mut TrainMode<'_>>,
    ) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
        let h = self.trunk.forward(x, train.as_deref_mut())?;
        let b = self.bqx.forward(&h, train.as_deref_mut())?.squeeze(1)?;
        let v = match &mut self.vol {
            Some(s) => Some(s.forward(&h, train.as_deref_mut())?.squeeze(1)?),
            None => None,
        };
        let r = match &mut self.regime {
            Some(s) => Some(s.forward(&h, train)?),
            None => None,
        };
        Ok((b, v, r))
    }
}

/// The multi-task network of stage 2.18 (or its single-task control), in candle.
///
/// * Features standardized by a scaler fitted on the training rows; the BQX and volatility
///   targets by their training mean and std; regime classes are given (cut by the caller on
///   the training fold's quantiles).
/// * Blocks `Linear → BatchNorm → ReLU → dropout` in the trunk; each head `Linear → ReLU →
///   Linear`. Weights from our seeded ChaCha8 streams (see [`crate::Mlp`] for why), AdamW
///   (decay on weight matrices only), shuffled mini-batches.
/// * Early stopping on the validation BQX MAE (patience), learning rate multiplied by
///   `lr_factor` every `lr_patience` epochs without improvement, best epoch's weights (and
///   BatchNorm statistics) restored. Without a validation set: `max_epochs`, last weights.
/// * Deterministic on the CPU for a fixed seed (same reasons as [`crate::Mlp`]; tested).
#[derive(Debug)]
pub struct MultiTaskNet {
    config: MultiTaskConfig,
    device: Device,
    pub(crate) state: Option<MtState>,
    report: Option<NetFitReport>,
}

fn scaling(y: &[f64]) -> TargetScaling {
    let n = y.len().max(1) as f64;
    let mean = y.iter().sum::<f64>() / n;
    let sd = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    TargetScaling {
        mean,
        std: if sd > 0.0 && sd.is_finite() { sd } else { 1.0 },
    }
}

fn std_f32(y: &[f64], s: TargetScaling) -> Vec<f32> {
    y.iter().map(|v| ((v - s.mean) / s.std) as f32).collect()
}

impl MultiTaskNet {
    pub fn new(config: MultiTaskConfig) -> Result<Self> {
        config.validate()?;
        let device = config.device.device()?;
        Ok(MultiTaskNet {
            config,
            device,
            state: None,
            report: None,
        })
    }

    pub fn config(&self) -> &MultiTaskConfig {
        &self.config
    }

    pub fn fit_report(&self) -> Option<&NetFitReport> {
        self.report.as_ref()
    }

    pub fn n_features(&self) -> Option<usize> {
        self.state.as_ref().map(|s| s.n_inputs)
    }

    pub fn scaler(&self) -> Option<&StandardScaler> {
        self.state.as_ref().map(|s| &s.scaler)
    }

    /// `(bqx, vol)` target scalings once fitted.
    pub fn target_scalings(&self) -> Option<(TargetScaling, TargetScaling)> {
        self.state.as_ref().map(|s| (s.bqx_scaling, s.vol_scaling))
    }

    /// Every tensor (trainable and BatchNorm running statistics) with PyTorch-style names:
    /// `trunk.{i}.weight`, `trunk.{i}.bn.running_mean`, `bqx_head.{i}.bias`…
    pub fn weights(&self) -> Result<Vec<NamedTensor>> {
        let s = self
            .state
            .as_ref()
            .ok_or(Error::NotFitted(ModelKind::Mlp))?;
        let mut out = Vec::new();
        for (prefix, stack) in s.parts() {
            out.extend(stack.named(prefix)?);
        }
        Ok(out)
    }

    /// Rebuilds a fitted network from saved parts (checkpoint loading, goldens).
    pub fn from_parts(
        config: MultiTaskConfig,
        n_inputs: usize,
        scaler: StandardScaler,
        scalings: (TargetScaling, TargetScaling),
        mut tensors: NamedValues,
    ) -> Result<Self> {
        let mut net = MultiTaskNet::new(config)?;
        scaler.validate()?;
        if scaler.n_features() != n_inputs {
            return Err(Error::Shape(format!(
                "scaler has {} features, the network {n_inputs}",
                scaler.n_features()
            )));
        }
        for s in [scalings.0, scalings.1] {
            if !(s.mean.is_finite() && s.std.is_finite() && s.std > 0.0) {
                return Err(Error::InvalidConfig("invalid target scaling".into()));
            }
        }
        let layout = net.config.layout(n_inputs);
        let d = &net.device;
        let trunk = Stack::from_named(&layout.trunk, "trunk", &mut tensors, d)?;
        let bqx = Stack::from_named(&layout.bqx, "bqx_head", &mut tensors, d)?;
        let vol = match &layout.vol {
            Some(l) => Some(Stack::from_named(l, "vol_head", &mut tensors, d)?),
            None => None,
        };
        let regime = match &layout.regime {
            Some(l) => Some(Stack::from_named(l, "regime_head", &mut tensors, d)?),
            None => None,
        };
        if let Some(extra) = tensors.keys().next() {
            return Err(Error::Shape(format!("unexpected tensor {extra}")));
        }
        net.state = Some(MtState {
            n_inputs,
            scaler,
            bqx_scaling: scalings.0,
            vol_scaling: scalings.1,
            trunk,
            bqx,
            vol,
            regime,
        });
        Ok(net)
    }

    /// Trains on `x` with `targets`; `valid` is the time-ordered validation tail (early
    /// stopping). Every statistic (scalers, target scalings) comes from `x` and `targets` only.
    pub fn fit(
        &mut self,
        x: &Matrix,
        targets: &MultiTargets,
        valid: Option<(&Matrix, &MultiTargets)>,
    ) -> Result<NetFitReport> {
        let cfg = self.config.clone();
        let (n, p) = x.shape();
        targets.check(n, cfg.n_regimes, "training")?;
        if n < 2 || p == 0 {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Mlp,
                reason: format!("{n} rows × {p} features (need ≥ 2 rows and ≥ 1 feature)"),
            });
        }
        if u32::try_from(n).is_err() {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Mlp,
                reason: format!("{n} rows exceed the u32 row index"),
            });
        }
        if let Some((vx, vt)) = valid {
            if vx.cols() != p {
                return Err(Error::Shape(format!(
                    "validation has {} features, training {p}",
                    vx.cols()
                )));
            }
            vt.check(vx.rows(), cfg.n_regimes, "validation")?;
        }
        self.state = None;
        self.report = None;
        let scaler = StandardScaler::fit(x)?;
        let bqx_scaling = scaling(&targets.bqx);
        let vol_scaling = scaling(&targets.vol);
        let layout = cfg.layout(p);
        let mut init = rng(cfg.seed, STREAM_INIT);
        let d = &self.device;
        let mut state = MtState {
            n_inputs: p,
            scaler,
            bqx_scaling,
            vol_scaling,
            trunk: Stack::init(&layout.trunk, &mut init, d)?,
            bqx: Stack::init(&layout.bqx, &mut init, d)?,
            vol: layout
                .vol
                .as_ref()
                .map(|l| Stack::init(l, &mut init, d))
                .transpose()?,
            regime: layout
                .regime
                .as_ref()
                .map(|l| Stack::init(l, &mut init, d))
                .transpose()?,
        };

        let z = state.scaler.transform_rows_f32(x, 0..n);
        let x_all = Tensor::from_vec(z, (n, p), d)?;
        let yb_all = Tensor::from_vec(std_f32(&targets.bqx, bqx_scaling), n, d)?;
        let yv_all = Tensor::from_vec(std_f32(&targets.vol, vol_scaling), n, d)?;
        let yr_all = Tensor::from_slice(&targets.regime, n, d)?;
        let valid_z = valid
            .filter(|(vx, _)| vx.rows() > 0)
            .map(|(vx, vt)| (state.scaler.transform_rows_f32(vx, 0..vx.rows()), vt));

        let (mut decay, mut no_decay) = (Vec::new(), Vec::new());
        for s in state.parts_mut() {
            let (a, b) = s.params();
            decay.extend(a);
            no_decay.extend(b);
        }
        let params = |wd: f64| ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: wd,
            ..ParamsAdamW::default()
        };
        let mut opt_w = AdamW::new(decay, params(cfg.weight_decay))?;
        let mut opt_b = AdamW::new(no_decay, params(0.0))?;

        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut shuffle = rng(cfg.seed, STREAM_SHUFFLE);
        let mut dropout = rng(cfg.seed, STREAM_DROPOUT);
        let w = cfg.loss_weights;
        let mut lr = cfg.learning_rate;
        let mut epochs = Vec::new();
        let mut best: Option<(f64, usize, Vec<Snapshot>)> = None;
        let mut since_best = 0usize;
        let mut stopped_early = false;
        for epoch in 1..=cfg.max_epochs {
            order.shuffle(&mut shuffle);
            let mut sums = [0.0f64; 4];
            for batch in batches(&order, cfg.batch_size) {
                let idx = Tensor::from_slice(batch, batch.len(), d)?;
                let xb = x_all.index_select(&idx, 0)?;
                let mut mode = TrainMode {
                    dropout_rng: &mut dropout,
                };
                let (pb, pv, pr) = state.forward(&xb, Some(&mut mode))?;
                let lb = candle_nn::loss::mse(&pb, &yb_all.index_select(&idx, 0)?)?;
                let mut total = (&lb * w.bqx)?;
                let mut parts = [f64::from(lb.to_scalar::<f32>()?), 0.0, 0.0];
                if let Some(pv) = pv {
                    let lv = candle_nn::loss::mse(&pv, &yv_all.index_select(&idx, 0)?)?;
                    parts[1] = f64::from(lv.to_scalar::<f32>()?);
                    total = (total + (lv * w.vol)?)?;
                }
                if let Some(pr) = pr {
                    let lr_ = candle_nn::loss::cross_entropy(&pr, &yr_all.index_select(&idx, 0)?)?;
                    parts[2] = f64::from(lr_.to_scalar::<f32>()?);
                    total = (total + (lr_ * w.regime)?)?;
                }
                let grads = total.backward()?;
                opt_w.step(&grads)?;
                opt_b.step(&grads)?;
                let m = batch.len() as f64;
                sums[0] += f64::from(total.to_scalar::<f32>()?) * m;
                for k in 0..3 {
                    sums[k + 1] += parts[k] * m;
                }
            }
            let multi = cfg.tasks == Tasks::Multi;
            let train = HeadLosses {
                total: sums[0] / n as f64,
                bqx: sums[1] / n as f64,
                vol: multi.then_some(sums[2] / n as f64),
                regime: multi.then_some(sums[3] / n as f64),
            };
            if !train.total.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    loss: train.total,
                });
            }
            let (valid_losses, mae) = match &valid_z {
                Some((vz, vt)) => {
                    let out = predict_std(&mut state, d, vz, p)?;
                    let (l, mae) = losses(&out, vt, &state, w)?;
                    (Some(l), Some(mae))
                }
                None => (None, None),
            };
            epochs.push(HeadEpoch {
                epoch,
                learning_rate: lr,
                train,
                valid: valid_losses,
                valid_bqx_mae: mae,
            });
            if let Some(mae) = mae {
                if !mae.is_finite() {
                    return Err(Error::Diverged { epoch, loss: mae });
                }
                if best.as_ref().is_none_or(|b| mae < b.0) {
                    let snap = state
                        .parts_mut()
                        .iter()
                        .map(|s| s.snapshot())
                        .collect::<Result<Vec<_>>>()?;
                    best = Some((mae, epoch, snap));
                    since_best = 0;
                } else {
                    since_best += 1;
                    if since_best >= cfg.patience {
                        stopped_early = epoch < cfg.max_epochs;
                        break;
                    }
                    if since_best.is_multiple_of(cfg.lr_patience) {
                        lr *= cfg.lr_factor;
                        opt_w.set_learning_rate(lr);
                        opt_b.set_learning_rate(lr);
                    }
                }
            }
        }
        let best_epoch = match best {
            Some((_, e, snap)) => {
                for (s, sn) in state.parts_mut().into_iter().zip(&snap) {
                    s.restore(sn)?;
                }
                e
            }
            None => epochs.len(),
        };
        let report = NetFitReport {
            n_train: n,
            n_valid: valid_z.as_ref().map_or(0, |(vz, _)| vz.len() / p),
            epochs,
            best_epoch,
            stopped_early,
        };
        self.state = Some(state);
        self.report = Some(report.clone());
        Ok(report)
    }

    /// Predictions for `x` (evaluation mode), in the targets' units.
    pub fn predict(&mut self, x: &Matrix) -> Result<MultiOutput> {
        let device = self.device.clone();
        let state = self
            .state
            .as_mut()
            .ok_or(Error::NotFitted(ModelKind::Mlp))?;
        if x.cols() != state.n_inputs {
            return Err(Error::Shape(format!(
                "expected {} features, got {}",
                state.n_inputs,
                x.cols()
            )));
        }
        let z = state.scaler.transform_rows_f32(x, 0..x.rows());
        let out = predict_std(state, &device, &z, x.cols())?;
        let (b, v) = (state.bqx_scaling, state.vol_scaling);
        Ok(MultiOutput {
            bqx: out
                .bqx
                .iter()
                .map(|&o| f64::from(o) * b.std + b.mean)
                .collect(),
            vol: out
                .vol
                .map(|vs| vs.iter().map(|&o| f64::from(o) * v.std + v.mean).collect()),
            regime: out
                .regime
                .map(|rows| rows.chunks(self.config.n_regimes).map(softmax).collect()),
        })
    }
}

/// Raw outputs in standardized units (regime: logits, row-major).
struct StdOut {
    bqx: Vec<f32>,
    vol: Option<Vec<f32>>,
    regime: Option<Vec<f32>>,
}

fn predict_std(state: &mut MtState, device: &Device, z: &[f32], cols: usize) -> Result<StdOut> {
    let rows = z.len().checked_div(cols).unwrap_or(0);
    let mut out = StdOut {
        bqx: Vec::with_capacity(rows),
        vol: state.vol.as_ref().map(|_| Vec::with_capacity(rows)),
        regime: state.regime.as_ref().map(|_| Vec::new()),
    };
    let mut start = 0;
    while start < rows {
        let end = (start + EVAL_CHUNK).min(rows);
        let x = Tensor::from_slice(&z[start * cols..end * cols], (end - start, cols), device)?;
        let (b, v, r) = state.forward(&x, None)?;
        out.bqx.extend(b.to_vec1::<f32>()?);
        if let (Some(o), Some(v)) = (&mut out.vol, v) {
            o.extend(v.to_vec1::<f32>()?);
        }
        if let (Some(o), Some(r)) = (&mut out.regime, r) {
            o.extend(r.flatten_all()?.to_vec1::<f32>()?);
        }
        start = end;
    }
    Ok(out)
}

fn softmax(logits: &[f32]) -> Vec<f64> {
    let m = logits
        .iter()
        .fold(f64::NEG_INFINITY, |a, &b| a.max(f64::from(b)));
    let e: Vec<f64> = logits.iter().map(|&l| (f64::from(l) - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// Validation losses per head (standardized units) and the BQX MAE in the target's units.
fn losses(
    out: &StdOut,
    t: &MultiTargets,
    s: &MtState,
    w: LossWeights,
) -> Result<(HeadLosses, f64)> {
    let n = t.bqx.len().max(1) as f64;
    let b = s.bqx_scaling;
    let mut mse_b = 0.0;
    let mut mae = 0.0;
    for (o, y) in out.bqx.iter().zip(&t.bqx) {
        let e = f64::from(*o) - (y - b.mean) / b.std;
        mse_b += e * e;
        mae += (f64::from(*o) * b.std + b.mean - y).abs();
    }
    mse_b /= n;
    mae /= n;
    let vol = out.vol.as_ref().map(|vs| {
        let v = s.vol_scaling;
        vs.iter()
            .zip(&t.vol)
            .map(|(o, y)| (f64::from(*o) - (y - v.mean) / v.std).powi(2))
            .sum::<f64>()
            / n
    });
    let regime = out.regime.as_ref().map(|logits| {
        let k = logits.len() / t.regime.len().max(1);
        logits
            .chunks(k.max(1))
            .zip(&t.regime)
            .map(|(l, &c)| -softmax(l)[c as usize].max(1e-300).ln())
            .sum::<f64>()
            / n
    });
    let total =
        w.bqx * mse_b + vol.map_or(0.0, |v| w.vol * v) + regime.map_or(0.0, |r| w.regime * r);
    Ok((
        HeadLosses {
            total,
            bqx: mse_b,
            vol,
            regime,
        },
        mae,
    ))
}
