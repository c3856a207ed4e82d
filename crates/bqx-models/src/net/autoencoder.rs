//! Stage 2.17: the autoencoder whose 64-unit bottleneck gives every row its embedding.
//!
//! Training reads its rows through a [`RowSource`], a batch at a time, so the caller decides
//! where rows live (an in-memory [`Matrix`], or the store's feature files read on demand for a
//! year of 28-pair M1 that does not fit in memory).

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
use crate::mlp::NamedTensor;
use crate::model::ModelKind;
use crate::scaler::StandardScaler;

/// Rows read and encoded per step outside training (bounds memory, not results).
const CHUNK: usize = 8192;

/// Rows of raw (unstandardized) features, read a batch at a time.
pub trait RowSource: Sync {
    fn rows(&self) -> usize;
    fn cols(&self) -> usize;
    /// Appends the values of `rows` (in that order, row-major) to `out`. Every value finite.
    fn read(&self, rows: &[u32], out: &mut Vec<f32>) -> Result<()>;
}

impl RowSource for Matrix {
    fn rows(&self) -> usize {
        Matrix::rows(self)
    }
    fn cols(&self) -> usize {
        Matrix::cols(self)
    }
    fn read(&self, rows: &[u32], out: &mut Vec<f32>) -> Result<()> {
        for &i in rows {
            let i = i as usize;
            if i >= Matrix::rows(self) {
                return Err(Error::Shape(format!("row {i} out of range")));
            }
            out.extend(self.row(i).iter().map(|&v| v as f32));
        }
        Ok(())
    }
}

/// Hyper-parameters of [`Autoencoder`] (defaults: features.md § Stage 2.17).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoencoderConfig {
    /// Encoder widths before the bottleneck (ReLU, BatchNorm, dropout), default
    /// `[512, 256, 128]`; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Bottleneck width (the embedding size), default 64.
    pub bottleneck: usize,
    /// `linear` (default) or `tanh`: no ReLU at the bottleneck, so no unit can die there.
    pub bottleneck_activation: Activation,
    pub batch_norm: bool,
    pub dropout: f64,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Early stopping on the validation reconstruction MSE.
    pub patience: usize,
    /// Rows drawn per epoch (without replacement, fresh each epoch); `None` = every row.
    pub rows_per_epoch: Option<usize>,
    pub seed: u64,
    pub device: DeviceChoice,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        AutoencoderConfig {
            hidden: vec![512, 256, 128],
            bottleneck: 64,
            bottleneck_activation: Activation::Linear,
            batch_norm: true,
            dropout: 0.2,
            learning_rate: 1e-3,
            weight_decay: 1e-2,
            batch_size: 1024,
            max_epochs: 50,
            patience: 5,
            rows_per_epoch: None,
            seed: 0,
            device: DeviceChoice::Auto,
        }
    }
}

impl AutoencoderConfig {
    pub fn validate(&self) -> Result<()> {
        check_common(
            "autoencoder",
            self.learning_rate,
            self.weight_decay,
            self.batch_size,
            self.max_epochs,
            self.patience,
            self.dropout,
        )?;
        if self.hidden.contains(&0) || self.bottleneck == 0 {
            return Err(Error::InvalidConfig(
                "autoencoder: widths must be ≥ 1".into(),
            ));
        }
        if self.bottleneck_activation == Activation::Relu {
            return Err(Error::InvalidConfig(
                "autoencoder: the bottleneck is linear or tanh (a ReLU bottleneck can die)".into(),
            ));
        }
        if self.rows_per_epoch.is_some_and(|r| r < 2) {
            return Err(Error::InvalidConfig(
                "autoencoder: rows_per_epoch must be ≥ 2".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn layout(&self, n: usize) -> (Vec<BlockSpec>, Vec<BlockSpec>) {
        let d = self.dropout as f32;
        let encoder = chain(
            n,
            &self.hidden,
            self.batch_norm,
            d,
            Some((self.bottleneck, self.bottleneck_activation)),
        );
        let rev: Vec<usize> = self.hidden.iter().rev().copied().collect();
        let decoder = chain(
            self.bottleneck,
            &rev,
            self.batch_norm,
            d,
            Some((n, Activation::Linear)),
        );
        (encoder, decoder)
    }
}

/// One epoch of the training curve (MSE in standardized units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AeEpoch {
    pub epoch: usize,
    pub train_mse: f64,
    pub valid_mse: Option<f64>,
}

/// What a fit did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AeFitReport {
    pub n_train: usize,
    pub n_valid: usize,
    pub epochs: Vec<AeEpoch>,
    pub best_epoch: usize,
    pub stopped_early: bool,
}

#[derive(Debug)]
pub(crate) struct AeState {
    pub n_inputs: usize,
    pub scaler: StandardScaler,
    pub encoder: Stack,
    pub decoder: Stack,
}

/// The autoencoder of stage 2.17 in candle: `n → 512 → 256 → 128 → 64 → 128 → 256 → 512 → n`
/// by default, MSE on standardized features, AdamW, early stopping on a validation source.
#[derive(Debug)]
pub struct Autoencoder {
    config: AutoencoderConfig,
    device: Device,
    pub(crate) state: Option<AeState>,
    report: Option<AeFitReport>,
}

/// The scaler of a source, fitted in one streaming pass (two-pass-free: Chan's parallel
/// update of mean and M2 per chunk, in `f64`, in row order — deterministic).
pub fn fit_scaler(source: &dyn RowSource) -> Result<StandardScaler> {
    let (n, p) = (source.rows(), source.cols());
    if n == 0 {
        return Err(Error::Shape("cannot fit a scaler on zero rows".into()));
    }
    let mut mean = vec![0.0f64; p];
    let mut m2 = vec![0.0f64; p];
    let mut min = vec![f64::INFINITY; p];
    let mut max = vec![f64::NEG_INFINITY; p];
    let mut count = 0usize;
    let mut buf = Vec::new();
    let idx: Vec<u32> = (0..n as u32).collect();
    for chunk in idx.chunks(CHUNK) {
        buf.clear();
        source.read(chunk, &mut buf)?;
        for row in buf.chunks_exact(p) {
            count += 1;
            for (j, &v) in row.iter().enumerate() {
                let v = f64::from(v);
                let d = v - mean[j];
                mean[j] += d / count as f64;
                m2[j] += d * (v - mean[j]);
                min[j] = min[j].min(v);
                max[j] = max[j].max(v);
            }
        }
    }
    let mut std = vec![1.0; p];
    for j in 0..p {
        if max[j] == min[j] {
            mean[j] = min[j];
        } else {
            let s = (m2[j] / count as f64).sqrt();
            std[j] = if s > 0.0 && s.is_finite() { s } else { 1.0 };
        }
    }
    StandardScaler::from_parts(mean, std, count)
}

fn standardize(buf: &mut [f32], scaler: &StandardScaler) {
    let p = scaler.n_features();
    let (m, s) = (scaler.mean(), scaler.std());
    for row in buf.chunks_exact_mut(p) {
        for (j, v) in row.iter_mut().enumerate() {
            *v = ((f64::from(*v) - m[j]) / s[j]) as f32;
        }
    }
}

impl Autoencoder {
    pub fn new(config: AutoencoderConfig) -> Result<Self> {
        config.validate()?;
        let device = config.device.device()?;
        Ok(Autoencoder {
            config,
            device,
            state: None,
            report: None,
        })
    }

    pub fn config(&self) -> &AutoencoderConfig {
        &self.config
    }

    pub fn fit_report(&self) -> Option<&AeFitReport> {
        self.report.as_ref()
    }

    pub fn scaler(&self) -> Option<&StandardScaler> {
        self.state.as_ref().map(|s| &s.scaler)
    }

    pub fn n_features(&self) -> Option<usize> {
        self.state.as_ref().map(|s| s.n_inputs)
    }

    /// Every tensor with PyTorch-style names (`encoder.{i}.weight`, `decoder.{i}.bn.running_var`…).
    pub fn weights(&self) -> Result<Vec<NamedTensor>> {
        let s = self
            .state
            .as_ref()
            .ok_or(Error::NotFitted(ModelKind::Mlp))?;
        let mut out = s.encoder.named("encoder")?;
        out.extend(s.decoder.named("decoder")?);
        Ok(out)
    }

    /// Rebuilds a fitted autoencoder from saved parts.
    pub fn from_parts(
        config: AutoencoderConfig,
        scaler: StandardScaler,
        mut tensors: NamedValues,
    ) -> Result<Self> {
        let mut ae = Autoencoder::new(config)?;
        scaler.validate()?;
        let n = scaler.n_features();
        let (enc, dec) = ae.config.layout(n);
        let encoder = Stack::from_named(&enc, "encoder", &mut tensors, &ae.device)?;
        let decoder = Stack::from_named(&dec, "decoder", &mut tensors, &ae.device)?;
        if let Some(extra) = tensors.keys().next() {
            return Err(Error::Shape(format!("unexpected tensor {extra}")));
        }
        ae.state = Some(AeState {
            n_inputs: n,
            scaler,
            encoder,
            decoder,
        });
        Ok(ae)
    }

    /// Trains on `train` (the scaler is fitted on it, streaming); `valid` is the time-ordered
    /// validation tail for early stopping. Rows are read a batch at a time in a seeded
    /// shuffled order.
    pub fn fit(
        &mut self,
        train: &dyn RowSource,
        valid: Option<&dyn RowSource>,
    ) -> Result<AeFitReport> {
        let cfg = self.config.clone();
        let (n, p) = (train.rows(), train.cols());
        if n < 2 || p == 0 || u32::try_from(n).is_err() {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Mlp,
                reason: format!("autoencoder: {n} rows × {p} features"),
            });
        }
        if let Some(v) = valid
            && v.cols() != p
        {
            return Err(Error::Shape(format!(
                "validation has {} features, training {p}",
                v.cols()
            )));
        }
        self.state = None;
        self.report = None;
        let scaler = fit_scaler(train)?;
        let (enc, dec) = cfg.layout(p);
        let d = self.device.clone();
        let mut init = rng(cfg.seed, STREAM_INIT);
        let mut state = AeState {
            n_inputs: p,
            scaler,
            encoder: Stack::init(&enc, &mut init, &d)?,
            decoder: Stack::init(&dec, &mut init, &d)?,
        };
        let (mut decay, mut no_decay) = state.encoder.params();
        let (a, b) = state.decoder.params();
        decay.extend(a);
        no_decay.extend(b);
        let params = |wd: f64| ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: wd,
            ..ParamsAdamW::default()
        };
        let mut opt_w = AdamW::new(decay, params(cfg.weight_decay))?;
        let mut opt_b = AdamW::new(no_decay, params(0.0))?;

        let mut order: Vec<u32> = (0..n as u32).collect();
        let per_epoch = cfg.rows_per_epoch.unwrap_or(n).min(n);
        let mut shuffle = rng(cfg.seed, STREAM_SHUFFLE);
        let mut dropout = rng(cfg.seed, STREAM_DROPOUT);
        let mut buf = Vec::with_capacity(cfg.batch_size * p);
        let mut epochs = Vec::new();
        let mut best: Option<(f64, usize, Snapshot, Snapshot)> = None;
        let mut stopped_early = false;
        for epoch in 1..=cfg.max_epochs {
            order.shuffle(&mut shuffle);
            let mut sum = 0.0f64;
            for batch in batches(&order[..per_epoch], cfg.batch_size) {
                buf.clear();
                train.read(batch, &mut buf)?;
                standardize(&mut buf, &state.scaler);
                let xb = Tensor::from_slice(&buf, (batch.len(), p), &d)?;
                let mut mode = TrainMode {
                    dropout_rng: &mut dropout,
                };
                let code = state.encoder.forward(&xb, Some(&mut mode))?;
                let recon = state.decoder.forward(&code, Some(&mut mode))?;
                let loss = candle_nn::loss::mse(&recon, &xb)?;
                let grads = loss.backward()?;
                opt_w.step(&grads)?;
                opt_b.step(&grads)?;
                sum += f64::from(loss.to_scalar::<f32>()?) * batch.len() as f64;
            }
            let train_mse = sum / per_epoch as f64;
            if !train_mse.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    loss: train_mse,
                });
            }
            let valid_mse = match valid {
                Some(v) if v.rows() > 0 => {
                    let per_col = recon_error(&mut state, &d, v)?;
                    Some(per_col.iter().sum::<f64>() / p as f64)
                }
                _ => None,
            };
            epochs.push(AeEpoch {
                epoch,
                train_mse,
                valid_mse,
            });
            if let Some(vm) = valid_mse {
                if !vm.is_finite() {
                    return Err(Error::Diverged { epoch, loss: vm });
                }
                if best.as_ref().is_none_or(|b| vm < b.0) {
                    best = Some((
                        vm,
                        epoch,
                        state.encoder.snapshot()?,
                        state.decoder.snapshot()?,
                    ));
                } else if best.as_ref().is_some_and(|b| epoch - b.1 >= cfg.patience) {
                    stopped_early = epoch < cfg.max_epochs;
                    break;
                }
            }
        }
        let best_epoch = match best {
            Some((_, e, se, sd)) => {
                state.encoder.restore(&se)?;
                state.decoder.restore(&sd)?;
                e
            }
            None => epochs.len(),
        };
        let report = AeFitReport {
            n_train: n,
            n_valid: valid.map_or(0, RowSource::rows),
            epochs,
            best_epoch,
            stopped_early,
        };
        self.state = Some(state);
        self.report = Some(report.clone());
        Ok(report)
    }

    /// The fitted state, checked against `source`'s width.
    fn fitted(&mut self, source: &dyn RowSource) -> Result<(&mut AeState, Device)> {
        let d = self.device.clone();
        let state = self
            .state
            .as_mut()
            .ok_or(Error::NotFitted(ModelKind::Mlp))?;
        check_cols(state, source)?;
        Ok((state, d))
    }

    /// The embeddings of every row of `source` (row-major, `rows × bottleneck`).
    pub fn encode(&mut self, source: &dyn RowSource) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(source.rows() * self.config.bottleneck);
        let (state, d) = self.fitted(source)?;
        eval_chunks(state, &d, source, |state, x, _| {
            out.extend(
                state
                    .encoder
                    .forward(x, None)?
                    .flatten_all()?
                    .to_vec1::<f32>()?,
            );
            Ok(())
        })?;
        Ok(out)
    }

    /// Per hidden block of the encoder (the blocks before the bottleneck), how many ReLU units
    /// never fire (output 0 on every row of `source`): dead units carry nothing.
    pub fn dead_units(&mut self, source: &dyn RowSource) -> Result<Vec<usize>> {
        let (state, d) = self.fitted(source)?;
        let hidden = state.encoder.blocks.len().saturating_sub(1);
        let mut alive: Vec<Vec<bool>> = state.encoder.blocks[..hidden]
            .iter()
            .map(|b| vec![false; b.spec.fan_out])
            .collect();
        eval_chunks(state, &d, source, |state, x, _| {
            let mut h = x.clone();
            for (k, block) in state.encoder.blocks[..hidden].iter_mut().enumerate() {
                h = block.forward(&h, None)?;
                let width = alive[k].len();
                let v = h.flatten_all()?.to_vec1::<f32>()?;
                for row in v.chunks(width) {
                    for (a, &x) in alive[k].iter_mut().zip(row) {
                        *a |= x > 0.0;
                    }
                }
            }
            Ok(())
        })?;
        Ok(alive
            .iter()
            .map(|l| l.iter().filter(|&&a| !a).count())
            .collect())
    }

    /// Reconstructions of every row of `source` in standardized units (row-major).
    pub fn reconstruct_standardized(&mut self, source: &dyn RowSource) -> Result<Vec<f32>> {
        let (state, d) = self.fitted(source)?;
        let mut out = Vec::with_capacity(source.rows() * state.n_inputs);
        eval_chunks(state, &d, source, |state, x, _| {
            out.extend(reconstruct(state, x)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Mean squared reconstruction error per column (standardized units) over `source`.
    pub fn reconstruction_error(&mut self, source: &dyn RowSource) -> Result<Vec<f64>> {
        let (state, d) = self.fitted(source)?;
        recon_error(state, &d, source)
    }
}

/// Reads `source` in chunks, standardizes them with the fitted scaler and hands each chunk to
/// `f` as a tensor (with the standardized values), in evaluation mode.
fn eval_chunks(
    state: &mut AeState,
    d: &Device,
    source: &dyn RowSource,
    mut f: impl FnMut(&mut AeState, &Tensor, &[f32]) -> Result<()>,
) -> Result<()> {
    let idx: Vec<u32> = (0..source.rows() as u32).collect();
    let mut buf = Vec::new();
    for chunk in idx.chunks(CHUNK) {
        buf.clear();
        source.read(chunk, &mut buf)?;
        standardize(&mut buf, &state.scaler);
        let x = Tensor::from_slice(&buf, (chunk.len(), state.n_inputs), d)?;
        f(state, &x, &buf)?;
    }
    Ok(())
}

/// The decoder's output for standardized rows `x` (row-major).
fn reconstruct(state: &mut AeState, x: &Tensor) -> Result<Vec<f32>> {
    let code = state.encoder.forward(x, None)?;
    Ok(state
        .decoder
        .forward(&code, None)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

fn check_cols(state: &AeState, source: &dyn RowSource) -> Result<()> {
    if source.cols() != state.n_inputs {
        return Err(Error::Shape(format!(
            "expected {} features, got {}",
            state.n_inputs,
            source.cols()
        )));
    }
    Ok(())
}

fn recon_error(state: &mut AeState, d: &Device, source: &dyn RowSource) -> Result<Vec<f64>> {
    let p = state.n_inputs;
    let n = source.rows();
    let mut sums = vec![0.0f64; p];
    eval_chunks(state, d, source, |state, x, z| {
        let r = reconstruct(state, x)?;
        for (row_r, row_x) in r.chunks_exact(p).zip(z.chunks_exact(p)) {
            for j in 0..p {
                let e = f64::from(row_r[j]) - f64::from(row_x[j]);
                sums[j] += e * e;
            }
        }
        Ok(())
    })?;
    Ok(sums.into_iter().map(|s| s / n.max(1) as f64).collect())
}
