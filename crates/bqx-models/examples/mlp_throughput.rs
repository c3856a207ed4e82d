//! MLP training throughput on the CPU.
//!
//! Workload: 100 000 rows × 350 standardized features (uniform noise plus a planted non-linear
//! signal, seeded), hidden layers [64, 32], batch 512, AdamW, no dropout, no validation set.
//! Trains `fit()` for 1 epoch and for `1 + EPOCHS` epochs (default 3) and reports
//! * the marginal throughput: `EPOCHS × rows / (t(1+EPOCHS) − t(1))` — pure training steps
//!   (batch gather, forward, backward, two AdamW updates), without the per-fit overhead;
//! * the whole-fit throughput of the longer fit (includes fitting the scaler, copying the data
//!   to a tensor and one evaluation pass over the training rows for the report).
//!
//! Run (the project's dev profile is optimized; mimalloc is the global allocator as in the
//! binaries):
//! `cargo run -p bqx-models --example mlp_throughput` (arguments: `[rows] [features] [epochs]`).
//! It also prints a checksum of the predictions, to compare runs, e.g. under different
//! `RAYON_NUM_THREADS`.

use std::time::Instant;

use bqx_models::{Matrix, MlpConfig, Model, ModelSpec, Regressor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let rows = args.first().copied().unwrap_or(100_000);
    let features = args.get(1).copied().unwrap_or(350);
    let epochs = args.get(2).copied().unwrap_or(3).max(1);

    let mut r = ChaCha8Rng::seed_from_u64(1);
    let col_major: Vec<f64> = (0..rows * features)
        .map(|_| r.gen_range(-1.0..1.0))
        .collect();
    let x = Matrix::from_col_major(rows, features, &col_major)?;
    drop(col_major);
    let y: Vec<f64> = (0..rows)
        .map(|i| {
            let row = x.row(i);
            (3.0 * row[0]).sin() + row[1] * row[2] + 0.1 * r.gen_range(-1.0..1.0)
        })
        .collect();

    let cfg = |max_epochs| MlpConfig {
        hidden: vec![64, 32],
        batch_size: 512,
        max_epochs,
        seed: 7,
        ..MlpConfig::default()
    };
    let fit = |max_epochs: usize| -> Result<(f64, Model), Box<dyn std::error::Error>> {
        let mut m = Model::new(ModelSpec::Mlp(cfg(max_epochs)))?;
        let t0 = Instant::now();
        m.fit(&x, &y, None)?;
        Ok((t0.elapsed().as_secs_f64(), m))
    };

    println!(
        "workload: {rows} rows x {features} features, hidden [64, 32], batch 512, f32, CPU, \
         rayon threads: {}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
    );
    let (t1, _) = fit(1)?;
    let (tn, model) = fit(1 + epochs)?;
    let marginal = (epochs * rows) as f64 / (tn - t1);
    let whole = ((1 + epochs) * rows) as f64 / tn;
    let report = model.fit_report().expect("fitted");
    println!(
        "fit 1 epoch: {t1:.2} s; fit {} epochs: {tn:.2} s",
        1 + epochs
    );
    println!("training throughput (marginal, {epochs} epochs): {marginal:.0} samples/s");
    println!(
        "whole-fit throughput ({} epochs): {whole:.0} samples/s",
        1 + epochs
    );
    println!(
        "train MSE after {} epochs: {:.4}",
        1 + epochs,
        report.train_mse
    );

    let pred = model.predict(&x.slice_rows(0..rows.min(10_000))?)?;
    let mut h = Sha256::new();
    for v in &pred {
        h.update(v.to_le_bytes());
    }
    println!("prediction checksum: {}", hex::encode(&h.finalize()[..8]));
    Ok(())
}
