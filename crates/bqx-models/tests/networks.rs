//! The stage networks (autoencoder, multi-task, single-task control): forward passes against
//! an independent numpy computation, checkpoint round trips, determinism across thread
//! counts, and planted structure they must find.

use std::collections::BTreeMap;

use bqx_models::net::{
    Autoencoder, AutoencoderConfig, MultiTargets, MultiTaskConfig, MultiTaskNet, NetMeta, Network,
    Tasks, load_network, save_network,
};
use bqx_models::{DeviceChoice, Error, Matrix, StandardScaler, TargetScaling};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn golden() -> Value {
    let text = include_str!("golden/net_forward.json");
    serde_json::from_str(text).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rows(v: &Value) -> Matrix {
    let r: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(f64s).collect();
    Matrix::from_row_major(r.len(), r[0].len(), r.concat()).unwrap()
}

fn tensors(v: &Value) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, t)| {
            let shape = t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_u64().unwrap() as usize)
                .collect();
            let values = f64s(&t["values"]).into_iter().map(|x| x as f32).collect();
            (k.clone(), (shape, values))
        })
        .collect()
}

fn scaler(v: &Value) -> StandardScaler {
    StandardScaler::from_parts(f64s(&v["mean"]), f64s(&v["std"]), 100).unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        "{what}: candle {a} vs numpy {b}"
    );
}

#[test]
fn multitask_forward_equals_numpy() {
    let g = &golden()["multitask"];
    let cfg: MultiTaskConfig = serde_json::from_value(g["config"].clone()).unwrap();
    let s = g["scalings"].as_array().unwrap();
    let scaling = |v: &Value| TargetScaling {
        mean: v[0].as_f64().unwrap(),
        std: v[1].as_f64().unwrap(),
    };
    let mut net = MultiTaskNet::from_parts(
        cfg,
        g["n_inputs"].as_u64().unwrap() as usize,
        scaler(&g["scaler"]),
        (scaling(&s[0]), scaling(&s[1])),
        tensors(&g["tensors"]),
    )
    .unwrap();
    let out = net.predict(&rows(&g["x"])).unwrap();
    let e = &g["expected"];
    for (i, (a, b)) in out.bqx.iter().zip(f64s(&e["bqx"])).enumerate() {
        close(*a, b, &format!("bqx row {i}"));
    }
    for (i, (a, b)) in out.vol.unwrap().iter().zip(f64s(&e["vol"])).enumerate() {
        close(*a, b, &format!("vol row {i}"));
    }
    let probs = out.regime.unwrap();
    for (i, (p, q)) in probs
        .iter()
        .zip(e["regime"].as_array().unwrap())
        .enumerate()
    {
        for (j, (a, b)) in p.iter().zip(f64s(q)).enumerate() {
            close(*a, b, &format!("regime row {i} class {j}"));
        }
    }
}

#[test]
fn autoencoder_forward_equals_numpy() {
    let g = &golden()["autoencoder"];
    let cfg: AutoencoderConfig = serde_json::from_value(g["config"].clone()).unwrap();
    let mut ae =
        Autoencoder::from_parts(cfg, scaler(&g["scaler"]), tensors(&g["tensors"])).unwrap();
    let x = rows(&g["x"]);
    let emb = ae.encode(&x).unwrap();
    let want: Vec<f64> = g["expected"]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(f64s)
        .collect();
    assert_eq!(emb.len(), want.len());
    for (i, (a, b)) in emb.iter().zip(&want).enumerate() {
        close(f64::from(*a), *b, &format!("embedding value {i}"));
    }
    let rec = ae.reconstruct_standardized(&x).unwrap();
    let want: Vec<f64> = g["expected"]["reconstruction"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(f64s)
        .collect();
    for (i, (a, b)) in rec.iter().zip(&want).enumerate() {
        close(f64::from(*a), *b, &format!("reconstruction value {i}"));
    }
}

/// A market-like synthetic set: a hidden two-state volatility regime (switching with
/// probability 1/150 per row), returns scaled by it, features = past realized volatility over
/// 5, 20 and 60 rows plus past returns and noise columns; targets = the next 20 rows' sum of
/// returns (BQX-like), their std (volatility), and the quintile class of the sum.
struct Synthetic {
    x: Matrix,
    bqx: Vec<f64>,
    vol: Vec<f64>,
    state: Vec<u8>,
    /// The no-change volatility forecast: realized volatility of the last 20 rows.
    vol_now: Vec<f64>,
}

fn synthetic(n: usize, seed: u64) -> Synthetic {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let total = n + 100;
    let mut state = vec![0u8; total];
    let mut s = 0u8;
    let mut ret = vec![0.0f64; total];
    for t in 0..total {
        if r.gen_bool(1.0 / 150.0) {
            s = 1 - s;
        }
        state[t] = s;
        let sd = if s == 0 { 0.5 } else { 2.0 };
        let z: f64 = (0..4).map(|_| r.gen_range(-1.0..1.0)).sum::<f64>() * 0.866;
        ret[t] = sd * z;
    }
    let rv = |t: usize, w: usize| -> f64 {
        let xs = &ret[t + 1 - w..=t];
        let m = xs.iter().sum::<f64>() / w as f64;
        (xs.iter().map(|v| (v - m).powi(2)).sum::<f64>() / w as f64).sqrt()
    };
    let (mut data, mut bqx, mut vol, mut st, mut now) = (vec![], vec![], vec![], vec![], vec![]);
    for t in 60..60 + n {
        let fut = &ret[t + 1..=t + 20];
        let m = fut.iter().sum::<f64>() / 20.0;
        let fsd = (fut.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 20.0).sqrt();
        data.extend([
            rv(t, 5),
            rv(t, 20),
            rv(t, 60),
            ret[t],
            ret[t - 1],
            r.gen_range(-1.0..1.0),
            r.gen_range(-1.0..1.0),
        ]);
        // BQX-like target with a planted linear part: the last return reverts.
        bqx.push(fut.iter().sum::<f64>() - 3.0 * ret[t]);
        vol.push(fsd);
        st.push(state[t]);
        now.push(rv(t, 20));
    }
    Synthetic {
        x: Matrix::from_row_major(n, 7, data).unwrap(),
        bqx,
        vol,
        state: st,
        vol_now: now,
    }
}

fn regimes(y: &[f64], cuts: &[f64]) -> Vec<u32> {
    y.iter()
        .map(|v| cuts.iter().filter(|c| v > c).count() as u32)
        .collect()
}

fn quantile(y: &[f64], q: f64) -> f64 {
    let mut s = y.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * q).round() as usize]
}

fn small_cfg(seed: u64) -> MultiTaskConfig {
    MultiTaskConfig {
        trunk: vec![32, 16],
        bqx_head: 16,
        vol_head: 8,
        regime_head: 8,
        batch_size: 128,
        max_epochs: 30,
        patience: 6,
        lr_patience: 3,
        trunk_dropout: 0.1,
        seed,
        device: DeviceChoice::Cpu,
        ..MultiTaskConfig::default()
    }
}

struct Split {
    train: (Matrix, MultiTargets),
    valid: (Matrix, MultiTargets),
    test: (Matrix, MultiTargets),
    test_rows: std::ops::Range<usize>,
}

fn split(s: &Synthetic) -> Split {
    let n = s.bqx.len();
    let (a, b) = (n * 6 / 10, n * 7 / 10);
    // Cut-offs from the training rows only.
    let cuts: Vec<f64> = [0.1, 0.3, 0.7, 0.9]
        .iter()
        .map(|&q| quantile(&s.bqx[..a], q))
        .collect();
    let part = |r: std::ops::Range<usize>| {
        let idx: Vec<usize> = r.clone().collect();
        (
            s.x.select_rows(&idx).unwrap(),
            MultiTargets {
                bqx: s.bqx[r.clone()].to_vec(),
                vol: s.vol[r.clone()].to_vec(),
                regime: regimes(&s.bqx[r], &cuts),
            },
        )
    };
    // 20-row gaps: a row's targets look 20 rows ahead.
    Split {
        train: part(0..a - 20),
        valid: part(a..b - 20),
        test: part(b..n),
        test_rows: b..n,
    }
}

#[test]
fn multitask_learns_planted_structure_and_its_volatility_head_beats_no_change() {
    let s = synthetic(6000, 7);
    let sp = split(&s);
    let mut net = MultiTaskNet::new(small_cfg(1)).unwrap();
    let rep = net
        .fit(&sp.train.0, &sp.train.1, Some((&sp.valid.0, &sp.valid.1)))
        .unwrap();
    assert!(rep.best_epoch >= 1 && rep.best_epoch <= rep.epochs.len());
    let e = &rep.epochs[0];
    assert!(e.train.vol.is_some() && e.train.regime.is_some() && e.valid_bqx_mae.is_some());
    let out = net.predict(&sp.test.0).unwrap();
    let t = &sp.test.1;
    // BQX: the planted −3·r_t part explains ≈ 9/29 ≈ 0.31 of the target's variance (var 9·σ²
    // of 29·σ²); the head must recover most of it.
    let mean = sp.train.1.bqx.iter().sum::<f64>() / sp.train.1.bqx.len() as f64;
    let sse = |p: &[f64], y: &[f64]| p.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
    let r2 = 1.0 - sse(&out.bqx, &t.bqx) / t.bqx.iter().map(|y| (y - mean).powi(2)).sum::<f64>();
    assert!(r2 > 0.2, "BQX head R² vs the training mean {r2}");
    // Volatility: out-of-sample R² against the no-change forecast is positive.
    let vol = out.vol.unwrap();
    let now = &s.vol_now[sp.test_rows.clone()];
    let r2_vol = 1.0 - sse(&vol, &t.vol) / sse(now, &t.vol);
    assert!(r2_vol > 0.0, "volatility head vs no-change: R² {r2_vol}");
    // Regime: accuracy above the majority class of the training rows.
    let probs = out.regime.unwrap();
    let hits = probs
        .iter()
        .zip(&t.regime)
        .filter(|(p, c)| {
            let best = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            best as u32 == **c
        })
        .count() as f64
        / t.regime.len() as f64;
    let mut counts = [0usize; 5];
    for &c in &sp.train.1.regime {
        counts[c as usize] += 1;
    }
    let major = (0..5).max_by_key(|&c| counts[c]).unwrap() as u32;
    let base = t.regime.iter().filter(|&&c| c == major).count() as f64 / t.regime.len() as f64;
    assert!(
        hits > base + 0.05,
        "regime accuracy {hits} vs majority {base}"
    );
}

#[test]
fn single_task_control_has_only_the_bqx_head() {
    let s = synthetic(1500, 3);
    let sp = split(&s);
    let cfg = small_cfg(2).single_task();
    assert_eq!(cfg.tasks, Tasks::Single);
    let mut net = MultiTaskNet::new(MultiTaskConfig {
        max_epochs: 5,
        ..cfg
    })
    .unwrap();
    let rep = net
        .fit(&sp.train.0, &sp.train.1, Some((&sp.valid.0, &sp.valid.1)))
        .unwrap();
    assert!(
        rep.epochs
            .iter()
            .all(|e| e.train.vol.is_none() && e.train.regime.is_none())
    );
    let out = net.predict(&sp.test.0).unwrap();
    assert!(out.vol.is_none() && out.regime.is_none());
    assert!(
        net.weights()
            .unwrap()
            .iter()
            .all(|t| !t.name.starts_with("vol_head"))
    );
}

fn train_mt(threads: usize, s: &Synthetic) -> (Vec<Vec<f32>>, Vec<f64>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let sp = split(s);
        let mut net = MultiTaskNet::new(MultiTaskConfig {
            max_epochs: 4,
            ..small_cfg(11)
        })
        .unwrap();
        net.fit(&sp.train.0, &sp.train.1, Some((&sp.valid.0, &sp.valid.1)))
            .unwrap();
        let w = net
            .weights()
            .unwrap()
            .into_iter()
            .map(|t| t.values)
            .collect();
        (w, net.predict(&sp.test.0).unwrap().bqx)
    })
}

#[test]
fn cpu_training_is_bit_identical_across_thread_counts() {
    let s = synthetic(1200, 5);
    let one = train_mt(1, &s);
    let three = train_mt(3, &s);
    assert_eq!(one.0, three.0, "weights differ between 1 and 3 threads");
    assert_eq!(one.1, three.1);
    let again = train_mt(1, &s);
    assert_eq!(one, again);
}

fn meta(hash: &str, n: usize) -> NetMeta {
    NetMeta {
        schema_hash: hash.into(),
        data_fingerprint: "data-fp".into(),
        feature_names: (0..n).map(|j| format!("f{j}")).collect(),
        fold: Some(3),
        pair: Some("EURUSD".into()),
        device: "cpu".into(),
        metrics: serde_json::json!({"valid_bqx_mae": 0.5}),
    }
}

#[test]
fn checkpoints_round_trip_bit_for_bit_and_refuse_another_schema() {
    let dir = tempfile::tempdir().unwrap();
    let s = synthetic(1200, 9);
    let sp = split(&s);
    let mut net = MultiTaskNet::new(MultiTaskConfig {
        max_epochs: 3,
        ..small_cfg(4)
    })
    .unwrap();
    net.fit(&sp.train.0, &sp.train.1, Some((&sp.valid.0, &sp.valid.1)))
        .unwrap();
    let before = net.predict(&sp.test.0).unwrap();
    let saved = save_network(
        &Network::MultiTask(net),
        dir.path(),
        "mt",
        &meta("schema-a", 7),
    )
    .unwrap();

    let (loaded, card) = load_network(&saved.card, "schema-a").unwrap();
    assert_eq!(card.name, "multitask");
    assert_eq!(card.meta.fold, Some(3));
    assert_eq!(card.candle_version, bqx_models::net::CANDLE_VERSION);
    assert!(card.curve.as_array().is_some_and(|c| !c.is_empty()));
    let Network::MultiTask(mut loaded) = loaded else {
        panic!("not a multi-task network")
    };
    assert_eq!(loaded.predict(&sp.test.0).unwrap(), before);

    assert!(matches!(
        load_network(&saved.card, "schema-b"),
        Err(Error::SchemaMismatch { .. })
    ));
    // A tampered weights file is refused.
    let w = saved.weights.unwrap();
    let mut wb = std::fs::read(&w).unwrap();
    let last = wb.len() - 1;
    wb[last] ^= 1;
    std::fs::write(&w, &wb).unwrap();
    assert!(matches!(
        load_network(&saved.card, "schema-a"),
        Err(Error::Checkpoint { .. })
    ));

    // The autoencoder too.
    let mut ae = Autoencoder::new(AutoencoderConfig {
        hidden: vec![16, 8],
        bottleneck: 4,
        batch_size: 64,
        max_epochs: 3,
        device: DeviceChoice::Cpu,
        ..AutoencoderConfig::default()
    })
    .unwrap();
    ae.fit(&sp.train.0, Some(&sp.valid.0)).unwrap();
    let emb = ae.encode(&sp.test.0).unwrap();
    let saved = save_network(
        &Network::Autoencoder(ae),
        dir.path(),
        "ae",
        &meta("schema-a", 7),
    )
    .unwrap();
    let (loaded, card) = load_network(&saved.card, "schema-a").unwrap();
    assert_eq!(card.name, "autoencoder");
    let Network::Autoencoder(mut loaded) = loaded else {
        panic!("not an autoencoder")
    };
    assert_eq!(loaded.encode(&sp.test.0).unwrap(), emb);
    assert!(matches!(
        load_network(&saved.card, "schema-c"),
        Err(Error::SchemaMismatch { .. })
    ));
}

#[test]
fn autoencoder_learns_to_reconstruct_and_its_embedding_separates_a_planted_regime() {
    let s = synthetic(4000, 13);
    let sp = split(&s);
    let mut ae = Autoencoder::new(AutoencoderConfig {
        hidden: vec![32, 16],
        bottleneck: 4,
        batch_size: 128,
        max_epochs: 25,
        dropout: 0.0,
        device: DeviceChoice::Cpu,
        ..AutoencoderConfig::default()
    })
    .unwrap();
    let rep = ae.fit(&sp.train.0, Some(&sp.valid.0)).unwrap();
    let first = rep.epochs[0].valid_mse.unwrap();
    let best = rep.epochs[rep.best_epoch - 1].valid_mse.unwrap();
    assert!(best < 0.7 * first, "validation MSE {first} → {best}");
    // Per-column error: the three volatility columns share a factor and reconstruct better
    // than the two independent noise columns.
    let err = ae.reconstruction_error(&sp.test.0).unwrap();
    let vol_err = (err[0] + err[1] + err[2]) / 3.0;
    let noise_err = (err[5] + err[6]) / 2.0;
    assert!(
        vol_err < noise_err,
        "volatility columns {vol_err} vs noise {noise_err}"
    );
    // The embedding carries the hidden regime: a one-dimensional threshold on the embedding
    // unit most correlated with the state classifies it far better than chance.
    let emb = ae.encode(&sp.test.0).unwrap();
    let k = 4;
    let st: Vec<f64> = s.state[sp.test_rows.clone()]
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let corr = |j: usize| {
        let e: Vec<f64> = emb.chunks(k).map(|r| f64::from(r[j])).collect();
        let (me, ms) = (
            e.iter().sum::<f64>() / e.len() as f64,
            st.iter().sum::<f64>() / st.len() as f64,
        );
        let cov: f64 = e.iter().zip(&st).map(|(a, b)| (a - me) * (b - ms)).sum();
        let va: f64 = e.iter().map(|a| (a - me).powi(2)).sum();
        let vb: f64 = st.iter().map(|b| (b - ms).powi(2)).sum();
        (cov / (va * vb).sqrt()).abs()
    };
    let best_corr = (0..k).map(corr).fold(0.0, f64::max);
    assert!(
        best_corr > 0.5,
        "no embedding unit tracks the regime: |ρ| {best_corr}"
    );
}

#[test]
fn cards_name_the_candle_release_in_cargo_lock() {
    // The manifest directory at run time: a compile-time `env!` can be a cached build's path
    // (sccache shares objects between checkouts).
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let lock = std::fs::read_to_string(format!("{dir}/../../Cargo.lock")).unwrap();
    let at = lock.find("name = \"candle-core\"\nversion = \"").unwrap();
    let rest = &lock[at + "name = \"candle-core\"\nversion = \"".len()..];
    let version = &rest[..rest.find('"').unwrap()];
    assert_eq!(bqx_models::net::CANDLE_VERSION, version);
}

#[test]
fn dead_relu_units_are_counted_per_hidden_layer() {
    let g = &golden()["autoencoder"];
    let cfg: AutoencoderConfig = serde_json::from_value(g["config"].clone()).unwrap();
    let x = rows(&g["x"]);
    let mut t = tensors(&g["tensors"]);
    let base = {
        let mut ae = Autoencoder::from_parts(cfg.clone(), scaler(&g["scaler"]), t.clone()).unwrap();
        ae.dead_units(&x).unwrap()
    };
    assert_eq!(base.len(), 2, "one count per hidden encoder block");
    // Shift unit 0 of the first block far below zero after BatchNorm: it can never fire.
    t.get_mut("encoder.0.bn.bias").unwrap().1[0] = -1e6;
    let mut ae = Autoencoder::from_parts(cfg, scaler(&g["scaler"]), t).unwrap();
    let dead = ae.dead_units(&x).unwrap();
    assert!(dead[0] >= 1 && dead[0] >= base[0], "{dead:?} vs {base:?}");
    if base[0] == 0 {
        assert_eq!(dead[0], 1);
    }
}
