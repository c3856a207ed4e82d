//! The online tree learner, for the side-by-side with river in BENCHMARKS.md.
//!
//! Workload: 200,000 rows of Friedman's #1 function (10 inputs uniform on [0, 1], five of them
//! used: `10·sin(π·x₀·x₁) + 20·(x₂ − 0.5)² + 10·x₃ + 5·x₄ + N(0, 1)`), inputs standardized with
//! the known mean 0.5 and sd 1/√12, seeded; written to `STREAM` (little-endian f64, 11 per row)
//! so that `benches/tree_peer.py` runs river's `HoeffdingTreeRegressor` (mean leaves, the same
//! grace period, δ and τ) on the same rows. Prequential: each row is predicted, then learned.
//! Prints the MAE over all rows and over the last 50,000, and updates per second (predict +
//! learn).
//!
//!     cargo run --example tree_bench -p bqx-online -- STREAM   (the dev profile of BENCHMARKS.md)

use bqx_online::{HoeffdingTree, TreeConfig};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/tree_stream.f64".into());
    let n = 200_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(31);
    let sd = 1.0 / 12f64.sqrt();
    let mut rows: Vec<[f64; 11]> = Vec::with_capacity(n);
    for _ in 0..n {
        let x: [f64; 10] = std::array::from_fn(|_| rng.r#gen::<f64>());
        let noise: f64 = rng.sample(StandardNormal);
        let y = 10.0 * (std::f64::consts::PI * x[0] * x[1]).sin()
            + 20.0 * (x[2] - 0.5).powi(2)
            + 10.0 * x[3]
            + 5.0 * x[4]
            + noise;
        let mut r = [0.0; 11];
        for j in 0..10 {
            r[j] = (x[j] - 0.5) / sd;
        }
        r[10] = y;
        rows.push(r);
    }
    let bytes: Vec<u8> = rows
        .iter()
        .flat_map(|r| r.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    std::fs::write(&path, bytes).expect("write the stream");
    let mut t = HoeffdingTree::new(10, TreeConfig::default());
    let (mut all, mut last) = (0.0, 0.0);
    let t0 = std::time::Instant::now();
    for (i, r) in rows.iter().enumerate() {
        let e = (r[10] - t.predict(&r[..10])).abs();
        all += e;
        if i >= n - 50_000 {
            last += e;
        }
        t.update(&r[..10], r[10]);
    }
    let secs = t0.elapsed().as_secs_f64();
    println!("stream: {n} rows in {path}");
    println!(
        "bqx-online HoeffdingTree: MAE {:.4} (all), {:.4} (last 50,000); {} leaves; {:.0} updates/s",
        all / n as f64,
        last / 50_000.0,
        t.leaves(),
        n as f64 / secs
    );
}
