//! Integer date arithmetic and hand-written time-stamp parsing (no chrono per row).

use bqx_domain::{MICROS_PER_DAY, MICROS_PER_SECOND};

use crate::tz::parse_offset;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = ((m + 9) % 12) as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Microseconds at 00:00 of a date, or `None` if the date does not exist.
pub(crate) fn day_micros(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || !(1..=9999).contains(&y) {
        return None;
    }
    Some(days_from_civil(y, m, d) * MICROS_PER_DAY)
}

/// Value of an all-digit slice (at most 9 digits), `None` otherwise.
#[inline]
pub(crate) fn dig(b: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.wrapping_mul(10).wrapping_add(d as u32);
    }
    Some(v)
}

/// Caches the last date so that consecutive rows of one day skip the calendar arithmetic.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DateCache {
    key: u32,
    day: i64,
}

impl DateCache {
    /// Microseconds at 00:00 of `yyyymmdd`, or `None` if no such date.
    #[inline]
    pub(crate) fn day(&mut self, ymd: u32) -> Option<i64> {
        if ymd == self.key && ymd != 0 {
            return Some(self.day);
        }
        let day = day_micros((ymd / 10_000) as i64, ymd / 100 % 100, ymd % 100)?;
        self.key = ymd;
        self.day = day;
        Some(day)
    }
}

/// Microseconds of a clock time within a day, or `None` when out of range.
#[inline]
pub(crate) fn clock_micros(h: u32, m: u32, s: u32, us: u32) -> Option<i64> {
    if h > 23 || m > 59 || s > 59 || us > 999_999 {
        return None;
    }
    Some((h * 3600 + m * 60 + s) as i64 * MICROS_PER_SECOND + us as i64)
}

/// A parsed time stamp: the wall-clock time as if it were UTC, plus the offset if stamped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub local: i64,
    /// Seconds east of UTC when the stamp carries its own zone (`Z`, `+01:00`, `GMT+0100`).
    pub offset: Option<i32>,
    pub date_only: bool,
}

impl Stamp {
    /// UTC microseconds when the stamp carries its zone.
    pub(crate) fn explicit_utc(&self) -> Option<i64> {
        self.offset
            .map(|o| self.local - o as i64 * MICROS_PER_SECOND)
    }
}

/// Parses a date: `YYYY-MM-DD`, `YYYY.MM.DD`, `YYYY/MM/DD`, `YYYYMMDD` or day-first `DD.MM.YYYY`.
pub(crate) fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() == 8 {
        let v = dig(b)?;
        return Some(((v / 10_000) as i64, v / 100 % 100, v % 100));
    }
    let sep = *b.iter().find(|c| matches!(c, b'-' | b'.' | b'/'))?;
    let mut parts = s.split(sep as char);
    let (a, m, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || m.is_empty() || m.len() > 2 {
        return None;
    }
    let (y, d) = if a.len() == 4 && (1..=2).contains(&c.len()) {
        (a, c)
    } else if sep == b'.' && c.len() == 4 && (1..=2).contains(&a.len()) {
        (c, a)
    } else {
        return None;
    };
    Some((
        dig(y.as_bytes())? as i64,
        dig(m.as_bytes())?,
        dig(d.as_bytes())?,
    ))
}

/// Parses a clock time: `HH:MM`, `HH:MM:SS`, `HH:MM:SS.ffffff`, `HHMMSS` or `HHMMSSmmm`;
/// returns microseconds since midnight.
pub(crate) fn parse_clock(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if !b.contains(&b':') {
        return match b.len() {
            6 => {
                let v = dig(b)?;
                clock_micros(v / 10_000, v / 100 % 100, v % 100, 0)
            }
            9 => {
                let v = dig(&b[..6])?;
                clock_micros(v / 10_000, v / 100 % 100, v % 100, dig(&b[6..])? * 1000)
            }
            _ => None,
        };
    }
    let (hms, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = hms.split(':');
    let h = parts.next()?;
    let m = parts.next()?;
    let sec = parts.next().unwrap_or("00");
    if parts.next().is_some()
        || !(1..=2).contains(&h.len())
        || m.len() != 2
        || sec.len() != 2
        || (frac.is_some() && hms.len() < 7)
    {
        return None;
    }
    let us = match frac {
        None => 0,
        Some(f) if f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()) => return None,
        Some(f) => {
            let take = &f.as_bytes()[..f.len().min(6)];
            dig(take)? * 10u32.pow(6 - take.len() as u32)
        }
    };
    clock_micros(
        dig(h.as_bytes())?,
        dig(m.as_bytes())?,
        dig(sec.as_bytes())?,
        us,
    )
}

/// Parses a zone suffix: `Z`, `UTC`, `GMT`, `+01:00`, `-0500`, `GMT+0100`, `UTC+2`.
pub(crate) fn parse_zone(s: &str) -> Option<i32> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    if matches!(upper.as_str(), "Z" | "UTC" | "GMT") {
        return Some(0);
    }
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    parse_offset(rest.trim())
}

/// `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DD HH:MM:SS` exactly (the canonical CSV stamps).
#[inline]
fn iso_fast(b: &[u8]) -> Option<Stamp> {
    let offset = match b.len() {
        20 if b[19] == b'Z' => Some(0),
        19 => None,
        _ => return None,
    };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let day = day_micros(dig(&b[0..4])? as i64, dig(&b[5..7])?, dig(&b[8..10])?)?;
    let clock = clock_micros(dig(&b[11..13])?, dig(&b[14..16])?, dig(&b[17..19])?, 0)?;
    Some(Stamp {
        local: day + clock,
        offset,
        date_only: false,
    })
}

/// Parses an ISO-8601-like stamp or an epoch number: dates as in [`parse_date`], an optional
/// `T`/space and clock as in [`parse_clock`], an optional zone as in [`parse_zone`]. Bare integers
/// of 9+ digits are epoch seconds, milliseconds, microseconds or nanoseconds by magnitude.
pub(crate) fn parse_stamp(s: &str) -> Option<Stamp> {
    if let Some(st) = iso_fast(s.as_bytes()) {
        return Some(st);
    }
    let s = s.trim().trim_matches('"').trim();
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.len() >= 9 && digits.len() <= 20 && digits.bytes().all(|c| c.is_ascii_digit()) {
        let v: i128 = s.parse().ok()?;
        let us = match digits.len() {
            9..=11 => v * 1_000_000,
            12..=14 => v * 1_000,
            15..=17 => v,
            _ => v / 1_000,
        };
        let us = i64::try_from(us).ok()?;
        return Some(Stamp {
            local: us,
            offset: Some(0),
            date_only: false,
        });
    }
    // Split date | rest at the first 'T' or space (a compact YYYYMMDD date has neither inside).
    let split = b
        .iter()
        .position(|&c| c == b'T' || c == b't' || c == b' ')
        .unwrap_or(b.len());
    let (y, m, d) = parse_date(&s[..split])?;
    let day = day_micros(y, m, d)?;
    let rest = s[split..]
        .trim_start_matches(['T', 't'])
        .trim_start_matches(' ');
    if rest.is_empty() {
        return Some(Stamp {
            local: day,
            offset: None,
            date_only: true,
        });
    }
    let clock_end = rest
        .bytes()
        .position(|c| !(c.is_ascii_digit() || c == b':' || c == b'.' || c == b','))
        .unwrap_or(rest.len());
    let clock = parse_clock(&rest[..clock_end])?;
    let zone = rest[clock_end..].trim();
    let offset = if zone.is_empty() {
        None
    } else {
        Some(parse_zone(zone)?)
    };
    Some(Stamp {
        local: day + clock,
        offset,
        date_only: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bqx_domain::format_utc_micros;

    fn utc(s: &str) -> String {
        let st = parse_stamp(s).unwrap_or_else(|| panic!("{s}"));
        format_utc_micros(st.explicit_utc().unwrap_or(st.local))
    }

    #[test]
    fn civil_days_match_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (1999, 1, 4),
            (2000, 2, 29),
            (2024, 3, 5),
            (1900, 3, 1),
        ] {
            let ours = days_from_civil(y, m, d);
            let theirs = chrono::NaiveDate::from_ymd_opt(y as i32, m, d)
                .unwrap()
                .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days();
            assert_eq!(ours, theirs, "{y}-{m}-{d}");
        }
        assert!(day_micros(2023, 2, 29).is_none());
        assert!(day_micros(2024, 2, 29).is_some());
        assert!(day_micros(2024, 13, 1).is_none());
    }

    #[test]
    fn stamps_in_every_spelling() {
        assert_eq!(utc("2024-03-05T22:00:00Z"), "2024-03-05T22:00:00Z");
        assert_eq!(utc("2024-03-05 23:00:00+01:00"), "2024-03-05T22:00:00Z");
        assert_eq!(
            utc("05.03.2024 23:00:00.000 GMT+0100"),
            "2024-03-05T22:00:00Z"
        );
        assert_eq!(utc("05.03.2024 22:00:00.000"), "2024-03-05T22:00:00Z");
        assert_eq!(utc("20240305 22:00:00.118"), "2024-03-05T22:00:00.118000Z");
        assert_eq!(utc("20240305 170000"), "2024-03-05T17:00:00Z");
        assert_eq!(utc("20240305 170000123"), "2024-03-05T17:00:00.123000Z");
        assert_eq!(utc("2024.03.06 00:01"), "2024-03-06T00:01:00Z");
        assert_eq!(utc("1709676000"), "2024-03-05T22:00:00Z");
        assert_eq!(utc("1709676000000"), "2024-03-05T22:00:00Z");
        let d = parse_stamp("2024-03-05").unwrap();
        assert!(d.date_only && d.offset.is_none());
        for bad in [
            "2024-02-30T00:00:00Z",
            "2024-03-05T25:00:00Z",
            "yesterday",
            "2024-03-05T22:00:00Q",
        ] {
            assert!(parse_stamp(bad).is_none(), "{bad}");
        }
    }
}
