//! Multi-layer perceptron regressor in candle, deterministic on the CPU.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::device::DeviceChoice;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::model::{
    EpochRecord, FitReport, ModelKind, Regressor, check_fit_inputs, check_predict_cols, mse,
};
use crate::scaler::StandardScaler;

/// Hyper-parameters of [`Mlp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpConfig {
    /// Widths of the hidden layers (ReLU after each), default `[64, 32]`. Empty = linear model.
    pub hidden: Vec<usize>,
    /// Dropout probability after each hidden activation during training (0 ≤ p < 1; default 0).
    pub dropout: f64,
    /// AdamW learning rate (default 1e-3).
    pub learning_rate: f64,
    /// AdamW decoupled weight decay, applied to weight matrices only, not biases (default 1e-2).
    pub weight_decay: f64,
    /// Mini-batch size (default 512; the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Maximum number of epochs (default 100).
    pub max_epochs: usize,
    /// Early stopping: stop after this many epochs without a validation improvement
    /// (default 10). Used only when a validation set is given.
    pub patience: usize,
    /// Smallest decrease of the validation loss that counts as an improvement (default 0).
    pub min_delta: f64,
    /// Standardize the target with its training mean and std (ddof 0) before training and undo
    /// it on prediction (default true). BQX targets are small numbers; unit scale suits the
    /// default learning rate.
    pub standardize_target: bool,
    /// Seed of the weight initialization, the mini-batch shuffling and the dropout masks.
    pub seed: u64,
    /// Compute device (default `auto`: a compiled-in GPU backend if present, else the CPU).
    pub device: DeviceChoice,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            hidden: vec![64, 32],
            dropout: 0.0,
            learning_rate: 1e-3,
            weight_decay: 1e-2,
            batch_size: 512,
            max_epochs: 100,
            patience: 10,
            min_delta: 0.0,
            standardize_target: true,
            seed: 0,
            device: DeviceChoice::Auto,
        }
    }
}

impl MlpConfig {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(format!("mlp: {m}")));
        if self.hidden.contains(&0) {
            return bad(format!(
                "hidden layer widths must be ≥ 1, got {:?}",
                self.hidden
            ));
        }
        if !(self.dropout >= 0.0 && self.dropout < 1.0) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning_rate must be > 0, got {}",
                self.learning_rate
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "weight_decay must be ≥ 0, got {}",
                self.weight_decay
            ));
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return bad(format!("min_delta must be ≥ 0, got {}", self.min_delta));
        }
        if self.batch_size == 0 || self.max_epochs == 0 || self.patience == 0 {
            return bad("batch_size, max_epochs and patience must be ≥ 1".into());
        }
        Ok(())
    }
}

/// The layer sizes of a network: `n_inputs → hidden… → 1`, ReLU between layers, `f32` weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlpArchitecture {
    /// Number of input features.
    pub n_inputs: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Number of outputs (1).
    pub n_outputs: usize,
    /// Activation after each hidden layer (`"relu"`).
    pub activation: String,
    /// Weight dtype (`"f32"`).
    pub dtype: String,
    /// Tensor names in the safetensors file: `layers.{i}.weight` (shape `[out, in]`, as
    /// candle-nn / PyTorch `Linear`) and `layers.{i}.bias` (shape `[out]`).
    pub tensor_names: Vec<String>,
}

impl MlpArchitecture {
    fn new(n_inputs: usize, hidden: &[usize]) -> Self {
        let n_layers = hidden.len() + 1;
        let tensor_names = (0..n_layers)
            .flat_map(|i| [format!("layers.{i}.weight"), format!("layers.{i}.bias")])
            .collect();
        MlpArchitecture {
            n_inputs,
            hidden: hidden.to_vec(),
            n_outputs: 1,
            activation: "relu".into(),
            dtype: "f32".into(),
            tensor_names,
        }
    }

    /// `(fan_in, fan_out)` of each linear layer.
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        let mut dims = Vec::with_capacity(self.hidden.len() + 1);
        let mut fan_in = self.n_inputs;
        for &h in &self.hidden {
            dims.push((fan_in, h));
            fan_in = h;
        }
        dims.push((fan_in, self.n_outputs));
        dims
    }
}

/// The affine map applied to the target before training: `t = (y − mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScaling {
    /// Training mean of the target (0 when not standardized).
    pub mean: f64,
    /// Training std of the target, ddof 0 (1 when not standardized or constant).
    pub std: f64,
}

/// One weight array of a network, row-major, as stored in its safetensors file.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// `layers.{i}.weight` or `layers.{i}.bias`.
    pub name: String,
    /// `[out, in]` for weights, `[out]` for biases.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// The outcome of the training loop.
struct Trained {
    layers: Vec<Layer>,
    epochs: Vec<EpochRecord>,
    best_epoch: Option<usize>,
    stopped_early: bool,
}

/// The best epoch so far and a copy of its weights.
struct Best {
    loss: f64,
    epoch: usize,
    snapshot: Vec<(Tensor, Tensor)>,
}

#[derive(Debug)]
struct Layer {
    weight: Var,
    bias: Var,
}

#[derive(Debug)]
struct MlpState {
    arch: MlpArchitecture,
    layers: Vec<Layer>,
    scaler: StandardScaler,
    target: TargetScaling,
}

/// Rows per forward pass when predicting or validating (bounds memory, not results).
const EVAL_CHUNK: usize = 8192;

// Independent ChaCha streams of one seed, so that e.g. turning dropout on does not change the
// initial weights or the batch order.
const STREAM_INIT: u64 = 1;
const STREAM_SHUFFLE: u64 = 2;
const STREAM_DROPOUT: u64 = 3;

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// A feed-forward regressor `n_inputs → hidden… → 1` with ReLU, trained with AdamW on the MSE.
///
/// Training, per fit:
/// * features standardized by a [`StandardScaler`] fitted on the training rows; the target by
///   [`TargetScaling`] (see [`MlpConfig::standardize_target`]);
/// * weights drawn from **our** ChaCha8 RNG (candle's CPU RNG is not seedable): He-uniform
///   `U(±√(6/fan_in))` for layers followed by ReLU, `U(±√(3/fan_in))` for the output layer,
///   zero biases;
/// * each epoch shuffles the training rows with a seeded ChaCha8 RNG and walks them in
///   mini-batches; dropout masks (inverted dropout, scaled by `1/(1−p)`) also come from a
///   seeded ChaCha8 stream;
/// * with a validation set: the validation MSE is computed after every epoch; training stops
///   after `patience` epochs without improvement and the best epoch's weights are restored.
///   Without one, training runs `max_epochs` and keeps the last weights.
///
/// **Determinism.** On the CPU, the same data, config and seed give bit-identical weights and
/// predictions (tested, with candle's matrix products running on 2 rayon threads). candle's
/// CPU matmul (the `gemm` crate) splits work over threads by output tiles only, never along
/// the summed dimension, so every sum is accumulated in a fixed order; the other operations
/// used (element-wise maps, row gathers, sums over the batch) are sequential or element-wise.
/// No thread count needs fixing. The `mlp_throughput` example gave the same prediction
/// checksum with `RAYON_NUM_THREADS=1` and `2`, but bit-identity across machines (another SIMD
/// width) is not promised, nor on GPUs.
#[derive(Debug)]
pub struct Mlp {
    config: MlpConfig,
    device: Device,
    state: Option<MlpState>,
    report: Option<FitReport>,
}

impl Mlp {
    /// An unfitted network on the configured device.
    pub fn new(config: MlpConfig) -> Result<Self> {
        config.validate()?;
        let device = config.device.device()?;
        Ok(Mlp {
            config,
            device,
            state: None,
            report: None,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &MlpConfig {
        &self.config
    }

    /// The architecture once fitted.
    pub fn architecture(&self) -> Option<&MlpArchitecture> {
        self.state.as_ref().map(|s| &s.arch)
    }

    /// The feature scaler once fitted.
    pub fn scaler(&self) -> Option<&StandardScaler> {
        self.state.as_ref().map(|s| &s.scaler)
    }

    /// The target scaling once fitted.
    pub fn target_scaling(&self) -> Option<TargetScaling> {
        self.state.as_ref().map(|s| s.target)
    }

    /// The weights as named `f32` arrays with their shapes (row-major), in layer order.
    pub fn weights(&self) -> Result<Vec<NamedTensor>> {
        let state = self
            .state
            .as_ref()
            .ok_or(Error::NotFitted(ModelKind::Mlp))?;
        let mut out = Vec::with_capacity(state.layers.len() * 2);
        for (i, layer) in state.layers.iter().enumerate() {
            for (suffix, var) in [("weight", &layer.weight), ("bias", &layer.bias)] {
                let t = var.as_tensor();
                let shape = t.dims().to_vec();
                let values = t.to_device(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?;
                out.push(NamedTensor {
                    name: format!("layers.{i}.{suffix}"),
                    shape,
                    values,
                });
            }
        }
        Ok(out)
    }

    /// Rebuilds a fitted network from its parts (used by checkpoint loading).
    pub(crate) fn from_parts(
        config: MlpConfig,
        arch: MlpArchitecture,
        scaler: StandardScaler,
        target: TargetScaling,
        mut tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
        report: Option<FitReport>,
    ) -> Result<Self> {
        let mut mlp = Mlp::new(config)?;
        if arch.hidden != mlp.config.hidden || arch.n_outputs != 1 {
            return Err(Error::InvalidConfig(
                "architecture does not match the hyper-parameters".into(),
            ));
        }
        scaler.validate()?;
        if scaler.n_features() != arch.n_inputs {
            return Err(Error::Shape(format!(
                "scaler has {} features, architecture {}",
                scaler.n_features(),
                arch.n_inputs
            )));
        }
        if !(target.mean.is_finite() && target.std.is_finite() && target.std > 0.0) {
            return Err(Error::InvalidConfig("invalid target scaling".into()));
        }
        let mut layers = Vec::new();
        for (i, (fan_in, fan_out)) in arch.layer_dims().into_iter().enumerate() {
            let mut take = |name: String, shape: Vec<usize>| -> Result<Var> {
                let (s, v) = tensors
                    .remove(&name)
                    .ok_or_else(|| Error::Shape(format!("missing tensor {name}")))?;
                if s != shape {
                    return Err(Error::Shape(format!(
                        "tensor {name} has shape {s:?}, expected {shape:?}"
                    )));
                }
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(Error::InvalidConfig(format!(
                        "tensor {name} holds non-finite values"
                    )));
                }
                Ok(Var::from_tensor(&Tensor::from_vec(v, shape, &mlp.device)?)?)
            };
            let weight = take(format!("layers.{i}.weight"), vec![fan_out, fan_in])?;
            let bias = take(format!("layers.{i}.bias"), vec![fan_out])?;
            layers.push(Layer { weight, bias });
        }
        if let Some(extra) = tensors.keys().next() {
            return Err(Error::Shape(format!("unexpected tensor {extra}")));
        }
        mlp.state = Some(MlpState {
            arch,
            layers,
            scaler,
            target,
        });
        mlp.report = report;
        Ok(mlp)
    }

    fn init_layers(&self, arch: &MlpArchitecture) -> Result<Vec<Layer>> {
        let mut r = rng(self.config.seed, STREAM_INIT);
        let dims = arch.layer_dims();
        let n_layers = dims.len();
        let mut layers = Vec::with_capacity(n_layers);
        for (i, (fan_in, fan_out)) in dims.into_iter().enumerate() {
            let gain = if i + 1 < n_layers { 6.0 } else { 3.0 };
            let bound = (gain / fan_in.max(1) as f64).sqrt() as f32;
            let w: Vec<f32> = (0..fan_in * fan_out)
                .map(|_| r.gen_range(-bound..=bound))
                .collect();
            let weight = Var::from_tensor(&Tensor::from_vec(w, (fan_out, fan_in), &self.device)?)?;
            let bias = Var::zeros(fan_out, DType::F32, &self.device)?;
            layers.push(Layer { weight, bias });
        }
        Ok(layers)
    }

    /// Forward pass; `dropout` = `(rng, p)` in training mode, `None` in evaluation mode.
    /// Returns a `[rows]` tensor.
    fn forward(
        layers: &[Layer],
        x: &Tensor,
        mut dropout: Option<(&mut ChaCha8Rng, f32)>,
    ) -> Result<Tensor> {
        let mut h = x.clone();
        let last = layers.len() - 1;
        for (i, layer) in layers.iter().enumerate() {
            h = h
                .matmul(&layer.weight.as_tensor().t()?)?
                .broadcast_add(layer.bias.as_tensor())?;
            if i < last {
                h = h.relu()?;
                if let Some((r, p)) = dropout.as_mut() {
                    let p = *p;
                    if p > 0.0 {
                        let (rows, cols) = h.dims2()?;
                        let keep = 1.0 / (1.0 - p);
                        let mask: Vec<f32> = (0..rows * cols)
                            .map(|_| if r.r#gen::<f32>() < p { 0.0 } else { keep })
                            .collect();
                        h = h.mul(&Tensor::from_vec(mask, (rows, cols), h.device())?)?;
                    }
                }
            }
        }
        Ok(h.squeeze(1)?)
    }

    /// Evaluation-mode outputs (standardized target units) for standardized `f32` rows.
    fn forward_eval(layers: &[Layer], device: &Device, z: &[f32], cols: usize) -> Result<Vec<f32>> {
        let rows = z.len().checked_div(cols).unwrap_or(0);
        let mut out = Vec::with_capacity(rows);
        let mut start = 0;
        while start < rows {
            let end = (start + EVAL_CHUNK).min(rows);
            let x = Tensor::from_slice(&z[start * cols..end * cols], (end - start, cols), device)?;
            out.extend(Self::forward(layers, &x, None)?.to_vec1::<f32>()?);
            start = end;
        }
        Ok(out)
    }

    fn train(
        &self,
        arch: &MlpArchitecture,
        z: Vec<f32>,
        t: &[f32],
        valid: Option<(&[f32], &[f64])>,
    ) -> Result<Trained> {
        let cfg = &self.config;
        let (n, p) = (t.len(), arch.n_inputs);
        let layers = self.init_layers(arch)?;
        let (weights, biases): (Vec<Var>, Vec<Var>) = layers
            .iter()
            .map(|l| (l.weight.clone(), l.bias.clone()))
            .unzip();
        let adam = |wd: f64| ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: wd,
            ..ParamsAdamW::default()
        };
        let mut opt_w = AdamW::new(weights, adam(cfg.weight_decay))?;
        let mut opt_b = AdamW::new(biases, adam(0.0))?;

        let x_all = Tensor::from_vec(z, (n, p), &self.device)?;
        let y_all = Tensor::from_slice(t, n, &self.device)?;
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut shuffle_rng = rng(cfg.seed, STREAM_SHUFFLE);
        let mut dropout_rng = rng(cfg.seed, STREAM_DROPOUT);
        let p_drop = cfg.dropout as f32;

        let mut history = Vec::new();
        let mut best: Option<Best> = None;
        let mut stopped_early = false;
        for epoch in 1..=cfg.max_epochs {
            order.shuffle(&mut shuffle_rng);
            let mut loss_sum = 0.0f64;
            for batch in order.chunks(cfg.batch_size) {
                let idx = Tensor::from_slice(batch, batch.len(), &self.device)?;
                let xb = x_all.index_select(&idx, 0)?;
                let yb = y_all.index_select(&idx, 0)?;
                let pred = Self::forward(&layers, &xb, Some((&mut dropout_rng, p_drop)))?;
                let loss = candle_nn::loss::mse(&pred, &yb)?;
                let grads = loss.backward()?;
                opt_w.step(&grads)?;
                opt_b.step(&grads)?;
                loss_sum += f64::from(loss.to_scalar::<f32>()?) * batch.len() as f64;
            }
            let train_loss = loss_sum / n as f64;
            if !train_loss.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    loss: train_loss,
                });
            }
            let valid_loss = match valid {
                Some((vz, vt)) => {
                    let out = Self::forward_eval(&layers, &self.device, vz, p)?;
                    let out: Vec<f64> = out.into_iter().map(f64::from).collect();
                    Some(mse(&out, vt))
                }
                None => None,
            };
            history.push(EpochRecord {
                epoch,
                train_loss,
                valid_loss,
            });
            if let Some(vl) = valid_loss {
                if !vl.is_finite() {
                    return Err(Error::Diverged { epoch, loss: vl });
                }
                let improved = best.as_ref().is_none_or(|b| vl < b.loss - cfg.min_delta);
                if improved {
                    let snapshot = layers
                        .iter()
                        .map(|l| Ok((l.weight.as_tensor().copy()?, l.bias.as_tensor().copy()?)))
                        .collect::<Result<Vec<_>>>()?;
                    best = Some(Best {
                        loss: vl,
                        epoch,
                        snapshot,
                    });
                } else if best
                    .as_ref()
                    .is_some_and(|b| epoch - b.epoch >= cfg.patience)
                {
                    stopped_early = epoch < cfg.max_epochs;
                    break;
                }
            }
        }
        let best_epoch = match best {
            Some(best) => {
                for (l, (w, b)) in layers.iter().zip(best.snapshot) {
                    l.weight.set(&w)?;
                    l.bias.set(&b)?;
                }
                Some(best.epoch)
            }
            None => history.last().map(|h| h.epoch),
        };
        Ok(Trained {
            layers,
            epochs: history,
            best_epoch,
            stopped_early,
        })
    }
}

impl Regressor for Mlp {
    fn kind(&self) -> ModelKind {
        ModelKind::Mlp
    }
    fn name(&self) -> &str {
        "mlp"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }

    fn fit(
        &mut self,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
    ) -> Result<FitReport> {
        check_fit_inputs(ModelKind::Mlp, x, y, valid)?;
        if x.cols() == 0 {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Mlp,
                reason: "no features".into(),
            });
        }
        let n = x.rows();
        if u32::try_from(n).is_err() {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Mlp,
                reason: format!("{n} rows exceed the u32 row index of the batch sampler"),
            });
        }
        self.state = None;
        self.report = None;
        let scaler = StandardScaler::fit(x)?;
        let z = scaler.transform_rows_f32(x, 0..n);
        let target = if self.config.standardize_target {
            let mean = y.iter().sum::<f64>() / n as f64;
            let sd = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
            TargetScaling {
                mean,
                std: if sd > 0.0 && sd.is_finite() { sd } else { 1.0 },
            }
        } else {
            TargetScaling {
                mean: 0.0,
                std: 1.0,
            }
        };
        let t: Vec<f32> = y
            .iter()
            .map(|v| ((v - target.mean) / target.std) as f32)
            .collect();
        let valid_std = match valid {
            Some((vx, vy)) if vx.rows() > 0 => {
                let vz = scaler.transform_rows_f32(vx, 0..vx.rows());
                let vt: Vec<f64> = vy.iter().map(|v| (v - target.mean) / target.std).collect();
                Some((vz, vt))
            }
            _ => None,
        };
        let arch = MlpArchitecture::new(x.cols(), &self.config.hidden);
        let Trained {
            layers,
            epochs,
            best_epoch,
            stopped_early,
        } = self.train(
            &arch,
            z,
            &t,
            valid_std
                .as_ref()
                .map(|(a, b)| (a.as_slice(), b.as_slice())),
        )?;
        self.state = Some(MlpState {
            arch,
            layers,
            scaler,
            target,
        });
        let mut report = FitReport::basic(ModelKind::Mlp, x, y, valid, |m| self.predict(m))?;
        report.epochs = epochs;
        report.best_epoch = best_epoch;
        report.stopped_early = stopped_early;
        self.report = Some(report.clone());
        Ok(report)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        let state = self
            .state
            .as_ref()
            .ok_or(Error::NotFitted(ModelKind::Mlp))?;
        check_predict_cols(state.arch.n_inputs, x)?;
        let TargetScaling { mean, std } = state.target;
        let mut out = Vec::with_capacity(x.rows());
        let mut start = 0;
        while start < x.rows() {
            let end = (start + EVAL_CHUNK).min(x.rows());
            let z = state.scaler.transform_rows_f32(x, start..end);
            let pred = Self::forward_eval(&state.layers, &self.device, &z, x.cols())?;
            out.extend(pred.into_iter().map(|v| f64::from(v) * std + mean));
            start = end;
        }
        Ok(out)
    }

    fn n_features(&self) -> Option<usize> {
        self.state.as_ref().map(|s| s.arch.n_inputs)
    }

    fn fit_report(&self) -> Option<&FitReport> {
        self.report.as_ref()
    }
}
