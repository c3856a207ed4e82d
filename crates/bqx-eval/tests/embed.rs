//! Stage 2.17's autoencoder in the walk-forward:
//!
//! - planted structure: on a market with a planted two-state volatility regime, k-means on the
//!   embeddings recovers the regime (adjusted Rand index above 0.5);
//! - fitted on training rows only: rewriting a fold's test part (features and closes) leaves the
//!   fold's autoencoder bit-identical, while the test rows' embeddings change.

use bqx_domain::{Pair, Timeframe};
use bqx_eval::backtest::{BacktestConfig, SeriesInput, fold_extra, prepare_folds};
use bqx_eval::embed::{fit_fold_autoencoder, fold_embeddings, kmeans};
use bqx_eval::folds::{FoldConfig, Span, TrainWindow, Validation};
use bqx_features::{FeatureSet, SourceCaps, compute_batch};
use bqx_models::net::{Autoencoder, AutoencoderConfig};
use bqx_models::{DeviceChoice, Matrix, ModelSpec};
use bqx_synth::SynthConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Adjusted Rand index of two labelings.
fn ari(a: &[u8], b: &[u8]) -> f64 {
    let ka = a.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    let kb = b.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    let mut n = vec![vec![0f64; kb]; ka];
    for (&x, &y) in a.iter().zip(b) {
        n[x as usize][y as usize] += 1.0;
    }
    let c2 = |v: f64| v * (v - 1.0) / 2.0;
    let sum_ij: f64 = n.iter().flatten().map(|&v| c2(v)).sum();
    let sum_a: f64 = n.iter().map(|r| c2(r.iter().sum())).sum();
    let sum_b: f64 = (0..kb).map(|j| c2(n.iter().map(|r| r[j]).sum())).sum();
    let total = c2(a.len() as f64);
    let expected = sum_a * sum_b / total;
    (sum_ij - expected) / ((sum_a + sum_b) / 2.0 - expected)
}

#[test]
fn embedding_clusters_recover_a_planted_volatility_regime() {
    // Two states (calm, turbulent) switching with probability 1/200 per row; the inputs are
    // realized volatilities over several windows, absolute returns and noise columns.
    let mut r = ChaCha8Rng::seed_from_u64(17);
    let n = 6_000;
    let mut state = Vec::with_capacity(n + 60);
    let mut ret = Vec::with_capacity(n + 60);
    let mut s = 0u8;
    for _ in 0..n + 60 {
        if r.gen_bool(1.0 / 200.0) {
            s = 1 - s;
        }
        state.push(s);
        let sd = if s == 0 { 0.4 } else { 2.0 };
        ret.push(sd * (0..4).map(|_| r.gen_range(-1.0..1.0)).sum::<f64>() * 0.866);
    }
    let rv = |t: usize, w: usize| -> f64 {
        let xs = &ret[t + 1 - w..=t];
        (xs.iter().map(|v| v * v).sum::<f64>() / w as f64).sqrt()
    };
    let mut data = Vec::new();
    for t in 60..60 + n {
        data.extend([
            rv(t, 5),
            rv(t, 10),
            rv(t, 20),
            rv(t, 40),
            ret[t].abs(),
            ret[t - 1].abs(),
            r.gen_range(-1.0..1.0),
            r.gen_range(-1.0..1.0),
        ]);
    }
    let x = Matrix::from_row_major(n, 8, data).unwrap();
    let train = x.slice_rows(0..4_000).unwrap();
    let valid = x.slice_rows(4_000..4_500).unwrap();
    let test = x.slice_rows(4_500..n).unwrap();
    let mut ae = Autoencoder::new(AutoencoderConfig {
        hidden: vec![32, 16],
        bottleneck: 4,
        batch_size: 256,
        max_epochs: 30,
        dropout: 0.0,
        device: DeviceChoice::Cpu,
        ..AutoencoderConfig::default()
    })
    .unwrap();
    ae.fit(&train, Some(&valid)).unwrap();
    // k-means (k = 2) fitted on the training embeddings, applied to the test rows.
    let emb_train = ae.encode(&train).unwrap();
    let (cent, _) = kmeans(&emb_train, 4, 2, 3, 100);
    let emb_test = ae.encode(&test).unwrap();
    let labels: Vec<u8> = emb_test
        .chunks(4)
        .map(|e| bqx_eval::embed::nearest(&cent, 4, |j| f64::from(e[j])) as u8)
        .collect();
    let truth = &state[60 + 4_500..60 + n];
    let score = ari(&labels, truth);
    eprintln!("adjusted Rand index of the test clusters vs the planted regime: {score:.3}");
    assert!(score > 0.5, "ARI {score}");
}

fn series(seed: u64) -> Vec<SeriesInput> {
    let market = bqx_synth::generate(&SynthConfig {
        bars: 7_000,
        timeframe: Timeframe::M1,
        seed,
        ..SynthConfig::default()
    })
    .unwrap();
    ["EURUSD", "USDJPY", "GBPUSD"]
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
        .collect()
}

#[test]
fn a_folds_autoencoder_is_fitted_on_its_training_rows_only() {
    let mut s = series(31);
    let cfg = BacktestConfig {
        window: 15,
        horizon: 15,
        folds: FoldConfig {
            train_window: TrainWindow::Expanding,
            min_train: Span::Bars(3_000),
            test: Span::Bars(1_000),
            step: Span::Bars(1_000),
            horizon: 15,
            validation: Validation::Fraction(0.15),
            embargo: None,
            align_to_calendar: false,
            keep_partial_last: false,
        },
        models: vec![ModelSpec::Zero],
        seed: 1,
        threshold_quantile: 0.5,
        bootstrap: Default::default(),
        usd_factor: false,
        cross_pair: None,
        selection: None,
        embeddings: None,
    };
    let ae_cfg = AutoencoderConfig {
        hidden: vec![32, 16],
        bottleneck: 8,
        batch_size: 256,
        max_epochs: 4,
        rows_per_epoch: Some(3_000),
        device: DeviceChoice::Cpu,
        ..AutoencoderConfig::default()
    };
    let fit = |s: &[SeriesInput]| {
        let setup = prepare_folds(s, &cfg).unwrap();
        let fi = setup.plan.folds.len() - 1;
        let extra = fold_extra(&setup, None, None, fi).unwrap();
        let (mut ae, rep) = fit_fold_autoencoder(&setup, &extra, fi, &ae_cfg).unwrap();
        let emb = fold_embeddings(&setup, &extra, fi, &mut ae).unwrap();
        let test_start: Vec<usize> = setup
            .fold_rows(fi)
            .iter()
            .map(|(_, r)| r.test.start)
            .collect();
        let weights: Vec<Vec<f32>> = ae
            .weights()
            .unwrap()
            .into_iter()
            .map(|t| t.values)
            .collect();
        (weights, rep, emb, test_start)
    };
    let (w1, r1, e1, starts) = fit(&s);
    for (x, &start) in s.iter_mut().zip(&starts) {
        for i in start..x.ts.len() {
            x.close[i] *= 1.003;
            for c in &mut x.columns {
                if c[i].is_finite() {
                    c[i] = 3.0 * c[i] - 1.0;
                }
            }
        }
    }
    let (w2, r2, e2, _) = fit(&s);
    assert_eq!(w1, w2, "the autoencoder changed with the fold's test rows");
    assert_eq!(r1, r2);
    // The embeddings of the test rows do change (the rewrite reached them).
    let test_emb = |e: &[Option<bqx_eval::backtest::FoldColumns>]| -> Vec<f64> {
        let fc = e[0].as_ref().unwrap();
        (starts[0] - fc.offset..fc.m.n_rows)
            .map(|i| fc.m.get(i, 0))
            .collect()
    };
    assert_ne!(test_emb(&e1), test_emb(&e2));
}
