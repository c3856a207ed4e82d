//! Behaviour of the models through the public API: accuracy on synthetic data with a known
//! answer, determinism, checkpoints and input validation. Data sets are small so that each test
//! runs in a few seconds on two cores.

use bqx_models::checkpoint::read_card;
use bqx_models::{
    CardMeta, Error, ForestConfig, Matrix, MlpConfig, Model, ModelKind, ModelSpec, Regressor,
    RidgeConfig, StandardScaler,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n × p` features uniform in [-1, 1] (column-major, as the feature engine delivers them) and
/// `y = f(row) + noise · N(0,1)`-ish (uniform noise scaled to the same std).
fn synth(
    n: usize,
    p: usize,
    seed: u64,
    noise: f64,
    f: impl Fn(&[f64]) -> f64,
) -> (Matrix, Vec<f64>) {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let col_major: Vec<f64> = (0..n * p).map(|_| r.gen_range(-1.0..1.0)).collect();
    let x = Matrix::from_col_major(n, p, &col_major).unwrap();
    let y = (0..n)
        .map(|i| f(x.row(i)) + noise * 3f64.sqrt() * r.gen_range(-1.0..1.0))
        .collect();
    (x, y)
}

fn r2(pred: &[f64], y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let sse: f64 = pred.iter().zip(y).map(|(p, t)| (p - t).powi(2)).sum();
    let sst: f64 = y.iter().map(|t| (t - mean).powi(2)).sum();
    1.0 - sse / sst
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn nonlinear(row: &[f64]) -> f64 {
    (3.0 * row[0]).sin() + 1.5 * row[1] * row[1] - 0.5
}

fn small_mlp(seed: u64) -> MlpConfig {
    MlpConfig {
        hidden: vec![32, 16],
        learning_rate: 1e-2,
        batch_size: 64,
        max_epochs: 150,
        patience: 15,
        seed,
        ..MlpConfig::default()
    }
}

fn meta(n_features: usize, hash: &str) -> CardMeta {
    CardMeta {
        schema_hash: hash.to_string(),
        feature_names: (0..n_features).map(|j| format!("f{j:02}")).collect(),
        fold_id: Some(3),
    }
}

#[test]
fn ridge_recovers_known_coefficients() {
    let beta = [2.0, -3.0, 0.5, 0.0, 1.0];
    let f = |row: &[f64]| 1.5 + row.iter().zip(&beta).map(|(x, b)| x * b).sum::<f64>();
    let (x, y) = synth(600, 5, 1, 0.01, f);
    let (xt, yt) = synth(300, 5, 2, 0.01, f);
    let mut m = Model::new(ModelSpec::Ridge(RidgeConfig {
        alpha: 1e-3,
        alphas: vec![],
    }))
    .unwrap();
    let report = m.fit(&x, &y, Some((&xt, &yt))).unwrap();
    let score = r2(&m.predict(&xt).unwrap(), &yt);
    assert!(score > 0.99, "held-out R² {score}");
    let Model::Ridge(ridge) = &m else {
        unreachable!()
    };
    let (raw, intercept) = ridge.state().unwrap().raw_coefficients();
    for (b, want) in raw.iter().zip(beta) {
        assert!((b - want).abs() < 0.01, "coefficients {raw:?} vs {beta:?}");
    }
    assert!((intercept - 1.5).abs() < 0.01, "intercept {intercept}");
    assert!(report.valid_mse.unwrap() < 1e-3);
    assert_eq!(report.n_train_used, 600);
}

#[test]
fn ridge_handles_a_constant_feature() {
    let (x, y) = synth(200, 3, 3, 0.01, |r| r[0] - r[1]);
    let mut cols: Vec<Vec<f64>> = (0..3).map(|j| x.column(j)).collect();
    cols.push(vec![7.0; 200]);
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let x4 = Matrix::from_columns(&refs).unwrap();
    let mut m = Model::new(ModelSpec::Ridge(RidgeConfig {
        alpha: 1e-3,
        alphas: vec![],
    }))
    .unwrap();
    m.fit(&x4, &y, None).unwrap();
    assert!(r2(&m.predict(&x4).unwrap(), &y) > 0.99);
}

#[test]
fn forest_fits_a_nonlinear_function_better_than_ridge() {
    let (x, y) = synth(1500, 4, 4, 0.05, nonlinear);
    let (xt, yt) = synth(500, 4, 5, 0.05, nonlinear);
    let mut ridge = Model::new(ModelSpec::Ridge(RidgeConfig::default())).unwrap();
    ridge.fit(&x, &y, None).unwrap();
    let forest_cfg = ForestConfig {
        n_trees: 30,
        max_depth: Some(8),
        min_samples_leaf: 3,
        min_samples_split: 6,
        max_features: Some(2),
        seed: 11,
        ..ForestConfig::default()
    };
    let mut forest = Model::new(ModelSpec::RandomForest(forest_cfg.clone())).unwrap();
    forest.fit(&x, &y, None).unwrap();
    let r2_ridge = r2(&ridge.predict(&xt).unwrap(), &yt);
    let r2_forest = r2(&forest.predict(&xt).unwrap(), &yt);
    assert!(r2_forest > 0.8, "forest R² {r2_forest}");
    assert!(
        r2_forest > r2_ridge + 0.3,
        "forest {r2_forest} vs ridge {r2_ridge}"
    );

    // Same seed, same forest; the row cap subsamples deterministically.
    let capped = ForestConfig {
        max_train_rows: Some(700),
        ..forest_cfg
    };
    let fit = |cfg: &ForestConfig| {
        let mut m = Model::new(ModelSpec::RandomForest(cfg.clone())).unwrap();
        let rep = m.fit(&x, &y, None).unwrap();
        (rep.n_train_used, m.predict(&xt).unwrap())
    };
    let (used_a, a) = fit(&capped);
    let (used_b, b) = fit(&capped);
    assert_eq!((used_a, used_b), (700, 700));
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn mlp_learns_a_nonlinear_function() {
    let (x, y) = synth(2000, 3, 6, 0.05, nonlinear);
    let (xv, yv) = synth(400, 3, 7, 0.05, nonlinear);
    let (xt, yt) = synth(500, 3, 8, 0.05, nonlinear);
    let mut m = Model::new(ModelSpec::Mlp(small_mlp(5))).unwrap();
    let report = m.fit(&x, &y, Some((&xv, &yv))).unwrap();
    let score = r2(&m.predict(&xt).unwrap(), &yt);
    // Noise is 0.05 on a target of std ≈ 0.9, so R² ≤ 0.997; ridge reaches ≈ 0.45 here.
    assert!(score > 0.95, "held-out R² {score}; report {report:?}");
    let best = report.best_epoch.unwrap();
    let best_valid = report.epochs[best - 1].valid_loss.unwrap();
    assert!(
        report
            .epochs
            .iter()
            .all(|e| e.valid_loss.unwrap() >= best_valid)
    );
    // The kept weights are the best epoch's: the reported validation MSE (target units)
    // matches the best standardized validation loss up to the target scaling and f32 rounding.
    let Model::Mlp(mlp) = &m else { unreachable!() };
    let s = mlp.target_scaling().unwrap().std;
    let rel = (report.valid_mse.unwrap() / (best_valid * s * s) - 1.0).abs();
    assert!(
        rel < 1e-3,
        "valid_mse {} vs best {best_valid}·{s}²",
        report.valid_mse.unwrap()
    );
}

#[test]
fn mlp_is_deterministic_given_the_seed() {
    // Wide enough that candle's gemm runs multi-threaded; dropout exercises our dropout RNG.
    let (x, y) = synth(2048, 64, 9, 0.1, |r| r[0] * r[1] + r[2].abs() - r[3]);
    let (xv, yv) = synth(256, 64, 10, 0.1, |r| r[0] * r[1] + r[2].abs() - r[3]);
    let cfg = MlpConfig {
        hidden: vec![128, 64],
        dropout: 0.1,
        batch_size: 256,
        max_epochs: 4,
        seed: 42,
        ..MlpConfig::default()
    };
    let run = |cfg: &MlpConfig| {
        let mut m = Model::new(ModelSpec::Mlp(cfg.clone())).unwrap();
        let report = m.fit(&x, &y, Some((&xv, &yv))).unwrap();
        (report, m.predict(&xv).unwrap())
    };
    let (rep_a, a) = run(&cfg);
    let (rep_b, b) = run(&cfg);
    assert_eq!(bits(&a), bits(&b), "same seed, different predictions");
    assert_eq!(rep_a, rep_b);
    let (_, c) = run(&MlpConfig {
        seed: 43,
        ..cfg.clone()
    });
    assert_ne!(bits(&a), bits(&c), "the seed has no effect");
    let (_, d) = run(&MlpConfig {
        dropout: 0.0,
        ..cfg
    });
    assert_ne!(bits(&a), bits(&d), "dropout has no effect");
}

#[test]
fn scaler_inside_a_model_is_fitted_on_train_rows_only() {
    let (x, y) = synth(300, 2, 12, 0.1, |r| r[0]);
    let (mut xt, _) = synth(100, 2, 13, 0.1, |r| r[0]);
    // Test rows far outside the training range: they must not move the scaler.
    xt = Matrix::from_row_major(
        100,
        2,
        xt.as_slice().iter().map(|v| v * 100.0 + 50.0).collect(),
    )
    .unwrap();
    let mut m = Model::new(ModelSpec::Mlp(MlpConfig {
        max_epochs: 2,
        ..small_mlp(1)
    }))
    .unwrap();
    m.fit(&x, &y, None).unwrap();
    let Model::Mlp(mlp) = &m else { unreachable!() };
    let before = mlp.scaler().unwrap().clone();
    assert_eq!(&before, &StandardScaler::fit(&x).unwrap());
    m.predict(&xt).unwrap();
    let Model::Mlp(mlp) = &m else { unreachable!() };
    assert_eq!(mlp.scaler().unwrap(), &before);
    assert_ne!(&before, &StandardScaler::fit(&xt).unwrap());
}

#[test]
fn checkpoint_round_trip_gives_identical_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = synth(400, 4, 14, 0.05, nonlinear);
    let (xt, _) = synth(100, 4, 15, 0.05, nonlinear);
    let hash = "5f3c0ffee";
    let cfg = MlpConfig {
        max_epochs: 5,
        dropout: 0.1,
        ..small_mlp(21)
    };
    let mut mlp = Model::new(ModelSpec::Mlp(cfg.clone())).unwrap();
    let report = mlp.fit(&x, &y, Some((&xt, &vec![0.0; 100]))).unwrap();
    let saved = mlp.save(dir.path(), "mlp_fold3", &meta(4, hash)).unwrap();
    assert_eq!(saved.card, dir.path().join("mlp_fold3.json"));
    assert_eq!(
        saved.weights.as_deref(),
        Some(dir.path().join("mlp_fold3.safetensors").as_path())
    );

    for path in [
        &saved.card,
        saved.weights.as_ref().unwrap(),
        &dir.path().join("mlp_fold3"),
    ] {
        let (loaded, card) = Model::load(path, hash).unwrap();
        assert_eq!(
            bits(&loaded.predict(&xt).unwrap()),
            bits(&mlp.predict(&xt).unwrap())
        );
        assert_eq!(card.kind, ModelKind::Mlp);
        assert_eq!(card.seed, Some(21));
        assert_eq!(card.fold_id, Some(3));
        assert_eq!(card.schema_hash, hash);
        assert_eq!(card.feature_names[3], "f03");
        assert_eq!(card.crate_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(card.spec, ModelSpec::Mlp(cfg.clone()));
        assert_eq!(card.fit_report.as_ref(), Some(&report));
        assert_eq!(card.architecture.as_ref().unwrap().hidden, vec![32, 16]);
        assert!(card.scaler.is_some() && card.weights.is_some());
        assert_eq!(loaded.fit_report(), Some(&report));
    }

    // Saving again gives byte-identical files.
    let card1 = std::fs::read(&saved.card).unwrap();
    let w1 = std::fs::read(saved.weights.as_ref().unwrap()).unwrap();
    let again = mlp.save(dir.path(), "mlp_fold3", &meta(4, hash)).unwrap();
    assert_eq!(std::fs::read(&again.card).unwrap(), card1);
    assert_eq!(std::fs::read(again.weights.unwrap()).unwrap(), w1);

    // Ridge and zero restore from their JSON card alone.
    for spec in [ModelSpec::Ridge(RidgeConfig::default()), ModelSpec::Zero] {
        let mut m = Model::new(spec.clone()).unwrap();
        m.fit(&x, &y, None).unwrap();
        let stem = spec.kind().as_str();
        let s = m.save(dir.path(), stem, &meta(4, hash)).unwrap();
        assert!(s.weights.is_none());
        let (loaded, _) = Model::load(&s.card, hash).unwrap();
        assert_eq!(
            bits(&loaded.predict(&xt).unwrap()),
            bits(&m.predict(&xt).unwrap())
        );
    }

    // A forest gets a descriptive card but cannot be restored.
    let mut rf = Model::new(ModelSpec::RandomForest(ForestConfig {
        n_trees: 3,
        ..Default::default()
    }))
    .unwrap();
    rf.fit(&x, &y, None).unwrap();
    let s = rf.save(dir.path(), "rf", &meta(4, hash)).unwrap();
    let (_, card) = read_card(&s.card, hash).unwrap();
    assert_eq!(card.feature_importances.unwrap().len(), 4);
    assert!(matches!(
        Model::load(&s.card, hash),
        Err(Error::NotRestorable(ModelKind::RandomForest))
    ));
}

#[test]
fn schema_hash_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = synth(200, 3, 16, 0.05, nonlinear);
    let mut m = Model::new(ModelSpec::Mlp(MlpConfig {
        max_epochs: 2,
        ..small_mlp(1)
    }))
    .unwrap();
    m.fit(&x, &y, None).unwrap();
    let saved = m.save(dir.path(), "m", &meta(3, "schema-a")).unwrap();
    match Model::load(&saved.card, "schema-b") {
        Err(Error::SchemaMismatch { expected, found }) => {
            assert_eq!(
                (expected.as_str(), found.as_str()),
                ("schema-b", "schema-a")
            );
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
    let msg = Model::load(&saved.card, "schema-b")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("schema-a") && msg.contains("schema-b"),
        "{msg}"
    );
    assert!(Model::load(&saved.card, "schema-a").is_ok());

    // Tampered weights are refused too.
    let wpath = saved.weights.unwrap();
    let mut bytes = std::fs::read(&wpath).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&wpath, bytes).unwrap();
    assert!(matches!(
        Model::load(&saved.card, "schema-a"),
        Err(Error::Checkpoint { .. })
    ));

    // Feature names must match the model's width; the hash must be present.
    assert!(matches!(
        m.save(dir.path(), "m2", &meta(2, "a")),
        Err(Error::Shape(_))
    ));
    assert!(m.save(dir.path(), "m3", &meta(3, "")).is_err());
}

#[test]
fn nan_inputs_are_refused() {
    let e = Matrix::from_col_major(2, 2, &[1.0, f64::NAN, 3.0, 4.0]).unwrap_err();
    assert!(
        matches!(e, Error::NonFiniteInput { row: 1, col: 0, .. }),
        "{e}"
    );
    assert!(Matrix::from_row_major(1, 2, vec![f64::INFINITY, 0.0]).is_err());
    let (x, mut y) = synth(50, 2, 17, 0.1, |r| r[0]);
    y[10] = f64::NAN;
    for spec in ModelSpec::defaults() {
        let mut m = Model::new(spec).unwrap();
        assert!(
            matches!(
                m.fit(&x, &y, None),
                Err(Error::NonFiniteTarget { index: 10, .. })
            ),
            "{} accepted a NaN target",
            m.kind()
        );
    }
}

#[test]
fn zero_forecast_is_zero() {
    let (x, y) = synth(20, 3, 18, 0.1, |r| r[0] + 1.0);
    let mut m = Model::new(ModelSpec::Zero).unwrap();
    let rep = m.fit(&x, &y, None).unwrap();
    assert_eq!(m.predict(&x).unwrap(), vec![0.0; 20]);
    let mean_sq = y.iter().map(|v| v * v).sum::<f64>() / 20.0;
    assert!((rep.train_mse - mean_sq).abs() < 1e-12);
}

#[test]
fn every_kind_runs_through_one_loop() {
    let (x, y) = synth(300, 4, 19, 0.05, nonlinear);
    let (xv, yv) = synth(60, 4, 20, 0.05, nonlinear);
    let (xt, _) = synth(80, 4, 21, 0.05, nonlinear);
    let specs = [
        ModelSpec::Zero,
        ModelSpec::Ridge(RidgeConfig::default()),
        ModelSpec::RandomForest(ForestConfig {
            n_trees: 5,
            ..Default::default()
        }),
        ModelSpec::Mlp(MlpConfig {
            max_epochs: 3,
            ..small_mlp(2)
        }),
    ];
    for spec in specs {
        let mut m = Model::new(spec.with_seed(7)).unwrap();
        // Only the zero forecast predicts before it is fitted.
        match m.predict(&xt) {
            Ok(p) => assert!(m.kind() == ModelKind::Zero && p == vec![0.0; 80]),
            Err(e) => assert!(matches!(e, Error::NotFitted(k) if k == m.kind()), "{e}"),
        }
        let rep = m.fit(&x, &y, Some((&xv, &yv))).unwrap();
        assert_eq!(rep.kind, m.kind());
        assert_eq!((rep.n_train, rep.n_valid, rep.n_features), (300, 60, 4));
        assert!(rep.valid_mse.is_some());
        assert_eq!(m.predict(&xt).unwrap().len(), 80);
        assert_eq!(m.predict(&xt.slice_rows(0..0).unwrap()).unwrap().len(), 0);
        assert!(
            m.predict(&Matrix::from_columns(&[&[1.0]]).unwrap())
                .is_err()
        );
        assert_eq!(m.name(), m.kind().as_str());
        assert!(m.params().is_object());
    }
}

#[test]
fn invalid_configurations_are_refused() {
    let bad = [
        ModelSpec::Ridge(RidgeConfig {
            alpha: -1.0,
            alphas: vec![],
        }),
        ModelSpec::RandomForest(ForestConfig {
            n_trees: 0,
            ..Default::default()
        }),
        ModelSpec::Mlp(MlpConfig {
            dropout: 1.0,
            ..Default::default()
        }),
        ModelSpec::Mlp(MlpConfig {
            hidden: vec![8, 0],
            ..Default::default()
        }),
        ModelSpec::Mlp(MlpConfig {
            batch_size: 0,
            ..Default::default()
        }),
    ];
    for spec in bad {
        assert!(matches!(Model::new(spec), Err(Error::InvalidConfig(_))));
    }
    // Ridge needs more rows than features.
    let (x, y) = synth(3, 5, 22, 0.0, |r| r[0]);
    let mut m = Model::new(ModelSpec::Ridge(RidgeConfig::default())).unwrap();
    assert!(matches!(
        m.fit(&x, &y, None),
        Err(Error::InvalidTrainingData { .. })
    ));
}
