//! End-to-end use of the crate as the orchestration will use it: targets → folds → (fake model)
//! predictions → trading → report. Checks determinism of the JSON, the null market, the BQX sign
//! convention, the ceiling verdict and the equal-weight portfolio.

use bqx_domain::Pair;
use bqx_eval::folds::{FoldConfig, FoldPlan, Span, TrainWindow, Validation};
use bqx_eval::report::{FoldOutcome, ReportConfig, Verdict, build_report, portfolio, render_json};
use bqx_eval::targets::{OverlapCeiling, bqx_target};
use bqx_eval::trading::{DecisionLog, Market, Threshold, TradingConfig, simulate};
use bqx_eval::{BootstrapConfig, EvalReport};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const H: usize = 10;
const W: usize = 10;
const MINUTE: i64 = 60_000_000;

struct PairData {
    pair: Pair,
    ts: Vec<i64>,
    close: Vec<f64>,
    y: Vec<f64>,
}

/// Independent random walks (the null market), one-minute bars with pair-specific missing rows.
fn market(n: usize, pairs: usize, seed: u64) -> Vec<PairData> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let eps = Normal::new(0.0, 3e-4).unwrap();
    (0..pairs)
        .map(|k| {
            let pair = Pair::ALL[k * 3 % 28];
            let ts: Vec<i64> = (0..n as i64)
                .filter(|i| (i + k as i64) % 53 != 0)
                .map(|i| 1_700_000_000_000_000 + i * MINUTE)
                .collect();
            // A realistic price level matters: costs are pips (0.01 for JPY quotes) / price.
            let level = if pair.quote() == bqx_domain::Currency::JPY {
                150.0 + k as f64
            } else {
                1.0 + k as f64 * 0.1
            };
            let mut lp = 0.0;
            let close: Vec<f64> = ts
                .iter()
                .map(|_| {
                    lp += eps.sample(&mut rng);
                    level * f64::exp(lp)
                })
                .collect();
            let y = bqx_target(&close, W, H).unwrap();
            PairData { pair, ts, close, y }
        })
        .collect()
}

fn fold_config() -> FoldConfig {
    FoldConfig {
        train_window: TrainWindow::Expanding,
        min_train: Span::Days(2),
        test: Span::Days(1),
        step: Span::Days(1),
        horizon: H,
        validation: Validation::Fraction(0.1),
        embargo: None,
        align_to_calendar: true,
        keep_partial_last: false,
    }
}

/// Per pair and fold: predictions (`model(y, rng)` on every row), trades and train mean.
struct Run {
    pair: Pair,
    fold: u32,
    ts: Vec<i64>,
    pred: Vec<f64>,
    actual: Vec<f64>,
    train_mean: f64,
    log: DecisionLog,
}

fn run(data: &[PairData], model: impl Fn(f64, &mut ChaCha8Rng) -> f64) -> Vec<Run> {
    run_with_spread(data, model, None)
}

/// `spread_pips = Some(x)` overrides the pairs' typical spreads.
fn run_with_spread(
    data: &[PairData],
    model: impl Fn(f64, &mut ChaCha8Rng) -> f64,
    spread_pips: Option<f64>,
) -> Vec<Run> {
    let plan = FoldPlan::build(&data[0].ts, &fold_config()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut out = Vec::new();
    for d in data {
        let pred: Vec<f64> = d.y.iter().map(|&y| model(y, &mut rng)).collect();
        let m = Market::new(&d.ts, &d.close).unwrap();
        for f in plan.map(&d.ts).unwrap() {
            if !f.is_usable(100) {
                continue;
            }
            let train_y: Vec<f64> = d.y[f.train.clone()]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            let thr = Threshold::fit(&pred[f.train.clone()], 0.5).unwrap();
            let mut cfg = TradingConfig::for_pair(d.pair, H, thr);
            if let Some(x) = spread_pips {
                cfg.spread_pips = x;
            }
            let log = simulate(&m, &pred, f.test.clone(), &cfg).unwrap();
            out.push(Run {
                pair: d.pair,
                fold: f.id,
                ts: d.ts[f.test.clone()].to_vec(),
                pred: pred[f.test.clone()].to_vec(),
                actual: d.y[f.test.clone()].to_vec(),
                train_mean: train_y.iter().sum::<f64>() / train_y.len() as f64,
                log,
            });
        }
    }
    out
}

fn outcomes(runs: &[Run]) -> Vec<FoldOutcome<'_>> {
    runs.iter()
        .map(|r| FoldOutcome {
            pair: r.pair,
            fold: r.fold,
            ts: &r.ts,
            predicted: &r.pred,
            actual: &r.actual,
            train_mean: r.train_mean,
            trades: Some(&r.log),
        })
        .collect()
}

fn report_config() -> ReportConfig {
    ReportConfig {
        horizon: H,
        ceiling: OverlapCeiling::bqx(W, H),
        bootstrap: BootstrapConfig {
            resamples: 400,
            ..BootstrapConfig::default()
        },
        trials: Some(bqx_eval::Trials {
            count: 20,
            sharpe_variance: 0.01,
        }),
    }
}

#[test]
fn report_json_is_byte_identical_and_order_independent() {
    let data = market(6 * 1440, 4, 7);
    let runs = run(&data, |y, rng| {
        y + Normal::new(0.0, 0.004).unwrap().sample(rng)
    });
    let outs = outcomes(&runs);
    assert!(outs.len() >= 12, "{} outcomes", outs.len());
    let cfg = report_config();
    let a = render_json(&build_report("noisy-oracle", &outs, &cfg).unwrap()).unwrap();
    let b = render_json(&build_report("noisy-oracle", &outs, &cfg).unwrap()).unwrap();
    assert_eq!(a, b);
    let mut shuffled = outs.clone();
    shuffled.reverse();
    shuffled.swap(0, 3);
    let c = render_json(&build_report("noisy-oracle", &shuffled, &cfg).unwrap()).unwrap();
    assert_eq!(a, c);
    // The JSON parses back into a report with the same content (None ↔ null; no NaN anywhere).
    // Compared as JSON values: serde_json's default float parser is not guaranteed to
    // round-trip the last bit, so both sides go through the same parser.
    let parsed: EvalReport = serde_json::from_str(&a).unwrap();
    let as_value: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), as_value);
    assert!(!a.contains("NaN"));
    // Stable field order: the top-level keys appear in declaration order.
    let keys = [
        "\"schema_version\"",
        "\"label\"",
        "\"horizon\"",
        "\"ceiling\"",
        "\"bootstrap\"",
        "\"trials\"",
        "\"pooling\"",
        "\"pooled\"",
        "\"pooled_by_fold\"",
        "\"pairs\"",
    ];
    let pos: Vec<usize> = keys.iter().map(|k| a.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]));
    // A different seed changes the intervals, hence the bytes.
    let other = ReportConfig {
        bootstrap: BootstrapConfig {
            seed: 1,
            ..cfg.bootstrap
        },
        ..cfg
    };
    assert_ne!(
        a,
        render_json(&build_report("noisy-oracle", &outs, &other).unwrap()).unwrap()
    );
}

#[test]
fn null_market_shows_no_skill() {
    // Predictions independent of the future, traded without costs (a leak would show as a
    // positive Sharpe; with costs a random strategy must lose, checked at the end).
    let data = market(12 * 1440, 6, 11);
    let noise = |_: f64, rng: &mut ChaCha8Rng| Normal::new(0.0, 1.0).unwrap().sample(rng);
    let runs = run_with_spread(&data, noise, Some(0.0));
    let report = build_report("noise", &outcomes(&runs), &report_config()).unwrap();
    let pooled = &report.pooled;
    let d = pooled.direction.as_ref().unwrap();
    let boot = d.bootstrap.unwrap();
    assert!(boot.contains(0.5), "DA {} {:?}", d.accuracy, boot);
    assert!(d.wilson.lo < 0.5 + 0.02 && d.wilson.hi > 0.5 - 0.02);
    let t = pooled.trading.as_ref().unwrap();
    assert!(
        t.sharpe_ci.unwrap().contains(0.0),
        "{:?}",
        t.sharpe_ci.unwrap()
    );
    assert!(t.deflated.unwrap().dsr < 0.95);
    assert_eq!(pooled.verdict.as_ref().unwrap().verdict, Verdict::NotSkill);
    assert!(pooled.regression.as_ref().unwrap().r2_vs_zero.unwrap() < 0.0);
    // Every pair and fold is reported.
    assert_eq!(report.pairs.len(), 6);
    assert!(report.pairs.iter().all(|p| !p.folds.is_empty()));
    // With the typical retail spreads the same random strategy loses money.
    let costly = build_report("noise", &outcomes(&run(&data, noise)), &report_config()).unwrap();
    let t = costly.pooled.trading.as_ref().unwrap();
    assert!(t.total_cost > 0.0);
    assert!(t.sharpe_ci.unwrap().hi < 0.0, "{:?}", t.sharpe_ci);
}

#[test]
fn knowing_the_bqx_target_pays_when_trading_short_on_positive_bqx() {
    // A perfect BQX forecast: the simulator must go short when BQX is predicted positive
    // (price below its path) and earn money; the same forecast read with the wrong sign loses.
    let data = market(6 * 1440, 3, 3);
    let runs = run(&data, |y, _| y);
    let report = build_report("oracle", &outcomes(&runs), &report_config()).unwrap();
    let t = report.pooled.trading.as_ref().unwrap();
    assert!(t.sharpe.unwrap() > 3.0, "sharpe {:?}", t.sharpe);
    assert!(t.sharpe_ci.unwrap().lo > 0.0);
    let d = report.pooled.direction.as_ref().unwrap();
    assert_eq!(d.accuracy, 1.0);
    assert_eq!(
        report.pooled.verdict.as_ref().unwrap().verdict,
        Verdict::Skill
    );
    let flipped = run(&data, |y, _| -y);
    let bad = build_report("anti-oracle", &outcomes(&flipped), &report_config()).unwrap();
    assert!(bad.pooled.trading.as_ref().unwrap().sharpe.unwrap() < -3.0);
}

#[test]
fn portfolio_is_equal_weight_per_decision_slot() {
    let log = |pnl: Vec<f64>, pos: Vec<i8>, span: i64| DecisionLog {
        horizon: 1,
        rows: (0..pnl.len()).collect(),
        ts: (0..pnl.len() as i64).collect(),
        position: pos,
        gross: pnl.clone(),
        cost: vec![0.0; pnl.len()],
        pnl,
        span_micros: span,
    };
    let year = bqx_eval::trading::MICROS_PER_YEAR as i64;
    let a = log(vec![0.02, -0.01, 0.03], vec![1, -1, 1], year);
    let b = log(vec![0.00, 0.01], vec![0, 1], year / 2);
    let c = log(vec![0.05], vec![-1], year / 4);
    let p = portfolio(&[(0, &a), (0, &b), (1, &c)]);
    assert_eq!(p.pnl, vec![0.01, 0.0, 0.03, 0.05]);
    assert_eq!(p.exposure, vec![0.5, 1.0, 1.0, 1.0]);
    // Fold 0 spans the longer of its pairs (1 year), fold 1 a quarter.
    assert!((p.years - 1.25).abs() < 1e-12);
    // Turnover (|Δposition|, plus the close-out on the last decision): a = [1, 2, 2+1],
    // b = [0, 1+1], c = [1+1].
    assert_eq!(p.turnover, vec![0.5, 2.0, 3.0, 2.0]);
}

#[test]
fn a_trend_earns_no_skill_label() {
    // A trending market: 80 % of the targets are positive, every fold's training mean is
    // positive. The drift forecast (the training mean) gets a directional accuracy of 80 %,
    // far above the ceiling and 50 %, and is still not skill; a forecast that adds real
    // information on top of the trend is.
    let n = 4_000;
    let ts: Vec<i64> = (0..n as i64).map(|i| i * 3_600_000_000).collect();
    let mut state = 7u64;
    let mut u = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let actual: Vec<f64> = (0..n)
        .map(|_| {
            let mag = 0.001 + 0.01 * u();
            if u() < 0.8 { mag } else { -mag }
        })
        .collect();
    let drift = vec![0.002; n];
    // Knows the sign of 90 % of the down moves and keeps the trend's sign otherwise.
    let informed: Vec<f64> = actual
        .iter()
        .map(|&a| if a < 0.0 && u() < 0.9 { a } else { 0.002 })
        .collect();
    let cfg = report_config();
    let label = |pred: &[f64]| {
        let outs: Vec<FoldOutcome<'_>> = (0..4)
            .map(|f| {
                let r = f * n / 4..(f + 1) * n / 4;
                FoldOutcome {
                    pair: Pair::ALL[0],
                    fold: f as u32,
                    ts: &ts[r.clone()],
                    predicted: &pred[r.clone()],
                    actual: &actual[r],
                    train_mean: 0.002,
                    trades: None,
                }
            })
            .collect();
        build_report("trend", &outs, &cfg).unwrap()
    };
    let d = label(&drift);
    let v = d.pooled.verdict.as_ref().unwrap();
    let da = d.pooled.direction.as_ref().unwrap().accuracy;
    assert!(da > 0.75, "the trend gives the drift forecast DA {da}");
    assert_eq!(v.verdict, Verdict::NotSkill, "{v:?}");
    assert_eq!(v.drift_directional_accuracy, Some(da));
    assert!(v.reasons.iter().any(|r| r.contains("drift")), "{v:?}");
    assert_eq!(d.labels.pairs_skill + d.labels.pair_folds_skill, 0);
    let i = label(&informed);
    assert_eq!(
        i.pooled.verdict.as_ref().unwrap().verdict,
        Verdict::Skill,
        "{:?}",
        i.pooled.verdict
    );
    assert!(i.labels.chance_share > 0.0 && i.labels.chance_share < 0.05);
}
