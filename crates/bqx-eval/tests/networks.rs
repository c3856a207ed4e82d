//! Stage 2.18's networks as backtest units, end to end through the real feature kernels on a
//! synthetic market (stochastic volatility, correlated currency factors):
//!
//! - a network unit is fitted on its fold's training rows only: rewriting every test row of a
//!   fold (features and closes) leaves its training curves (a function of every weight at every
//!   epoch), regime cut-offs and trading threshold bit-identical, and changes its predictions;
//! - the report judges the multi-task network's extra heads (volatility against the no-change
//!   forecast, regime against the majority class) and, when the networks cover only the last
//!   folds, reports every model again on those folds.

use bqx_domain::{Pair, Timeframe};
use bqx_eval::backtest::{
    BacktestConfig, FoldFits, NoCache, PanelInput, SeriesInput, UnitId, UnitResult, fit_units,
    prepare_folds, run_backtest,
};
use bqx_eval::folds::{FoldConfig, Span, TrainWindow, Validation};
use bqx_features::{FeatureSet, SourceCaps, compute_batch};
use bqx_models::net::MultiTaskConfig;
use bqx_models::{DeviceChoice, ModelSpec, NetworkUnitSpec, RidgeConfig};
use bqx_synth::SynthConfig;
use std::collections::BTreeMap;

const H: usize = 15;

fn series(seed: u64, bars: usize) -> (Vec<SeriesInput>, PanelInput) {
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
    let series = ["EURUSD", "USDJPY"]
        .into_iter()
        .map(|s| {
            let p = Pair::parse(s).unwrap();
            let bars = market.bars(p);
            let mut set = FeatureSet::for_source(SourceCaps::of(bars, false));
            let m = compute_batch(&mut set, bars).unwrap();
            SeriesInput {
                pair: p,
                ts: bars.ts.clone(),
                close: bars.close.clone(),
                names: m.names.clone(),
                columns: (0..m.n_cols())
                    .map(|j| m.column(j).iter().map(|&v| v as f32).collect())
                    .collect(),
            }
        })
        .collect();
    (series, PanelInput { ts, close })
}

fn net(tasks_single: bool, last_folds: Option<usize>) -> ModelSpec {
    let mut net = MultiTaskConfig {
        trunk: vec![32, 16],
        bqx_head: 16,
        vol_head: 8,
        regime_head: 8,
        batch_size: 256,
        max_epochs: 12,
        patience: 4,
        lr_patience: 2,
        device: DeviceChoice::Cpu,
        ..MultiTaskConfig::default()
    };
    if tasks_single {
        net = net.single_task();
    }
    ModelSpec::MultiTask(NetworkUnitSpec {
        net,
        seeds: 2,
        max_train_rows: Some(1_500),
        last_folds,
    })
}

fn config(models: Vec<ModelSpec>) -> BacktestConfig {
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
        models,
        seed: 5,
        threshold_quantile: 0.5,
        bootstrap: Default::default(),
        usd_factor: false,
        cross_pair: None,
        selection: None,
        embeddings: None,
    }
}

fn units(series: &[SeriesInput], cfg: &BacktestConfig) -> BTreeMap<UnitId, UnitResult> {
    fit_units(
        series,
        None,
        cfg,
        &FoldFits::default(),
        &|_| true,
        &mut NoCache,
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn a_network_unit_is_fitted_on_training_rows_only() {
    let (mut s, _) = series(21, 7_000);
    let cfg = config(vec![net(false, Some(1))]);
    let before = units(&s, &cfg);
    assert_eq!(before.len(), 2, "one unit per pair on the last fold");
    // Rewrite the last fold's test part of every pair: features and closes.
    let setup = prepare_folds(&s, &cfg).unwrap();
    let fi = setup.plan.folds.len() - 1;
    let starts: Vec<usize> = setup
        .fold_rows(fi)
        .iter()
        .map(|(_, r)| r.test.start)
        .collect();
    drop(setup);
    for (si, start) in starts.into_iter().enumerate() {
        let x = &mut s[si];
        for i in start..x.ts.len() {
            x.close[i] *= 1.0 + 0.002 * ((i % 7) as f64 - 3.0);
            for c in &mut x.columns {
                if c[i].is_finite() {
                    c[i] = -2.0 * c[i] + 0.5;
                }
            }
        }
    }
    let after = units(&s, &cfg);
    for (id, a) in &before {
        let b = &after[id];
        let (na, nb) = (
            a.fit.network.as_ref().unwrap(),
            b.fit.network.as_ref().unwrap(),
        );
        assert_eq!(
            na.curves, nb.curves,
            "{id:?}: training changed with the test rows"
        );
        assert_eq!(na.regime_cuts, nb.regime_cuts);
        assert_eq!(a.fit.threshold.to_bits(), b.fit.threshold.to_bits());
        assert_ne!(
            a.predicted, b.predicted,
            "{id:?}: the rewrite did not reach the test rows"
        );
    }
}

#[test]
fn the_report_judges_the_extra_heads_and_compares_on_the_same_units() {
    let (s, _) = series(22, 9_000);
    let cfg = config(vec![
        ModelSpec::Zero,
        ModelSpec::Drift,
        ModelSpec::Ridge(RidgeConfig::default()),
        net(false, Some(2)),
        net(true, Some(2)),
    ]);
    let report = run_backtest(
        &s,
        None,
        &cfg,
        &FoldFits::default(),
        &mut NoCache,
        &mut |_| {},
    )
    .unwrap();
    let n_folds = report.folds.len();
    assert!(n_folds >= 3, "{n_folds} folds");
    let by = |n: &str| report.models.iter().find(|m| m.name == n).unwrap();
    let mt = by("multitask");
    assert_eq!(mt.units, 2 * 2, "two pairs × the last two folds");
    assert_eq!(by("ridge").units, 2 * n_folds);
    let heads = mt.heads.as_ref().expect("multitask heads");
    let vol = heads.vol.as_ref().unwrap();
    let regime = heads.regime.as_ref().unwrap();
    assert!(vol.n > 500 && regime.n > 500);
    let ci = vol.r2_interval.unwrap();
    let r2 = vol.r2_vs_no_change.unwrap();
    assert!(ci.lo <= r2 && r2 <= ci.hi);
    assert_eq!(
        regime.confusion.iter().flatten().sum::<usize>(),
        regime.n,
        "the confusion matrix counts every row"
    );
    assert!((0.0..=1.0).contains(&regime.accuracy) && (0.0..=1.0).contains(&regime.macro_f1));
    assert!(by("singletask").heads.is_none());
    let same = report
        .same_units
        .as_ref()
        .expect("networks cover fewer folds");
    let last2: Vec<u32> = report.folds[n_folds - 2..].iter().map(|f| f.id).collect();
    assert_eq!(same.folds, last2);
    assert_eq!(same.models.len(), 5);
    for m in &same.models {
        assert_eq!(m.units, 4, "{}: every model on the same 4 units", m.name);
    }
    // The same rows for every model on the same units.
    let rows: Vec<usize> = same.models.iter().map(|m| m.pooled.n_rows).collect();
    assert!(rows.windows(2).all(|w| w[0] == w[1]), "{rows:?}");
}

#[test]
fn a_champion_is_its_units_first_seed() {
    let (s, _) = series(23, 7_000);
    // One seed, so the unit's predictions are that seed's network's.
    let ModelSpec::MultiTask(mut spec) = net(false, Some(1)) else {
        unreachable!()
    };
    spec.seeds = 1;
    let spec = ModelSpec::MultiTask(spec);
    let cfg = config(vec![spec.clone()]);
    let units = units(&s, &cfg);
    let champs = bqx_eval::backtest::train_champions(
        &s,
        None,
        &cfg,
        &FoldFits::default(),
        &spec,
        usize::MAX,
    )
    .unwrap();
    assert_eq!(champs.by_pair.len(), 2);
    for (pair, mut c) in champs.by_pair {
        let (id, u) = units
            .iter()
            .find(|(id, _)| id.pair == pair && id.fold == champs.fold)
            .expect("the champion's unit");
        // The champion's stored rows include the unit's test rows; on them it predicts what
        // the unit predicted.
        let rows: Vec<usize> =
            u.ts.iter()
                .map(|t| {
                    c.ts.binary_search(t)
                        .expect("test row among the stored rows")
                })
                .collect();
        let x = c.x.select_rows(&rows).unwrap();
        let out = c.net.predict(&x).unwrap();
        for (a, b) in out.bqx.iter().zip(&u.predicted) {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1e-6),
                "{id:?}: {a} vs {b}"
            );
        }
        assert_eq!(
            c.fit.epochs,
            u.fit.network.as_ref().unwrap().curves[0].epochs,
            "{id:?}: the same training"
        );
    }
}
