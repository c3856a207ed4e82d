//! How strong a leak must be for the null-market honesty test to catch it: the honesty test's
//! setup (real kernels, the real backtest) on a null synthetic market, with one leaked column
//! appended to every pair — the log return from t to t + k (k bars of the future) — and the
//! pooled directional-accuracy interval of each model printed beside the no-leak run.
//!
//!     cargo run --example leak_power -p bqx-eval -- PAIRS BARS SEED K[,K…]   (K = 0: no leak)

use bqx_domain::{Pair, Timeframe};
use bqx_eval::backtest::{
    BacktestConfig, FoldFits, NoCache, PanelInput, SeriesInput, run_backtest,
};
use bqx_eval::folds::{FoldConfig, Span, TrainWindow, Validation};
use bqx_features::{FeatureSet, PanelSet, SourceCaps, compute_batch, compute_panel_batch};
use bqx_models::{ModelSpec, RidgeConfig};
use bqx_synth::SynthConfig;

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
    let market = bqx_synth::generate(&SynthConfig {
        bars,
        timeframe: Timeframe::M1,
        seed,
        ..SynthConfig::default()
    })
    .unwrap();
    let ts = market.series[0].1.ts.clone();
    let close: Vec<Vec<f64>> = Pair::ALL
        .iter()
        .map(|p| market.bars(*p).close.clone())
        .collect();
    let mut panel_set = PanelSet::standard();
    let panel_features = compute_panel_batch(&mut panel_set, &ts, &close).unwrap();
    let base: Vec<SeriesInput> = Pair::ALL[..n_pairs]
        .iter()
        .map(|&p| {
            let bars = market.bars(p);
            let m = compute_batch(
                &mut FeatureSet::for_source(SourceCaps::of(bars, false)),
                bars,
            )
            .unwrap();
            let pm = &panel_features[p.index()];
            let mut names = m.names.clone();
            names.extend(pm.names.iter().cloned());
            let columns = (0..m.n_cols())
                .map(|j| m.column(j).iter().map(|&v| v as f32).collect())
                .chain((0..pm.n_cols()).map(|j| pm.column(j).iter().map(|&v| v as f32).collect()))
                .collect();
            SeriesInput {
                pair: p,
                ts: bars.ts.clone(),
                close: bars.close.clone(),
                names,
                columns,
            }
        })
        .collect();
    for k in ks {
        let series: Vec<SeriesInput> = base
            .iter()
            .map(|s| {
                let mut s = s.clone();
                if k > 0 {
                    let n = s.close.len();
                    s.names.push(format!("leak_fwd_{k}"));
                    s.columns.push(
                        (0..n)
                            .map(|i| {
                                if i + k < n {
                                    (s.close[i + k] / s.close[i]).ln() as f32
                                } else {
                                    f32::NAN
                                }
                            })
                            .collect(),
                    );
                }
                s
            })
            .collect();
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
            Some(&PanelInput {
                ts: ts.clone(),
                close: close.clone(),
            }),
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
