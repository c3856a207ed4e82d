//! `FeatureSet::retain_for`: the retained columns are bit-identical to the full set's, every
//! other column is NaN, and names and width do not change — for a full OHLC source, a
//! close-only source (columns dropped) and a source with spread and volume (tail kernels).

mod common;

use bqx_features::{FeatureSet, Kernel, SourceCaps, compute_batch};
use common::{Rng, close_bars, ohlc_bars, random_walk, with_micro};

fn check(bars: &bqx_domain::BarColumns, seed: u64) {
    let caps = SourceCaps::of(bars, bars.open == bars.close);
    let full = compute_batch(&mut FeatureSet::for_source(caps), bars).unwrap();
    let names = full.names.clone();
    let mut rng = Rng(seed);
    // Subsets: single columns of different kernels, a difference, a tail column, random sets.
    let mut subsets: Vec<Vec<String>> = Vec::new();
    for prefix in ["dd_", "micro_", "cal_", "reg_bqx_", "ta_"] {
        if let Some(n) = names.iter().find(|n| n.starts_with(prefix)) {
            subsets.push(vec![n.clone()]);
        }
    }
    for _ in 0..6 {
        let k = 1 + (rng.next_u64() % 20) as usize;
        subsets.push(
            (0..k)
                .map(|_| names[(rng.next_u64() % names.len() as u64) as usize].clone())
                .collect(),
        );
    }
    for wanted in subsets {
        let mut set = FeatureSet::for_source(caps);
        set.retain_for(&wanted).unwrap();
        assert_eq!(set.names(), names, "names unchanged");
        let got = compute_batch(&mut set, bars).unwrap();
        for (j, name) in names.iter().enumerate() {
            let (a, b) = (got.column(j), full.column(j));
            if wanted.contains(name) {
                assert!(
                    a.iter()
                        .zip(b)
                        .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())),
                    "{name} differs when retained with {wanted:?}"
                );
            } else if !a.iter().all(|x| x.is_nan()) {
                // A column of a kernel that another wanted column needs is computed too, and
                // then equal to the full set's.
                assert!(
                    a.iter()
                        .zip(b)
                        .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())),
                    "{name}: computed but not equal"
                );
            }
        }
        // Something was skipped for a small subset (the set has 16 kernels).
        if wanted.len() == 1 {
            let nan_cols = (0..names.len())
                .filter(|&j| got.column(j).iter().all(|x| x.is_nan()))
                .count();
            assert!(
                nan_cols > names.len() / 2,
                "{wanted:?}: {nan_cols} NaN columns"
            );
        }
    }
    let mut set = FeatureSet::for_source(caps);
    assert!(set.retain_for(&["no_such_feature".to_string()]).is_err());
}

#[test]
fn retained_columns_equal_the_full_set_and_the_rest_are_nan() {
    let closes = random_walk(1500, 3, 1.1, 4e-4);
    check(&ohlc_bars(&closes, 4, 3e-4), 1);
    check(&close_bars(&closes), 2);
    check(&with_micro(ohlc_bars(&closes, 5, 3e-4), 6, false), 3);
}
