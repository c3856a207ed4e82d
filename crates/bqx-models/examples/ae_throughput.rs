//! Autoencoder (stage 2.17) training throughput on the CPU.
//!
//! Workload: a seeded synthetic matrix of `rows × 802` features (default 40 000 rows) with
//! low-rank structure: 16 Gaussian factors through a fixed random loading, plus Gaussian
//! noise, each column with its own offset and scale (so the scaler has something to do).
//! The network is the default `AutoencoderConfig`: `802 → 512 → 256 → 128 → 64 → 128 → 256 →
//! 512 → 802`, hidden blocks Linear → BatchNorm → ReLU → Dropout(0.2), a linear bottleneck and
//! output, MSE, AdamW (lr 1e-3, weight decay 1e-2 on the weight matrices only), batch 1024,
//! shuffled every epoch, on the CPU, with no validation set (so it runs exactly `epochs`
//! epochs).
//!
//! Only the `fit` call is timed. `fit` fits the scaler first (one streaming pass over the
//! rows); that pass is also timed on its own (`fit_scaler` on the same matrix) and reported,
//! with the throughput of the training epochs alone (fit minus scaler).
//!
//! Run (the project's dev profile is optimized; mimalloc is the global allocator as in the
//! binaries):
//! `cargo run -p bqx-models --example ae_throughput -- [rows] [epochs]` (defaults 40000 3).
//! The matmuls use candle's rayon pool: set `RAYON_NUM_THREADS` to fix the thread count.
//! The PyTorch peer of the same network is `crates/bqx-models/benches/ae_peer.py`.

use std::time::Instant;

use bqx_models::net::{Autoencoder, AutoencoderConfig, fit_scaler};
use bqx_models::{DeviceChoice, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FEATURES: usize = 802;
const FACTORS: usize = 16;

/// A standard normal draw (Box–Muller; one of the pair is enough here).
fn normal(r: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - r.r#gen::<f64>(); // (0, 1]
    let u2: f64 = r.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `rows × FEATURES`, row-major: `offset_j + scale_j · (z·L_j + 0.5·ε)`, z ~ N(0, I₁₆).
fn synthetic(rows: usize, seed: u64) -> Result<Matrix, Box<dyn std::error::Error>> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let loading: Vec<f64> = (0..FACTORS * FEATURES)
        .map(|_| normal(&mut r) / (FACTORS as f64).sqrt())
        .collect();
    let offset: Vec<f64> = (0..FEATURES).map(|_| r.gen_range(-2.0..2.0)).collect();
    let scale: Vec<f64> = (0..FEATURES).map(|_| r.gen_range(0.1..3.0)).collect();
    let mut data = vec![0.0f64; rows * FEATURES];
    let mut z = [0.0f64; FACTORS];
    for row in data.chunks_exact_mut(FEATURES) {
        for v in &mut z {
            *v = normal(&mut r);
        }
        for (j, out) in row.iter_mut().enumerate() {
            let mut s = 0.0;
            for (k, zk) in z.iter().enumerate() {
                s += zk * loading[k * FEATURES + j];
            }
            *out = offset[j] + scale[j] * (s + 0.5 * normal(&mut r));
        }
    }
    Ok(Matrix::from_row_major(rows, FEATURES, data)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As the binaries do: candle's spinning element-wise pool off unless CANDLE_NUM_THREADS is
    // set (BENCHMARKS.md § Networks).
    bqx_models::configure_cpu_threads();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let rows = args.first().copied().unwrap_or(40_000).max(2);
    let epochs = args.get(1).copied().unwrap_or(3).max(1);

    let t_gen = Instant::now();
    let x = synthetic(rows, 1)?;
    let gen_s = t_gen.elapsed().as_secs_f64();

    let cfg = AutoencoderConfig {
        batch_size: 1024,
        max_epochs: epochs,
        device: DeviceChoice::Cpu,
        ..AutoencoderConfig::default()
    };
    println!(
        "workload: {rows} rows x {FEATURES} features, autoencoder {:?} -> {} (mirrored), \
         batch {}, dropout {}, f32, CPU, rayon threads: {}",
        cfg.hidden,
        cfg.bottleneck,
        cfg.batch_size,
        cfg.dropout,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
    );
    println!("data generated in {gen_s:.2} s");

    // The scaler pass that `fit` does first, timed alone on the same matrix.
    let t_sc = Instant::now();
    let scaler = fit_scaler(&x)?;
    let scaler_s = t_sc.elapsed().as_secs_f64();
    std::hint::black_box(&scaler);

    let mut ae = Autoencoder::new(cfg)?;
    let t0 = Instant::now();
    let report = ae.fit(&x, None)?;
    let fit_s = t0.elapsed().as_secs_f64();
    assert_eq!(
        report.epochs.len(),
        epochs,
        "no validation set: every epoch runs"
    );

    let samples = (rows * epochs) as f64;
    let train_s = (fit_s - scaler_s).max(f64::MIN_POSITIVE);
    let mse = report.epochs.last().map_or(f64::NAN, |e| e.train_mse);
    println!("rows: {rows}");
    println!("epochs: {epochs}");
    println!("fit seconds: {fit_s:.3} (scaler pass alone: {scaler_s:.3} s, included)");
    println!("throughput (whole fit): {:.0} samples/s", samples / fit_s);
    println!(
        "throughput (epochs only, fit minus scaler pass): {:.0} samples/s",
        samples / train_s
    );
    for e in &report.epochs {
        println!("epoch {}: train MSE {:.5}", e.epoch, e.train_mse);
    }
    println!("final train MSE: {mse:.5}");
    Ok(())
}
