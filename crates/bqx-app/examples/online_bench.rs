//! Benchmark of the online loop (stage 2.19) on a synthetic 28-pair M1 market.
//!
//! Workload: `bqx synth` 28 pairs × `BARS` M1 bars (seed 7) into a fresh store; `bqx online
//! --from-store` with `--train-fraction 0.4`: each pair's first 40 % fits the frozen ridge and
//! warms the kernels, the remaining 60 % are replayed one bar at a time as fast as possible with
//! checkpoints every 10,000 bars (rows to DuckDB, state and alerts to SQLite).
//!
//! Prints the per-bar step latency (features, predictions of the three members and the ensemble, the
//! matured label's scoring, learning and detectors; store writes excluded) and the latency from
//! one bar time's 28 bars to their 28 predictions (the sum of their steps), as p50 / p99 / max;
//! and the replay throughput (steps and checkpoint writes; fitting and warm-up excluded).
//!
//!     cargo run --example online_bench -p bqx-app -- [BARS]   (default 100000; the dev profile)

use std::sync::atomic::AtomicBool;

fn main() {
    let bars: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("BARS is a number"))
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    bqx_app::synth(
        Some(&store),
        &bqx_app::SynthRequest {
            bars,
            timeframe: bqx_domain::Timeframe::M1,
            seed: 7,
            plants: Vec::new(),
            format: bqx_app::SynthFormat::Csv,
            out: None,
            into_store: true,
        },
        &bqx_app::NoProgress,
    )
    .expect("synth");
    let req = bqx_app::OnlineRequest {
        train_fraction: 0.4,
        ..Default::default()
    };
    let mut steps: Vec<f32> = Vec::new();
    let report = bqx_app::online(
        &store,
        &req,
        &bqx_app::NoProgress,
        0,
        &AtomicBool::new(false),
        &mut |e| {
            if let bqx_app::OnlineEvent::Checkpoint { stats, .. } = e {
                steps.extend(stats.step_seconds);
            }
        },
    )
    .expect("online");
    // The synthetic pairs share one time grid and the loop consumes bars in (time, pair) order:
    // each run of 28 steps is one bar time, i.e. a bar of every pair → 28 predictions.
    let mut per_time: Vec<f64> = steps
        .chunks_exact(28)
        .map(|c| c.iter().map(|&s| s as f64).sum::<f64>() * 1e6)
        .collect();
    per_time.sort_by(f64::total_cmp);
    let qt = |p: f64| per_time[((per_time.len() - 1) as f64 * p).round() as usize];
    steps.sort_by(f32::total_cmp);
    let q = |p: f64| steps[((steps.len() - 1) as f64 * p).round() as usize] as f64 * 1e6;
    let mean = steps.iter().map(|&s| s as f64).sum::<f64>() / steps.len() as f64 * 1e6;
    println!(
        "workload: 28 pairs x {bars} M1 bars, {} live bars replayed",
        report.live_bars
    );
    println!(
        "step latency (µs): p50 {:.2}  p99 {:.2}  max {:.1}  mean {:.2}",
        q(0.5),
        q(0.99),
        q(1.0),
        mean
    );
    println!(
        "per bar time, 28 pairs (µs): p50 {:.1}  p99 {:.1}  max {:.1}",
        qt(0.5),
        qt(0.99),
        qt(1.0)
    );
    println!(
        "replay: {:.2} s, {:.0} bars/s (checkpoint writes included); whole call {:.2} s",
        report.replay_seconds, report.bars_per_second, report.seconds
    );
    println!(
        "of the replay: steps {:.2} s, checkpoints {:.2} s, the rest (queue, events) {:.2} s",
        steps.iter().map(|&s| s as f64).sum::<f64>(),
        report.checkpoint_seconds,
        report.replay_seconds
            - report.checkpoint_seconds
            - steps.iter().map(|&s| s as f64).sum::<f64>()
    );
    // The size of one checkpoint's state (what every checkpoint writes to the registry).
    let state = bqx_store::RegistryReader::open(&store)
        .expect("registry")
        .expect("a registry")
        .online_session(&report.session)
        .expect("session row")
        .map_or(0, |r| r.state.len());
    println!(
        "checkpoint state: {:.2} MB (MessagePack)",
        state as f64 / 1e6
    );
    println!(
        "pooled MAE (members {:?}, then the ensemble) {:?}; alerts {:?}",
        report.members, report.pooled.mae, report.alerts
    );
}
