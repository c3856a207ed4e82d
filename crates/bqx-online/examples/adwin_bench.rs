//! ADWIN update cost, for the side-by-side with river in BENCHMARKS.md.
//!
//! Workload: 2,000,000 values (seeded Gaussian, mean 0 for the first half and 0.5 after, sd 1),
//! written to `STREAM` (little-endian f64) so that `benches/adwin_peer.py` times river's ADWIN
//! on the very same stream; ADWIN with river's defaults (δ = 0.002, clock 32, 5 buckets per
//! level, minimum sub-window 5, grace period 10). Prints ns per update (best of 5 passes) and
//! the detection indices (which the peer must reproduce).
//!
//!     cargo run --example adwin_bench -p bqx-online -- STREAM   (the dev profile of BENCHMARKS.md)

use bqx_online::{Adwin, AdwinConfig};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/adwin_stream.f64".into());
    let n = 2_000_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2019);
    let normal = Normal::new(0.0, 1.0).expect("normal");
    let xs: Vec<f64> = (0..n)
        .map(|i| normal.sample(&mut rng) + if i < n / 2 { 0.0 } else { 0.5 })
        .collect();
    let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&path, bytes).expect("write the stream");
    let mut best = f64::INFINITY;
    let mut detections = Vec::new();
    for _ in 0..5 {
        let mut a = Adwin::new(AdwinConfig::default());
        detections.clear();
        let t = std::time::Instant::now();
        for (i, &x) in xs.iter().enumerate() {
            if a.update(x) {
                detections.push(i);
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("stream: {n} values in {path}");
    println!("ADWIN update: {:.1} ns (best of 5)", best / n as f64 * 1e9);
    println!("detections: {detections:?}");
}
