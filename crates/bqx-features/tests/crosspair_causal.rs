//! Causality of every stage-2.16 column: with the fitted discovery held fixed, changing any
//! rows after `t` (prices and inputs, of every pair) leaves every column's value at rows ≤ t
//! unchanged. Cases draw `t` past the longest warm-up (the correlation drift reads 120 rows),
//! and the test checks that the columns are defined there, so the windows are exercised on
//! values rather than on NaN.

use bqx_domain::Pair;
use bqx_features::{
    CrossFitConfig, CrossInput, CrossPanel, cross_columns, cross_inputs, fit_cross,
};
use proptest::prelude::*;

const N: usize = 420;

fn pairs() -> Vec<Pair> {
    [
        "EURUSD", "GBPUSD", "EURGBP", "USDJPY", "EURJPY", "GBPJPY", "AUDUSD",
    ]
    .iter()
    .map(|s| Pair::parse(s).unwrap())
    .collect()
}

/// Bar times, closes per pair, input columns per pair.
type Market = (Vec<i64>, Vec<Vec<f64>>, Vec<Vec<Vec<f32>>>);

/// Deterministic pseudo-random data: closes (random walks) and the 14 input columns.
fn data(seed: u64) -> Market {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let k = pairs().len();
    let ts: Vec<i64> = (0..N as i64).map(|i| i * 60_000_000).collect();
    let mut close = Vec::with_capacity(k);
    let mut cols = Vec::with_capacity(k);
    for _ in 0..k {
        let mut c = 1.0;
        close.push(
            (0..N)
                .map(|_| {
                    c *= (0.001 * next()).exp();
                    c
                })
                .collect(),
        );
        cols.push(
            (0..cross_inputs().len())
                .map(|_| (0..N).map(|_| next() as f32).collect())
                .collect(),
        );
    }
    (ts, close, cols)
}

fn panel(ts: &[i64], close: &[Vec<f64>], cols: &[Vec<Vec<f32>>]) -> CrossPanel {
    let inputs: Vec<CrossInput<'_>> = pairs()
        .into_iter()
        .enumerate()
        .map(|(k, p)| CrossInput {
            pair: p,
            ts,
            close: &close[k],
            columns: cols[k].iter().map(Vec::as_slice).collect(),
        })
        .collect();
    CrossPanel::build(&inputs).unwrap()
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn every_cross_column_reads_only_past_rows(seed in 1u64..u64::MAX, t in 200usize..N - 1, scale in 0.5f64..2.0) {
        let (ts, close, cols) = data(seed);
        let p = panel(&ts, &close, &cols);
        let target: Vec<f64> = (0..N).map(|i| if i < 180 { ((i * 7) % 11) as f64 } else { f64::NAN }).collect();
        let fit = fit_cross(&p, 0..200, &[(pairs()[0], target)], &CrossFitConfig::default()).unwrap();
        let rows: Vec<usize> = (0..N).collect();
        // The future changed, for every pair.
        let (mut close2, mut cols2) = (close.clone(), cols.clone());
        for k in 0..close2.len() {
            for i in t + 1..N {
                close2[k][i] *= scale;
                for c in &mut cols2[k] {
                    c[i] = c[i] * scale as f32 - 1.0;
                }
            }
        }
        let q = panel(&ts, &close2, &cols2);
        for pc in &fit.params.pairs {
            let a = cross_columns(&p, pc, &rows).unwrap();
            let b = cross_columns(&q, pc, &rows).unwrap();
            for j in 0..a.n_cols() {
                for i in 0..=t {
                    prop_assert!(same(a.get(i, j), b.get(i, j)), "{} {} row {i} (t = {t})", pc.pair, a.names[j]);
                }
                // Filled columns are defined past the warm-ups.
                prop_assert!(a.get(t, j).is_finite(), "{} {} undefined at row {t}", pc.pair, a.names[j]);
            }
        }
    }
}
