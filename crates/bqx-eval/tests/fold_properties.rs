//! Property tests of the purged walk-forward folds: for random series and configurations, the
//! folds mapped to the reference axis and to a second "pair" with missing rows satisfy the
//! purge, ordering and embargo rules, checked here independently of `FoldRows::check`.

use bqx_eval::EvalError;
use bqx_eval::folds::{FoldConfig, FoldPlan, FoldRows, Span, TrainWindow, Validation};
use proptest::prelude::*;
use std::cell::Cell;

thread_local! {
    /// Cases of this thread that produced at least one fold (the rest were too short for their
    /// configuration). proptest runs the cases on the calling thread.
    static PLANS: Cell<usize> = const { Cell::new(0) };
}

const HOUR: i64 = 3_600_000_000;

fn span(bars: bool, v: u32) -> Span {
    if bars {
        Span::Bars(v as usize)
    } else {
        Span::Days(v)
    }
}

prop_compose! {
    fn config()(
        bars in any::<bool>(),
        min_train in 1u32..60,
        test in 1u32..20,
        extra_step in 0u32..5,
        horizon in 1usize..25,
        extra_embargo in 0usize..10,
        valid_kind in 0u8..3,
        valid_frac in 0.0f64..0.5,
        valid_bars in 1usize..60,
        rolling in proptest::option::of(1u32..80),
        align in any::<bool>(),
        keep_partial in any::<bool>(),
    ) -> FoldConfig {
        // Bar spans are scaled up so that they are comparable with the day spans (24 bars/day).
        let scale = |v: u32| if bars { v * 12 } else { v };
        FoldConfig {
            train_window: match rolling {
                Some(r) => TrainWindow::Rolling(span(bars, scale(r))),
                None => TrainWindow::Expanding,
            },
            min_train: span(bars, scale(min_train)),
            test: span(bars, scale(test)),
            step: span(bars, scale(test + extra_step)),
            horizon,
            validation: match valid_kind {
                0 => Validation::None,
                1 => Validation::Fraction(valid_frac),
                _ => Validation::Span(Span::Bars(valid_bars)),
            },
            embargo: Some(horizon + extra_embargo),
            align_to_calendar: align,
            keep_partial_last: keep_partial,
        }
    }
}

prop_compose! {
    /// Hourly-ish timestamps with random gaps (some longer than a day, like weekends).
    fn axis()(n in 30usize..1500, seed in any::<u64>(), start_hours in 0i64..2000) -> Vec<i64> {
        let mut s = seed | 1;
        let mut t = 1_600_000_000_000_000 + start_hours * HOUR;
        (0..n).map(|_| {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            t += match s % 20 { 0 => 50 * HOUR, 1 | 2 => 2 * HOUR, _ => HOUR };
            t
        }).collect()
    }
}

/// A second pair's axis: the reference with roughly every 7th row (pseudo-randomly) missing
/// and a few extra rows.
fn other_pair(ts: &[i64]) -> Vec<i64> {
    let mut out: Vec<i64> = ts
        .iter()
        .enumerate()
        .filter(|(i, _)| (i * 2_654_435_761) % 7 != 3)
        .map(|(_, &t)| t)
        .collect();
    out.extend(ts.iter().step_by(97).map(|&t| t + HOUR / 2));
    out.sort_unstable();
    out.dedup();
    out
}

fn check_rows(ts: &[i64], plan: &FoldPlan, rows: &[FoldRows], cfg: &FoldConfig) {
    let h = cfg.horizon;
    let e = cfg.embargo_rows();
    assert_eq!(rows.len(), plan.folds.len());
    for (r, f) in rows.iter().zip(&plan.folds) {
        assert_eq!(r.id, f.id);
        for range in [&r.train, &r.valid, &r.test] {
            assert!(range.start <= range.end && range.end <= ts.len());
        }
        // Disjoint and time-ordered: train < valid < test.
        if !r.valid.is_empty() {
            assert!(r.train.end <= r.valid.start);
            assert!(r.valid.end <= r.test.start);
        }
        assert!(r.train.end <= r.test.start);
        // Purge: no train/valid label (i, i+h] intersects the test block; no train label
        // reaches the validation block.
        for i in r.train.clone().chain(r.valid.clone()) {
            // The label window is rows i+1 ..= i+h and i < test.start.
            assert!(
                i + h < r.test.start,
                "fold {}: row {i} label reaches test {:?}",
                r.id,
                r.test
            );
        }
        if !r.valid.is_empty() {
            for i in r.train.clone() {
                assert!(i + h < r.valid.start, "train row {i} label reaches valid");
            }
        }
        // Every test row is after every train (and validation) row, in time too.
        if let (Some(tr), Some(te)) = (r.train.clone().last(), r.test.clone().next()) {
            assert!(ts[tr] < ts[te]);
        }
        // Embargo: no training row within e rows after the test block.
        for i in r.train.clone() {
            assert!(
                !(r.test.end <= i && i < r.test.end + e),
                "train row {i} in embargo"
            );
        }
        // Test rows lie inside the planned time block.
        for i in r.test.clone() {
            assert!(f.test_start <= ts[i] && ts[i] < f.test_end);
        }
        // Train rows start at or after the planned train start.
        if let Some(i) = r.train.clone().next() {
            assert!(ts[i] >= f.train_start);
        }
        assert_eq!(r.check(h, e), Ok(()));
    }
    // Test blocks do not overlap and step forward.
    for w in plan.folds.windows(2) {
        assert!(w[0].test_start < w[1].test_start);
        assert!(w[0].test_end <= w[1].test_start);
    }
    for w in rows.windows(2) {
        assert!(w[0].test.end <= w[1].test.start);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn folds_respect_purge_order_and_embargo(ts in axis(), cfg in config()) {
        let plan = match FoldPlan::build(&ts, &cfg) {
            Ok(p) => p,
            Err(EvalError::NoFolds(_)) => return Ok(()),
            Err(e) => panic!("unexpected error {e} for {cfg:?}"),
        };
        prop_assert!(!plan.folds.is_empty());
        PLANS.with(|c| c.set(c.get() + 1));
        // Minimum train span: with bar spans, at least `min_train` reference rows precede the
        // first test block.
        if let Span::Bars(m) = cfg.min_train {
            let before = ts.partition_point(|&t| t < plan.folds[0].test_start);
            prop_assert!(before >= m);
        }
        // Only the last fold may be partial.
        for f in &plan.folds[..plan.folds.len() - 1] {
            prop_assert!(!f.partial);
        }
        let rows = plan.map(&ts).unwrap();
        check_rows(&ts, &plan, &rows, &cfg);
        // The same plan on another pair's timestamps: same calendar folds, same rules.
        let other = other_pair(&ts);
        let rows_other = plan.map(&other).unwrap();
        check_rows(&other, &plan, &rows_other, &cfg);
    }
}

#[test]
fn most_random_cases_produce_folds() {
    // Runs the property again with a counter, so that it cannot pass vacuously.
    PLANS.with(|c| c.set(0));
    folds_respect_purge_order_and_embargo();
    let n = PLANS.with(Cell::get);
    eprintln!("{n} of 300 cases produced folds");
    assert!(n >= 100, "only {n} of 300 cases produced folds");
}
