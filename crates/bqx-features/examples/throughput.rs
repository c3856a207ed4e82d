//! Throughput of the standard feature set: 28 pairs × N rows of a synthetic random walk, one
//! rayon task per pair, each pair's matrix built with `compute_batch` and dropped after a
//! checksum (28 full matrices would not fit in memory at once).
//!
//! `CARGO_TARGET_DIR=... cargo run --release -p bqx-features --example throughput [-- ROWS [stream]]`

use std::time::Instant;

use bqx_domain::BarColumns;
use bqx_features::{FeatureSet, Kernel, compute_batch, run_rows};
use rayon::prelude::*;

fn walk(n: usize, seed: u64, level: f64) -> BarColumns {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut lp = level.ln();
    let mut b = BarColumns::with_capacity(n, false, false);
    for i in 0..n {
        // xorshift64*, two uniforms → one normal (Box–Muller).
        let mut u = || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, c) = (u(), u());
        let z = (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * c).cos();
        let p = lp.exp();
        b.push(i as i64 * 60_000_000, p, p, p, p, 0.0, 0.0);
        lp += 0.0003 * z;
    }
    b
}

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(372_000);
    let pairs = 28;
    let series: Vec<BarColumns> = (0..pairs)
        .map(|p| walk(rows, p as u64 + 1, if p % 4 == 0 { 150.0 } else { 1.1 }))
        .collect();
    // `stream`: run the kernels with `run_rows` and a checksum sink (no matrix), to separate the
    // kernels' cost from the column-major scatter and the page faults of a 0.6 GB matrix.
    let stream = std::env::args().nth(2).as_deref() == Some("stream");
    let width = FeatureSet::standard().width();
    let start = Instant::now();
    let checksum: f64 = series
        .par_iter()
        .map(|bars| {
            if stream {
                let mut acc = 0.0;
                run_rows(&mut FeatureSet::standard(), bars, |_, row| {
                    acc += row.iter().filter(|v| v.is_finite()).sum::<f64>();
                })
                .expect("consistent columns");
                acc
            } else {
                let m =
                    compute_batch(&mut FeatureSet::standard(), bars).expect("consistent columns");
                m.data.iter().filter(|v| v.is_finite()).sum::<f64>()
            }
        })
        .sum();
    let secs = start.elapsed().as_secs_f64();
    let cells = (pairs * rows * width) as f64;
    println!(
        "{}: {pairs} pairs x {rows} rows x {width} features in {secs:.2} s on {} threads: \
         {:.3e} rows*features/s ({:.0} rows/s), checksum {checksum:.6e}",
        if stream {
            "kernels only"
        } else {
            "compute_batch"
        },
        rayon::current_num_threads(),
        cells / secs,
        (pairs * rows) as f64 / secs
    );
}
