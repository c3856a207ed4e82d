use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
pub const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// UTC microseconds since the Unix epoch of a naive date-time read as UTC.
pub fn micros_from_datetime(dt: NaiveDateTime) -> i64 {
    dt.and_utc().timestamp_micros()
}

pub fn micros_to_datetime(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).expect("timestamp within chrono's range")
}

/// `2024-03-05T22:00:00Z` (fractional seconds only when present).
pub fn format_utc_micros(us: i64) -> String {
    let dt = micros_to_datetime(us);
    if us % MICROS_PER_SECOND == 0 {
        dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// The FX weekend in UTC: from Friday 22:00 to Sunday 21:00 UTC, the hours in which the market
/// is closed both in winter (17:00 New York = 22:00 UTC) and in US summer time (21:00 UTC), so
/// no bar inside it is expected whatever the season.
pub fn is_fx_weekend(us: i64) -> bool {
    let dt = micros_to_datetime(us);
    let hour = dt.hour();
    match dt.weekday() {
        chrono::Weekday::Fri => hour >= 22,
        chrono::Weekday::Sat => true,
        chrono::Weekday::Sun => hour < 21,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn formats_and_detects_weekends() {
        let dt = NaiveDate::from_ymd_opt(2024, 3, 5)
            .unwrap()
            .and_hms_opt(22, 0, 0)
            .unwrap();
        let us = micros_from_datetime(dt);
        assert_eq!(format_utc_micros(us), "2024-03-05T22:00:00Z");
        assert!(!is_fx_weekend(us)); // Tuesday
        let sat = micros_from_datetime(
            NaiveDate::from_ymd_opt(2024, 3, 9)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
        );
        assert!(is_fx_weekend(sat));
        let sun_open = micros_from_datetime(
            NaiveDate::from_ymd_opt(2024, 3, 10)
                .unwrap()
                .and_hms_opt(21, 0, 0)
                .unwrap(),
        );
        assert!(!is_fx_weekend(sun_open));
    }
}
