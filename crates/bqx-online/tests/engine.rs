//! The online loop against the batch path: features, labels, the frozen member's predictions
//! and the learner's training pairs; checkpoint and resume; the planted mismatch the pairing
//! test must catch.

use bqx_domain::{BarColumns, Pair, Timeframe};
use bqx_eval::targets::bqx_target;
use bqx_features::{BarInput, FeatureMatrix, FeatureSet, SourceCaps, compute_batch};
use bqx_online::{
    BarOutcome, HoeffdingTree, LinearModel, OnlineConfig, OnlineLoop, PairModel, PsiReference, Rls,
    RlsConfig, TreeConfig,
};
use bqx_synth::{SynthConfig, SynthMarket, generate};

const INPUTS: [&str; 5] = [
    "bqx_return_60",
    "mom_rate_zscore_50",
    "ta_rate_rsi_14",
    "vol_parkinson_20",
    "lag_logret_1",
];

fn market(bars: usize, seed: u64) -> SynthMarket {
    generate(&SynthConfig {
        bars,
        timeframe: Timeframe::M1,
        seed,
        ..SynthConfig::default()
    })
    .unwrap()
}

fn kernel(b: &BarColumns) -> FeatureSet {
    FeatureSet::for_source(SourceCaps::of(b, false))
}

fn col(fm: &FeatureMatrix, name: &str) -> Vec<f64> {
    fm.column_by_name(name).unwrap().to_vec()
}

/// A model "fitted" on the first `train` rows: standardization from those rows, fixed
/// coefficients (the engine tests need a frozen member, not a good one).
fn model(pair: Pair, fm: &FeatureMatrix, train: usize, ts_end: i64) -> PairModel {
    let mut mean = Vec::new();
    let mut std = Vec::new();
    let mut psi = Vec::new();
    for name in INPUTS {
        let v: Vec<f64> = col(fm, name)[..train]
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        mean.push(m);
        std.push(s);
        psi.push(PsiReference::fit(&v, 10));
    }
    PairModel {
        pair,
        inputs: INPUTS.iter().map(|s| s.to_string()).collect(),
        mean,
        std,
        frozen: LinearModel {
            coefficients: vec![0.3, -0.2, 0.1, 0.05, -0.4],
            intercept: 0.01,
        },
        rls: Rls::new(INPUTS.len(), RlsConfig::default()),
        tree: HoeffdingTree::new(INPUTS.len(), TreeConfig::member()),
        error_scale: 0.5,
        psi,
        trained_until: ts_end,
    }
}

/// Champion/challenger has its own tests (`challenger.rs`); here the frozen member stays the
/// model above, so its predictions can be checked against the batch path.
fn config() -> OnlineConfig {
    OnlineConfig {
        psi_window: 500,
        retrain: false,
        ..OnlineConfig::default()
    }
}

struct Setup {
    market: SynthMarket,
    pairs: Vec<Pair>,
    train: usize,
}

fn new_loop(s: &Setup, cfg: &OnlineConfig) -> OnlineLoop {
    loop_with(s, cfg, false)
}

/// A loop over `s`; with `retain`, each kernel set advances only what the inputs need.
fn loop_with(s: &Setup, cfg: &OnlineConfig, retain: bool) -> OnlineLoop {
    let members = s
        .pairs
        .iter()
        .map(|&p| {
            let b = s.market.bars(p);
            let fm = compute_batch(&mut kernel(b), b).unwrap();
            let mut k = kernel(b);
            if retain {
                let inputs: Vec<String> = INPUTS.iter().map(|x| x.to_string()).collect();
                k.retain_for(&inputs).unwrap();
            }
            (model(p, &fm, s.train, b.ts[s.train - 1]), k)
        })
        .collect();
    OnlineLoop::new(cfg.clone(), members).unwrap()
}

/// Warm on the training rows, then step every pair's bars in time order from `from` to `to`.
fn drive(lp: &mut OnlineLoop, s: &Setup, from: usize, to: usize) -> Vec<(Pair, usize, BarOutcome)> {
    let mut out = Vec::new();
    for i in from..to {
        for &p in &s.pairs {
            let bar = BarInput::from_columns(s.market.bars(p), i);
            if i < s.train {
                lp.warm(p, &bar).unwrap();
            } else {
                out.push((p, i, lp.step(p, &bar).unwrap()));
            }
        }
    }
    out
}

#[test]
fn features_labels_and_frozen_predictions_equal_the_batch_path() {
    let s = Setup {
        // A month of M1 (22 trading days).
        market: market(22 * 1440, 5),
        pairs: Pair::ALL.to_vec(),
        train: 5000,
    };
    let cfg = config();
    let mut lp = new_loop(&s, &cfg);
    let n = s.market.len();
    let mut matured = 0;
    for &p in &s.pairs {
        let b = s.market.bars(p);
        let fm = compute_batch(&mut kernel(b), b).unwrap();
        let y = bqx_target(&b.close, cfg.window, cfg.horizon).unwrap();
        let m = model(p, &fm, s.train, 0);
        for i in 0..n {
            let bar = BarInput::from_columns(b, i);
            if i < s.train {
                lp.warm(p, &bar).unwrap();
                continue;
            }
            let out = lp.step(p, &bar).unwrap();
            // Every feature of the bar, bit for bit (NaN where the batch has NaN).
            let online = lp.features(p).unwrap();
            assert_eq!(online.len(), fm.n_cols());
            for (j, &a) in online.iter().enumerate() {
                let e = fm.get(i, j);
                assert!(
                    a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()),
                    "{p} row {i} {}: online {a} batch {e}",
                    fm.names[j]
                );
            }
            // The frozen member's prediction is the model applied to the batch row.
            let raw: Vec<f64> = INPUTS
                .iter()
                .map(|c| fm.column_by_name(c).unwrap()[i])
                .collect();
            match (m.standardize(&raw), &out.signal) {
                (Some(z), Some(sig)) => assert_eq!(sig.members[0], m.frozen.predict(&z)),
                (None, None) => {}
                (a, b) => panic!("{p} row {i}: batch inputs {a:?}, online signal {b:?}"),
            }
            // A label maturing at row i is the batch target of row i − h.
            if let Some(mt) = &out.matured {
                assert_eq!(mt.made_ts, b.ts[i - cfg.horizon]);
                assert_eq!(mt.label, y[i - cfg.horizon], "{p} row {i}");
                matured += 1;
            }
        }
    }
    assert!(matured > 28 * 25_000, "{matured}");
}

/// The learner's training pairs: replays the batch rows in maturity order into a fresh copy of
/// the learner, pairing target `y[i]` with the inputs of row `i + shift` (0 = the right row).
fn offline_learner(s: &Setup, p: Pair, cfg: &OnlineConfig, shift: usize) -> Vec<f64> {
    let b = s.market.bars(p);
    let fm = compute_batch(&mut kernel(b), b).unwrap();
    let y = bqx_target(&b.close, cfg.window, cfg.horizon).unwrap();
    let m = model(p, &fm, s.train, 0);
    let mut rls = m.rls.clone();
    for (i, &yi) in y.iter().enumerate().skip(s.train) {
        let j = i + shift;
        if j >= fm.n_rows || !yi.is_finite() {
            continue;
        }
        let raw: Vec<f64> = INPUTS
            .iter()
            .map(|c| fm.column_by_name(c).unwrap()[i])
            .collect();
        let raw_j: Vec<f64> = INPUTS
            .iter()
            .map(|c| fm.column_by_name(c).unwrap()[j])
            .collect();
        // Only rows the loop predicted at (inputs defined) are learned.
        if m.standardize(&raw).is_none() {
            continue;
        }
        if let Some(z) = m.standardize(&raw_j) {
            rls.update(&z, yi);
        }
    }
    rls.weights().to_vec()
}

#[test]
fn the_learner_learns_each_label_with_the_inputs_it_was_predicted_from() {
    let s = Setup {
        market: market(2500, 9),
        pairs: vec![Pair::parse("EURUSD").unwrap()],
        train: 800,
    };
    let cfg = config();
    let p = s.pairs[0];
    let mut lp = new_loop(&s, &cfg);
    drive(&mut lp, &s, 0, s.market.len());
    let state = serde_json::to_value(lp.state()).unwrap();
    let online: Vec<f64> =
        serde_json::from_value(state["pairs"][p.to_string()]["rls"]["w"].clone()).unwrap();
    let right = offline_learner(&s, p, &cfg, 0);
    assert_eq!(
        online, right,
        "the loop learned (x(t), y(t)) pairs in maturity order"
    );
    // The planted mismatch — the original sketch's bug: the label of t − h paired with the
    // features of t (the row where it matures) — gives other weights, so the check above
    // would fail on it.
    let wrong = offline_learner(&s, p, &cfg, cfg.horizon);
    let gap = online
        .iter()
        .zip(&wrong)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        gap > 1e-3,
        "pairing with the current features changes the weights ({gap})"
    );
}

#[test]
fn a_restored_checkpoint_continues_exactly_like_an_uninterrupted_loop() {
    let s = Setup {
        market: market(2200, 13),
        pairs: vec![
            Pair::parse("EURUSD").unwrap(),
            Pair::parse("USDJPY").unwrap(),
        ],
        train: 700,
    };
    let cfg = OnlineConfig {
        psi_window: 200,
        psi_every: 25,
        retrain: false,
        ..OnlineConfig::default()
    };
    let n = s.market.len();
    let mut whole = new_loop(&s, &cfg);
    let all = drive(&mut whole, &s, 0, n);
    let final_state = serde_json::to_string(whole.state()).unwrap();
    // Stop inside the warm-up, at the live start, with predictions pending, and near the end.
    for cut in [300, 700, 1234, 2150] {
        let mut first = new_loop(&s, &cfg);
        let mut got = drive(&mut first, &s, 0, cut);
        let saved = serde_json::to_string(first.state()).unwrap();
        drop(first);
        let state = serde_json::from_str(&saved).unwrap();
        let kernels = s
            .pairs
            .iter()
            .map(|&p| (p, kernel(s.market.bars(p))))
            .collect();
        let mut resumed = OnlineLoop::restore(state, kernels, |p| {
            let b = s.market.bars(p);
            Ok((0..b.len()).map(|i| BarInput::from_columns(b, i)).collect())
        })
        .unwrap();
        got.extend(drive(&mut resumed, &s, cut, n));
        assert_eq!(got, all, "outputs after a stop at {cut}");
        assert_eq!(
            serde_json::to_string(resumed.state()).unwrap(),
            final_state,
            "state after a stop at {cut}"
        );
    }
    // Alerts happen in this stream, so the comparison covers them too.
    let alerts: usize = all.iter().map(|(_, _, o)| o.alerts.len()).sum();
    assert!(alerts > 0);
}

#[test]
fn kernels_restricted_to_the_inputs_give_the_same_loop() {
    let s = Setup {
        market: market(3000, 17),
        pairs: vec![
            Pair::parse("EURUSD").unwrap(),
            Pair::parse("AUDJPY").unwrap(),
        ],
        train: 900,
    };
    let cfg = config();
    let n = s.market.len();
    let mut full = new_loop(&s, &cfg);
    let want = drive(&mut full, &s, 0, n);
    let mut pruned = loop_with(&s, &cfg, true);
    let got = drive(&mut pruned, &s, 0, n);
    assert_eq!(got, want);
    assert_eq!(
        serde_json::to_string(pruned.state()).unwrap(),
        serde_json::to_string(full.state()).unwrap()
    );
    // Fewer columns are computed: the restricted row is mostly NaN.
    let row = pruned.features(s.pairs[0]).unwrap();
    assert!(row.iter().filter(|v| v.is_nan()).count() > row.len() / 2);
}

#[test]
fn a_bar_is_consumed_once() {
    let s = Setup {
        market: market(200, 1),
        pairs: vec![Pair::parse("EURUSD").unwrap()],
        train: 100,
    };
    let mut lp = new_loop(&s, &config());
    let b = s.market.bars(s.pairs[0]);
    lp.warm(s.pairs[0], &BarInput::from_columns(b, 0)).unwrap();
    let again = lp
        .warm(s.pairs[0], &BarInput::from_columns(b, 0))
        .unwrap_err();
    assert!(
        again
            .to_string()
            .contains("is not after the last consumed bar"),
        "{again}"
    );
    let mut bad = BarInput::from_columns(b, 1);
    bad.close = f64::NAN;
    assert!(
        lp.step(s.pairs[0], &bad)
            .unwrap_err()
            .to_string()
            .contains("close")
    );
}
