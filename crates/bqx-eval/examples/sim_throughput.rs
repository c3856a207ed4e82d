//! Throughput of the trading simulation in bar-columns per second.
//!
//! 10 M one-minute bars × 28 prediction columns; each column is simulated over all bars
//! (`simulate_columns`: streaming statistics, columns in parallel with rayon). The 28 columns are
//! distinct windows of one long noise buffer (column j starts j·1009 values in), so memory stays
//! at ~0.4 GB while each column still streams its own 80 MB of predictions. Reported:
//! `bars × columns / seconds`, for the default horizon h = 60 (a decision every 60 bars) and for
//! the worst case h = 1 (a decision on every bar), plus the one-off `Market::new` cost.
//!
//! Run: `cargo run --release -p bqx-eval --example sim_throughput` (or without `--release`: the
//! workspace's dev profile is optimized).

use std::time::Instant;

use bqx_domain::Pair;
use bqx_eval::trading::{Market, SimColumn, Threshold, TradingConfig, simulate_columns};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const BARS: usize = 10_000_000;
const COLUMNS: usize = 28;
const OFFSET: usize = 1009;

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let eps = Normal::new(0.0, 2e-4).unwrap();
    let ts: Vec<i64> = (0..BARS as i64).map(|i| i * 60_000_000).collect();
    let mut lp = 0.0f64;
    let close: Vec<f64> = (0..BARS)
        .map(|_| {
            lp += eps.sample(&mut rng);
            1.1 * lp.exp()
        })
        .collect();
    let noise = Normal::new(0.0, 1.0).unwrap();
    let buffer: Vec<f64> = (0..BARS + COLUMNS * OFFSET)
        .map(|_| noise.sample(&mut rng))
        .collect();

    let start = Instant::now();
    let market = Market::new(&ts, &close).unwrap();
    let prep = start.elapsed().as_secs_f64();
    println!(
        "Market::new on {BARS} bars: {:.3} s ({:.0} M bars/s, once per pair)",
        prep,
        BARS as f64 / prep / 1e6
    );

    let threads = rayon::current_num_threads();
    for h in [60usize, 1] {
        let columns: Vec<SimColumn<'_>> = (0..COLUMNS)
            .map(|j| SimColumn {
                market: &market,
                pred: &buffer[j * OFFSET..j * OFFSET + BARS],
                test: 0..BARS,
                cfg: TradingConfig::for_pair(Pair::ALL[j], h, Threshold::fixed(0.5)),
            })
            .collect();
        // One warm-up pass, then the best of three.
        let _ = simulate_columns(&columns).unwrap();
        let mut best = f64::INFINITY;
        let mut checksum = 0.0;
        for _ in 0..3 {
            let t = Instant::now();
            let out = simulate_columns(&columns).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            checksum = out.iter().map(|s| s.total_return).sum::<f64>();
        }
        let bar_columns = (BARS * COLUMNS) as f64;
        println!(
            "h = {h:>2}: {BARS} bars × {COLUMNS} columns in {best:.3} s = {:.0} M bar-columns/s \
             ({} decisions per column, {threads} threads, checksum {checksum:.6})",
            bar_columns / best / 1e6,
            BARS / h,
        );
    }
}
