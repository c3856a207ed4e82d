//! Champion/challenger on a planted trend: a confirmed drift of the champion's error starts a
//! challenger, which is fitted on labels after the drift, predicts in shadow, and is promoted
//! only when the paired interval excludes 0. The shadow comparison is recomputed here from the
//! batch features; resuming inside every stage decides the same; a rollback restores the
//! previous champion.

use bqx_domain::{Pair, Timeframe};
use bqx_eval::targets::bqx_target;
use bqx_features::{BarInput, FeatureMatrix, FeatureSet, SourceCaps, compute_batch};
use bqx_online::{
    BarOutcome, Decision, DecisionKind, HoeffdingTree, LinearModel, OnlineConfig, OnlineError,
    OnlineLoop, PairModel, PsiReference, RetrainRequest, Rls, RlsConfig, TreeConfig, hac_interval,
};
use bqx_synth::{Plant, SynthConfig, SynthMarket, generate};

const INPUTS: [&str; 4] = [
    "bqx_return_60",
    "mom_rate_zscore_50",
    "lag_logret_1",
    "vol_parkinson_20",
];
const BARS: usize = 16_000;
const TRAIN: usize = 5_000;
/// The planted trend starts here.
const CHANGE: usize = 8_000;

fn pair() -> Pair {
    Pair::parse("EURUSD").unwrap()
}

fn config() -> OnlineConfig {
    OnlineConfig {
        psi_window: 500,
        ..OnlineConfig::default()
    }
}

/// Ridge with an unpenalized intercept, by the normal equations (an independent fitter: the
/// app uses `bqx_models::Ridge`).
#[allow(clippy::needless_range_loop)]
fn ridge(z: &[Vec<f64>], y: &[f64], lambda: f64) -> LinearModel {
    let (n, k) = (y.len() as f64, z[0].len());
    let zm: Vec<f64> = (0..k)
        .map(|j| z.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let ym = y.iter().sum::<f64>() / n;
    let mut a = vec![vec![0.0; k + 1]; k];
    for (r, &yv) in z.iter().zip(y) {
        for i in 0..k {
            for j in 0..k {
                a[i][j] += (r[i] - zm[i]) * (r[j] - zm[j]);
            }
            a[i][k] += (r[i] - zm[i]) * (yv - ym);
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += lambda;
    }
    // Gauss–Jordan with partial pivoting.
    for c in 0..k {
        let p = (c..k)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, p);
        for r in 0..k {
            if r != c {
                let f = a[r][c] / a[c][c];
                for j in c..=k {
                    a[r][j] -= f * a[c][j];
                }
            }
        }
    }
    let coefficients: Vec<f64> = (0..k).map(|i| a[i][k] / a[i][i]).collect();
    let intercept = ym
        - coefficients
            .iter()
            .zip(&zm)
            .map(|(b, m)| b * m)
            .sum::<f64>();
    LinearModel {
        coefficients,
        intercept,
    }
}

fn fit(r: &RetrainRequest) -> LinearModel {
    ridge(&r.z, &r.y, 1.0)
}

struct Case {
    market: SynthMarket,
    fm: FeatureMatrix,
    y: Vec<f64>,
    model: PairModel,
}

impl Case {
    fn new() -> Case {
        let market = generate(&SynthConfig {
            bars: BARS,
            timeframe: Timeframe::M1,
            seed: 21,
            plants: vec![Plant::Drift {
                pair: pair(),
                from: CHANGE,
                per_bar: 0.0001,
            }],
            ..SynthConfig::default()
        })
        .unwrap();
        let b = market.bars(pair());
        let fm = compute_batch(&mut kernel(&market), b).unwrap();
        let cfg = config();
        let y = bqx_target(&b.close, cfg.window, cfg.horizon).unwrap();
        // The champion: a ridge on the training rows whose label is inside the training part.
        let rows: Vec<usize> = (0..TRAIN - cfg.horizon)
            .filter(|&i| y[i].is_finite() && raw(&fm, i).iter().all(|v| v.is_finite()))
            .collect();
        let cols: Vec<Vec<f64>> = INPUTS
            .iter()
            .map(|c| rows.iter().map(|&i| col(&fm, c)[i]).collect())
            .collect();
        let mean: Vec<f64> = cols
            .iter()
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect();
        let std: Vec<f64> = cols
            .iter()
            .zip(&mean)
            .map(|(c, m)| (c.iter().map(|x| (x - m).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
            .collect();
        let z: Vec<Vec<f64>> = rows
            .iter()
            .map(|&i| {
                raw(&fm, i)
                    .iter()
                    .zip(mean.iter().zip(&std))
                    .map(|(x, (m, s))| (x - m) / s)
                    .collect()
            })
            .collect();
        let yy: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
        let frozen = ridge(&z, &yy, 1.0);
        let mae = z
            .iter()
            .zip(&yy)
            .map(|(r, v)| (v - frozen.predict(r)).abs())
            .sum::<f64>()
            / yy.len() as f64;
        let model = PairModel {
            pair: pair(),
            inputs: INPUTS.iter().map(|s| s.to_string()).collect(),
            psi: cols.iter().map(|c| PsiReference::fit(c, 10)).collect(),
            mean,
            std,
            frozen,
            rls: Rls::new(INPUTS.len(), RlsConfig::default()),
            tree: HoeffdingTree::new(INPUTS.len(), TreeConfig::member()),
            error_scale: mae,
            trained_until: b.ts[TRAIN - 1],
        };
        Case {
            market,
            fm,
            y,
            model,
        }
    }

    fn new_loop(&self) -> OnlineLoop {
        OnlineLoop::new(config(), vec![(self.model.clone(), kernel(&self.market))]).unwrap()
    }

    fn bar(&self, i: usize) -> BarInput {
        BarInput::from_columns(self.market.bars(pair()), i)
    }

    fn row_of(&self, ts: i64) -> usize {
        self.market.bars(pair()).ts.binary_search(&ts).unwrap()
    }

    /// Standardized batch inputs of row `i`.
    fn z(&self, i: usize) -> Vec<f64> {
        self.model.standardize(&raw(&self.fm, i)).unwrap()
    }
}

fn kernel(m: &SynthMarket) -> FeatureSet {
    FeatureSet::for_source(SourceCaps::of(m.bars(pair()), false))
}

fn col<'a>(fm: &'a FeatureMatrix, name: &str) -> &'a [f64] {
    fm.column_by_name(name).unwrap()
}

fn raw(fm: &FeatureMatrix, i: usize) -> Vec<f64> {
    INPUTS.iter().map(|c| col(fm, c)[i]).collect()
}

/// How the caller installs challengers.
#[derive(Clone, Copy, PartialEq)]
enum Install {
    /// As soon as the request comes out of the bar.
    Eager,
    /// Only when the loop says the next bar needs it.
    Lazy,
}

/// Warms on the training rows, then steps rows `from..to`, fitting challengers with [`fit`].
fn drive(lp: &mut OnlineLoop, c: &Case, from: usize, to: usize, how: Install) -> Vec<BarOutcome> {
    let mut out = Vec::new();
    for i in from..to {
        if i < TRAIN {
            lp.warm(pair(), &c.bar(i)).unwrap();
            continue;
        }
        if how == Install::Lazy && lp.due(pair()).is_some() {
            for r in lp.retrain_requests() {
                lp.install(r.pair, r.id, Ok(fit(&r))).unwrap();
            }
        }
        let o = lp.step(pair(), &c.bar(i)).unwrap();
        if how == Install::Eager
            && let Some(r) = &o.retrain
        {
            lp.install(r.pair, r.id, Ok(fit(r))).unwrap();
        }
        out.push(o);
    }
    out
}

fn decisions(out: &[BarOutcome]) -> Vec<Decision> {
    out.iter().flat_map(|o| o.decisions.clone()).collect()
}

#[test]
fn a_confirmed_drift_retrains_and_the_better_challenger_is_promoted_on_paired_labels() {
    let c = Case::new();
    let cfg = config();
    let mut lp = c.new_loop();
    let out = drive(&mut lp, &c, 0, BARS, Install::Eager);
    let d = decisions(&out);
    let kinds: Vec<DecisionKind> = d.iter().map(|d| d.kind).collect();
    assert_eq!(
        &kinds[..3],
        &[
            DecisionKind::RetrainStarted,
            DecisionKind::RetrainRequested,
            DecisionKind::Promoted
        ],
        "{d:#?}"
    );
    let started = c.row_of(d[0].ts);
    let requested = c.row_of(d[1].ts);
    let decided = c.row_of(d[2].ts);
    assert!(started > CHANGE, "no retrain before the change ({started})");
    eprintln!(
        "drift at {CHANGE}: retrain started at {started}, requested at {requested}, promoted at {decided}"
    );

    // The challenger was fitted on the labels matured after the drift was confirmed: the rows
    // whose labels matured at `started + 1 ..= requested`, paired with their own inputs.
    let h = cfg.horizon;
    let rows: Vec<usize> = (started + 1 - h..=requested - h).collect();
    assert_eq!(rows.len(), cfg.retrain_labels());
    let z: Vec<Vec<f64>> = rows.iter().map(|&i| c.z(i)).collect();
    let yy: Vec<f64> = rows.iter().map(|&i| c.y[i]).collect();
    let challenger = ridge(&z, &yy, 1.0);

    // The shadow: predictions from the due row on, scored on the first `challenger_labels`
    // labels that matured — recomputed from the batch features and targets.
    let due = requested + cfg.retrain_delay() as usize;
    let shadow: Vec<usize> = (due..due + cfg.challenger_labels()).collect();
    assert_eq!(
        decided,
        shadow.last().unwrap() + h,
        "decided when the last label matured"
    );
    let champion_abs: Vec<f64> = shadow
        .iter()
        .map(|&i| (c.y[i] - c.model.frozen.predict(&c.z(i))).abs())
        .collect();
    let challenger_abs: Vec<f64> = shadow
        .iter()
        .map(|&i| (c.y[i] - challenger.predict(&c.z(i))).abs())
        .collect();
    let diff: Vec<f64> = champion_abs
        .iter()
        .zip(&challenger_abs)
        .map(|(a, b)| a - b)
        .collect();
    let (mean, lo, hi) = hac_interval(&diff, cfg.hac_lags(), cfg.promote_z);
    let t = d[2].test.as_ref().unwrap();
    let mae = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert_eq!(t.labels, shadow.len());
    assert!((t.champion_mae - mae(&champion_abs)).abs() < 1e-12);
    assert!((t.challenger_mae - mae(&challenger_abs)).abs() < 1e-12);
    assert!((t.mean_diff - mean).abs() < 1e-12 && (t.lo - lo).abs() < 1e-12);
    assert!((t.hi - hi).abs() < 1e-12);
    assert!(t.lo > 0.0, "promoted only with the interval above 0: {t:?}");
    eprintln!("paired test: {t:?}");

    // From the decision on, the frozen member is the challenger.
    let after = &out[decided + 1 - TRAIN..];
    for (k, o) in after.iter().enumerate().take(500) {
        let i = decided + 1 + k;
        let s = o.signal.as_ref().unwrap();
        assert!((s.members[0] - challenger.predict(&c.z(i))).abs() < 1e-12);
    }
    assert_eq!(lp.state().pairs[&pair()].champions.len(), 2);

    // A rollback makes the offline champion serve again; a second one has nothing to undo.
    let rb = lp.rollback(pair()).unwrap();
    assert_eq!(
        (rb.kind, rb.champion, rb.challenger),
        (DecisionKind::RolledBack, 0, 1)
    );
    assert_eq!(lp.state().pairs[&pair()].model.frozen, c.model.frozen);
    assert!(matches!(
        lp.rollback(pair()),
        Err(OnlineError::NothingToRollBack { .. })
    ));
    assert_eq!(lp.state().pairs[&pair()].decisions.back(), Some(&rb));
}

#[test]
fn a_challenger_no_better_than_the_champion_is_rejected() {
    let c = Case::new();
    let mut lp = c.new_loop();
    let mut out = Vec::new();
    for i in 0..BARS {
        if i < TRAIN {
            lp.warm(pair(), &c.bar(i)).unwrap();
            continue;
        }
        let o = lp.step(pair(), &c.bar(i)).unwrap();
        if let Some(r) = &o.retrain {
            // The "retrained" model is the champion itself: every paired difference is 0.
            lp.install(r.pair, r.id, Ok(c.model.frozen.clone()))
                .unwrap();
        }
        out.push(o);
    }
    let d = decisions(&out);
    let rejected = d
        .iter()
        .find(|d| d.kind == DecisionKind::Rejected)
        .unwrap_or_else(|| panic!("{d:#?}"));
    let t = rejected.test.as_ref().unwrap();
    assert_eq!((t.mean_diff, t.lo, t.hi), (0.0, 0.0, 0.0));
    assert!(d.iter().all(|d| d.kind != DecisionKind::Promoted));
    let ps = &lp.state().pairs[&pair()];
    assert_eq!(ps.champions.len(), 1);
    assert_eq!(ps.model.frozen, c.model.frozen);
}

#[test]
fn the_loop_waits_for_a_due_challenger_without_consuming_the_bar() {
    let c = Case::new();
    let mut lp = c.new_loop();
    let mut i = 0;
    let id = loop {
        if i < TRAIN {
            lp.warm(pair(), &c.bar(i)).unwrap();
        } else if let Some(id) = lp.due(pair()) {
            break id;
        } else {
            lp.step(pair(), &c.bar(i)).unwrap();
        }
        i += 1;
        assert!(i < BARS, "no challenger became due");
    };
    let before = serde_json::to_string(lp.state()).unwrap();
    let err = lp.step(pair(), &c.bar(i)).unwrap_err();
    assert!(matches!(err, OnlineError::ChallengerNotReady { id: e, .. } if e == id));
    assert_eq!(serde_json::to_string(lp.state()).unwrap(), before);
    assert!(
        lp.install(pair(), id + 1, Ok(c.model.frozen.clone()))
            .is_err()
    );
    let r = lp.retrain_requests();
    assert_eq!(r.len(), 1);
    lp.install(pair(), id, Ok(fit(&r[0]))).unwrap();
    assert!(lp.retrain_requests().is_empty());
    lp.step(pair(), &c.bar(i)).unwrap();
}

#[test]
fn resuming_inside_every_challenger_stage_decides_the_same() {
    let c = Case::new();
    let mut whole = c.new_loop();
    let all = drive(&mut whole, &c, 0, BARS, Install::Eager);
    let final_state = serde_json::to_string(whole.state()).unwrap();
    let d = decisions(&all);
    assert!(d.len() >= 3, "{d:#?}");
    let (started, requested, decided) = (c.row_of(d[0].ts), c.row_of(d[1].ts), c.row_of(d[2].ts));
    // The moment of installation does not matter: the challenger starts at its due row.
    let mut lazy = c.new_loop();
    assert_eq!(drive(&mut lazy, &c, 0, BARS, Install::Lazy), all);
    // Stops while collecting, between the request and the due row (the fit not installed
    // yet), in the shadow, and after the decision.
    for cut in [started + 50, requested + 5, requested + 400, decided + 10] {
        let mut first = c.new_loop();
        let mut got = drive(&mut first, &c, 0, cut, Install::Lazy);
        let saved = serde_json::to_string(first.state()).unwrap();
        drop(first);
        let mut resumed = OnlineLoop::restore(
            serde_json::from_str(&saved).unwrap(),
            vec![(pair(), kernel(&c.market))],
            |_| {
                let b = c.market.bars(pair());
                Ok((0..b.len()).map(|i| BarInput::from_columns(b, i)).collect())
            },
        )
        .unwrap();
        got.extend(drive(&mut resumed, &c, cut, BARS, Install::Lazy));
        assert_eq!(got, all, "outputs after a stop at {cut}");
        assert_eq!(
            serde_json::to_string(resumed.state()).unwrap(),
            final_state,
            "state after a stop at {cut}"
        );
    }
}
