//! Multi-task network training throughput on the CPU (stage 2.18's network).
//!
//! Workload: `rows × features` uniform noise with a planted linear BQX signal, the volatility
//! target |signal| and five regime classes by the signal's quintile; trunk and heads as
//! features.md (or `--trunk a,b`), batch 512, no validation set, `epochs` epochs.
//! Run: `cargo run -p bqx-models --example multitask_throughput -- [rows] [features] [epochs] [trunk]`
//! (trunk as `256,128`). Prints samples/s of the whole `fit` (scaler fit and one tensor copy
//! included).

use std::time::Instant;

use bqx_models::net::{MultiTargets, MultiTaskConfig, MultiTaskNet};
use bqx_models::{DeviceChoice, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As the binaries do: candle's spinning element-wise pool off unless CANDLE_NUM_THREADS is
    // set (BENCHMARKS.md § Networks).
    bqx_models::configure_cpu_threads();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (rows, cols, epochs) = (num(0, 3500), num(1, 280), num(2, 10));
    let trunk: Vec<usize> = args
        .get(3)
        .map(|t| t.split(',').map(|w| w.parse().unwrap()).collect())
        .unwrap_or_else(|| vec![256, 128]);
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let data: Vec<f64> = (0..rows * cols).map(|_| r.gen_range(-1.0..1.0)).collect();
    let signal: Vec<f64> = data.chunks(cols).map(|row| row[0] - 0.5 * row[1]).collect();
    let mut sorted = signal.clone();
    sorted.sort_by(f64::total_cmp);
    let cuts: Vec<f64> = [0.1, 0.3, 0.7, 0.9]
        .iter()
        .map(|q| sorted[(q * (rows - 1) as f64) as usize])
        .collect();
    let targets = MultiTargets {
        bqx: signal.iter().map(|s| s + r.gen_range(-0.5..0.5)).collect(),
        vol: signal.iter().map(|s| s.abs()).collect(),
        regime: signal
            .iter()
            .map(|s| cuts.iter().filter(|c| s > c).count() as u32)
            .collect(),
    };
    let x = Matrix::from_row_major(rows, cols, data)?;
    let mut net = MultiTaskNet::new(MultiTaskConfig {
        trunk: trunk.clone(),
        max_epochs: epochs,
        device: DeviceChoice::Cpu,
        ..MultiTaskConfig::default()
    })?;
    let t = Instant::now();
    let rep = net.fit(&x, &targets, None)?;
    let s = t.elapsed().as_secs_f64();
    println!(
        "multitask trunk {trunk:?}: {rows} rows × {cols} features, {epochs} epochs in {s:.2} s = {:.0} samples/s; final train loss {:.4}",
        (rows * epochs) as f64 / s,
        rep.epochs.last().map_or(f64::NAN, |e| e.train.total)
    );
    Ok(())
}
