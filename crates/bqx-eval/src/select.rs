//! Feature selection per fold (features.md § Feature selection): on the training part of a
//! fold, drop constant columns and one of each pair with |ρ| > 0.95, rank the rest with four
//! rankers — mutual information, |Spearman| with the target, random-forest impurity importance,
//! lasso path entry — fuse the rankings by Borda count and keep the best `k`.
//!
//! The rows are the fold's usable training and validation rows of every pair, at most
//! `max_rows` in all (evenly spaced in time per pair); each pair's features and target are
//! standardized on its own rows before pooling, so that a pair with larger moves does not
//! dominate the ranking. Nothing after the fold's validation tail is read.

use bqx_models::{ForestConfig, Matrix, RandomForest, Regressor};
use serde::{Deserialize, Serialize};

use crate::backtest::{FoldExtra, FoldSetup, gather, usable};
use crate::error::{Result, invalid};
use crate::stats::{average_ranks, pearson};

/// How the selection is done; part of its fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectConfig {
    /// Features kept (default 280).
    pub k: usize,
    /// |Pearson| above which one of two features is dropped (the later in catalog order).
    pub max_abs_corr: f64,
    /// Pooled training rows used per fold, at most.
    pub max_rows: usize,
    /// Quantile bins of the mutual-information estimate.
    pub mi_bins: usize,
    /// Trees of the importance forest.
    pub forest_trees: usize,
    /// Alphas of the lasso path.
    pub lasso_alphas: usize,
    pub seed: u64,
}

impl Default for SelectConfig {
    fn default() -> Self {
        SelectConfig {
            k: 280,
            max_abs_corr: 0.95,
            max_rows: 4_000,
            mi_bins: 16,
            forest_trees: 30,
            lasso_alphas: 30,
            seed: 42,
        }
    }
}

impl SelectConfig {
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(invalid("selection.k", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.max_abs_corr) {
            return Err(invalid("selection.max_abs_corr", "must lie in [0, 1]"));
        }
        if self.max_rows < 50 || self.mi_bins < 2 || self.forest_trees == 0 || self.lasso_alphas < 2
        {
            return Err(invalid(
                "selection",
                "max_rows ≥ 50, mi_bins ≥ 2, forest_trees ≥ 1 and lasso_alphas ≥ 2 are needed",
            ));
        }
        Ok(())
    }
}

/// A feature dropped as near-duplicate of an earlier kept one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedCorrelated {
    pub feature: String,
    pub kept: String,
    pub rho: Option<f64>,
}

/// Every ranked feature's scores, column-wise (same order as `feature`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SelectionScores {
    pub feature: Vec<String>,
    pub mutual_info: Vec<Option<f64>>,
    pub spearman: Vec<Option<f64>>,
    pub forest: Vec<Option<f64>>,
    pub lasso: Vec<Option<f64>>,
    pub borda: Vec<Option<f64>>,
}

/// The selection of one fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionFold {
    pub fold: u32,
    pub n_rows: usize,
    pub dropped_constant: Vec<String>,
    pub dropped_correlated: Vec<DroppedCorrelated>,
    /// The selected features, in Borda order.
    pub selected: Vec<String>,
    pub scores: SelectionScores,
}

fn opt(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The pooled, per-pair standardized training rows of fold `fi` over `names` (every
/// candidate), and the standardized target. Columns are returned column-major.
fn pooled(
    setup: &FoldSetup<'_>,
    extra: &FoldExtra,
    fi: usize,
    n_cols: usize,
    max_rows: usize,
) -> Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let per_pair = (max_rows / setup.prepared.len().max(1)).max(1);
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); n_cols];
    let mut y = Vec::new();
    for (pi, p) in setup.prepared.iter().enumerate() {
        let r = &p.rows[fi];
        let e = extra.get(pi).and_then(Option::as_ref);
        let mut rows = usable(p, e, r.train.clone());
        rows.extend(usable(p, e, r.valid.clone()));
        if rows.len() < 3 {
            continue;
        }
        let rows: Vec<usize> = if rows.len() > per_pair {
            (0..per_pair)
                .map(|k| rows[k * rows.len() / per_pair])
                .collect()
        } else {
            rows
        };
        let x = gather(p, e, None, &rows)?;
        if x.cols() != n_cols {
            return Err(invalid("selection", "candidate count mismatch"));
        }
        for (j, col) in cols.iter_mut().enumerate() {
            col.extend(standardize(&x.column(j)));
        }
        let t: Vec<f64> = rows.iter().map(|&i| p.target[i]).collect();
        y.extend(standardize(&t));
    }
    Ok((cols, y))
}

/// `(v − mean) / std` (ddof 0); all zeros when constant.
fn standardize(v: &[f64]) -> Vec<f64> {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    let sd = var.sqrt();
    if sd.is_nan() || sd <= 1e-12 * m.abs().max(1.0) {
        return vec![0.0; v.len()];
    }
    v.iter().map(|x| (x - m) / sd).collect()
}

/// Mutual information (nats) between quantile-binned `x` and `y` (`bins` equal-count bins by
/// average rank; ties stay in one bin).
fn mutual_info(x_ranks: &[f64], y_bins: &[usize], bins: usize) -> f64 {
    let n = x_ranks.len();
    if n == 0 {
        return f64::NAN;
    }
    let xb: Vec<usize> = x_ranks
        .iter()
        .map(|r| (((r - 1.0) * bins as f64 / n as f64) as usize).min(bins - 1))
        .collect();
    let mut joint = vec![0usize; bins * bins];
    let mut px = vec![0usize; bins];
    let mut py = vec![0usize; bins];
    for (a, b) in xb.iter().zip(y_bins) {
        joint[a * bins + b] += 1;
        px[*a] += 1;
        py[*b] += 1;
    }
    let nf = n as f64;
    let mut mi = 0.0;
    for a in 0..bins {
        for b in 0..bins {
            let c = joint[a * bins + b];
            if c > 0 {
                let pab = c as f64 / nf;
                mi += pab * (pab * nf * nf / (px[a] as f64 * py[b] as f64)).ln();
            }
        }
    }
    mi.max(0.0)
}

/// Borda points: `m − rank` (rank 0 = highest score); a feature without a score gets 0.
fn borda(scores: &[f64]) -> Vec<f64> {
    let m = scores.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&a, &b| {
        let (sa, sb) = (scores[a], scores[b]);
        match (sa.is_finite(), sb.is_finite()) {
            (true, true) => sb.total_cmp(&sa).then(a.cmp(&b)),
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => a.cmp(&b),
        }
    });
    let mut pts = vec![0.0; m];
    for (rank, &i) in idx.iter().enumerate() {
        if scores[i].is_finite() {
            pts[i] = (m - rank) as f64;
        }
    }
    pts
}

/// Selects the features of fold `fi` among `names` (the stored and added columns, in catalog
/// order) from the fold's training part.
pub fn select_fold(
    setup: &FoldSetup<'_>,
    extra: &FoldExtra,
    fi: usize,
    names: &[String],
    cfg: &SelectConfig,
) -> Result<SelectionFold> {
    cfg.validate()?;
    let fold_id = setup.plan.folds[fi].id;
    let (cols, y) = pooled(setup, extra, fi, names.len(), cfg.max_rows)?;
    let n = y.len();
    if n < 50 {
        return Err(invalid(
            "selection",
            format!("fold {fold_id}: {n} usable training rows, at least 50 are needed"),
        ));
    }
    // 1. Constants (constant within every pair: all standardized values are 0).
    let mut dropped_constant = Vec::new();
    let mut live: Vec<usize> = Vec::new();
    for (j, c) in cols.iter().enumerate() {
        if c.iter().all(|v| *v == 0.0) {
            dropped_constant.push(names[j].clone());
        } else {
            live.push(j);
        }
    }
    // 2. |ρ| > max_abs_corr: keep the first in catalog order.
    let mut kept: Vec<usize> = Vec::new();
    let mut dropped_correlated = Vec::new();
    let norm: Vec<f64> = cols
        .iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    for &j in &live {
        let hit = kept.iter().find_map(|&k| {
            let rho = cols[j]
                .iter()
                .zip(&cols[k])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / (norm[j] * norm[k]);
            (rho.abs() > cfg.max_abs_corr).then_some((k, rho))
        });
        match hit {
            Some((k, rho)) => dropped_correlated.push(DroppedCorrelated {
                feature: names[j].clone(),
                kept: names[k].clone(),
                rho: opt(rho),
            }),
            None => kept.push(j),
        }
    }
    if kept.is_empty() {
        return Err(invalid(
            "selection",
            format!("fold {fold_id}: every candidate feature is constant"),
        ));
    }
    // 3. Rankers.
    let y_ranks = average_ranks(&y);
    let y_bins: Vec<usize> = y_ranks
        .iter()
        .map(|r| (((r - 1.0) * cfg.mi_bins as f64 / n as f64) as usize).min(cfg.mi_bins - 1))
        .collect();
    let (mi, sp): (Vec<f64>, Vec<f64>) = {
        use rayon::prelude::*;
        kept.par_iter()
            .map(|&j| {
                let xr = average_ranks(&cols[j]);
                (
                    mutual_info(&xr, &y_bins, cfg.mi_bins),
                    pearson(&xr, &y_ranks).abs(),
                )
            })
            .unzip()
    };
    let data: Vec<f64> = (0..n)
        .flat_map(|i| kept.iter().map(move |&j| (j, i)))
        .map(|(j, i)| cols[j][i])
        .collect();
    let x = Matrix::from_row_major(n, kept.len(), data)
        .map_err(|e| invalid("selection", e.to_string()))?;
    let mut forest = RandomForest::new(ForestConfig {
        n_trees: cfg.forest_trees,
        max_depth: Some(8),
        min_samples_leaf: 20,
        min_samples_split: 40,
        max_features: None,
        max_train_rows: None,
        seed: cfg.seed ^ u64::from(fold_id),
    })
    .map_err(|e| invalid("selection", e.to_string()))?;
    forest
        .fit(&x, &y, None)
        .map_err(|e| invalid("selection", format!("fold {fold_id} forest: {e}")))?;
    let rf: Vec<f64> = forest
        .feature_importances()
        .map(<[f64]>::to_vec)
        .unwrap_or_else(|| vec![f64::NAN; kept.len()]);
    let la = bqx_models::lasso_path_entry(&x, &y, cfg.lasso_alphas)
        .map_err(|e| invalid("selection", format!("fold {fold_id} lasso: {e}")))?;
    // 4. Borda fusion.
    let points: Vec<f64> = {
        let b: Vec<Vec<f64>> = [&mi, &sp, &rf, &la].iter().map(|s| borda(s)).collect();
        (0..kept.len())
            .map(|i| b.iter().map(|v| v[i]).sum())
            .collect()
    };
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by(|&a, &b| points[b].total_cmp(&points[a]).then(a.cmp(&b)));
    let selected = order
        .iter()
        .take(cfg.k)
        .map(|&i| names[kept[i]].clone())
        .collect();
    Ok(SelectionFold {
        fold: fold_id,
        n_rows: n,
        dropped_constant,
        dropped_correlated,
        selected,
        scores: SelectionScores {
            feature: order.iter().map(|&i| names[kept[i]].clone()).collect(),
            mutual_info: order.iter().map(|&i| opt(mi[i])).collect(),
            spearman: order.iter().map(|&i| opt(sp[i])).collect(),
            forest: order.iter().map(|&i| opt(rf[i])).collect(),
            lasso: order.iter().map(|&i| opt(la[i])).collect(),
            borda: order.iter().map(|&i| opt(points[i])).collect(),
        },
    })
}

/// How often a feature was selected across folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStability {
    pub feature: String,
    pub folds_selected: usize,
    pub share: f64,
}

/// The stability of the selection across folds: mean pairwise Jaccard index and Kuncheva
/// consistency index (`(r·n − k²) / (k·(n − k))` for subsets of size `k` of `n` candidates
/// sharing `r`; 0 is chance level, 1 identical), and per feature the share of folds selecting it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionStability {
    pub jaccard_mean: Option<f64>,
    pub kuncheva_mean: Option<f64>,
    pub per_feature: Vec<FeatureStability>,
}

pub fn selection_stability(folds: &[SelectionFold], candidates: usize) -> SelectionStability {
    use std::collections::{BTreeMap, BTreeSet};
    let sets: Vec<BTreeSet<&str>> = folds
        .iter()
        .map(|f| f.selected.iter().map(String::as_str).collect())
        .collect();
    let (mut jac, mut kun, mut pairs) = (0.0, 0.0, 0usize);
    let mut kun_pairs = 0usize;
    for a in 0..sets.len() {
        for b in a + 1..sets.len() {
            let r = sets[a].intersection(&sets[b]).count() as f64;
            let u = sets[a].union(&sets[b]).count() as f64;
            if u > 0.0 {
                jac += r / u;
                pairs += 1;
            }
            let k = sets[a].len();
            let n = candidates as f64;
            if k == sets[b].len() && k > 0 && k < candidates {
                let kf = k as f64;
                kun += (r * n - kf * kf) / (kf * (n - kf));
                kun_pairs += 1;
            }
        }
    }
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &sets {
        for f in s {
            *count.entry(f).or_default() += 1;
        }
    }
    let mut per_feature: Vec<FeatureStability> = count
        .into_iter()
        .map(|(f, c)| FeatureStability {
            feature: f.to_string(),
            folds_selected: c,
            share: c as f64 / sets.len().max(1) as f64,
        })
        .collect();
    per_feature.sort_by(|a, b| {
        b.folds_selected
            .cmp(&a.folds_selected)
            .then(a.feature.cmp(&b.feature))
    });
    SelectionStability {
        jaccard_mean: (pairs > 0).then(|| jac / pairs as f64),
        kuncheva_mean: (kun_pairs > 0).then(|| kun / kun_pairs as f64),
        per_feature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borda_gives_top_score_most_points_and_nan_none() {
        assert_eq!(borda(&[0.1, 0.9, f64::NAN, 0.5]), vec![2.0, 4.0, 0.0, 3.0]);
    }

    #[test]
    fn mutual_info_is_high_for_dependence_and_near_zero_for_independence() {
        let n = 4000;
        // SplitMix64 outputs: x and y_ind are draws of independent streams.
        let mix = |mut z: u64| {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as f64
        };
        let x: Vec<f64> = (0..n as u64).map(mix).collect();
        let y_dep: Vec<f64> = x.clone();
        let y_ind: Vec<f64> = (0..n as u64).map(|i| mix(i + (1 << 40))).collect();
        let bins = |y: &[f64]| -> Vec<usize> {
            average_ranks(y)
                .iter()
                .map(|r| (((r - 1.0) * 16.0 / n as f64) as usize).min(15))
                .collect()
        };
        let xr = average_ranks(&x);
        let dep = mutual_info(&xr, &bins(&y_dep), 16);
        let ind = mutual_info(&xr, &bins(&y_ind), 16);
        assert!((dep - 16f64.ln()).abs() < 1e-9, "{dep}");
        // The plug-in estimate's bias under independence is about (16 − 1)² / (2n) = 0.028.
        assert!(ind < 0.06, "{ind}");
    }

    #[test]
    fn kuncheva_is_one_for_identical_and_near_zero_for_disjoint_halves() {
        let f = |sel: &[&str]| SelectionFold {
            fold: 0,
            n_rows: 0,
            dropped_constant: vec![],
            dropped_correlated: vec![],
            selected: sel.iter().map(|s| s.to_string()).collect(),
            scores: SelectionScores::default(),
        };
        let s = selection_stability(&[f(&["a", "b"]), f(&["a", "b"])], 4);
        assert_eq!(s.kuncheva_mean, Some(1.0));
        assert_eq!(s.jaccard_mean, Some(1.0));
        let s = selection_stability(&[f(&["a", "b"]), f(&["c", "d"])], 4);
        assert_eq!(s.kuncheva_mean, Some(-1.0));
        assert_eq!(s.jaccard_mean, Some(0.0));
    }
}
