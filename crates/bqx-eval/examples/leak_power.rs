//! How strong a leak must be for the null-market honesty test to catch it: the honesty test's
//! setup (real kernels, the real backtest) on a null synthetic market, with one leaked column
//! appended to every pair — the log return from t to t + k (k bars of the future) — and the
//! pooled directional-accuracy interval of each model printed beside the no-leak run.
//!
//!     cargo run --example leak_power -p bqx-eval -- PAIRS BARS SEED K[,K…]   (K = 0: no leak)

#[path = "../tests/synthetic/mod.rs"]
mod synthetic;

use bqx_domain::Pair;
use bqx_eval::backtest::{BacktestConfig, FoldFits, NoCache, run_backtest};
use bqx_eval::folds::{FoldConfig, Span, TrainWindow, Validation};
use bqx_models::{ModelSpec, RidgeConfig};

const H: usize = 15;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let n_pairs: usize = a.first().map_or(8, |s| s.parse().unwrap());
    let bars: usize = a.get(1).map_or(9000, |s| s.parse().unwrap());
    let seed: u64 = a.get(2).map_or(11, |s| s.parse().unwrap());
    let ks: Vec<usize> = a
        .get(3)
        .map_or("0,1,2,4".into(), |s| s.clone())
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    let (base, panel) = synthetic::inputs(bars, seed, Vec::new(), &Pair::ALL[..n_pairs]);
    for k in ks {
        let mut series = base.clone();
        if k > 0 {
            synthetic::leak_future_return(&mut series, k);
        }
        let cfg = BacktestConfig {
            window: H,
            horizon: H,
            folds: FoldConfig {
                train_window: TrainWindow::Expanding,
                min_train: Span::Bars(3_000),
                test: Span::Bars(1_000),
                step: Span::Bars(1_000),
                horizon: H,
                validation: Validation::Fraction(0.15),
                embargo: None,
                align_to_calendar: false,
                keep_partial_last: false,
            },
            models: vec![ModelSpec::Zero, ModelSpec::Ridge(RidgeConfig::default())],
            seed: 7,
            threshold_quantile: 0.5,
            bootstrap: Default::default(),
            usd_factor: true,
            cross_pair: None,
            selection: None,
            embeddings: None,
        };
        let t0 = std::time::Instant::now();
        let r = run_backtest(
            &series,
            Some(&panel),
            &cfg,
            &FoldFits::default(),
            &mut NoCache,
            &mut |_| {},
        )
        .unwrap();
        for m in r.models.iter().filter(|m| m.name != "zero") {
            let d = m.report.pooled.direction.as_ref().unwrap();
            let ci = d.bootstrap.unwrap();
            let s = m.report.pooled.trading.as_ref().and_then(|t| t.sharpe_ci);
            println!(
                "pairs {n_pairs} bars {bars} seed {seed} leak {k}: {} DA {:.4} [{:.4}, {:.4}] n {} caught {} sharpe {:?} ({:.0} s)",
                m.name,
                d.accuracy,
                ci.lo,
                ci.hi,
                d.n,
                !ci.contains(0.5),
                s.map(|s| (s.lo, s.hi)),
                t0.elapsed().as_secs_f64()
            );
        }
    }
}
