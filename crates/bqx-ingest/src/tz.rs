//! Source time zones and the local-time → UTC conversion used by every parser.

use std::fmt;
use std::str::FromStr;

use bqx_domain::{MICROS_PER_HOUR, MICROS_PER_SECOND};
use chrono::{DateTime, LocalResult, TimeZone};
use chrono_tz::Tz;

/// The time zone in which a file's naive stamps are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceTz {
    /// UTC / GMT.
    Utc,
    /// A fixed offset, in seconds east of UTC (HistData's EST is `Fixed(-18000)`).
    Fixed(i32),
    /// An IANA zone such as `Europe/Athens`, with its daylight-saving rules.
    Iana(Tz),
    /// The common broker server clock: New York local time + 7 h (UTC+2 in winter, UTC+3 in US
    /// summer time, switching on US DST dates), so that server midnight is 17:00 New York.
    NyClose,
}

impl SourceTz {
    /// HistData's convention: EST without daylight saving.
    pub const HISTDATA_EST: SourceTz = SourceTz::Fixed(-5 * 3600);

    /// Converts a local wall-clock time (microseconds since 1970-01-01 read as if UTC) to UTC.
    pub(crate) fn to_utc(self, local: i64, cache: &mut TzCache) -> Conv {
        match self {
            SourceTz::Utc => Conv::Single(local),
            SourceTz::Fixed(secs) => Conv::Single(local - secs as i64 * MICROS_PER_SECOND),
            SourceTz::Iana(tz) => iana_to_utc(tz, local, cache),
            SourceTz::NyClose => iana_to_utc(
                chrono_tz::America::New_York,
                local - 7 * MICROS_PER_HOUR,
                cache,
            ),
        }
    }

    /// Converts a local time, mapping the outcome to the reject vocabulary.
    pub(crate) fn resolve(
        &self,
        local: i64,
        cache: &mut TzCache,
        ambiguous: &mut u64,
    ) -> Result<i64, String> {
        match self.to_utc(local, cache) {
            Conv::Single(us) => Ok(us),
            Conv::Ambiguous(us) => {
                *ambiguous += 1;
                Ok(us)
            }
            Conv::Nonexistent => Err(format!(
                "local time {} does not exist in {} (skipped by a daylight-saving change)",
                fmt_local(local),
                self
            )),
        }
    }
}

/// Outcome of a local → UTC conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conv {
    Single(i64),
    /// The local time occurred twice; the earlier instant.
    Ambiguous(i64),
    /// The local time fell into a daylight-saving gap.
    Nonexistent,
}

/// Per-thread cache of the offset of the last local hour that had one unambiguous offset.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TzCache {
    hour: i64,
    offset: i64,
}

impl Default for TzCache {
    fn default() -> Self {
        TzCache {
            hour: i64::MIN,
            offset: 0,
        }
    }
}

fn chrono_at(tz: Tz, local: i64) -> LocalResult<i64> {
    let Some(naive) = DateTime::from_timestamp_micros(local).map(|d| d.naive_utc()) else {
        return LocalResult::None;
    };
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(dt) => LocalResult::Single(dt.timestamp_micros()),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.timestamp_micros(), b.timestamp_micros());
            LocalResult::Ambiguous(a.min(b), a.max(b))
        }
        LocalResult::None => LocalResult::None,
    }
}

fn iana_to_utc(tz: Tz, local: i64, cache: &mut TzCache) -> Conv {
    let hour = local.div_euclid(MICROS_PER_HOUR);
    if hour == cache.hour {
        return Conv::Single(local - cache.offset);
    }
    let start = hour * MICROS_PER_HOUR;
    let end = start + MICROS_PER_HOUR - 1;
    if let (LocalResult::Single(a), LocalResult::Single(b)) =
        (chrono_at(tz, start), chrono_at(tz, end))
        && start - a == end - b
    {
        cache.hour = hour;
        cache.offset = start - a;
        return Conv::Single(local - cache.offset);
    }
    match chrono_at(tz, local) {
        LocalResult::Single(us) => Conv::Single(us),
        LocalResult::Ambiguous(earlier, _) => Conv::Ambiguous(earlier),
        LocalResult::None => Conv::Nonexistent,
    }
}

/// `2024-03-10 02:30:00` for a local wall-clock time.
pub(crate) fn fmt_local(local: i64) -> String {
    match DateTime::from_timestamp_micros(local) {
        Some(dt) => dt.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string(),
        None => local.to_string(),
    }
}

/// Parses `+2`, `-05:00`, `+0100`, `+5:30` (sign required) into seconds east of UTC.
pub(crate) fn parse_offset(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let (h, m) = if let Some((h, m)) = rest.split_once(':') {
        (h, m)
    } else if rest.len() == 4 {
        rest.split_at(2)
    } else {
        (rest, "0")
    };
    if h.is_empty() || h.len() > 2 || m.is_empty() || m.len() > 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

impl FromStr for SourceTz {
    type Err = String;

    /// `UTC`, `GMT`, `Z`, `UTC+2`, `UTC-05:00`, `GMT+0100`, `+02:00`, `ny-close`, or an IANA name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        if matches!(lower.as_str(), "utc" | "gmt" | "z" | "etc/utc" | "etc/gmt") {
            return Ok(SourceTz::Utc);
        }
        if matches!(
            lower.as_str(),
            "ny-close" | "nyclose" | "ny_close" | "ny+7" | "new-york-close"
        ) {
            return Ok(SourceTz::NyClose);
        }
        let rest = lower
            .strip_prefix("utc")
            .or_else(|| lower.strip_prefix("gmt"))
            .unwrap_or(&lower);
        if let Some(secs) = parse_offset(rest.trim()) {
            return Ok(if secs == 0 {
                SourceTz::Utc
            } else {
                SourceTz::Fixed(secs)
            });
        }
        if let Ok(tz) = t.parse::<Tz>() {
            return Ok(SourceTz::Iana(tz));
        }
        Err(format!(
            "'{s}' is not a time zone: use UTC, UTC+2, UTC-05:00, GMT+0100, ny-close \
             (broker server time = New York + 7 h) or an IANA name such as Europe/Athens"
        ))
    }
}

impl fmt::Display for SourceTz {
    /// A stable description that parses back: `UTC`, `UTC+02:00`, `Europe/Athens`, `ny-close`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SourceTz::Utc => f.write_str("UTC"),
            SourceTz::Fixed(0) => f.write_str("UTC"),
            SourceTz::Fixed(secs) => {
                let sign = if secs < 0 { '-' } else { '+' };
                let a = secs.unsigned_abs();
                write!(f, "UTC{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
            }
            SourceTz::Iana(tz) => f.write_str(tz.name()),
            SourceTz::NyClose => f.write_str("ny-close"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bqx_domain::format_utc_micros;

    fn local(s: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    fn utc(tz: SourceTz, s: &str) -> Conv {
        tz.to_utc(local(s), &mut TzCache::default())
    }

    fn single(c: Conv) -> String {
        match c {
            Conv::Single(us) => format_utc_micros(us),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_and_displays_zones() {
        let cases = [
            ("UTC", SourceTz::Utc, "UTC"),
            ("gmt", SourceTz::Utc, "UTC"),
            ("UTC+2", SourceTz::Fixed(7200), "UTC+02:00"),
            ("UTC-05:00", SourceTz::Fixed(-18000), "UTC-05:00"),
            ("GMT+0100", SourceTz::Fixed(3600), "UTC+01:00"),
            ("+02:00", SourceTz::Fixed(7200), "UTC+02:00"),
            ("UTC+5:30", SourceTz::Fixed(19800), "UTC+05:30"),
            ("ny-close", SourceTz::NyClose, "ny-close"),
            (
                "Europe/Athens",
                SourceTz::Iana(chrono_tz::Europe::Athens),
                "Europe/Athens",
            ),
        ];
        for (s, tz, shown) in cases {
            let parsed: SourceTz = s.parse().unwrap();
            assert_eq!(parsed, tz, "{s}");
            assert_eq!(parsed.to_string(), shown);
            assert_eq!(shown.parse::<SourceTz>().unwrap(), tz, "round trip {shown}");
        }
        assert!("Mars/Olympus".parse::<SourceTz>().is_err());
        assert!("UTC+25".parse::<SourceTz>().is_err());
    }

    #[test]
    fn ny_close_follows_us_dst() {
        // Winter (before the US switch on 2024-03-10): server = UTC+2.
        assert_eq!(
            single(utc(SourceTz::NyClose, "2024-03-06 00:00:00")),
            "2024-03-05T22:00:00Z"
        );
        // After the US switch, before the EU switch: UTC+3 already.
        assert_eq!(
            single(utc(SourceTz::NyClose, "2024-03-12 00:00:00")),
            "2024-03-11T21:00:00Z"
        );
        assert_eq!(
            single(utc(SourceTz::NyClose, "2024-07-01 00:00:00")),
            "2024-06-30T21:00:00Z"
        );
    }

    #[test]
    fn gaps_and_overlaps() {
        let ny = SourceTz::Iana(chrono_tz::America::New_York);
        assert_eq!(utc(ny, "2024-03-10 02:30:00"), Conv::Nonexistent);
        // 2024-11-03 01:30 happens twice in New York: EDT (05:30Z) then EST (06:30Z).
        match utc(ny, "2024-11-03 01:30:00") {
            Conv::Ambiguous(us) => assert_eq!(format_utc_micros(us), "2024-11-03T05:30:00Z"),
            other => panic!("{other:?}"),
        }
        // The cache must not leak an offset across the switch.
        let mut cache = TzCache::default();
        let a = ny.to_utc(local("2024-03-10 01:59:00"), &mut cache);
        let b = ny.to_utc(local("2024-03-10 03:00:00"), &mut cache);
        assert_eq!(single(a), "2024-03-10T06:59:00Z");
        assert_eq!(single(b), "2024-03-10T07:00:00Z");
    }
}
