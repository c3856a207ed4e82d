//! Purged, embargoed walk-forward folds.
//!
//! # Two steps: a plan in time, then rows per pair
//!
//! [`FoldPlan::build`] lays the folds out **in time** (UTC µs boundaries) on one reference time
//! axis; [`FoldPlan::map`] turns the plan into row ranges of any pair's own timestamps and
//! applies the purge there (labels count rows of the pair's own series). Building the plan once
//! (e.g. on the union or on a reference pair of the aligned panel) and mapping it to each of the
//! 28 pairs gives every pair the same calendar folds, which pooling across pairs needs.
//!
//! # Layout of fold `k`
//!
//! ```text
//!  train_start        valid_start      test_start          test_end
//!      |---- train ----|--- valid ----|------ test -------|
//!                  ^^^^ purged (h)   ^^^^ purged (h)
//! ```
//!
//! - Test blocks start at `first_test_start + k·step` and last `test`; they never overlap
//!   (`step ≥ test` is checked) and always move forward.
//! - Train is everything before the validation tail (expanding window, from the first bar) or
//!   the `Rolling` span before the test block.
//! - The validation tail (for early stopping) is carved from the end of the train part.
//!
//! # Purge and embargo (label of row `i` spans rows `i+1 ..= i+h`)
//!
//! - **Purge:** a validation row `i` is dropped if `i + h ≥` the first test row; a training row
//!   is dropped if `i + h ≥` the first validation row (or the first test row when the fold has no
//!   validation rows). No training or validation label can therefore see a test (or, for
//!   training, a validation) row.
//! - **Embargo:** no training row may lie within `embargo ≥ h` rows *after* a test block. In this
//!   forward-only (walk-forward) layout every training row of a fold precedes its test block, so
//!   the embargo never removes a row — it only bites in layouts where training data follows a
//!   test block (k-fold-style CV), which this module does not produce. It is kept in the
//!   configuration, validated (`≥ h`) and checked by [`FoldRows::check`] so that a future layout
//!   cannot silently violate it. Earlier folds' test blocks *are* training data of later folds:
//!   that is ordinary walk-forward, not a leak, because those labels end before the later test
//!   block starts (and are purged where they do not).
//!
//! # Calendar sizes
//!
//! Sizes are given as a [`Span`]: bars (rows of the reference axis) or UTC calendar days,
//! months, years. Month arithmetic keeps the time of day and clamps the day of month
//! (Jan 31 + 1 month = Feb 28/29); boundary `k` is always computed as `first + k·step` from the
//! first test start, so clamping never drifts. With `align_to_calendar` (default) the first
//! test block starts on the grid of the step's unit (midnight, the 1st of a month, January 1st),
//! and the minimum train span is counted from the start of the unit that contains the first
//! bar — e.g. daily data from 2000-01-03 with 5 training years gets its first test year 2005.

use std::ops::Range;

use bqx_domain::{MICROS_PER_DAY, Timeframe};
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, invalid};

/// A size: rows of the reference axis or UTC calendar units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Span {
    Bars(usize),
    Days(u32),
    Months(u32),
    Years(u32),
}

impl Span {
    fn is_zero(self) -> bool {
        matches!(
            self,
            Span::Bars(0) | Span::Days(0) | Span::Months(0) | Span::Years(0)
        )
    }
}

/// Expanding (from the first bar) or rolling (a fixed span before the test block) training
/// window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainWindow {
    Expanding,
    Rolling(Span),
}

/// The validation tail carved from the end of the training part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// No validation rows.
    None,
    /// This fraction (in `[0, 1)`) of the training rows (of the reference axis), rounded.
    Fraction(f64),
    /// A fixed span at the end of the training part.
    Span(Span),
}

/// Configuration of the walk-forward folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FoldConfig {
    pub train_window: TrainWindow,
    /// Minimum training span before the first test block.
    pub min_train: Span,
    /// Length of each test block.
    pub test: Span,
    /// Distance between the starts of consecutive test blocks (≥ `test`).
    pub step: Span,
    /// Label horizon `h` in rows: the label of row `i` spans rows `i+1 ..= i+h`.
    pub horizon: usize,
    pub validation: Validation,
    /// Embargo in rows after a test block; `None` = `h`. Must be ≥ `h`.
    pub embargo: Option<usize>,
    /// Start the first test block on the calendar grid of the step's unit (see module doc).
    pub align_to_calendar: bool,
    /// Keep a last test block that runs past the end of the data (it is marked `partial`).
    pub keep_partial_last: bool,
}

impl FoldConfig {
    /// evaluation.md's defaults for data of this timeframe: daily (or coarser) data — expanding
    /// train ≥ 5 years, test 1 year, step 1 year; intraday data — train 6 months, test 1 month,
    /// step 1 month. Both: validation tail 10 % of the training rows, embargo `h`, calendar
    /// alignment on, partial last block kept.
    pub fn default_for(timeframe: Timeframe, horizon: usize) -> FoldConfig {
        let (min_train, test) = if timeframe.secs() >= 86_400 {
            (Span::Years(5), Span::Years(1))
        } else {
            (Span::Months(6), Span::Months(1))
        };
        FoldConfig {
            train_window: TrainWindow::Expanding,
            min_train,
            test,
            step: test,
            horizon,
            validation: Validation::Fraction(0.1),
            embargo: None,
            align_to_calendar: true,
            keep_partial_last: true,
        }
    }

    /// The embargo in rows (`embargo` or `h`).
    pub fn embargo_rows(&self) -> usize {
        self.embargo.unwrap_or(self.horizon)
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if self.horizon == 0 {
            return Err(invalid("horizon", "must be at least 1"));
        }
        if self.embargo_rows() < self.horizon {
            return Err(invalid("embargo", "must be at least the horizon h"));
        }
        for (name, s) in [
            ("min_train", self.min_train),
            ("test", self.test),
            ("step", self.step),
        ] {
            if s.is_zero() {
                return Err(invalid(name, "must be positive"));
            }
        }
        if let TrainWindow::Rolling(s) = self.train_window
            && s.is_zero()
        {
            return Err(invalid("train_window", "rolling span must be positive"));
        }
        match self.validation {
            Validation::Fraction(f) if !(0.0..1.0).contains(&f) => {
                Err(invalid("validation", "fraction must lie in [0, 1)"))
            }
            _ => Ok(()),
        }
    }
}

/// One fold of a plan, in time: train `[train_start, valid_start)`, validation
/// `[valid_start, test_start)`, test `[test_start, test_end)` (UTC µs, half-open), before purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFold {
    pub id: u32,
    pub train_start: i64,
    pub valid_start: i64,
    pub test_start: i64,
    pub test_end: i64,
    /// The test block was cut short by the end of the data.
    pub partial: bool,
}

/// The folds laid out in time on a reference axis; map it to a pair with [`FoldPlan::map`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldPlan {
    pub horizon: usize,
    pub embargo: usize,
    pub folds: Vec<PlannedFold>,
}

/// First and last timestamp of a non-empty block of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeBounds {
    pub first: i64,
    pub last: i64,
}

/// A fold mapped to one pair's rows, after the purge. Ranges index the pair's timestamps (and
/// therefore its closes, features and targets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldRows {
    pub id: u32,
    pub train: Range<usize>,
    pub valid: Range<usize>,
    pub test: Range<usize>,
    /// Training rows dropped by the purge.
    pub purged_train: usize,
    /// Validation rows dropped by the purge.
    pub purged_valid: usize,
    pub train_time: Option<TimeBounds>,
    pub valid_time: Option<TimeBounds>,
    pub test_time: Option<TimeBounds>,
    pub partial: bool,
}

impl FoldRows {
    /// Whether the fold has at least `min_train` training rows and one test row.
    pub fn is_usable(&self, min_train: usize) -> bool {
        self.train.len() >= min_train.max(1) && !self.test.is_empty()
    }

    /// Verifies the fold's invariants for horizon `h` and embargo `embargo` (rows): blocks in
    /// order and disjoint, no training or validation label reaching a later block, no training
    /// row within `embargo` rows after the test block. Returns a description of the first
    /// violation.
    pub fn check(&self, h: usize, embargo: usize) -> std::result::Result<(), String> {
        let (tr, va, te) = (&self.train, &self.valid, &self.test);
        if !tr.is_empty() && tr.end + h > te.start {
            return Err(format!("fold {}: train label reaches test", self.id));
        }
        if !tr.is_empty() && !va.is_empty() && tr.end + h > va.start {
            return Err(format!("fold {}: train label reaches validation", self.id));
        }
        if !va.is_empty() && va.end + h > te.start {
            return Err(format!("fold {}: validation label reaches test", self.id));
        }
        if !tr.is_empty() && tr.end > te.start {
            return Err(format!("fold {}: train overlaps test", self.id));
        }
        if !va.is_empty() && (va.end > te.start || (!tr.is_empty() && tr.end > va.start)) {
            return Err(format!("fold {}: validation out of order", self.id));
        }
        let embargo_zone = te.end..te.end + embargo;
        if !tr.is_empty() && tr.start < embargo_zone.end && embargo_zone.start < tr.end {
            return Err(format!("fold {}: train inside the embargo", self.id));
        }
        Ok(())
    }
}

fn check_sorted(ts: &[i64]) -> Result<()> {
    if ts.is_empty() {
        return Err(EvalError::TooFewObservations {
            what: "timestamps",
            needed: 1,
            got: 0,
        });
    }
    match ts.windows(2).position(|w| w[1] <= w[0]) {
        Some(i) => Err(EvalError::UnsortedTimestamps { row: i + 1 }),
        None => Ok(()),
    }
}

/// Index of the first timestamp `≥ x`.
fn lower_bound(ts: &[i64], x: i64) -> usize {
    ts.partition_point(|&t| t < x)
}

impl FoldPlan {
    /// Lays out the folds on the reference axis `reference_ts` (strictly increasing UTC µs).
    pub fn build(reference_ts: &[i64], cfg: &FoldConfig) -> Result<FoldPlan> {
        cfg.validate()?;
        check_sorted(reference_ts)?;
        let axis = reference_ts;
        let n = axis.len();
        let end = axis[n - 1] + 1;
        let align = cfg.align_to_calendar;
        let anchor = if align {
            calendar::align_down(axis[0], cfg.step)?
        } else {
            axis[0]
        };
        let mut first = shift(axis, anchor, cfg.min_train, 1)?;
        if align {
            first = calendar::align_up(first, cfg.step)?;
        }
        let mut folds: Vec<PlannedFold> = Vec::new();
        for k in 0i64.. {
            let test_start = shift(axis, first, cfg.step, k)?;
            if test_start >= end {
                break;
            }
            if let Some(prev) = folds.last()
                && test_start <= prev.test_start
            {
                break;
            }
            let raw_end = shift(axis, test_start, cfg.test, 1)?;
            let partial = raw_end > end;
            if partial && !cfg.keep_partial_last {
                break;
            }
            let test_end = raw_end.min(end);
            if let Some(prev) = folds.last()
                && prev.test_end > test_start
            {
                return Err(invalid(
                    "step",
                    "consecutive test blocks overlap: the step must be at least the test size",
                ));
            }
            let train_start = match cfg.train_window {
                TrainWindow::Expanding => axis[0],
                TrainWindow::Rolling(s) => shift(axis, test_start, s, -1)?.max(axis[0]),
            };
            let valid_start = match cfg.validation {
                Validation::None => test_start,
                Validation::Fraction(f) => {
                    let (a, b) = (
                        lower_bound(axis, train_start),
                        lower_bound(axis, test_start),
                    );
                    let nv = (f * (b - a) as f64).round() as usize;
                    if nv == 0 { test_start } else { axis[b - nv] }
                }
                Validation::Span(s) => shift(axis, test_start, s, -1)?.max(train_start),
            };
            folds.push(PlannedFold {
                id: folds.len() as u32,
                train_start,
                valid_start,
                test_start,
                test_end,
                partial,
            });
            if partial {
                break;
            }
        }
        if folds.is_empty() {
            return Err(EvalError::NoFolds(format!(
                "{n} rows do not cover the minimum training span {:?} plus a test block",
                cfg.min_train
            )));
        }
        Ok(FoldPlan {
            horizon: cfg.horizon,
            embargo: cfg.embargo_rows(),
            folds,
        })
    }

    /// Maps the plan to a pair's timestamps (strictly increasing UTC µs) and purges. Folds keep
    /// their ids; a fold may come out with empty ranges when the pair has no rows there (see
    /// [`FoldRows::is_usable`]).
    pub fn map(&self, ts: &[i64]) -> Result<Vec<FoldRows>> {
        check_sorted(ts)?;
        let h = self.horizon;
        let bounds = |r: &Range<usize>| {
            (!r.is_empty()).then(|| TimeBounds {
                first: ts[r.start],
                last: ts[r.end - 1],
            })
        };
        Ok(self
            .folds
            .iter()
            .map(|f| {
                let a_tr = lower_bound(ts, f.train_start);
                let a_va = lower_bound(ts, f.valid_start).max(a_tr);
                let a_te = lower_bound(ts, f.test_start).max(a_va);
                let b_te = lower_bound(ts, f.test_end).max(a_te);
                // Purge validation against test: keep i with i + h < a_te.
                let valid = a_va..a_te.saturating_sub(h).max(a_va);
                // Purge train against the first later block (validation if any, else test).
                let block = if valid.is_empty() { a_te } else { valid.start };
                let train = a_tr..block.saturating_sub(h).clamp(a_tr, a_va);
                // Embargo: rows in [b_te, b_te + embargo) may not be training rows. Training
                // ends before the test block here, so this removes nothing (see module doc).
                debug_assert!(train.end <= a_te);
                let rows = FoldRows {
                    id: f.id,
                    purged_train: (a_va - a_tr) - train.len(),
                    purged_valid: (a_te - a_va) - valid.len(),
                    train_time: bounds(&train),
                    valid_time: bounds(&valid),
                    test_time: bounds(&(a_te..b_te)),
                    train,
                    valid,
                    test: a_te..b_te,
                    partial: f.partial,
                };
                debug_assert_eq!(rows.check(h, self.embargo), Ok(()));
                rows
            })
            .collect())
    }
}

/// Moves `us` by `times` spans. Bar spans move along `axis` (from the first bar at or after
/// `us`); a forward move past the last bar returns a virtual time `end + overshoot` (> end) so
/// that callers can tell a partial block, a backward move before the first bar clamps to it.
fn shift(axis: &[i64], us: i64, span: Span, times: i64) -> Result<i64> {
    match span {
        Span::Bars(b) => {
            let n = axis.len() as i64;
            let i = lower_bound(axis, us) as i64 + times * b as i64;
            let end = axis[axis.len() - 1] + 1;
            Ok(if i >= n {
                end + (i - n)
            } else if i < 0 {
                axis[0]
            } else {
                axis[i as usize]
            })
        }
        Span::Days(d) => (times)
            .checked_mul(d as i64 * MICROS_PER_DAY)
            .and_then(|x| us.checked_add(x))
            .ok_or(EvalError::TimeOutOfRange(us)),
        Span::Months(m) => calendar::add_months(us, times * m as i64),
        Span::Years(y) => calendar::add_months(us, times * 12 * y as i64),
    }
}

/// Civil-date arithmetic on UTC microseconds (proleptic Gregorian; H. Hinnant's algorithms).
pub mod calendar {
    use super::{MICROS_PER_DAY, Span};
    use crate::error::{EvalError, Result};

    /// Days since 1970-01-01 of a civil date.
    pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m as i64 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Civil date `(year, month, day)` of a day count since 1970-01-01.
    pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    /// Number of days of a month.
    pub fn days_in_month(y: i64, m: u32) -> u32 {
        match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            _ => 28,
        }
    }

    /// Adds calendar months, keeping the time of day and clamping the day of month.
    pub fn add_months(us: i64, months: i64) -> Result<i64> {
        let day = us.div_euclid(MICROS_PER_DAY);
        let tod = us.rem_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(day);
        let total = y * 12 + (m as i64 - 1) + months;
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        if !(1..=9999).contains(&ny) {
            return Err(EvalError::TimeOutOfRange(us));
        }
        let nd = d.min(days_in_month(ny, nm));
        Ok(days_from_civil(ny, nm, nd) * MICROS_PER_DAY + tod)
    }

    /// The start of the calendar unit of `span` (midnight, the 1st, January 1st) that contains
    /// `us`; `us` itself for bar spans.
    pub fn align_down(us: i64, span: Span) -> Result<i64> {
        let day = us.div_euclid(MICROS_PER_DAY);
        let (y, m, _) = civil_from_days(day);
        Ok(match span {
            Span::Bars(_) => us,
            Span::Days(_) => day * MICROS_PER_DAY,
            Span::Months(_) => days_from_civil(y, m, 1) * MICROS_PER_DAY,
            Span::Years(_) => days_from_civil(y, 1, 1) * MICROS_PER_DAY,
        })
    }

    /// The first unit start at or after `us` (see [`align_down`]).
    pub fn align_up(us: i64, span: Span) -> Result<i64> {
        let down = align_down(us, span)?;
        if down == us {
            return Ok(us);
        }
        match span {
            Span::Bars(_) => Ok(us),
            Span::Days(_) => Ok(down + MICROS_PER_DAY),
            Span::Months(_) => add_months(down, 1),
            Span::Years(_) => add_months(down, 12),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::calendar::*;
    use super::*;
    use bqx_domain::format_utc_micros;

    fn day(y: i64, m: u32, d: u32) -> i64 {
        days_from_civil(y, m, d) * MICROS_PER_DAY
    }

    #[test]
    fn civil_dates_agree_with_chrono_formatting() {
        // Every 7th day over 1900..2100, plus day boundaries, against bqx-domain (chrono).
        let mut z = days_from_civil(1900, 1, 1);
        let end = days_from_civil(2100, 12, 31);
        while z <= end {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
            let s = format_utc_micros(z * MICROS_PER_DAY);
            assert_eq!(s, format!("{y:04}-{m:02}-{d:02}T00:00:00Z"));
            z += 7;
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn month_arithmetic_clamps_and_keeps_time_of_day() {
        let t = day(2024, 1, 31) + 13 * 3_600_000_000;
        assert_eq!(
            format_utc_micros(add_months(t, 1).unwrap()),
            "2024-02-29T13:00:00Z"
        );
        assert_eq!(
            format_utc_micros(add_months(t, 13).unwrap()),
            "2025-02-28T13:00:00Z"
        );
        assert_eq!(
            format_utc_micros(add_months(t, -2).unwrap()),
            "2023-11-30T13:00:00Z"
        );
        assert_eq!(
            format_utc_micros(add_months(day(2020, 2, 29), 12).unwrap()),
            "2021-02-28T00:00:00Z"
        );
        assert_eq!(
            align_up(day(2024, 5, 17) + 1, Span::Months(1)).unwrap(),
            day(2024, 6, 1)
        );
        assert_eq!(
            align_up(day(2024, 1, 1), Span::Years(1)).unwrap(),
            day(2024, 1, 1)
        );
        assert_eq!(
            align_down(day(2024, 12, 31) + 5, Span::Years(1)).unwrap(),
            day(2024, 1, 1)
        );
        assert!(add_months(day(9999, 12, 1), 1).is_err());
    }

    /// Weekday daily bars from `start` (a Monday) for `n` weekdays.
    fn weekdays(start: i64, n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut t = start;
        while out.len() < n {
            let dow = (t / MICROS_PER_DAY + 3).rem_euclid(7); // 0 = Monday
            if dow < 5 {
                out.push(t);
            }
            t += MICROS_PER_DAY;
        }
        out
    }

    #[test]
    fn daily_defaults_give_calendar_years() {
        // 2000-01-03 (Monday) .. about 2010-06.
        let ts = weekdays(day(2000, 1, 3), 2700);
        let cfg = FoldConfig::default_for(Timeframe::D1, 5);
        let plan = FoldPlan::build(&ts, &cfg).unwrap();
        let starts: Vec<String> = plan
            .folds
            .iter()
            .map(|f| format_utc_micros(f.test_start)[..10].to_string())
            .collect();
        assert_eq!(
            starts,
            [
                "2005-01-01",
                "2006-01-01",
                "2007-01-01",
                "2008-01-01",
                "2009-01-01",
                "2010-01-01"
            ]
        );
        assert!(plan.folds[..5].iter().all(|f| !f.partial));
        assert!(plan.folds[5].partial);
        assert_eq!(plan.folds[0].test_end, day(2006, 1, 1));
        assert_eq!(plan.folds[0].train_start, ts[0]);
        let rows = plan.map(&ts).unwrap();
        for r in &rows {
            r.check(5, 5).unwrap();
            assert_eq!(r.purged_valid, 5);
            assert_eq!(r.purged_train, 5);
            assert!(r.is_usable(100));
        }
        // Contiguous test blocks tile the data from the first test year on.
        for w in rows.windows(2) {
            assert_eq!(w[0].test.end, w[1].test.start);
        }
        assert_eq!(rows.last().unwrap().test.end, ts.len());
        // Without keeping the partial block the 2010 fold disappears.
        let strict = FoldConfig {
            keep_partial_last: false,
            ..cfg
        };
        assert_eq!(FoldPlan::build(&ts, &strict).unwrap().folds.len(), 5);
    }

    #[test]
    fn minute_defaults_and_rolling_window() {
        // One bar per hour for ~14 months, starting mid-month.
        let start = day(2021, 3, 15);
        let ts: Vec<i64> = (0..24 * 420).map(|i| start + i * 3_600_000_000).collect();
        let mut cfg = FoldConfig::default_for(Timeframe::M1, 60);
        cfg.train_window = TrainWindow::Rolling(Span::Months(3));
        cfg.validation = Validation::Span(Span::Days(7));
        let plan = FoldPlan::build(&ts, &cfg).unwrap();
        // Anchor 2021-03-01 + 6 months → first test month September 2021.
        assert_eq!(plan.folds[0].test_start, day(2021, 9, 1));
        assert_eq!(plan.folds[0].test_end, day(2021, 10, 1));
        assert_eq!(plan.folds[0].train_start, day(2021, 6, 1));
        assert_eq!(plan.folds[0].valid_start, day(2021, 8, 25));
        assert_eq!(plan.folds[1].train_start, day(2021, 7, 1));
        for r in plan.map(&ts).unwrap() {
            r.check(60, 60).unwrap();
        }
    }

    #[test]
    fn bar_spans_and_errors() {
        let ts: Vec<i64> = (0..100).map(|i| i * 1000).collect();
        let cfg = FoldConfig {
            train_window: TrainWindow::Expanding,
            min_train: Span::Bars(40),
            test: Span::Bars(20),
            step: Span::Bars(20),
            horizon: 3,
            validation: Validation::Span(Span::Bars(10)),
            embargo: None,
            align_to_calendar: true,
            keep_partial_last: true,
        };
        let plan = FoldPlan::build(&ts, &cfg).unwrap();
        assert_eq!(plan.folds.len(), 3);
        let rows = plan.map(&ts).unwrap();
        assert_eq!(rows[0].test, 40..60);
        assert_eq!(rows[0].valid, 30..37);
        assert_eq!(rows[0].train, 0..27);
        assert_eq!(rows[2].test, 80..100);
        assert!(!rows[2].partial);
        // Overlapping test blocks are refused.
        let bad = FoldConfig {
            step: Span::Bars(10),
            ..cfg
        };
        assert!(matches!(
            FoldPlan::build(&ts, &bad),
            Err(EvalError::InvalidParameter { name: "step", .. })
        ));
        let bad = FoldConfig {
            embargo: Some(2),
            ..cfg
        };
        assert!(FoldPlan::build(&ts, &bad).is_err());
        let short = FoldConfig {
            min_train: Span::Bars(100),
            ..cfg
        };
        assert!(matches!(
            FoldPlan::build(&ts, &short),
            Err(EvalError::NoFolds(_))
        ));
        assert!(matches!(
            FoldPlan::build(&[1, 3, 2], &cfg),
            Err(EvalError::UnsortedTimestamps { row: 2 })
        ));
        // A row check that fails: train reaching into test.
        let broken = FoldRows {
            train: 0..39,
            ..rows[0].clone()
        };
        assert!(broken.check(3, 3).is_err());
    }
}
