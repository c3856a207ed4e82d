//! The bar calendar: which time steps are open.
//!
//! Intraday: the market closes on Friday 17:00 New York time and reopens on Sunday 17:00 New
//! York time (America/New_York, so in UTC the week runs Sunday 22:00 - Friday 22:00 in winter and
//! Sunday 21:00 - Friday 21:00 during US daylight saving time). A bar exists when its open time
//! is inside the open market. Daily: one bar per weekday at 00:00 UTC.

use bqx_domain::{MICROS_PER_DAY, MICROS_PER_HOUR};
use chrono::{Datelike, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::America::New_York;

/// True when the intraday market is closed at UTC microsecond `us` (Friday 17:00 to Sunday
/// 17:00 New York time).
pub(crate) fn ny_weekend(us: i64) -> bool {
    let secs = us.div_euclid(1_000_000);
    let utc = Utc
        .timestamp_opt(secs, 0)
        .single()
        .expect("timestamp within chrono's range");
    let ny = utc.with_timezone(&New_York);
    match ny.weekday() {
        Weekday::Fri => ny.hour() >= 17,
        Weekday::Sat => true,
        Weekday::Sun => ny.hour() < 17,
        _ => false,
    }
}

/// Saturday or Sunday in UTC.
fn utc_weekend_day(us: i64) -> bool {
    // 1970-01-01 was a Thursday (weekday index 3 with Monday = 0).
    let wd = (us.div_euclid(MICROS_PER_DAY) + 3).rem_euclid(7);
    wd >= 5
}

/// The first `bars` open bar times on the `tf_micros` grid at or after `start`.
pub(crate) fn bar_times(start: i64, tf_micros: i64, daily: bool, bars: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(bars);
    let mut t = start.div_euclid(tf_micros) * tf_micros;
    if t < start {
        t += tf_micros;
    }
    // Weekend boundaries fall on whole UTC hours, so cache the answer per hour.
    let mut cached_hour = i64::MIN;
    let mut closed = false;
    while out.len() < bars {
        let is_closed = if daily {
            utc_weekend_day(t)
        } else {
            let hour = t.div_euclid(MICROS_PER_HOUR);
            if hour != cached_hour {
                cached_hour = hour;
                closed = ny_weekend(hour * MICROS_PER_HOUR);
            }
            closed
        };
        if !is_closed {
            out.push(t);
        }
        t += tf_micros;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bqx_domain::{is_fx_weekend, micros_from_datetime};
    use chrono::NaiveDate;

    fn us(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        micros_from_datetime(
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, min, 0)
                .unwrap(),
        )
    }

    #[test]
    fn weekend_follows_new_york_time() {
        // Winter: Friday 2024-01-05 closes at 22:00 UTC, Sunday 2024-01-07 opens at 22:00 UTC.
        assert!(!ny_weekend(us(2024, 1, 5, 21, 59)));
        assert!(ny_weekend(us(2024, 1, 5, 22, 0)));
        assert!(ny_weekend(us(2024, 1, 7, 21, 59)));
        assert!(!ny_weekend(us(2024, 1, 7, 22, 0)));
        // Summer: Friday 2024-07-05 closes at 21:00 UTC, Sunday 2024-07-07 opens at 21:00 UTC.
        assert!(!ny_weekend(us(2024, 7, 5, 20, 59)));
        assert!(ny_weekend(us(2024, 7, 5, 21, 0)));
        assert!(ny_weekend(us(2024, 7, 7, 20, 59)));
        assert!(!ny_weekend(us(2024, 7, 7, 21, 0)));
        // The domain's conservative weekend is always inside ours.
        let mut t = us(2024, 1, 1, 0, 0);
        while t < us(2025, 1, 1, 0, 0) {
            if is_fx_weekend(t) {
                assert!(ny_weekend(t), "{t}");
            }
            t += MICROS_PER_HOUR;
        }
    }

    #[test]
    fn daily_bars_skip_saturday_and_sunday() {
        // Start on Friday 2024-01-05 at noon: next grid point is Saturday, so Monday comes first.
        let t = bar_times(us(2024, 1, 5, 12, 0), MICROS_PER_DAY, true, 3);
        assert_eq!(
            t,
            vec![
                us(2024, 1, 8, 0, 0),
                us(2024, 1, 9, 0, 0),
                us(2024, 1, 10, 0, 0)
            ]
        );
        // Starting inside the intraday weekend moves to the Sunday open.
        let t = bar_times(us(2024, 7, 6, 3, 7), 60_000_000, false, 1);
        assert_eq!(t, vec![us(2024, 7, 7, 21, 0)]);
    }
}
