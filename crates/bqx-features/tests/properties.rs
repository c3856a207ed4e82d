//! Causality, batch = incremental, warm-up and reset properties of every implemented feature.

mod common;

use bqx_domain::Pair;
use bqx_features::MultiResKernel;
use bqx_features::{
    BarInput, BollingerKernel, BqxKernel, CalendarKernel, Domain, FeatureMatrix, FeatureSet,
    Kernel, LagsKernel, MomentsKernel, MovingAverageKernel, RegBqxKernel, RegRateKernel,
    TechnicalKernel, TermCovKernel, VolatilityKernel, compute_batch, compute_batch_pairs,
};
use common::{close_bars, ohlc_bars, random_walk};
use proptest::prelude::*;

/// Long enough for the longest warm-up (reg_bqx_cov_*_630: 1273 rows) plus some defined rows.
const N: usize = 1400;

fn all_kernels() -> Vec<Box<dyn Kernel>> {
    vec![
        Box::new(BqxKernel::new()),
        Box::new(RegRateKernel::new()),
        Box::new(RegBqxKernel::new()),
        Box::new(TermCovKernel::new()),
        Box::new(MomentsKernel::new(Domain::Rate)),
        Box::new(MomentsKernel::new(Domain::Bqx)),
        Box::new(BollingerKernel::new(Domain::Rate)),
        Box::new(BollingerKernel::new(Domain::Bqx)),
        Box::new(LagsKernel::new()),
        Box::new(MovingAverageKernel::new(Domain::Rate)),
        Box::new(MovingAverageKernel::new(Domain::Bqx)),
        Box::new(TechnicalKernel::new(Domain::Rate)),
        Box::new(TechnicalKernel::new(Domain::Bqx)),
        Box::new(VolatilityKernel::new()),
        Box::new(CalendarKernel::new()),
        Box::new(MultiResKernel::new()),
        Box::new(FeatureSet::standard()),
    ]
}

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Perturbing rows after t never changes any value at rows ≤ t (bit for bit).
    #[test]
    fn causality(seed in any::<u64>(), t in 0usize..N - 1, scale in 0.5f64..2.0, level in prop::sample::select(vec![1.1f64, 150.0])) {
        let closes = random_walk(N, seed, level, 0.001);
        let bars = ohlc_bars(&closes, seed, 0.0005);
        // Rows after t: new closes, and new highs/lows/opens around them.
        let mut rng = common::Rng(seed ^ 0xDEAD_BEEF);
        let mut moved = closes.clone();
        for c in moved.iter_mut().skip(t + 1) {
            *c *= scale * (1.0 + 0.01 * rng.normal());
        }
        let other = ohlc_bars(&moved, seed.wrapping_add(1), 0.002);
        let mut perturbed = bars.clone();
        for i in t + 1..N {
            perturbed.open[i] = other.open[i];
            perturbed.high[i] = other.high[i];
            perturbed.low[i] = other.low[i];
            perturbed.close[i] = other.close[i];
        }
        let mut set = FeatureSet::standard();
        let a = compute_batch(&mut set, &bars).unwrap();
        let b = compute_batch(&mut set, &perturbed).unwrap();
        let mut changed_after = false;
        for j in 0..a.n_cols() {
            for i in 0..=t {
                prop_assert!(same_bits(a.get(i, j), b.get(i, j)),
                    "{} at row {i} changed when rows > {t} were perturbed", a.names[j]);
            }
            changed_after |= (t + 1..N).any(|i| !same_bits(a.get(i, j), b.get(i, j)));
        }
        // The perturbation is real: something after t differs.
        prop_assert!(changed_after);
    }
}

/// Feeding bars one at a time into a fresh kernel gives the batch output exactly.
#[test]
fn batch_equals_incremental() {
    let closes = random_walk(N, 11, 1.3, 0.001);
    let bars = ohlc_bars(&closes, 11, 0.0005);
    for (mut k, mut fresh) in all_kernels().into_iter().zip(all_kernels()) {
        let batch = compute_batch(&mut k, &bars).unwrap();
        let mut row = vec![0.0; fresh.width()];
        for i in 0..N {
            let bar = BarInput::from_columns(&bars, i);
            fresh.update(&bar, &mut row);
            for (j, &v) in row.iter().enumerate() {
                assert!(
                    same_bits(v, batch.get(i, j)),
                    "{} row {i}: online {v} != batch {}",
                    batch.names[j],
                    batch.get(i, j)
                );
            }
        }
    }
}

/// `reset` forgets everything: a reused kernel gives the same output as a new one, and the
/// parallel per-pair batch gives the same output as the single-series batch.
#[test]
fn reset_and_parallel_pairs() {
    let a = random_walk(900, 1, 1.1, 0.001);
    let b = random_walk(N, 2, 150.0, 0.001);
    let (ba, bb) = (close_bars(&a), close_bars(&b));
    let mut set = FeatureSet::standard();
    let ma = compute_batch(&mut set, &ba).unwrap();
    let mb = compute_batch(&mut set, &bb).unwrap();
    let mb_fresh = compute_batch(&mut FeatureSet::standard(), &bb).unwrap();
    assert!(bitwise_eq(&mb, &mb_fresh));
    let par = compute_batch_pairs(
        FeatureSet::standard,
        &[(Pair::ALL[0], &ba), (Pair::ALL[1], &bb)],
    );
    assert!(bitwise_eq(par[0].1.as_ref().unwrap(), &ma));
    assert!(bitwise_eq(par[1].1.as_ref().unwrap(), &mb));
}

fn bitwise_eq(x: &FeatureMatrix, y: &FeatureMatrix) -> bool {
    x.names == y.names
        && x.n_rows == y.n_rows
        && x.data.iter().zip(&y.data).all(|(a, b)| same_bits(*a, *b))
}

/// Each feature is NaN for exactly its first `warmup` rows; `Kernel::warmup()` is the first
/// fully defined row.
#[test]
fn warmup_rows() {
    let closes = random_walk(N, 5, 1.1, 0.001);
    let bars = close_bars(&closes);
    for mut k in all_kernels() {
        let cat = k.catalog();
        assert_eq!(cat.len(), k.width());
        let m = compute_batch(&mut k, &bars).unwrap();
        for (j, spec) in cat.iter().enumerate() {
            let col = m.column(j);
            assert!(spec.warmup < N, "{}", spec.name);
            for (i, v) in col.iter().enumerate().take(spec.warmup) {
                assert!(
                    v.is_nan(),
                    "{} row {i} < warm-up {} is {v}",
                    spec.name,
                    spec.warmup
                );
            }
            for (i, v) in col.iter().enumerate().skip(spec.warmup) {
                assert!(
                    v.is_finite(),
                    "{} row {i} ≥ warm-up {} is {v}",
                    spec.name,
                    spec.warmup
                );
            }
        }
        let w = k.warmup();
        assert!((0..m.n_cols()).all(|j| !m.get(w, j).is_nan()));
        if w > 0 {
            assert!((0..m.n_cols()).any(|j| m.get(w - 1, j).is_nan()));
        }
    }
}

/// The catalog is consistent: unique names, the expected counts per family.
#[test]
fn catalog_counts() {
    let set = FeatureSet::standard();
    let cat = set.catalog();
    let count = |f: &str| cat.iter().filter(|s| s.family == f).count();
    assert_eq!(count("bqx"), 37);
    assert_eq!(count("reg_rate"), 42);
    assert_eq!(count("reg_bqx"), 42);
    assert_eq!(count("reg_bqx_cov"), 36);
    assert_eq!(count("moments"), 48);
    assert_eq!(count("bollinger"), 20);
    assert_eq!(count("lags"), 27);
    assert_eq!(count("moving_average"), 24);
    assert_eq!(count("technical"), 29);
    assert_eq!(count("volatility"), 10);
    assert_eq!(count("calendar"), 14);
    assert_eq!(count("multires"), 6);
    assert_eq!(count("dual_domain"), 17);
    assert_eq!(cat.len(), 352);
    assert_eq!(cat.len(), set.width());
    let mut names = set.names();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cat.len(), "duplicate feature names");
    let json = serde_json::to_string(&cat).unwrap();
    assert!(json.contains("\"domain\":\"bqx\""));
}

/// The batch path refuses non-finite or non-positive closes instead of poisoning the sums.
#[test]
fn batch_rejects_bad_closes() {
    let mut closes = random_walk(100, 3, 1.1, 0.001);
    closes[42] = f64::NAN;
    let err = compute_batch(&mut FeatureSet::standard(), &close_bars(&closes)).unwrap_err();
    assert!(err.to_string().contains("row 42"), "{err}");
    closes[42] = 0.0;
    assert!(compute_batch(&mut BqxKernel::new(), &close_bars(&closes)).is_err());
}
