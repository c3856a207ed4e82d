//! Causality, batch = incremental, warm-up and reset properties of every implemented feature.

mod common;

use bqx_domain::Pair;
use bqx_features::{
    BarInput, BollingerKernel, BqxKernel, CalendarKernel, CurrencyStrengthKernel, Domain,
    FeatureMatrix, FeatureSet, Kernel, LagsKernel, MicrostructureKernel, MomentsKernel,
    MovingAverageKernel, MultiResKernel, N_PAIRS, PanelKernel, PanelSet, RegBqxKernel,
    RegRateKernel, SourceCaps, TechnicalKernel, TermCovKernel, TriangularKernel, UsdFactorKernel,
    VolatilityKernel, compute_batch, compute_batch_pairs, compute_chunks, compute_panel_batch,
    fit_usd_factor,
};
use common::{close_bars, ohlc_bars, random_walk, synthetic_panel, with_micro};
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
        Box::new(MicrostructureKernel::new(true, true)),
        Box::new(MicrostructureKernel::new(true, false)),
        Box::new(MicrostructureKernel::new(false, true)),
        Box::new(FeatureSet::standard()),
        Box::new(FeatureSet::for_source(ALL_CAPS)),
        Box::new(FeatureSet::for_source(SourceCaps {
            close_only: true,
            has_spread: true,
            has_volume: false,
        })),
    ]
}

const ALL_CAPS: SourceCaps = SourceCaps {
    close_only: false,
    has_spread: true,
    has_volume: true,
};

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Perturbing rows after t never changes any value at rows ≤ t (bit for bit): every
    /// per-pair column, microstructure included (closes, OHLC, spread and volume perturbed).
    #[test]
    fn causality(seed in any::<u64>(), t in 0usize..N - 1, scale in 0.5f64..2.0, level in prop::sample::select(vec![1.1f64, 150.0])) {
        let closes = random_walk(N, seed, level, 0.001);
        let bars = with_micro(ohlc_bars(&closes, seed, 0.0005), seed, true);
        // Rows after t: new closes, and new highs/lows/opens around them.
        let mut rng = common::Rng(seed ^ 0xDEAD_BEEF);
        let mut moved = closes.clone();
        for c in moved.iter_mut().skip(t + 1) {
            *c *= scale * (1.0 + 0.01 * rng.normal());
        }
        let other = with_micro(ohlc_bars(&moved, seed.wrapping_add(1), 0.002), seed ^ 1, true);
        let mut perturbed = bars.clone();
        for i in t + 1..N {
            perturbed.open[i] = other.open[i];
            perturbed.high[i] = other.high[i];
            perturbed.low[i] = other.low[i];
            perturbed.close[i] = other.close[i];
            perturbed.spread.as_mut().unwrap()[i] = other.spread.as_ref().unwrap()[i] * 1.5;
            perturbed.volume.as_mut().unwrap()[i] = other.volume.as_ref().unwrap()[i] + 7.0;
        }
        let mut set = FeatureSet::for_source(ALL_CAPS);
        prop_assert_eq!(set.width(), 352 + 7);
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

    /// Streaming in chunks (the base stage's write path) gives the batch values bit for bit,
    /// whatever the chunk size against the length.
    #[test]
    fn chunks_equal_batch(seed in any::<u64>(), n in 1usize..700, chunk in 1usize..400) {
        let bars = with_micro(ohlc_bars(&random_walk(n, seed, 1.1, 0.001), seed, 0.0005), seed, true);
        let mut set = FeatureSet::for_source(ALL_CAPS);
        let whole = compute_batch(&mut set, &bars).unwrap();
        let mut seen = 0usize;
        compute_chunks(&mut set, &bars, chunk, |first, cols: &[&[f64]]| -> Result<(), bqx_features::FeatureError> {
            assert_eq!(first, seen, "chunks arrive in order without gaps");
            assert_eq!(cols.len(), whole.n_cols());
            for (j, c) in cols.iter().enumerate() {
                for (r, v) in c.iter().enumerate() {
                    assert!(same_bits(*v, whole.get(first + r, j)), "{} at row {}", whole.names[j], first + r);
                }
            }
            seen += cols[0].len();
            Ok(())
        }).unwrap();
        prop_assert_eq!(seen, n);
    }

    /// The same on the 28-pair panel, for every cross-sectional column (USD factor included,
    /// with parameters fitted once): perturbing any pairs' rows after t — new prices, new holes
    /// — never changes a value at rows ≤ t.
    #[test]
    fn panel_causality(seed in any::<u64>(), t in 0usize..PANEL_N - 1, scale in 0.9f64..1.1, which in any::<u32>()) {
        let (ts, close) = synthetic_panel(PANEL_N, seed, true);
        let fitted = fit_usd_factor(&ts, &close, 0..200).unwrap();
        let mut rng = common::Rng(seed ^ 0xC0FFEE);
        let mut moved = close.clone();
        for (p, col) in moved.iter_mut().enumerate() {
            // A random subset of the pairs (at least pair `which % 28`).
            if p as u32 != which % 28 && (which >> (p % 28)) & 1 == 0 {
                continue;
            }
            for c in col.iter_mut().skip(t + 1) {
                *c = if rng.uniform() < 0.02 { f64::NAN } else { c.abs() * scale * (1.0 + 0.01 * rng.normal()) };
                if c.is_nan() && rng.uniform() < 0.5 {
                    *c = 1.0; // a bad but valid price where there was a hole
                }
            }
        }
        let mut set = PanelSet::with_usd_factor(&fitted).unwrap();
        let a = compute_panel_batch(&mut set, &ts, &close).unwrap();
        let b = compute_panel_batch(&mut set, &ts, &moved).unwrap();
        let mut changed_after = false;
        for p in 0..N_PAIRS {
            let (a, b) = (&a[p], &b[p]);
            for j in 0..a.n_cols() {
                for i in 0..=t {
                    prop_assert!(same_bits(a.get(i, j), b.get(i, j)),
                        "{} {} at row {i} changed when rows > {t} were perturbed", Pair::ALL[p], a.names[j]);
                }
                changed_after |= (t + 1..PANEL_N).any(|i| !same_bits(a.get(i, j), b.get(i, j)));
            }
        }
        prop_assert!(changed_after);
    }

    /// A fit reads only its range: perturbing any rows before or after it leaves the parameters
    /// bit for bit unchanged.
    #[test]
    fn usd_fit_reads_only_its_range(seed in any::<u64>(), start in 0usize..100, len in 60usize..300) {
        let (ts, close) = synthetic_panel(PANEL_N, seed, true);
        let end = (start + len).min(PANEL_N);
        let a = fit_usd_factor(&ts, &close, start..end).unwrap();
        let mut moved = close.clone();
        let mut rng = common::Rng(seed ^ 0xFEED);
        for col in moved.iter_mut() {
            for (i, c) in col.iter_mut().enumerate() {
                if i < start || i >= end {
                    *c = if rng.uniform() < 0.1 { f64::NAN } else { (2.0 + rng.normal()).abs() + 0.1 };
                }
            }
        }
        let b = fit_usd_factor(&ts, &moved, start..end).unwrap();
        prop_assert_eq!(a.fit_range, b.fit_range);
        let bits = |p: &bqx_features::UsdFactorParams| {
            p.loadings.iter().chain(&p.mean).chain(&p.eigenvalues).map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        prop_assert_eq!(bits(&a.params), bits(&b.params));
        // And the rows after the range do matter to a fit that includes them.
        if end + 50 <= PANEL_N {
            let c = fit_usd_factor(&ts, &moved, start..end + 50).unwrap();
            prop_assert_ne!(bits(&a.params), bits(&c.params));
        }
    }
}

/// Panel length: the longest panel warm-up (cs_str_pct_240: row 299) plus defined rows.
const PANEL_N: usize = 420;

fn panel_kernels(seed: u64) -> Vec<Box<dyn PanelKernel>> {
    let (ts, close) = synthetic_panel(PANEL_N, seed, false);
    let fitted = fit_usd_factor(&ts, &close, 0..300).unwrap();
    vec![
        Box::new(CurrencyStrengthKernel::new()),
        Box::new(TriangularKernel::new()),
        Box::new(UsdFactorKernel::new(&fitted).unwrap()),
        Box::new(PanelSet::with_usd_factor(&fitted).unwrap()),
    ]
}

/// Feeding panel rows one at a time into a fresh kernel gives the batch output exactly; the
/// batch of a prefix equals the prefix of the batch (fitted parameters applied unchanged).
#[test]
fn panel_batch_equals_incremental_and_prefix() {
    let (ts, close) = synthetic_panel(PANEL_N, 17, true);
    for (mut k, mut fresh) in panel_kernels(3).into_iter().zip(panel_kernels(3)) {
        let w = k.width();
        let batch = compute_panel_batch(&mut k, &ts, &close).unwrap();
        let mut row = vec![0.0; w * N_PAIRS];
        for i in 0..PANEL_N {
            let closes: [f64; N_PAIRS] = std::array::from_fn(|p| close[p][i]);
            fresh.update(ts[i], &closes, &mut row);
            for p in 0..N_PAIRS {
                for j in 0..w {
                    let v = row[p * w + j];
                    assert!(
                        same_bits(v, batch[p].get(i, j)),
                        "{} {} row {i}: online {v} != batch {}",
                        Pair::ALL[p],
                        batch[p].names[j],
                        batch[p].get(i, j)
                    );
                }
            }
        }
        // Prefix: the kernel is reset by compute_panel_batch.
        let m = 250;
        let prefix: Vec<&[f64]> = close.iter().map(|c| &c[..m]).collect();
        let part = compute_panel_batch(&mut k, &ts[..m], &prefix).unwrap();
        for p in 0..N_PAIRS {
            for j in 0..w {
                for i in 0..m {
                    assert!(same_bits(part[p].get(i, j), batch[p].get(i, j)));
                }
            }
        }
    }
}

/// On a panel without holes, each cross-sectional column is NaN for exactly its first
/// `warmup` rows and finite afterwards, for every pair.
#[test]
fn panel_warmup_rows() {
    let (ts, close) = synthetic_panel(PANEL_N, 5, false);
    for mut k in panel_kernels(5) {
        let cat = k.catalog();
        assert_eq!(cat.len(), k.width());
        let out = compute_panel_batch(&mut k, &ts, &close).unwrap();
        for (p, m) in out.iter().enumerate() {
            assert_eq!(m.names, k.names());
            for (j, spec) in cat.iter().enumerate() {
                for (i, v) in m.column(j).iter().enumerate() {
                    assert_eq!(
                        v.is_nan(),
                        i < spec.warmup,
                        "{} {} row {i} (warm-up {}) is {v}",
                        Pair::ALL[p],
                        spec.name,
                        spec.warmup
                    );
                    assert!(v.is_nan() || v.is_finite());
                }
            }
        }
        let w = k.warmup();
        assert!(
            out.iter()
                .all(|m| (0..m.n_cols()).all(|j| !m.get(w, j).is_nan()))
        );
        assert!(
            out.iter()
                .any(|m| (0..m.n_cols()).any(|j| m.get(w - 1, j).is_nan()))
        );
    }
}

/// Feeding bars one at a time into a fresh kernel gives the batch output exactly.
#[test]
fn batch_equals_incremental() {
    let closes = random_walk(N, 11, 1.3, 0.001);
    let bars = with_micro(ohlc_bars(&closes, 11, 0.0005), 11, true);
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
    let bars = with_micro(close_bars(&closes), 5, false);
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

    // Microstructure: present only with the source's columns.
    let micro = |caps: SourceCaps| {
        FeatureSet::for_source(caps)
            .catalog()
            .iter()
            .filter(|s| s.family == "microstructure")
            .count()
    };
    let caps = |has_spread, has_volume| SourceCaps {
        close_only: false,
        has_spread,
        has_volume,
    };
    assert_eq!(micro(caps(false, false)), 0);
    assert_eq!(micro(caps(true, false)), 3);
    assert_eq!(micro(caps(false, true)), 4);
    assert_eq!(micro(caps(true, true)), 7);
    assert_eq!(FeatureSet::for_source(caps(true, true)).width(), 359);
    assert_eq!(
        FeatureSet::for_source(caps(false, false)).names(),
        FeatureSet::standard().names()
    );

    // Cross-sectional: the same columns for every pair.
    let (ts, close) = synthetic_panel(400, 1, false);
    let fitted = fit_usd_factor(&ts, &close, 0..300).unwrap();
    let panel = PanelSet::with_usd_factor(&fitted).unwrap();
    let pc = panel.catalog();
    let count = |f: &str| pc.iter().filter(|s| s.family == f).count();
    assert_eq!(count("currency_strength"), 12);
    assert_eq!(count("triangle"), 12);
    assert_eq!(count("usd_factor"), 5);
    assert_eq!(pc.len(), 29);
    assert_eq!(PanelSet::standard().width(), 24);
    assert!(pc.iter().all(|s| s.domain == Domain::Panel));
    let mut names = panel.names();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 29);
    assert!(names.iter().all(|n| n.starts_with("cs_")));
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
