//! Honesty tests of the whole evaluation (evaluation.md § Honesty tests), end to end through the
//! real feature kernels, the real models and the real backtest:
//!
//! - **Null market:** on a synthetic market without any planted signal (a random walk with
//!   stochastic volatility and correlated currency factors), every model's pooled directional
//!   accuracy interval contains 50 % and every Sharpe interval contains 0. A failure is a leak.
//! - **Planted signal:** with a planted lead-lag (the follower's returns repeat the leader's
//!   `h` bars later, visible at t through the follower's own currency strength and returns),
//!   at least one model predicts the follower significantly better than chance.
//! - **Determinism:** the same data, configuration and seed give a byte-identical report.
//!
//! Sized for CI: 4 evaluated pairs (of the 28-pair panel), 9,000 M1 bars, W = h = 15, five
//! test blocks of 1,000 bars, small forest and network.

use bqx_domain::{Pair, Timeframe};
use bqx_eval::backtest::{
    BacktestConfig, BacktestReport, FoldFits, NoCache, PanelInput, SeriesInput, render_backtest,
    run_backtest,
};
use bqx_eval::folds::{FoldConfig, Span, TrainWindow, Validation};
use bqx_features::{FeatureSet, PanelSet, SourceCaps, compute_batch, compute_panel_batch};
use bqx_models::{ForestConfig, MlpConfig, ModelSpec, RidgeConfig};
use bqx_synth::{Plant, SynthConfig};

const H: usize = 15;

fn pair(s: &str) -> Pair {
    Pair::parse(s).unwrap()
}

fn evaluated() -> Vec<Pair> {
    ["EURUSD", "EURJPY", "GBPUSD", "USDJPY"]
        .into_iter()
        .map(pair)
        .collect()
}

/// The real feature panel of a synthetic market: per-pair families + panel families.
fn inputs(plants: Vec<Plant>, seed: u64) -> (Vec<SeriesInput>, PanelInput) {
    let market = bqx_synth::generate(&SynthConfig {
        bars: 9_000,
        timeframe: Timeframe::M1,
        seed,
        plants,
        ..SynthConfig::default()
    })
    .unwrap();
    let ts = market.series[0].1.ts.clone();
    let close: Vec<Vec<f64>> = Pair::ALL
        .iter()
        .map(|p| {
            let b = market.bars(*p);
            assert_eq!(b.ts, ts, "synthetic pairs share their bar times");
            b.close.clone()
        })
        .collect();
    let mut panel_set = PanelSet::standard();
    let panel_features = compute_panel_batch(&mut panel_set, &ts, &close).unwrap();
    let series = evaluated()
        .into_iter()
        .map(|p| {
            let bars = market.bars(p);
            let mut set = FeatureSet::for_source(SourceCaps::of(bars, false));
            let m = compute_batch(&mut set, bars).unwrap();
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
    (series, PanelInput { ts, close })
}

fn config() -> BacktestConfig {
    BacktestConfig {
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
        models: vec![
            ModelSpec::Zero,
            ModelSpec::Ridge(RidgeConfig::default()),
            ModelSpec::RandomForest(ForestConfig {
                n_trees: 20,
                max_depth: Some(6),
                ..ForestConfig::default()
            }),
            ModelSpec::Mlp(MlpConfig {
                hidden: vec![32, 16],
                max_epochs: 30,
                patience: 5,
                ..MlpConfig::default()
            }),
        ],
        seed: 7,
        threshold_quantile: 0.5,
        bootstrap: Default::default(),
        usd_factor: true,
        cross_pair: None,
        selection: None,
        embeddings: None,
    }
}

fn run(series: &[SeriesInput], panel: &PanelInput) -> BacktestReport {
    run_backtest(
        series,
        Some(panel),
        &config(),
        &FoldFits::default(),
        &mut NoCache,
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn null_market_shows_no_skill_and_reports_are_byte_identical() {
    let (series, panel) = inputs(Vec::new(), 11);
    let report = run(&series, &panel);
    assert!(report.folds.len() >= 4, "{} folds", report.folds.len());
    assert_eq!(report.ceiling.r2, 0.0, "h = W: no mechanical overlap");
    for m in report.models.iter().filter(|m| m.name != "zero") {
        assert_eq!(m.skipped_units, 0, "{}", m.name);
        let pooled = &m.report.pooled;
        let d = pooled.direction.as_ref().expect("direction metrics");
        let ci = d.bootstrap.expect("bootstrap interval");
        assert!(
            ci.contains(0.5),
            "{}: directional accuracy {:.4} with interval [{:.4}, {:.4}] excludes 50 % on a market with nothing to find: a leak",
            m.name,
            d.accuracy,
            ci.lo,
            ci.hi
        );
        eprintln!(
            "null: {}: directional accuracy {:.4} [{:.4}, {:.4}]",
            m.name, d.accuracy, ci.lo, ci.hi
        );
        let t = pooled.trading.as_ref().expect("trading metrics");
        let s = t.sharpe_ci.expect("Sharpe interval");
        assert!(
            s.contains(0.0),
            "{}: Sharpe {:?} with interval [{:.3}, {:.3}] excludes 0 on a null market",
            m.name,
            t.sharpe,
            s.lo,
            s.hi
        );
    }
    // Same data, configuration and seed: byte-identical report.
    let again = run(&series, &panel);
    assert_eq!(
        render_backtest(&report).unwrap(),
        render_backtest(&again).unwrap()
    );
}

#[test]
fn a_planted_lead_lag_is_found_with_a_significant_margin() {
    let follower = pair("EURJPY");
    let plant = Plant::LeadLag {
        leader: pair("EURUSD"),
        follower,
        lag: H,
        strength: 0.9,
    };
    let (series, panel) = inputs(vec![plant], 11);
    let report = run(&series, &panel);
    let mut best = (String::new(), 0.0f64, 0.0f64);
    for m in report.models.iter().filter(|m| m.name != "zero") {
        let p = m
            .report
            .pairs
            .iter()
            .find(|p| p.pair == follower)
            .expect("the follower is evaluated");
        let d = p.all_folds.direction.as_ref().expect("direction metrics");
        let lo = d.bootstrap.expect("bootstrap interval").lo;
        let r2 = p
            .all_folds
            .regression
            .as_ref()
            .and_then(|r| r.r2_vs_zero)
            .unwrap_or(f64::NEG_INFINITY);
        eprintln!(
            "planted: {} on {follower}: directional accuracy {:.4} (interval from {lo:.4}), R² {r2:.4}",
            m.name, d.accuracy
        );
        if lo > best.1 {
            best = (m.name.clone(), lo, r2);
        }
    }
    assert!(
        best.1 > 0.5 && best.2 > 0.0,
        "no model found the planted signal: best lower bound of directional accuracy {:.4} ({}), R² {:.4}",
        best.1,
        best.0,
        best.2
    );
}
