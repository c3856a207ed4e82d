//! The building blocks of the stage networks: a dense layer with optional batch normalization,
//! an activation and inverted dropout, initialized from our own seeded RNG.
//!
//! Order inside a block (training): `x·Wᵀ + b → BatchNorm → activation → dropout`. In
//! evaluation mode BatchNorm uses its running statistics and dropout is off, so a forward pass
//! is a pure function of the weights (what the numpy goldens recompute).

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::NamedValues;
use crate::error::{Error, Result};
use crate::mlp::NamedTensor;

/// BatchNorm's ε (as PyTorch).
pub(crate) const BN_EPS: f64 = 1e-5;
/// BatchNorm's running-statistics momentum (as PyTorch: `new = (1 − m)·old + m·batch`).
pub(crate) const BN_MOMENTUM: f64 = 0.1;

/// Independent ChaCha streams of one seed (init, shuffle, dropout), so that e.g. turning
/// dropout on does not change the initial weights or the batch order.
pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}
pub(crate) const STREAM_INIT: u64 = 1;
pub(crate) const STREAM_SHUFFLE: u64 = 2;
pub(crate) const STREAM_DROPOUT: u64 = 3;

/// The activation after a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    Tanh,
    /// None (an output layer, or a linear bottleneck).
    Linear,
}

/// One block's shape and behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BlockSpec {
    pub fan_in: usize,
    pub fan_out: usize,
    pub batch_norm: bool,
    pub activation: Activation,
    pub dropout: f32,
}

/// Batch normalization over the rows of a batch: learned scale and shift, running mean and
/// (unbiased) variance for evaluation.
#[derive(Debug)]
pub(crate) struct BatchNorm {
    pub gamma: Var,
    pub beta: Var,
    pub running_mean: Tensor,
    pub running_var: Tensor,
}

#[derive(Debug)]
pub(crate) struct Block {
    pub spec: BlockSpec,
    pub weight: Var,
    pub bias: Var,
    pub bn: Option<BatchNorm>,
}

/// Training-mode context of a forward pass: the dropout stream.
pub(crate) struct TrainMode<'a> {
    pub dropout_rng: &'a mut ChaCha8Rng,
}

impl Block {
    /// A fresh block: He-uniform `U(±√(6/fan_in))` before a ReLU, `U(±√(3/fan_in))` otherwise,
    /// zero biases, BatchNorm scale 1 and shift 0, running mean 0 and variance 1.
    pub fn init(spec: BlockSpec, r: &mut ChaCha8Rng, device: &Device) -> Result<Block> {
        let gain = if spec.activation == Activation::Relu {
            6.0
        } else {
            3.0
        };
        let bound = (gain / spec.fan_in.max(1) as f64).sqrt() as f32;
        let w: Vec<f32> = (0..spec.fan_in * spec.fan_out)
            .map(|_| r.gen_range(-bound..=bound))
            .collect();
        let weight = Var::from_tensor(&Tensor::from_vec(w, (spec.fan_out, spec.fan_in), device)?)?;
        let bias = Var::zeros(spec.fan_out, DType::F32, device)?;
        let bn = if spec.batch_norm {
            Some(BatchNorm {
                gamma: Var::ones(spec.fan_out, DType::F32, device)?,
                beta: Var::zeros(spec.fan_out, DType::F32, device)?,
                running_mean: Tensor::zeros(spec.fan_out, DType::F32, device)?,
                running_var: Tensor::ones(spec.fan_out, DType::F32, device)?,
            })
        } else {
            None
        };
        Ok(Block {
            spec,
            weight,
            bias,
            bn,
        })
    }

    /// Forward pass of `[rows, fan_in]` → `[rows, fan_out]`. In training mode BatchNorm uses
    /// the batch's statistics and updates its running ones.
    pub fn forward(&mut self, x: &Tensor, train: Option<&mut TrainMode<'_>>) -> Result<Tensor> {
        let mut h = x
            .matmul(&self.weight.as_tensor().t()?)?
            .broadcast_add(self.bias.as_tensor())?;
        if let Some(bn) = &mut self.bn {
            let (mean, var) = if train.is_some() {
                let rows = h.dims2()?.0;
                let mean = h.mean_keepdim(0)?;
                let var = h.broadcast_sub(&mean)?.sqr()?.mean_keepdim(0)?;
                // Running statistics: outside the graph; the variance unbiased (as PyTorch).
                let m = BN_MOMENTUM;
                let unbias = rows as f64 / (rows.max(2) - 1) as f64;
                bn.running_mean =
                    ((&bn.running_mean * (1.0 - m))? + (mean.detach().squeeze(0)? * m)?)?;
                bn.running_var =
                    ((&bn.running_var * (1.0 - m))? + (var.detach().squeeze(0)? * (m * unbias))?)?;
                (mean, var)
            } else {
                (bn.running_mean.unsqueeze(0)?, bn.running_var.unsqueeze(0)?)
            };
            h = h
                .broadcast_sub(&mean)?
                .broadcast_div(&(var + BN_EPS)?.sqrt()?)?
                .broadcast_mul(bn.gamma.as_tensor())?
                .broadcast_add(bn.beta.as_tensor())?;
        }
        h = match self.spec.activation {
            Activation::Relu => h.relu()?,
            Activation::Tanh => h.tanh()?,
            Activation::Linear => h,
        };
        if let Some(t) = train {
            let p = self.spec.dropout;
            if p > 0.0 {
                let (rows, cols) = h.dims2()?;
                let keep = 1.0 / (1.0 - p);
                let mask: Vec<f32> = (0..rows * cols)
                    .map(|_| {
                        if t.dropout_rng.r#gen::<f32>() < p {
                            0.0
                        } else {
                            keep
                        }
                    })
                    .collect();
                h = h.mul(&Tensor::from_vec(mask, (rows, cols), h.device())?)?;
            }
        }
        Ok(h)
    }

    /// Trainable tensors with weight decay (the weight matrix) and without (bias, BN).
    pub fn params(&self) -> (Vec<Var>, Vec<Var>) {
        let mut no_decay = vec![self.bias.clone()];
        if let Some(bn) = &self.bn {
            no_decay.push(bn.gamma.clone());
            no_decay.push(bn.beta.clone());
        }
        (vec![self.weight.clone()], no_decay)
    }

    /// A copy of every tensor (trainable and running statistics), for early stopping.
    pub fn snapshot(&self) -> Result<Vec<Tensor>> {
        let mut out = vec![
            self.weight.as_tensor().copy()?,
            self.bias.as_tensor().copy()?,
        ];
        if let Some(bn) = &self.bn {
            out.push(bn.gamma.as_tensor().copy()?);
            out.push(bn.beta.as_tensor().copy()?);
            out.push(bn.running_mean.copy()?);
            out.push(bn.running_var.copy()?);
        }
        Ok(out)
    }

    /// Restores a [`Block::snapshot`].
    pub fn restore(&mut self, snap: &[Tensor]) -> Result<()> {
        self.weight.set(&snap[0])?;
        self.bias.set(&snap[1])?;
        if let Some(bn) = &mut self.bn {
            bn.gamma.set(&snap[2])?;
            bn.beta.set(&snap[3])?;
            bn.running_mean = snap[4].clone();
            bn.running_var = snap[5].clone();
        }
        Ok(())
    }

    /// The block's tensors under `prefix` (`{prefix}.weight`, `.bias`, `.bn.weight`,
    /// `.bn.bias`, `.bn.running_mean`, `.bn.running_var`; PyTorch's names and shapes).
    pub fn named(&self, prefix: &str) -> Result<Vec<NamedTensor>> {
        let mut out = vec![
            named(format!("{prefix}.weight"), self.weight.as_tensor())?,
            named(format!("{prefix}.bias"), self.bias.as_tensor())?,
        ];
        if let Some(bn) = &self.bn {
            out.push(named(format!("{prefix}.bn.weight"), bn.gamma.as_tensor())?);
            out.push(named(format!("{prefix}.bn.bias"), bn.beta.as_tensor())?);
            out.push(named(
                format!("{prefix}.bn.running_mean"),
                &bn.running_mean,
            )?);
            out.push(named(format!("{prefix}.bn.running_var"), &bn.running_var)?);
        }
        Ok(out)
    }

    /// Rebuilds a block from named tensors (taken out of `tensors`), checking every shape.
    pub fn from_named(
        spec: BlockSpec,
        prefix: &str,
        tensors: &mut NamedValues,
        device: &Device,
    ) -> Result<Block> {
        let mut take = |suffix: &str, shape: Vec<usize>| -> Result<Tensor> {
            let name = format!("{prefix}.{suffix}");
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
            Ok(Tensor::from_vec(v, shape, device)?)
        };
        let weight = Var::from_tensor(&take("weight", vec![spec.fan_out, spec.fan_in])?)?;
        let bias = Var::from_tensor(&take("bias", vec![spec.fan_out])?)?;
        let bn = if spec.batch_norm {
            Some(BatchNorm {
                gamma: Var::from_tensor(&take("bn.weight", vec![spec.fan_out])?)?,
                beta: Var::from_tensor(&take("bn.bias", vec![spec.fan_out])?)?,
                running_mean: take("bn.running_mean", vec![spec.fan_out])?,
                running_var: take("bn.running_var", vec![spec.fan_out])?,
            })
        } else {
            None
        };
        Ok(Block {
            spec,
            weight,
            bias,
            bn,
        })
    }
}

fn named(name: String, t: &Tensor) -> Result<NamedTensor> {
    Ok(NamedTensor {
        name,
        shape: t.dims().to_vec(),
        values: t.to_device(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?,
    })
}

/// A copy of a stack's tensors (early stopping keeps the best epoch's).
pub(crate) type Snapshot = Vec<Vec<Tensor>>;

/// A stack of blocks run in order.
#[derive(Debug)]
pub(crate) struct Stack {
    pub blocks: Vec<Block>,
}

impl Stack {
    pub fn init(specs: &[BlockSpec], r: &mut ChaCha8Rng, device: &Device) -> Result<Stack> {
        Ok(Stack {
            blocks: specs
                .iter()
                .map(|s| Block::init(*s, r, device))
                .collect::<Result<_>>()?,
        })
    }

    pub fn forward(&mut self, x: &Tensor, mut train: Option<&mut TrainMode<'_>>) -> Result<Tensor> {
        let mut h = x.clone();
        for b in &mut self.blocks {
            h = b.forward(&h, train.as_deref_mut())?;
        }
        Ok(h)
    }

    pub fn params(&self) -> (Vec<Var>, Vec<Var>) {
        let mut decay = Vec::new();
        let mut no_decay = Vec::new();
        for b in &self.blocks {
            let (d, n) = b.params();
            decay.extend(d);
            no_decay.extend(n);
        }
        (decay, no_decay)
    }

    pub fn snapshot(&self) -> Result<Snapshot> {
        self.blocks.iter().map(Block::snapshot).collect()
    }

    pub fn restore(&mut self, snap: &[Vec<Tensor>]) -> Result<()> {
        for (b, s) in self.blocks.iter_mut().zip(snap) {
            b.restore(s)?;
        }
        Ok(())
    }

    pub fn named(&self, prefix: &str) -> Result<Vec<NamedTensor>> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            out.extend(b.named(&format!("{prefix}.{i}"))?);
        }
        Ok(out)
    }

    pub fn from_named(
        specs: &[BlockSpec],
        prefix: &str,
        tensors: &mut NamedValues,
        device: &Device,
    ) -> Result<Stack> {
        Ok(Stack {
            blocks: specs
                .iter()
                .enumerate()
                .map(|(i, s)| Block::from_named(*s, &format!("{prefix}.{i}"), tensors, device))
                .collect::<Result<_>>()?,
        })
    }
}

/// The specs of `fan_in → widths…` hidden blocks followed by an optional output block.
pub(crate) fn chain(
    fan_in: usize,
    widths: &[usize],
    batch_norm: bool,
    dropout: f32,
    output: Option<(usize, Activation)>,
) -> Vec<BlockSpec> {
    let mut specs = Vec::with_capacity(widths.len() + 1);
    let mut prev = fan_in;
    for &w in widths {
        specs.push(BlockSpec {
            fan_in: prev,
            fan_out: w,
            batch_norm,
            activation: Activation::Relu,
            dropout,
        });
        prev = w;
    }
    if let Some((n, act)) = output {
        specs.push(BlockSpec {
            fan_in: prev,
            fan_out: n,
            batch_norm: false,
            activation: act,
            dropout: 0.0,
        });
    }
    specs
}

/// Shared hyper-parameters of the training loops.
pub(crate) fn check_common(
    what: &str,
    learning_rate: f64,
    weight_decay: f64,
    batch_size: usize,
    max_epochs: usize,
    patience: usize,
    dropout: f64,
) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidConfig(format!("{what}: {m}")));
    if !(learning_rate.is_finite() && learning_rate > 0.0) {
        return bad(format!("learning_rate must be > 0, got {learning_rate}"));
    }
    if !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return bad(format!("weight_decay must be ≥ 0, got {weight_decay}"));
    }
    if !(0.0..1.0).contains(&dropout) {
        return bad(format!("dropout must be in [0, 1), got {dropout}"));
    }
    if batch_size < 2 || max_epochs == 0 || patience == 0 {
        return bad("batch_size must be ≥ 2, max_epochs and patience ≥ 1".into());
    }
    Ok(())
}

/// Row batches of one epoch: `order` in chunks of `batch`, a trailing batch of one row folded
/// into the previous one (BatchNorm needs ≥ 2 rows).
pub(crate) fn batches(order: &[u32], batch: usize) -> Vec<&[u32]> {
    let mut out: Vec<&[u32]> = order.chunks(batch).collect();
    if out.len() >= 2 && out.last().is_some_and(|b| b.len() < 2) {
        out.pop();
        let n = out.len();
        let start = (n - 1) * batch;
        out[n - 1] = &order[start..];
    }
    out
}
