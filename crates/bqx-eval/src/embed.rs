//! Stage 2.17 in the walk-forward: per fold, one autoencoder pooled over every pair, trained on
//! the fold's training rows of the candidate features (stored + USD factor + cross-pair), and
//! its 64-unit embedding for every row of the fold's range (test rows from the fold's model).
//!
//! The autoencoder reads its rows through [`FoldRowSource`], a batch at a time, straight from
//! the loaded feature columns: no training matrix is built. Its scaler is fitted on the training
//! rows (one streaming pass), early stopping watches the fold's time-ordered validation tail.
//! The report interprets the embedding: reconstruction error per feature family, constant
//! units, k-means (k = 10, fitted on training rows) with the silhouette score and a profile of
//! each cluster on the test rows, and a 2-D projection (principal components of the training
//! embeddings) of a sample of test rows for the UI.

use bqx_features::FeatureMatrix;
use bqx_models::net::{AeFitReport, Autoencoder, AutoencoderConfig, RowSource};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::backtest::{FoldColumns, FoldExtra, FoldSetup, inputs_defined};
use crate::error::{Result, invalid};
use crate::networks::aux_targets;
use crate::targets::RegimeCuts;

/// Embedding columns `emb_00 … emb_{n−1}`.
pub fn embedding_names(n: usize) -> Vec<String> {
    (0..n).map(|j| format!("emb_{j:02}")).collect()
}

/// Rows of a fold's candidate features, pooled over pairs, read on demand.
#[derive(Debug)]
pub struct FoldRowSource<'s, 'a> {
    setup: &'s FoldSetup<'a>,
    extra: &'s FoldExtra,
    /// `(pair index, row)`.
    rows: Vec<(u32, u32)>,
    cols: usize,
}

impl<'s, 'a> FoldRowSource<'s, 'a> {
    /// The rows of `range_of(pair rows)` for every pair whose every input is defined.
    pub fn new(
        setup: &'s FoldSetup<'a>,
        extra: &'s FoldExtra,
        fi: usize,
        part: impl Fn(&crate::folds::FoldRows) -> std::ops::Range<usize>,
    ) -> Self {
        let mut rows = Vec::new();
        for (pi, p) in setup.prepared.iter().enumerate() {
            let e = extra.get(pi).and_then(Option::as_ref);
            for i in part(&p.rows[fi]) {
                if inputs_defined(p, e, i) {
                    rows.push((pi as u32, i as u32));
                }
            }
        }
        let cols = setup.prepared.first().map_or(0, |p| p.input.columns.len())
            + extra.iter().flatten().next().map_or(0, |e| e.m.n_cols());
        FoldRowSource {
            setup,
            extra,
            rows,
            cols,
        }
    }

    /// `(pair index, row)` of every row, in order.
    pub fn rows_index(&self) -> &[(u32, u32)] {
        &self.rows
    }
}

impl RowSource for FoldRowSource<'_, '_> {
    fn rows(&self) -> usize {
        self.rows.len()
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn read(&self, rows: &[u32], out: &mut Vec<f32>) -> bqx_models::Result<()> {
        for &k in rows {
            let (pi, i) = self.rows[k as usize];
            let (pi, i) = (pi as usize, i as usize);
            let p = &self.setup.prepared[pi];
            out.extend(p.input.columns.iter().map(|c| c[i]));
            if let Some(e) = self.extra.get(pi).and_then(Option::as_ref) {
                out.extend((0..e.m.n_cols()).map(|j| e.m.get(i - e.offset, j) as f32));
            }
        }
        Ok(())
    }
}

/// Fits fold `fi`'s autoencoder on the pooled training rows (validation: the fold's tails).
pub fn fit_fold_autoencoder(
    setup: &FoldSetup<'_>,
    extra: &FoldExtra,
    fi: usize,
    cfg: &AutoencoderConfig,
) -> Result<(Autoencoder, AeFitReport)> {
    let train = FoldRowSource::new(setup, extra, fi, |r| r.train.clone());
    let valid = FoldRowSource::new(setup, extra, fi, |r| r.valid.clone());
    let mut ae = Autoencoder::new(cfg.clone()).map_err(|e| invalid("embed", e.to_string()))?;
    let rep = ae
        .fit(
            &train,
            (valid.rows() > 0).then_some(&valid as &dyn RowSource),
        )
        .map_err(|e| invalid("embed", format!("fold {}: {e}", setup.plan.folds[fi].id)))?;
    Ok((ae, rep))
}

/// Fold `fi`'s embedding columns of every pair on the rows from its training start to its test
/// end (`NaN` where an input is missing), in the layout of [`FoldColumns`].
pub fn fold_embeddings(
    setup: &FoldSetup<'_>,
    extra: &FoldExtra,
    fi: usize,
    ae: &mut Autoencoder,
) -> Result<Vec<Option<FoldColumns>>> {
    let k = ae.config().bottleneck;
    let all = FoldRowSource::new(setup, extra, fi, |r| {
        r.train.start..r.test.end.max(r.train.start)
    });
    let emb = ae
        .encode(&all)
        .map_err(|e| invalid("embed", e.to_string()))?;
    let mut out: Vec<Option<FoldColumns>> = setup
        .prepared
        .iter()
        .map(|p| {
            let r = &p.rows[fi];
            let (lo, hi) = (r.train.start, r.test.end.max(r.train.start));
            Some(FoldColumns {
                offset: lo,
                m: FeatureMatrix {
                    names: embedding_names(k),
                    n_rows: hi - lo,
                    data: vec![f64::NAN; (hi - lo) * k],
                },
            })
        })
        .collect();
    for (n, &(pi, i)) in all.rows_index().iter().enumerate() {
        let fc = out[pi as usize].as_mut().expect("every pair has columns");
        let row = i as usize - fc.offset;
        for j in 0..k {
            fc.m.data[j * fc.m.n_rows + row] = f64::from(emb[n * k + j]);
        }
    }
    Ok(out)
}

/// Appends fold columns `b` to `a` (same pair rows).
pub fn join_columns(a: Option<&FoldColumns>, b: Option<&FoldColumns>) -> Option<FoldColumns> {
    match (a, b) {
        (Some(a), Some(b)) => {
            debug_assert_eq!((a.offset, a.m.n_rows), (b.offset, b.m.n_rows));
            let mut m = a.m.clone();
            m.names.extend(b.m.names.iter().cloned());
            m.data.extend_from_slice(&b.m.data);
            Some(FoldColumns {
                offset: a.offset,
                m,
            })
        }
        (Some(a), None) => Some(a.clone()),
        (None, Some(b)) => Some(b.clone()),
        (None, None) => None,
    }
}

// ---- interpretation ------------------------------------------------------------------------

/// One feature family's reconstruction error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyError {
    pub family: String,
    pub features: usize,
    /// Mean squared error in standardized units on the validation rows (1 ≈ no better than
    /// predicting the training mean).
    pub mse: f64,
}

/// One k-means cluster, profiled on the test rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterProfile {
    pub cluster: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    /// Mean realized volatility of the last `h` one-bar log returns (known at t).
    pub mean_vol: Option<f64>,
    /// Mean BQX target (`bqx_return_W(t + h)`), where known.
    pub mean_bqx: Option<f64>,
    /// Share of each regime of the future move (strong down … strong up; cut on the fold's
    /// training rows) among the cluster's test rows whose move is known (`None`: none is).
    pub regime_share: Option<[f64; 5]>,
}

/// A sample of test rows in 2-D.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// Share of the embeddings' variance on each axis (training rows).
    pub explained: [f64; 2],
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub cluster: Vec<u8>,
    /// Regime class of the future move (255: unknown).
    pub regime: Vec<u8>,
    pub pair: Vec<String>,
}

/// What the embedding of one fold looks like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedFoldReport {
    pub fold: u32,
    pub n_train: usize,
    pub n_valid: usize,
    pub n_inputs: usize,
    pub best_epoch: usize,
    pub stopped_early: bool,
    pub curve: Vec<bqx_models::net::AeEpoch>,
    pub reconstruction: Vec<FamilyError>,
    /// Std of each embedding unit over the training rows.
    pub unit_std: Vec<f64>,
    /// Units whose std is below 1e-6 of the largest (constant: they carry nothing).
    pub constant_units: Vec<usize>,
    /// Per hidden block of the encoder, ReLU units that never fire on the training rows.
    #[serde(default)]
    pub dead_units: Vec<usize>,
    pub k: usize,
    pub silhouette: Option<f64>,
    pub clusters: Vec<ClusterProfile>,
    pub projection: Projection,
}

/// Lloyd's k-means with k-means++ seeding, seeded: `(centroids, labels)`.
pub fn kmeans(x: &[f32], dim: usize, k: usize, seed: u64, iters: usize) -> (Vec<f64>, Vec<u8>) {
    let n = x.len() / dim.max(1);
    let k = k.min(n).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d2 = |i: usize, c: &[f64]| -> f64 {
        (0..dim)
            .map(|j| (f64::from(x[i * dim + j]) - c[j]).powi(2))
            .sum()
    };
    let mut cent: Vec<f64> = Vec::with_capacity(k * dim);
    let first = rng.gen_range(0..n);
    cent.extend((0..dim).map(|j| f64::from(x[first * dim + j])));
    let mut best: Vec<f64> = (0..n).map(|i| d2(i, &cent[0..dim])).collect();
    while cent.len() < k * dim {
        let total: f64 = best.iter().sum();
        let pick = if total > 0.0 {
            let mut r = rng.r#gen::<f64>() * total;
            let mut pick = n - 1;
            for (i, b) in best.iter().enumerate() {
                r -= b;
                if r <= 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            rng.gen_range(0..n)
        };
        let c0 = cent.len();
        cent.extend((0..dim).map(|j| f64::from(x[pick * dim + j])));
        for (i, b) in best.iter_mut().enumerate() {
            *b = b.min(d2(i, &cent[c0..c0 + dim]));
        }
    }
    let mut labels = vec![0u8; n];
    for _ in 0..iters {
        let mut changed = false;
        for (i, l) in labels.iter_mut().enumerate() {
            let c = nearest(&cent, dim, |j| f64::from(x[i * dim + j]));
            if c as u8 != *l {
                *l = c as u8;
                changed = true;
            }
        }
        let mut sum = vec![0.0; k * dim];
        let mut cnt = vec![0usize; k];
        for (i, &l) in labels.iter().enumerate() {
            cnt[l as usize] += 1;
            for j in 0..dim {
                sum[l as usize * dim + j] += f64::from(x[i * dim + j]);
            }
        }
        for c in 0..k {
            if cnt[c] > 0 {
                for j in 0..dim {
                    cent[c * dim + j] = sum[c * dim + j] / cnt[c] as f64;
                }
            }
        }
        if !changed {
            break;
        }
    }
    (cent, labels)
}

/// The nearest centroid of a point given by coordinate function `v`.
pub fn nearest(cent: &[f64], dim: usize, v: impl Fn(usize) -> f64) -> usize {
    let k = cent.len() / dim.max(1);
    (0..k)
        .map(|c| {
            let d: f64 = (0..dim).map(|j| (v(j) - cent[c * dim + j]).powi(2)).sum();
            (c, d)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(c, _)| c)
}

/// Mean silhouette of the labelled points (Euclidean; `None` with fewer than 2 clusters).
pub fn silhouette(x: &[f32], dim: usize, labels: &[u8]) -> Option<f64> {
    let n = labels.len();
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let sizes: Vec<usize> = (0..k)
        .map(|c| labels.iter().filter(|&&l| l as usize == c).count())
        .collect();
    if sizes.iter().filter(|&&s| s > 0).count() < 2 {
        return None;
    }
    let dist = |a: usize, b: usize| -> f64 {
        (0..dim)
            .map(|j| (f64::from(x[a * dim + j]) - f64::from(x[b * dim + j])).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut total = 0.0;
    for i in 0..n {
        let mut sums = vec![0.0; k];
        for j in 0..n {
            if i != j {
                sums[labels[j] as usize] += dist(i, j);
            }
        }
        let own = labels[i] as usize;
        if sizes[own] <= 1 {
            continue; // s(i) = 0 by convention
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        total += (b - a) / a.max(b).max(f64::MIN_POSITIVE);
    }
    Some(total / n as f64)
}

/// The top two principal axes of `x` (rows × dim), by power iteration with deflation:
/// `(mean, axes, explained share)`.
fn pca2(x: &[f32], dim: usize) -> (Vec<f64>, [Vec<f64>; 2], [f64; 2]) {
    let n = (x.len() / dim.max(1)).max(1);
    let mut mean = vec![0.0; dim];
    for r in x.chunks(dim) {
        for j in 0..dim {
            mean[j] += f64::from(r[j]) / n as f64;
        }
    }
    let mut cov = vec![0.0; dim * dim];
    for r in x.chunks(dim) {
        for a in 0..dim {
            let da = f64::from(r[a]) - mean[a];
            for b in a..dim {
                cov[a * dim + b] += da * (f64::from(r[b]) - mean[b]) / n as f64;
            }
        }
    }
    for a in 0..dim {
        for b in 0..a {
            cov[a * dim + b] = cov[b * dim + a];
        }
    }
    let trace: f64 = (0..dim).map(|j| cov[j * dim + j]).sum();
    let mut axes: [Vec<f64>; 2] = [vec![0.0; dim], vec![0.0; dim]];
    let mut share = [0.0; 2];
    for (k, axis) in axes.iter_mut().enumerate() {
        let mut v: Vec<f64> = (0..dim).map(|j| 1.0 + (j as f64 * 0.618).fract()).collect();
        let mut lambda = 0.0;
        for _ in 0..200 {
            let mut w = vec![0.0; dim];
            for a in 0..dim {
                w[a] = (0..dim).map(|b| cov[a * dim + b] * v[b]).sum();
            }
            let norm = w.iter().map(|z| z * z).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            lambda = norm;
            v = w.into_iter().map(|z| z / norm).collect();
        }
        share[k] = if trace > 0.0 { lambda / trace } else { 0.0 };
        for a in 0..dim {
            for b in 0..dim {
                cov[a * dim + b] -= lambda * v[a] * v[b];
            }
        }
        *axis = v;
    }
    (mean, axes, share)
}

/// Rows sampled for the silhouette (its cost is quadratic) and the projection.
const SAMPLE: usize = 2_000;
/// Training rows k-means is fitted on, at most.
const KMEANS_ROWS: usize = 20_000;

fn sample(n: usize, m: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if n > m {
        idx.shuffle(rng);
        idx.truncate(m);
        idx.sort_unstable();
    }
    idx
}

/// The embeddings of `src`'s rows, taken from the fold's embedding columns (row-major).
fn embeddings_of(src: &FoldRowSource<'_, '_>, emb: &[Option<FoldColumns>], dim: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(src.rows() * dim);
    for &(pi, i) in src.rows_index() {
        let fc = emb[pi as usize]
            .as_ref()
            .expect("every pair has embedding columns");
        out.extend((0..dim).map(|j| fc.m.get(i as usize - fc.offset, j) as f32));
    }
    out
}

/// The report of fold `fi`'s embedding (`emb`: its [`fold_embeddings`]). `families[j]` is the
/// feature family of input column `j`; `horizon` defines the volatility and regime of the
/// cluster profiles.
#[allow(clippy::too_many_arguments)]
pub fn embed_report(
    setup: &FoldSetup<'_>,
    extra: &FoldExtra,
    fi: usize,
    ae: &mut Autoencoder,
    fit: &AeFitReport,
    emb: &[Option<FoldColumns>],
    families: &[String],
    horizon: usize,
    k: usize,
    seed: u64,
) -> Result<EmbedFoldReport> {
    let fold = &setup.plan.folds[fi];
    let train = FoldRowSource::new(setup, extra, fi, |r| r.train.clone());
    let valid = FoldRowSource::new(setup, extra, fi, |r| r.valid.clone());
    let test = FoldRowSource::new(setup, extra, fi, |r| r.test.clone());
    let dim = ae.config().bottleneck;
    let err = |e: bqx_models::Error| invalid("embed", e.to_string());
    // Reconstruction per family on the validation rows (the training rows when none).
    let recon_src: &dyn RowSource = if valid.rows() > 0 { &valid } else { &train };
    let per_col = ae.reconstruction_error(recon_src).map_err(err)?;
    let mut fam: Vec<FamilyError> = Vec::new();
    for (j, e) in per_col.iter().enumerate() {
        let name = families.get(j).cloned().unwrap_or_else(|| "other".into());
        match fam.iter_mut().find(|f| f.family == name) {
            Some(f) => {
                f.mse += e;
                f.features += 1;
            }
            None => fam.push(FamilyError {
                family: name,
                features: 1,
                mse: *e,
            }),
        }
    }
    for f in &mut fam {
        f.mse /= f.features as f64;
    }
    fam.sort_by(|a, b| b.mse.total_cmp(&a.mse));

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let train_emb = embeddings_of(&train, emb, dim);
    let n_train = train.rows();
    // Unit spread on the training rows.
    let mut unit_std = vec![0.0; dim];
    for (j, s) in unit_std.iter_mut().enumerate() {
        let m = (0..n_train)
            .map(|i| f64::from(train_emb[i * dim + j]))
            .sum::<f64>()
            / n_train.max(1) as f64;
        *s = ((0..n_train)
            .map(|i| (f64::from(train_emb[i * dim + j]) - m).powi(2))
            .sum::<f64>()
            / n_train.max(1) as f64)
            .sqrt();
    }
    let top = unit_std.iter().copied().fold(0.0, f64::max);
    let constant_units = (0..dim)
        .filter(|&j| unit_std[j] <= 1e-6 * top.max(1e-300))
        .collect();
    let dead_units = ae.dead_units(&train).map_err(err)?;

    // k-means on (a sample of) the training embeddings.
    let km_idx = sample(n_train, KMEANS_ROWS, &mut rng);
    let km_x: Vec<f32> = km_idx
        .iter()
        .flat_map(|&i| train_emb[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let (cent, km_labels) = kmeans(&km_x, dim, k, seed, 100);
    let k = cent.len() / dim.max(1);
    let sil_idx = sample(km_idx.len(), SAMPLE, &mut rng);
    let sil_x: Vec<f32> = sil_idx
        .iter()
        .flat_map(|&i| km_x[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let sil_l: Vec<u8> = sil_idx.iter().map(|&i| km_labels[i]).collect();
    let silhouette = silhouette(&sil_x, dim, &sil_l);
    let mut train_rows = vec![0usize; k];
    for &l in &km_labels {
        train_rows[l as usize] += 1;
    }

    // Profile of each cluster on the test rows.
    let test_emb = embeddings_of(&test, emb, dim);
    let aux: Vec<_> = setup
        .prepared
        .iter()
        .map(|p| aux_targets(&p.input.close, horizon))
        .collect::<Result<_>>()?;
    // Regime cut-offs of the fold's training rows, pooled over pairs.
    let moves: Vec<f64> = train
        .rows_index()
        .iter()
        .map(|&(pi, i)| aux[pi as usize].future_move[i as usize])
        .filter(|v| v.is_finite())
        .collect();
    let cuts = RegimeCuts::fit(&moves).ok();
    let test_labels: Vec<u8> = (0..test.rows())
        .map(|i| nearest(&cent, dim, |j| f64::from(test_emb[i * dim + j])) as u8)
        .collect();
    let mut acc = vec![(0usize, 0.0, 0usize, 0.0, 0usize, [0usize; 5], 0usize); k];
    let regime_of = |pi: usize, i: usize| -> u8 {
        cuts.as_ref().map_or(RegimeCuts::UNDEFINED, |c| {
            c.classify(aux[pi].future_move[i])
        })
    };
    for (n, &(pi, i)) in test.rows_index().iter().enumerate() {
        let (pi, i) = (pi as usize, i as usize);
        let a = &mut acc[test_labels[n] as usize];
        a.0 += 1;
        let v = aux[pi].vol_now[i];
        if v.is_finite() {
            a.1 += v;
            a.2 += 1;
        }
        let y = setup.prepared[pi].target[i];
        if y.is_finite() {
            a.3 += y;
            a.4 += 1;
        }
        let r = regime_of(pi, i);
        if r < 5 {
            a.5[r as usize] += 1;
            a.6 += 1;
        }
    }
    let clusters = acc
        .iter()
        .enumerate()
        .map(|(c, a)| ClusterProfile {
            cluster: c,
            train_rows: train_rows[c],
            test_rows: a.0,
            mean_vol: (a.2 > 0).then(|| a.1 / a.2 as f64),
            mean_bqx: (a.4 > 0).then(|| a.3 / a.4 as f64),
            regime_share: (a.6 > 0).then(|| std::array::from_fn(|r| a.5[r] as f64 / a.6 as f64)),
        })
        .collect();

    // 2-D projection: principal axes of the training embeddings, a sample of test rows.
    let (mean, axes, explained) = pca2(&km_x, dim);
    let proj_idx = sample(test.rows(), SAMPLE, &mut rng);
    let project = |i: usize, axis: &[f64]| -> f32 {
        (0..dim)
            .map(|j| (f64::from(test_emb[i * dim + j]) - mean[j]) * axis[j])
            .sum::<f64>() as f32
    };
    let projection = Projection {
        explained,
        x: proj_idx.iter().map(|&i| project(i, &axes[0])).collect(),
        y: proj_idx.iter().map(|&i| project(i, &axes[1])).collect(),
        cluster: proj_idx.iter().map(|&i| test_labels[i]).collect(),
        regime: proj_idx
            .iter()
            .map(|&i| {
                let (pi, r) = test.rows_index()[i];
                regime_of(pi as usize, r as usize)
            })
            .collect(),
        pair: proj_idx
            .iter()
            .map(|&i| {
                setup.prepared[test.rows_index()[i].0 as usize]
                    .input
                    .pair
                    .to_string()
            })
            .collect(),
    };
    Ok(EmbedFoldReport {
        fold: fold.id,
        n_train,
        n_valid: valid.rows(),
        n_inputs: train.cols(),
        best_epoch: fit.best_epoch,
        stopped_early: fit.stopped_early,
        curve: fit.epochs.clone(),
        reconstruction: fam,
        unit_std,
        constant_units,
        dead_units,
        k,
        silhouette,
        clusters,
        projection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_and_silhouette_separate_two_blobs() {
        let mut x = Vec::new();
        for i in 0..40 {
            let c = if i < 20 { 0.0 } else { 10.0 };
            x.push(c + (i % 5) as f32 * 0.1);
            x.push(c - (i % 3) as f32 * 0.1);
        }
        let (_, labels) = kmeans(&x, 2, 2, 1, 50);
        assert!(labels[..20].iter().all(|&l| l == labels[0]));
        assert!(labels[20..].iter().all(|&l| l == labels[20]));
        assert_ne!(labels[0], labels[20]);
        let s = silhouette(&x, 2, &labels).unwrap();
        assert!(s > 0.9, "{s}");
        // One cluster: undefined.
        assert!(silhouette(&x, 2, &[0; 40]).is_none());
    }

    #[test]
    fn the_first_principal_axis_follows_the_spread() {
        let x: Vec<f32> = (0..100)
            .flat_map(|i| {
                let t = i as f32 - 50.0;
                [t, 0.5 * t + ((i % 3) as f32 - 1.0) * 0.01, 0.0]
            })
            .collect();
        let (_, axes, share) = pca2(&x, 3);
        let a = &axes[0];
        assert!((a[1] / a[0] - 0.5).abs() < 1e-3, "{a:?}");
        assert!(share[0] > 0.99);
    }
}
