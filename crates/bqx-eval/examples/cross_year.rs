//! Benchmark of stage 2.16's discovery at year scale: a seeded synthetic 28-pair M1 market of
//! `BARS` bars (default 372,000, about one year), the real BQX and reg_bqx kernels for the
//! inputs, the backtest's default M1 fold plan (expanding, ≥ 6 months of training, 1-month
//! tests), and `fit_fold_cross` (sister map, momentum ranking, Granger lead-lag over every
//! follower's 405 tests, BH) on the training part of every fold. Prints the phase times.
//!
//! ```sh
//! cargo build --example cross_year -p bqx-eval
//! /usr/bin/time -v $CARGO_TARGET_DIR/debug/examples/cross_year [BARS]
//! ```

use std::time::Instant;

use bqx_domain::{Pair, Timeframe};
use bqx_eval::backtest::{BacktestConfig, SeriesInput, cross_panel, fit_fold_cross, prepare_folds};
use bqx_features::{BqxKernel, CrossFitConfig, RegBqxKernel, compute_batch};
use rayon::prelude::*;

fn main() {
    let bars: usize = std::env::args()
        .nth(1)
        .map_or(372_000, |s| s.parse().expect("BARS is a number"));
    let t0 = Instant::now();
    let market = bqx_synth::generate(&bqx_synth::SynthConfig {
        bars,
        timeframe: Timeframe::M1,
        seed: 1,
        ..Default::default()
    })
    .expect("synthetic market");
    let series: Vec<SeriesInput> = Pair::ALL
        .par_iter()
        .map(|&p| {
            let b = market.bars(p);
            let a = compute_batch(&mut BqxKernel::new(), b).expect("bqx");
            let r = compute_batch(&mut RegBqxKernel::new(), b).expect("reg_bqx");
            let names = a.names.iter().chain(&r.names).cloned().collect();
            let columns = (0..a.n_cols())
                .map(|j| a.column(j).iter().map(|&v| v as f32).collect())
                .chain((0..r.n_cols()).map(|j| r.column(j).iter().map(|&v| v as f32).collect()))
                .collect();
            SeriesInput {
                pair: p,
                ts: b.ts.clone(),
                close: b.close.clone(),
                names,
                columns,
            }
        })
        .collect();
    drop(market);
    let t_inputs = t0.elapsed().as_secs_f64();
    let mut cfg = BacktestConfig::default_for(Timeframe::M1);
    cfg.cross_pair = Some(CrossFitConfig::default());
    let t1 = Instant::now();
    let setup = prepare_folds(&series, &cfg).expect("fold plan");
    let panel = cross_panel(&series).expect("cross panel");
    let t_prep = t1.elapsed().as_secs_f64();
    println!(
        "{} pairs × {} bars; inputs (synth + kernels) {t_inputs:.1} s; folds + panel {t_prep:.1} s; {} folds",
        series.len(),
        bars,
        setup.plan.folds.len()
    );
    let t2 = Instant::now();
    let mut significant = 0;
    for fi in 0..setup.plan.folds.len() {
        let tf = Instant::now();
        let fit = fit_fold_cross(&setup, &panel, fi, &CrossFitConfig::default()).expect("fit");
        significant += fit
            .params
            .pairs
            .iter()
            .map(|p| p.kept.iter().filter(|k| k.significant).count())
            .sum::<usize>();
        println!(
            "fold {fi}: {} training grid rows, {:.2} s",
            fit.fit_range.rows_used,
            tf.elapsed().as_secs_f64()
        );
    }
    println!(
        "cross discovery, all folds: {:.1} s ({significant} significant kept relations)",
        t2.elapsed().as_secs_f64()
    );
}
