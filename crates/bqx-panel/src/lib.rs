//! The aligned 28-pair panel and the data-health report.
//!
//! Pure functions over bar columns (no IO): the store loads the series, this crate aligns them on
//! one time grid and checks them.

use bqx_domain::{
    BarColumns, MICROS_PER_DAY, MICROS_PER_HOUR, Pair, PriceSide, Timeframe, Triangle,
};
use chrono::{Datelike, Duration, NaiveDate, Timelike, Weekday};
use serde::Serialize;

/// The closes of up to 28 pairs on the union of their timestamps (`NaN` where a pair has no bar).
#[derive(Debug, Clone)]
pub struct Panel {
    pub timeframe: Timeframe,
    pub ts: Vec<i64>,
    /// `close[pair.index()][row]`.
    pub close: Vec<Vec<f64>>,
    /// Which side each pair's column comes from (`None` when the pair has no data).
    pub sides: Vec<Option<PriceSide>>,
}

impl Panel {
    /// Aligns the given series (one per pair at most) on the union of their timestamps.
    pub fn align(timeframe: Timeframe, series: &[(Pair, PriceSide, &BarColumns)]) -> Panel {
        let mut ts: Vec<i64> = series
            .iter()
            .flat_map(|(_, _, b)| b.ts.iter().copied())
            .collect();
        ts.sort_unstable();
        ts.dedup();
        let mut close = vec![Vec::new(); Pair::COUNT];
        let mut sides = vec![None; Pair::COUNT];
        for (pair, side, bars) in series {
            let mut col = vec![f64::NAN; ts.len()];
            let mut j = 0;
            for (i, &t) in bars.ts.iter().enumerate() {
                while ts[j] < t {
                    j += 1;
                }
                col[j] = bars.close[i];
            }
            close[pair.index()] = col;
            sides[pair.index()] = Some(*side);
        }
        for col in close.iter_mut() {
            if col.is_empty() {
                *col = vec![f64::NAN; ts.len()];
            }
        }
        Panel {
            timeframe,
            ts,
            close,
            sides,
        }
    }

    pub fn rows(&self) -> usize {
        self.ts.len()
    }

    /// Rows where all 28 pairs have a close.
    pub fn complete_rows(&self) -> usize {
        (0..self.rows())
            .filter(|&r| self.close.iter().all(|c| !c[r].is_nan()))
            .count()
    }
}

/// A stretch without bars that the FX weekend (or, for daily data, weekends and single
/// holidays) does not explain.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub from: i64,
    pub to: i64,
    pub hours: f64,
}

/// A change of the UTC hour at which the trading week opens.
#[derive(Debug, Clone, Serialize)]
pub struct DstShift {
    /// First bar of the week whose open hour differs from the previous week's.
    pub week_open: i64,
    pub hour_before: u32,
    pub hour_after: u32,
    /// Whether the change falls in the week of a US daylight-saving change: with correct UTC
    /// conversion the FX week (17:00 New York) opens an hour earlier in UTC in US summer time,
    /// so a shift elsewhere suggests a wrong source time zone.
    pub matches_us_dst: bool,
}

/// Health of one stored series.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesHealth {
    pub pair: Pair,
    pub side: PriceSide,
    pub timeframe: Timeframe,
    pub bars: usize,
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub gaps: usize,
    /// The largest gaps (at most 5), largest first.
    pub largest_gaps: Vec<Gap>,
    pub dst_shifts: Vec<DstShift>,
    /// US DST changes inside the data across which the week-open hour did NOT move (see
    /// [`DstShift::matches_us_dst`]): a sign of a fixed `--tz` offset for a source that follows
    /// DST.
    pub missing_dst_shifts: usize,
    /// Runs of at least `stale_run` identical consecutive closes.
    pub stale_runs: usize,
    pub longest_stale_run: usize,
    pub ohlc_violations: usize,
    /// Close-only series (open = high = low = close everywhere), e.g. daily fixes.
    pub close_only: bool,
}

/// Summary of one triangle's log residual `ln P_ab − ln P_ac + ln P_bc` on the panel.
#[derive(Debug, Clone, Serialize)]
pub struct TriangleHealth {
    pub triangle: String,
    pub rows: usize,
    pub mean_abs: f64,
    pub max_abs: f64,
    pub max_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PanelHealth {
    pub timeframe: Timeframe,
    pub rows: usize,
    pub complete_rows: usize,
    pub pairs_present: usize,
    /// Per pair: share of panel rows where it has a bar.
    pub coverage: Vec<(Pair, f64)>,
    /// All triangles whose three pairs are present, worst first.
    pub triangles: Vec<TriangleHealth>,
}

/// How many identical closes in a row count as a stale quote.
pub fn stale_run_threshold(tf: Timeframe) -> usize {
    if tf.secs() >= 86_400 { 5 } else { 30 }
}

/// Checks one series.
pub fn series_health(
    pair: Pair,
    side: PriceSide,
    tf: Timeframe,
    bars: &BarColumns,
) -> SeriesHealth {
    let n = bars.len();
    let mut gaps = Vec::new();
    for w in bars.ts.windows(2) {
        if let Some(g) = unexplained_gap(tf, w[0], w[1]) {
            gaps.push(g);
        }
    }
    let gap_count = gaps.len();
    gaps.sort_by(|a, b| b.hours.total_cmp(&a.hours));
    gaps.truncate(5);

    let opens = if tf.secs() < 86_400 {
        week_opens(&bars.ts)
    } else {
        Vec::new()
    };
    let threshold = stale_run_threshold(tf);
    let (mut stale_runs, mut longest, mut run) = (0, 1usize.min(n), 1usize);
    for i in 1..n {
        if bars.close[i] == bars.close[i - 1] {
            run += 1;
        } else {
            if run >= threshold {
                stale_runs += 1;
            }
            run = 1;
        }
        longest = longest.max(run);
    }
    if n > 0 && run >= threshold {
        stale_runs += 1;
    }
    let ohlc_violations = (0..n)
        .filter(|&i| {
            let (o, h, l, c) = (bars.open[i], bars.high[i], bars.low[i], bars.close[i]);
            !(o > 0.0 && h > 0.0 && l > 0.0 && c > 0.0 && l <= o.min(c) && o.max(c) <= h)
        })
        .count();
    let close_only = n > 0
        && (0..n).all(|i| {
            bars.open[i] == bars.close[i]
                && bars.high[i] == bars.close[i]
                && bars.low[i] == bars.close[i]
        });
    SeriesHealth {
        pair,
        side,
        timeframe: tf,
        bars: n,
        first: bars.ts.first().copied(),
        last: bars.ts.last().copied(),
        gaps: gap_count,
        largest_gaps: gaps,
        dst_shifts: dst_shifts(&opens),
        missing_dst_shifts: missing_dst_shifts(&opens),
        stale_runs,
        longest_stale_run: if n == 0 { 0 } else { longest },
        ohlc_violations,
        close_only,
    }
}

/// Whether the time between two consecutive bars is more than the weekend (and, for daily data,
/// short holidays) explains.
fn unexplained_gap(tf: Timeframe, a: i64, b: i64) -> Option<Gap> {
    let gap = || Gap {
        from: a,
        to: b,
        hours: (b - a) as f64 / MICROS_PER_HOUR as f64,
    };
    if tf.secs() >= 86_400 {
        // Daily: count the weekdays strictly between the two dates; up to two missing weekdays
        // are holidays (Easter, Christmas), more is a gap.
        let (da, db) = (day(a), day(b));
        let mut missing = 0;
        let mut d = da + Duration::days(1);
        while d < db {
            if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                missing += 1;
            }
            d += Duration::days(1);
        }
        return (missing > 2).then(gap);
    }
    // Intraday: minutes without ticks have no row, so only stretches longer than an hour (or ten
    // bars) count, after removing the weekend closure from Friday 21:00 to Sunday 22:00 UTC.
    let threshold = (10 * tf.micros()).max(MICROS_PER_HOUR);
    if b - a <= threshold {
        return None;
    }
    let open_time = (b - a) - weekend_overlap(a, b);
    (open_time > threshold).then(gap)
}

fn day(us: i64) -> NaiveDate {
    bqx_domain::micros_to_datetime(us).date_naive()
}

/// Microseconds of [a, b) that fall in a weekend closure (Friday 21:00 – Sunday 22:00 UTC, the
/// union of the winter and summer closures).
fn weekend_overlap(a: i64, b: i64) -> i64 {
    let mut total = 0;
    // Walk the Fridays from the one before `a` to after `b`.
    let mut d = day(a) - Duration::days(7);
    while d.weekday() != Weekday::Fri {
        d += Duration::days(1);
    }
    let end = day(b) + Duration::days(1);
    while d <= end {
        let close = bqx_domain::micros_from_datetime(d.and_hms_opt(21, 0, 0).expect("valid"));
        let open = close + 2 * MICROS_PER_DAY + MICROS_PER_HOUR;
        let lo = close.max(a);
        let hi = open.min(b);
        if hi > lo {
            total += hi - lo;
        }
        d += Duration::days(7);
    }
    total
}

/// Week opens: the first bar after each break of 24 h or more that lands on a Sunday or
/// Monday (UTC), with its date and hour.
fn week_opens(ts: &[i64]) -> Vec<(i64, NaiveDate, u32)> {
    ts.windows(2)
        .filter(|w| w[1] - w[0] >= MICROS_PER_DAY)
        .map(|w| (w[1], bqx_domain::micros_to_datetime(w[1])))
        .filter(|(_, dt)| matches!(dt.weekday(), Weekday::Sun | Weekday::Mon))
        .map(|(t, dt)| (t, dt.date_naive(), dt.hour()))
        .collect()
}

/// Week-open hour changes between consecutive week opens.
fn dst_shifts(opens: &[(i64, NaiveDate, u32)]) -> Vec<DstShift> {
    opens
        .windows(2)
        .filter(|w| w[0].2 != w[1].2)
        .map(|w| DstShift {
            week_open: w[1].0,
            hour_before: w[0].2,
            hour_after: w[1].2,
            matches_us_dst: near_us_dst_change(w[1].1),
        })
        .collect()
}

/// US DST changes spanned by two consecutive week opens (at most 8 days apart) whose hour did
/// not change: with a correct source time zone the FX week opens an hour earlier in UTC during
/// US summer time, so a missing shift suggests a fixed offset given for a DST-switching source.
fn missing_dst_shifts(opens: &[(i64, NaiveDate, u32)]) -> usize {
    opens
        .windows(2)
        .filter(|w| (w[1].1 - w[0].1).num_days() <= 8 && w[0].2 == w[1].2)
        .filter(|w| {
            us_dst_changes(w[1].1.year())
                .iter()
                .any(|c| w[0].1 < *c && *c <= w[1].1)
        })
        .count()
}

fn us_dst_changes(year: i32) -> [NaiveDate; 2] {
    let nth_sunday = |month: u32, n: u32| {
        let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid");
        let offset = (7 - first.weekday().num_days_from_sunday()) % 7;
        first + Duration::days((offset + 7 * (n - 1)) as i64)
    };
    [nth_sunday(3, 2), nth_sunday(11, 1)]
}

/// The US changes clocks on the second Sunday of March and the first Sunday of November.
fn near_us_dst_change(d: NaiveDate) -> bool {
    us_dst_changes(d.year())
        .iter()
        .any(|c| (d - *c).num_days().abs() <= 3)
}

/// Coverage and triangle residuals of an aligned panel.
pub fn panel_health(panel: &Panel) -> PanelHealth {
    let rows = panel.rows();
    let coverage: Vec<(Pair, f64)> = Pair::ALL
        .iter()
        .filter(|p| panel.sides[p.index()].is_some())
        .map(|&p| {
            let have = panel.close[p.index()]
                .iter()
                .filter(|x| !x.is_nan())
                .count();
            (
                p,
                if rows == 0 {
                    0.0
                } else {
                    have as f64 / rows as f64
                },
            )
        })
        .collect();
    let mut triangles = Vec::new();
    for t in Triangle::all() {
        let [ab, ac, bc] = t.pairs();
        if [ab, ac, bc]
            .iter()
            .any(|p| panel.sides[p.index()].is_none())
        {
            continue;
        }
        let (cab, cac, cbc) = (
            &panel.close[ab.index()],
            &panel.close[ac.index()],
            &panel.close[bc.index()],
        );
        let (mut n, mut sum, mut max, mut max_at) = (0usize, 0.0, 0.0f64, None);
        for r in 0..rows {
            let (x, y, z) = (cab[r], cac[r], cbc[r]);
            if x.is_nan() || y.is_nan() || z.is_nan() {
                continue;
            }
            let res = Triangle::log_residual([x, y, z]).abs();
            n += 1;
            sum += res;
            if res > max {
                max = res;
                max_at = Some(panel.ts[r]);
            }
        }
        triangles.push(TriangleHealth {
            triangle: t.name(),
            rows: n,
            mean_abs: if n == 0 { 0.0 } else { sum / n as f64 },
            max_abs: max,
            max_at,
        });
    }
    triangles.sort_by(|a, b| b.max_abs.total_cmp(&a.max_abs));
    PanelHealth {
        timeframe: panel.timeframe,
        rows,
        complete_rows: panel.complete_rows(),
        pairs_present: coverage.len(),
        coverage,
        triangles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bqx_domain::{MICROS_PER_MINUTE, micros_from_datetime};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        micros_from_datetime(
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, min, 0)
                .unwrap(),
        )
    }

    fn bars(ts: &[i64], close: &[f64]) -> BarColumns {
        let mut b = BarColumns::with_capacity(ts.len(), false, false);
        for (t, c) in ts.iter().zip(close) {
            b.push(*t, *c, *c, *c, *c, 0.0, 0.0);
        }
        b
    }

    #[test]
    fn weekend_is_not_a_gap_but_a_weekday_hole_is() {
        let eur = Pair::parse("EURUSD").unwrap();
        // Friday 2024-03-08 21:59 UTC -> Sunday 2024-03-10 22:00 UTC: the weekend.
        let fri = at(2024, 3, 8, 21, 59);
        let sun = at(2024, 3, 10, 22, 0);
        // Then Sunday 22:01 -> Monday 01:01 UTC: a three-hour hole in the open market.
        let hole = sun + MICROS_PER_MINUTE;
        let ts = [
            fri,
            sun,
            hole,
            hole + 3 * MICROS_PER_HOUR,
            hole + 3 * MICROS_PER_HOUR + MICROS_PER_MINUTE,
        ];
        let h = series_health(
            eur,
            PriceSide::Bid,
            Timeframe::M1,
            &bars(&ts, &[1.0, 1.1, 1.2, 1.3, 1.4]),
        );
        assert_eq!(h.gaps, 1);
        assert_eq!(h.largest_gaps[0].from, hole);
        assert!((h.largest_gaps[0].hours - 3.0).abs() < 1e-9);
        assert!(h.close_only);
    }

    #[test]
    fn daily_holidays_are_not_gaps_but_a_missing_week_is() {
        let eur = Pair::parse("EURUSD").unwrap();
        // Thu 2024-03-28 -> Tue 2024-04-02 (Good Friday, Easter Monday): not a gap.
        // Tue 2024-04-02 -> Tue 2024-04-09: four weekdays missing: a gap.
        let ts = [
            at(2024, 3, 28, 13, 15),
            at(2024, 4, 2, 12, 15),
            at(2024, 4, 9, 12, 15),
        ];
        let h = series_health(
            eur,
            PriceSide::Fix,
            Timeframe::D1,
            &bars(&ts, &[1.0, 1.1, 1.2]),
        );
        assert_eq!(h.gaps, 1);
        assert!(h.dst_shifts.is_empty());
    }

    #[test]
    fn stale_runs_and_ohlc_violations_are_counted() {
        let eur = Pair::parse("EURUSD").unwrap();
        let ts: Vec<i64> = (0..40)
            .map(|i| at(2024, 3, 5, 10, 0) + i * MICROS_PER_MINUTE)
            .collect();
        let mut close = vec![1.1; 35];
        close.extend([1.2, 1.3, 1.4, 1.5, 1.6]);
        let mut b = bars(&ts, &close);
        b.high[39] = 1.0; // high below close
        let h = series_health(eur, PriceSide::Bid, Timeframe::M1, &b);
        assert_eq!((h.stale_runs, h.longest_stale_run), (1, 35));
        assert_eq!(h.ohlc_violations, 1);
        assert!(!h.close_only);
    }

    #[test]
    fn week_open_shift_at_us_dst_is_recognised() {
        let eur = Pair::parse("EURUSD").unwrap();
        // Week opens: 2024-03-03 22:00 UTC (winter), 2024-03-10 21:00 UTC (US DST began that
        // Sunday), 2024-03-31 22:00 UTC (a shift at the EU date: suspicious).
        let ts = [
            at(2024, 3, 1, 21, 0),
            at(2024, 3, 3, 22, 0),
            at(2024, 3, 8, 20, 0),
            at(2024, 3, 10, 21, 0),
            at(2024, 3, 29, 20, 0),
            at(2024, 3, 31, 22, 0),
        ];
        let h = series_health(eur, PriceSide::Bid, Timeframe::M1, &bars(&ts, &[1.0; 6]));
        assert_eq!(h.dst_shifts.len(), 2);
        assert!(h.dst_shifts[0].matches_us_dst);
        assert_eq!(
            (h.dst_shifts[0].hour_before, h.dst_shifts[0].hour_after),
            (22, 21)
        );
        assert!(!h.dst_shifts[1].matches_us_dst);
        assert_eq!(h.missing_dst_shifts, 0);
        // A fixed offset given for DST-switching broker time: the week keeps opening at 22:00
        // UTC across the US change on 2024-03-10.
        let fixed = [
            at(2024, 3, 1, 21, 0),
            at(2024, 3, 3, 22, 0),
            at(2024, 3, 8, 21, 0),
            at(2024, 3, 10, 22, 0),
        ];
        let h = series_health(eur, PriceSide::Bid, Timeframe::M1, &bars(&fixed, &[1.0; 4]));
        assert!(h.dst_shifts.is_empty());
        assert_eq!(h.missing_dst_shifts, 1);
    }

    #[test]
    fn triangle_residuals_on_the_panel() {
        let value = [1.08, 1.27, 0.66, 0.61, 1.0, 0.73, 1.13, 0.0067];
        let ts = [0, MICROS_PER_MINUTE];
        let mut owned = Vec::new();
        for p in Pair::ALL {
            let price = value[p.base().priority()] / value[p.quote().priority()];
            let mut c = [price, price];
            if p.name() == "GBPUSD" {
                c[1] *= 1.001; // a bad quote at the second row
            }
            owned.push((p, bars(&ts, &c)));
        }
        let series: Vec<(Pair, PriceSide, &BarColumns)> =
            owned.iter().map(|(p, b)| (*p, PriceSide::Mid, b)).collect();
        let panel = Panel::align(Timeframe::M1, &series);
        let h = panel_health(&panel);
        assert_eq!((h.rows, h.complete_rows, h.pairs_present), (2, 2, 28));
        assert_eq!(h.triangles.len(), 56);
        // GBPUSD is in 6 triangles: those are the worst, at the second row, by ln(1.001).
        for t in &h.triangles[..6] {
            assert!((t.max_abs - 1.001f64.ln()).abs() < 1e-12, "{t:?}");
            assert_eq!(t.max_at, Some(MICROS_PER_MINUTE));
        }
        assert!(h.triangles[6].max_abs < 1e-12);
    }
}
