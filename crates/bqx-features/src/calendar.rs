//! Calendar and session features of the bar's open time (UTC). Pure functions of the row's own
//! time stamp: defined from row 0, no warm-up.
//!
//! Sessions by UTC hour of the bar open: Asia [00, 09), Europe [07, 16), US [12, 21); overlaps
//! Asia–Europe [07, 09) and Europe–US [12, 16). The spec's "bars since session open" is given
//! in time, `minutes_since_session_open` (since the latest of 00:00, 07:00, 12:00 UTC), because
//! a row count depends on the bar period and on gaps the kernel cannot know without inventing
//! history. The weekly close is Friday 21:00 UTC.

use bqx_domain::{MICROS_PER_DAY, MICROS_PER_MINUTE};

use crate::{BarInput, Domain, FeatureSpec, Kernel};

const NAMES: [(&str, &str); 14] = [
    (
        "cal_hour_sin",
        "sin(2*pi*h/24), h = hour + minute/60 of the bar open (UTC)",
    ),
    ("cal_hour_cos", "cos(2*pi*h/24)"),
    (
        "cal_weekday_sin",
        "sin(2*pi*d/7), d = 0 (Monday) .. 6 (Sunday)",
    ),
    ("cal_weekday_cos", "cos(2*pi*d/7)"),
    ("cal_month_sin", "sin(2*pi*(month-1)/12)"),
    ("cal_month_cos", "cos(2*pi*(month-1)/12)"),
    ("cal_session_asia", "1 if 00:00 <= time < 09:00 UTC else 0"),
    (
        "cal_session_europe",
        "1 if 07:00 <= time < 16:00 UTC else 0",
    ),
    ("cal_session_us", "1 if 12:00 <= time < 21:00 UTC else 0"),
    (
        "cal_overlap_asia_europe",
        "1 if 07:00 <= time < 09:00 UTC else 0",
    ),
    (
        "cal_overlap_europe_us",
        "1 if 12:00 <= time < 16:00 UTC else 0",
    ),
    (
        "cal_minutes_since_session_open",
        "minutes since the latest session open (00:00, 07:00 or 12:00 UTC)",
    ),
    (
        "cal_hours_to_friday_close",
        "hours from the bar open to the next Friday 21:00 UTC (0 at or after it until the weekend ends)",
    ),
    (
        "cal_days_to_month_end",
        "calendar days from the bar's date to the last day of its month",
    ),
];

/// (year, month 1..12, day 1..31) of a day number since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// The 14 calendar and session features.
#[derive(Debug, Clone, Default)]
pub struct CalendarKernel;

impl CalendarKernel {
    pub fn new() -> CalendarKernel {
        CalendarKernel
    }
}

impl Kernel for CalendarKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        NAMES
            .iter()
            .map(|&(name, f)| FeatureSpec {
                name: name.to_string(),
                family: "calendar",
                domain: Domain::Rate,
                window: None,
                formula: f.to_string(),
                warmup: 0,
            })
            .collect()
    }

    fn width(&self) -> usize {
        NAMES.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        use std::f64::consts::TAU;
        let day = bar.ts.div_euclid(MICROS_PER_DAY);
        let tod_min = bar.ts.rem_euclid(MICROS_PER_DAY) as f64 / MICROS_PER_MINUTE as f64;
        let h = tod_min / 60.0;
        let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday (d = 3)
        let (y, m, d) = civil_from_days(day);
        let flag = |lo: f64, hi: f64| if (lo..hi).contains(&h) { 1.0 } else { 0.0 };
        let open = if h >= 12.0 {
            12.0
        } else if h >= 7.0 {
            7.0
        } else {
            0.0
        };
        // Next Friday 21:00 UTC, measured from the start of this week's Monday.
        let week_min = weekday as f64 * 1440.0 + tod_min;
        let close_min = 4.0 * 1440.0 + 21.0 * 60.0;
        let to_close = ((close_min - week_min) / 60.0).max(0.0);
        out.copy_from_slice(&[
            (TAU * h / 24.0).sin(),
            (TAU * h / 24.0).cos(),
            (TAU * weekday as f64 / 7.0).sin(),
            (TAU * weekday as f64 / 7.0).cos(),
            (TAU * (m - 1) as f64 / 12.0).sin(),
            (TAU * (m - 1) as f64 / 12.0).cos(),
            flag(0.0, 9.0),
            flag(7.0, 16.0),
            flag(12.0, 21.0),
            flag(7.0, 9.0),
            flag(12.0, 16.0),
            tod_min - open * 60.0,
            to_close,
            (days_in_month(y, m) - d) as f64,
        ]);
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
