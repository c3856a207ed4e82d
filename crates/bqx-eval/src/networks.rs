//! Stage 2.18 in the walk-forward: the multi-task network and its single-task control as
//! backtest units (one per pair and fold, several seeds averaged), their auxiliary targets,
//! and how their extra heads are judged.
//!
//! Everything a unit fits comes from its fold's training rows: the feature scaler and target
//! scalings (inside the network), the regime cut-offs, early stopping (on the fold's
//! validation tail) and the trading threshold. The volatility head is judged against the
//! no-change forecast (the realized volatility of the last `h` bars), the regime head against
//! the majority class of the unit's training rows.

use std::ops::Range;

use bqx_models::net::{HeadEpoch, MultiTargets, MultiTaskNet, NetFitReport, Tasks};
use bqx_models::{Matrix, NetworkUnitSpec};
use serde::{Deserialize, Serialize};

use crate::backtest::{FoldColumns, Prepared, UnitFit, UnitResult, gather, inputs_defined, usable};
use crate::bootstrap::{BootstrapConfig, Interval, block_bootstrap};
use crate::error::{Result, invalid};
use crate::folds::FoldRows;
use crate::targets::{RegimeCuts, future_log_return, future_vol};
use crate::trading::Threshold;

/// A series' auxiliary targets, row-aligned with its closes.
pub(crate) struct AuxTargets {
    /// Std (ddof 1) of the one-bar log returns over `t+1 ..= t+h`.
    pub vol: Vec<f64>,
    /// The no-change forecast of `vol`: the same statistic over `t−h+1 ..= t`.
    pub vol_now: Vec<f64>,
    /// `ln(close(t+h) / close(t))`, cut into regimes per fold.
    pub future_move: Vec<f64>,
}

pub(crate) fn aux_targets(close: &[f64], h: usize) -> Result<AuxTargets> {
    let vol = future_vol(close, h)?;
    let vol_now = (0..close.len())
        .map(|t| if t >= h { vol[t - h] } else { f64::NAN })
        .collect();
    Ok(AuxTargets {
        vol,
        vol_now,
        future_move: future_log_return(close, h)?,
    })
}

/// One seed's training in a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedCurve {
    pub seed: u64,
    pub best_epoch: usize,
    pub stopped_early: bool,
    pub epochs: Vec<HeadEpoch>,
}

/// The extra heads' outputs on a unit's test rows (aligned with the unit's `ts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadOutputs {
    pub vol_pred: Vec<f64>,
    pub vol_actual: Vec<f64>,
    /// The no-change forecast (`NaN` where fewer than `h` past returns exist).
    pub vol_now: Vec<f64>,
    pub regime_pred: Vec<u8>,
    pub regime_actual: Vec<u8>,
}

/// What a network unit keeps besides its BQX predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetUnitFit {
    pub network: String,
    /// Training rows used (evenly spaced when capped).
    pub n_train_used: usize,
    pub regime_cuts: [f64; 4],
    /// The most frequent regime class of the training rows.
    pub majority_class: u8,
    pub curves: Vec<SeedCurve>,
    /// Multi-task only.
    pub test: Option<HeadOutputs>,
}

/// Evenly spaced positions of `n` items, at most `cap` of them (all when `cap ≥ n`).
fn spaced(n: usize, cap: Option<usize>) -> Vec<usize> {
    match cap {
        Some(c) if c < n => (0..c).map(|k| k * n / c).collect(),
        _ => (0..n).collect(),
    }
}

fn targets_of(
    rows: &[usize],
    p: &Prepared<'_>,
    aux: &AuxTargets,
    cuts: &RegimeCuts,
) -> MultiTargets {
    MultiTargets {
        bqx: rows.iter().map(|&i| p.target[i]).collect(),
        vol: rows.iter().map(|&i| aux.vol[i]).collect(),
        regime: rows
            .iter()
            .map(|&i| u32::from(cuts.classify(aux.future_move[i])))
            .collect(),
    }
}

/// A network unit's rows and training data (everything from the fold's training rows).
struct NetData {
    aux: AuxTargets,
    valid: Vec<usize>,
    test: Vec<usize>,
    used: Vec<usize>,
    n_train: usize,
    train_mean: f64,
    cuts: RegimeCuts,
    x_train: Matrix,
    t_train: MultiTargets,
    x_valid: Matrix,
    t_valid: MultiTargets,
}

/// [`NetData`], or why the unit has no model (the floor every model shares).
enum Prep {
    Ready(Box<NetData>),
    Skip(Box<UnitResult>),
}

fn prepare(
    p: &Prepared<'_>,
    rows: &FoldRows,
    extra: Option<&FoldColumns>,
    cols: Option<&[usize]>,
    spec: &NetworkUnitSpec,
    horizon: usize,
) -> Result<Prep> {
    let aux = aux_targets(&p.input.close, horizon)?;
    let ok = |i: &usize| aux.vol[*i].is_finite() && aux.future_move[*i].is_finite();
    let train: Vec<usize> = usable(p, extra, rows.train.clone())
        .into_iter()
        .filter(ok)
        .collect();
    let valid: Vec<usize> = usable(p, extra, rows.valid.clone())
        .into_iter()
        .filter(ok)
        .collect();
    let test = usable(p, extra, rows.test.clone());
    let n_features = cols.map_or(
        p.input.columns.len() + extra.map_or(0, |e| e.m.n_cols()),
        <[usize]>::len,
    );
    let y_train: Vec<f64> = train.iter().map(|&i| p.target[i]).collect();
    let train_mean = if y_train.is_empty() {
        f64::NAN
    } else {
        y_train.iter().sum::<f64>() / y_train.len() as f64
    };
    let skip = |reason: String| {
        Prep::Skip(Box::new(UnitResult {
            ts: Vec::new(),
            actual: Vec::new(),
            predicted: Vec::new(),
            fit: UnitFit {
                n_train: train.len(),
                n_valid: valid.len(),
                n_test: test.len(),
                train_mean,
                threshold: 0.0,
                skipped: Some(reason),
                model: None,
                network: None,
            },
        }))
    };
    // The same floor as every other model, so the models stay on the same units.
    if train.len() <= n_features + 1 {
        return Ok(skip(format!(
            "{} usable training rows for {} features",
            train.len(),
            n_features
        )));
    }
    if test.is_empty() {
        return Ok(skip("no usable test rows".into()));
    }
    let train_moves: Vec<f64> = train.iter().map(|&i| aux.future_move[i]).collect();
    let cuts = RegimeCuts::fit(&train_moves)?;
    let used: Vec<usize> = spaced(train.len(), spec.max_train_rows)
        .into_iter()
        .map(|k| train[k])
        .collect();
    let x_train = gather(p, extra, cols, &used)?;
    let t_train = targets_of(&used, p, &aux, &cuts);
    let x_valid = gather(p, extra, cols, &valid)?;
    let t_valid = targets_of(&valid, p, &aux, &cuts);
    Ok(Prep::Ready(Box::new(NetData {
        aux,
        valid,
        test,
        used,
        n_train: train.len(),
        train_mean,
        cuts,
        x_train,
        t_train,
        x_valid,
        t_valid,
    })))
}

/// A unit's multi-task network of one seed, trained as the unit trains it, with the inputs
/// of the pair's most recent rows: what `bqx predict` serves.
#[derive(Debug)]
pub struct Champion {
    pub net: MultiTaskNet,
    pub fit: NetFitReport,
    pub regime_cuts: [f64; 4],
    /// Bar times of the most recent rows of the fold's range with every input defined.
    pub ts: Vec<i64>,
    /// Their inputs, in the network's column order.
    pub x: Matrix,
}

/// Trains the champion of a unit: its first seed (`seed`), on the unit's rows; `None` when the
/// unit has too few rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn champion_of(
    p: &Prepared<'_>,
    rows: &FoldRows,
    extra: Option<&FoldColumns>,
    cols: Option<&[usize]>,
    spec: &NetworkUnitSpec,
    seed: u64,
    horizon: usize,
    recent: usize,
) -> Result<Option<Champion>> {
    let d = match prepare(p, rows, extra, cols, spec, horizon)? {
        Prep::Ready(d) => d,
        Prep::Skip(_) => return Ok(None),
    };
    let mut cfg = spec.net.clone();
    cfg.seed = seed;
    let mut net = MultiTaskNet::new(cfg).map_err(|e| invalid("model", e.to_string()))?;
    let fit = net
        .fit(
            &d.x_train,
            &d.t_train,
            (!d.valid.is_empty()).then_some((&d.x_valid, &d.t_valid)),
        )
        .map_err(|e| invalid("model", format!("{} champion: {e}", p.input.pair)))?;
    let all: Vec<usize> = (rows.train.start..rows.test.end.max(rows.train.start))
        .filter(|&i| inputs_defined(p, extra, i))
        .collect();
    let recent_rows = &all[all.len().saturating_sub(recent)..];
    Ok(Some(Champion {
        net,
        fit,
        regime_cuts: d.cuts.cuts,
        ts: recent_rows.iter().map(|&i| p.input.ts[i]).collect(),
        x: gather(p, extra, cols, recent_rows)?,
    }))
}

/// Fits one network unit (all its seeds) and predicts its test rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_net_unit(
    p: &Prepared<'_>,
    rows: &FoldRows,
    extra: Option<&FoldColumns>,
    cols: Option<&[usize]>,
    spec: &NetworkUnitSpec,
    seed: u64,
    horizon: usize,
    threshold_quantile: f64,
) -> Result<UnitResult> {
    let d = match prepare(p, rows, extra, cols, spec, horizon)? {
        Prep::Ready(d) => d,
        Prep::Skip(r) => return Ok(*r),
    };
    let NetData {
        aux,
        valid,
        test,
        used,
        n_train,
        train_mean,
        cuts,
        x_train,
        t_train,
        x_valid,
        t_valid,
    } = *d;
    let x_test = gather(p, extra, cols, &test)?;
    let mut counts = [0usize; 5];
    for &c in &t_train.regime {
        counts[c as usize] += 1;
    }
    let majority_class = (0..5)
        .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
        .unwrap_or(2) as u8;

    let multi = spec.net.tasks == Tasks::Multi;
    let seeds = spec.seeds.max(1);
    let mut curves = Vec::with_capacity(seeds);
    let mut train_pred = vec![0.0; used.len()];
    let mut bqx = vec![0.0; test.len()];
    let mut vol = vec![0.0; test.len()];
    let mut probs = vec![[0.0f64; 5]; test.len()];
    for s in 0..seeds {
        let seed_s = seed.wrapping_add(s as u64);
        let mut cfg = spec.net.clone();
        cfg.seed = seed_s;
        let mut net = MultiTaskNet::new(cfg).map_err(|e| invalid("model", e.to_string()))?;
        let fit = net
            .fit(
                &x_train,
                &t_train,
                (!valid.is_empty()).then_some((&x_valid, &t_valid)),
            )
            .map_err(|e| {
                invalid(
                    "model",
                    format!("{} fold {} seed {seed_s}: {e}", p.input.pair, rows.id),
                )
            })?;
        curves.push(SeedCurve {
            seed: seed_s,
            best_epoch: fit.best_epoch,
            stopped_early: fit.stopped_early,
            epochs: fit.epochs,
        });
        let tp = predict(&mut net, &x_train)?;
        for (a, b) in train_pred.iter_mut().zip(&tp.bqx) {
            *a += b / seeds as f64;
        }
        let out = predict(&mut net, &x_test)?;
        for (a, b) in bqx.iter_mut().zip(&out.bqx) {
            *a += b / seeds as f64;
        }
        if let (Some(v), Some(r)) = (out.vol, out.regime) {
            for (a, b) in vol.iter_mut().zip(&v) {
                *a += b / seeds as f64;
            }
            for (a, b) in probs.iter_mut().zip(&r) {
                for k in 0..5 {
                    a[k] += b[k] / seeds as f64;
                }
            }
        }
    }
    let threshold = Threshold::fit(&train_pred, threshold_quantile)?;
    let heads = multi.then(|| HeadOutputs {
        vol_pred: vol,
        vol_actual: test.iter().map(|&i| aux.vol[i]).collect(),
        vol_now: test.iter().map(|&i| aux.vol_now[i]).collect(),
        regime_pred: probs
            .iter()
            .map(|p| {
                (0..5)
                    .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
                    .unwrap_or(2) as u8
            })
            .collect(),
        regime_actual: test
            .iter()
            .map(|&i| cuts.classify(aux.future_move[i]))
            .collect(),
    });
    Ok(UnitResult {
        ts: test.iter().map(|&i| p.input.ts[i]).collect(),
        actual: test.iter().map(|&i| p.target[i]).collect(),
        predicted: bqx,
        fit: UnitFit {
            n_train,
            n_valid: valid.len(),
            n_test: test.len(),
            train_mean,
            threshold: threshold.value,
            skipped: None,
            model: None,
            network: Some(NetUnitFit {
                network: spec.net.name().to_string(),
                n_train_used: used.len(),
                regime_cuts: cuts.cuts,
                majority_class,
                curves,
                test: heads,
            }),
        },
    })
}

fn predict(net: &mut MultiTaskNet, x: &Matrix) -> Result<bqx_models::net::MultiOutput> {
    net.predict(x).map_err(|e| invalid("model", e.to_string()))
}

/// How the volatility head did: out-of-sample R² against the no-change forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolHeadMetrics {
    /// Test rows with a defined no-change forecast.
    pub n: usize,
    /// `1 − SSE(head) / SSE(no change)`: > 0 means the head beats the no-change forecast.
    pub r2_vs_no_change: Option<f64>,
    pub r2_interval: Option<Interval>,
    pub mae: f64,
    pub mae_no_change: f64,
}

/// How the regime head did: accuracy and macro-F1 against the majority class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegimeHeadMetrics {
    pub n: usize,
    pub accuracy: f64,
    pub accuracy_interval: Option<Interval>,
    /// Accuracy of always predicting each unit's majority training class.
    pub majority_accuracy: f64,
    pub macro_f1: f64,
    pub macro_f1_interval: Option<Interval>,
    /// Macro-F1 of the majority-class forecast.
    pub majority_macro_f1: f64,
    /// `confusion[actual][predicted]`, classes strong down … strong up.
    pub confusion: [[usize; 5]; 5],
}

/// The extra heads of a multi-task network, pooled over its units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadReport {
    pub vol: Option<VolHeadMetrics>,
    pub regime: Option<RegimeHeadMetrics>,
}

fn macro_f1(pairs: impl Iterator<Item = (u8, u8)>) -> f64 {
    let mut tp = [0usize; 5];
    let mut fp = [0usize; 5];
    let mut fn_ = [0usize; 5];
    for (a, p) in pairs {
        if a == p {
            tp[a as usize] += 1;
        } else {
            fp[p as usize] += 1;
            fn_[a as usize] += 1;
        }
    }
    // Classes absent from both actual and predicted rows are left out of the mean.
    let f: Vec<f64> = (0..5)
        .filter(|&k| tp[k] + fp[k] + fn_[k] > 0)
        .map(|k| 2.0 * tp[k] as f64 / (2 * tp[k] + fp[k] + fn_[k]) as f64)
        .collect();
    if f.is_empty() {
        f64::NAN
    } else {
        f.iter().sum::<f64>() / f.len() as f64
    }
}

/// Pools the head outputs of a network's units (in unit order) and judges them, with block
/// bootstrap intervals (blocks of at least `h` rows: neighbouring rows share most of their
/// labels).
pub(crate) fn head_report(
    units: &[&NetUnitFit],
    horizon: usize,
    boot: &BootstrapConfig,
) -> Result<Option<HeadReport>> {
    let outs: Vec<(&HeadOutputs, u8)> = units
        .iter()
        .filter_map(|u| u.test.as_ref().map(|t| (t, u.majority_class)))
        .collect();
    if outs.is_empty() {
        return Ok(None);
    }
    // Volatility rows with every value defined.
    let mut v: Vec<(f64, f64, f64)> = Vec::new();
    // Regime rows: (actual, predicted, majority).
    let mut r: Vec<(u8, u8, u8)> = Vec::new();
    for (o, maj) in &outs {
        for i in 0..o.vol_pred.len() {
            let (p, a, n) = (o.vol_pred[i], o.vol_actual[i], o.vol_now[i]);
            if p.is_finite() && a.is_finite() && n.is_finite() {
                v.push((p, a, n));
            }
            if o.regime_actual[i] < 5 {
                r.push((o.regime_actual[i], o.regime_pred[i], *maj));
            }
        }
    }
    let vol = if v.is_empty() {
        None
    } else {
        let r2 = |idx: &mut dyn Iterator<Item = usize>| {
            let (mut a, mut b) = (0.0, 0.0);
            for i in idx {
                let (p, y, n) = v[i];
                a += (p - y).powi(2);
                b += (n - y).powi(2);
            }
            if b > 0.0 { 1.0 - a / b } else { f64::NAN }
        };
        let point = r2(&mut (0..v.len()));
        let block = boot.block_len_for(v.len(), horizon);
        let [ci] = block_bootstrap(v.len(), block, boot, |idx| [r2(&mut idx.iter().copied())])?;
        Some(VolHeadMetrics {
            n: v.len(),
            r2_vs_no_change: point.is_finite().then_some(point),
            r2_interval: ci,
            mae: v.iter().map(|(p, y, _)| (p - y).abs()).sum::<f64>() / v.len() as f64,
            mae_no_change: v.iter().map(|(_, y, n)| (n - y).abs()).sum::<f64>() / v.len() as f64,
        })
    };
    let regime = if r.is_empty() {
        None
    } else {
        let n = r.len();
        let acc = |idx: &mut dyn Iterator<Item = usize>| {
            let (mut h, mut c) = (0usize, 0usize);
            for i in idx {
                c += 1;
                h += usize::from(r[i].0 == r[i].1);
            }
            h as f64 / c.max(1) as f64
        };
        let block = boot.block_len_for(n, horizon);
        let [acc_ci, f1_ci] = block_bootstrap(n, block, boot, |idx| {
            [
                acc(&mut idx.iter().copied()),
                macro_f1(idx.iter().map(|&i| (r[i].0, r[i].1))),
            ]
        })?;
        let mut confusion = [[0usize; 5]; 5];
        for &(a, p, _) in &r {
            confusion[a as usize][p as usize] += 1;
        }
        Some(RegimeHeadMetrics {
            n,
            accuracy: acc(&mut (0..n)),
            accuracy_interval: acc_ci,
            majority_accuracy: r.iter().filter(|(a, _, m)| a == m).count() as f64 / n as f64,
            macro_f1: macro_f1(r.iter().map(|&(a, p, _)| (a, p))),
            macro_f1_interval: f1_ci,
            majority_macro_f1: macro_f1(r.iter().map(|&(a, _, m)| (a, m))),
            confusion,
        })
    };
    Ok(Some(HeadReport { vol, regime }))
}

/// The folds (indices into the plan) a network spec trains on.
pub fn network_folds(spec: &NetworkUnitSpec, n_folds: usize) -> Range<usize> {
    match spec.last_folds {
        Some(k) => n_folds.saturating_sub(k)..n_folds,
        None => 0..n_folds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_by_hand() {
        // actual 0,0,1,1 ; predicted 0,1,1,1 → class 0: tp1 fp0 fn1 → 2/3; class 1: tp2 fp1
        // fn0 → 4/5; mean 0.7333…
        let f = macro_f1([(0, 0), (0, 1), (1, 1), (1, 1)].into_iter());
        assert!((f - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        assert!(macro_f1(std::iter::empty()).is_nan());
    }

    #[test]
    fn spaced_rows_are_even_and_capped() {
        assert_eq!(spaced(10, Some(5)), vec![0, 2, 4, 6, 8]);
        assert_eq!(spaced(3, Some(5)), vec![0, 1, 2]);
        assert_eq!(spaced(4, None), vec![0, 1, 2, 3]);
    }

    #[test]
    fn no_change_forecast_is_the_past_window() {
        let close: Vec<f64> = (0..30).map(|i| 1.0 + 0.01 * ((i * 7 % 5) as f64)).collect();
        let a = aux_targets(&close, 5).unwrap();
        assert!(a.vol_now[4].is_nan());
        assert_eq!(a.vol_now[12].to_bits(), a.vol[7].to_bits());
    }
}
