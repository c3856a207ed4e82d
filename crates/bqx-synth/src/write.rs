//! Writers: a generic long CSV and HistData-style per-pair files, with hand-written fixed-decimal
//! and timestamp formatting (the writers format tens of millions of numbers).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bqx_domain::{MICROS_PER_HOUR, MICROS_PER_SECOND, Timeframe, format_utc_micros};
use rayon::prelude::*;

use crate::SynthMarket;
use crate::model;

const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Appends the decimal digits of `n`.
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `v` with exactly `decimals` (≤ 9) digits after the point, like `{:.decimals$}` for
/// values that are not within rounding noise of a half-way point.
pub(crate) fn push_fixed(buf: &mut Vec<u8>, v: f64, decimals: usize) {
    let p = POW10[decimals];
    let scaled = (v.abs() * p as f64).round();
    if !v.is_finite() || scaled >= 9.0e15 {
        // Outside the fast path's exact integer range: let std do it.
        let _ = write!(buf, "{v:.decimals$}");
        return;
    }
    let n = scaled as u64;
    if v.is_sign_negative() {
        buf.push(b'-');
    }
    push_u64(buf, n / p);
    if decimals > 0 {
        buf.push(b'.');
        let mut frac = n % p;
        let start = buf.len();
        buf.resize(start + decimals, b'0');
        for slot in buf[start..].iter_mut().rev() {
            *slot = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
    }
}

fn push_2(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `2024-03-05T22:00:00Z` (whole seconds, years 0-9999; anything else via the domain crate).
fn push_iso(buf: &mut Vec<u8>, us: i64) {
    let secs = us.div_euclid(MICROS_PER_SECOND);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    if us % MICROS_PER_SECOND != 0 || !(0..=9999).contains(&y) {
        buf.extend_from_slice(format_utc_micros(us).as_bytes());
        return;
    }
    let sod = secs.rem_euclid(86_400) as u32;
    push_2(buf, (y / 100) as u32);
    push_2(buf, (y % 100) as u32);
    buf.push(b'-');
    push_2(buf, mo);
    buf.push(b'-');
    push_2(buf, d);
    buf.push(b'T');
    push_2(buf, sod / 3600);
    buf.push(b':');
    push_2(buf, sod / 60 % 60);
    buf.push(b':');
    push_2(buf, sod % 60);
    buf.push(b'Z');
}

/// Writes the whole market as one long CSV: header
/// `timestamp,pair,open,high,low,close,volume,spread`, one row per bar, ordered by timestamp
/// then pair (canonical pair order); timestamps ISO-8601 UTC (`2024-03-05T22:00:00Z`), prices
/// and spread with the pair's tick precision (5 decimals, 3 for JPY-quoted pairs), volume as an
/// integer. Returns the number of data rows.
pub fn write_generic_csv(m: &SynthMarket, w: &mut impl Write) -> io::Result<u64> {
    w.write_all(b"timestamp,pair,open,high,low,close,volume,spread\n")?;
    let mut order: Vec<usize> = (0..m.series.len()).collect();
    order.sort_by_key(|&i| m.series[i].0);
    let row = |buf: &mut Vec<u8>, s: usize, i: usize| {
        let (pair, bars) = &m.series[s];
        let dec = model::price_decimals(*pair) as usize;
        buf.push(b',');
        buf.extend_from_slice(pair.name().as_bytes());
        for col in [&bars.open, &bars.high, &bars.low, &bars.close] {
            buf.push(b',');
            push_fixed(buf, col[i], dec);
        }
        buf.push(b',');
        if let Some(v) = &bars.volume {
            push_fixed(buf, v[i], 0);
        }
        buf.push(b',');
        if let Some(v) = &bars.spread {
            push_fixed(buf, v[i], dec);
        }
        buf.push(b'\n');
    };

    let aligned = m.series.windows(2).all(|s| s[0].1.ts == s[1].1.ts);
    if aligned {
        // All pairs share the timestamps: format blocks of timestamps in parallel, write in order.
        let n = m.series.first().map_or(0, |s| s.1.len());
        const BLOCK: usize = 1_024;
        let blocks: Vec<usize> = (0..n).step_by(BLOCK).collect();
        for group in blocks.chunks(16) {
            let bufs: Vec<Vec<u8>> = group
                .par_iter()
                .map(|&start| {
                    let mut buf = Vec::with_capacity(BLOCK * m.series.len() * 72);
                    let end = (start + BLOCK).min(n);
                    let mut stamp = Vec::with_capacity(32);
                    for (i, &t) in m.series[0].1.ts[start..end].iter().enumerate() {
                        let i = start + i;
                        stamp.clear();
                        push_iso(&mut stamp, t);
                        for &s in &order {
                            buf.extend_from_slice(&stamp);
                            row(&mut buf, s, i);
                        }
                    }
                    buf
                })
                .collect();
            for b in bufs {
                w.write_all(&b)?;
            }
        }
        return Ok((n * m.series.len()) as u64);
    }

    // General case: merge the series by timestamp.
    let mut next = vec![0usize; m.series.len()];
    let mut rows = 0u64;
    let mut buf = Vec::with_capacity(1 << 16);
    loop {
        let min = order
            .iter()
            .filter_map(|&s| m.series[s].1.ts.get(next[s]).copied())
            .min();
        let Some(t) = min else { break };
        for &s in &order {
            if m.series[s].1.ts.get(next[s]) == Some(&t) {
                push_iso(&mut buf, t);
                row(&mut buf, s, next[s]);
                next[s] += 1;
                rows += 1;
            }
        }
        if buf.len() > 1 << 15 {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    Ok(rows)
}

/// HistData's fixed EST offset: UTC − 5 h all year, no daylight saving.
const EST_OFFSET_MICROS: i64 = -5 * MICROS_PER_HOUR;

/// The HistData file name tag of a timeframe: `M1`, `M5`, `H1`, `D1`, …
fn histdata_tag(tf: Timeframe) -> String {
    tf.name().to_ascii_uppercase()
}

/// Writes one HistData.com "Generic ASCII" file per pair into `dir` (created if missing):
/// `DAT_ASCII_{PAIR}_M1_{YEAR}.csv` (`_D1_`, `_H1_`, … for other timeframes), no header, lines
/// `YYYYMMDD HHMMSS;open;high;low;close;0` with `\n` endings, timestamps in fixed EST (UTC − 5 h
/// all year, no DST) and prices with exactly 6 decimals. `YEAR` is the EST year of the pair's
/// first bar, as in HistData's own files (so a market starting 2024-01-01T00:00Z, which is
/// 2023-12-31 19:00 EST, gets `_2023`). Files are formatted per pair in parallel. Returns the
/// paths in the market's pair order.
pub fn write_histdata_dir(m: &SynthMarket, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let tag = histdata_tag(m.timeframe);
    let any_first = m.series.iter().find_map(|(_, b)| b.ts.first().copied());
    m.series
        .par_iter()
        .map(|(pair, bars)| {
            let first = bars.ts.first().copied().or(any_first).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "the market has no bars")
            })?;
            let est_secs = (first + EST_OFFSET_MICROS).div_euclid(MICROS_PER_SECOND);
            let (year, _, _) = civil_from_days(est_secs.div_euclid(86_400));
            let path = dir.join(format!("DAT_ASCII_{}_{tag}_{year}.csv", pair.name()));
            let mut file = File::create(&path)?;
            const FLUSH: usize = 1 << 18;
            let mut buf = Vec::with_capacity(FLUSH + 256);
            let mut cached_day = i64::MIN;
            let mut date = [0u8; 8];
            for i in 0..bars.len() {
                let secs = (bars.ts[i] + EST_OFFSET_MICROS).div_euclid(MICROS_PER_SECOND);
                let day = secs.div_euclid(86_400);
                if day != cached_day {
                    cached_day = day;
                    let (y, mo, d) = civil_from_days(day);
                    let mut tmp = Vec::with_capacity(8);
                    push_2(&mut tmp, (y.rem_euclid(10_000) / 100) as u32);
                    push_2(&mut tmp, (y % 100) as u32);
                    push_2(&mut tmp, mo);
                    push_2(&mut tmp, d);
                    date.copy_from_slice(&tmp);
                }
                let sod = secs.rem_euclid(86_400) as u32;
                buf.extend_from_slice(&date);
                buf.push(b' ');
                push_2(&mut buf, sod / 3600);
                push_2(&mut buf, sod / 60 % 60);
                push_2(&mut buf, sod % 60);
                for col in [&bars.open, &bars.high, &bars.low, &bars.close] {
                    buf.push(b';');
                    push_fixed(&mut buf, col[i], 6);
                }
                buf.extend_from_slice(b";0\n");
                if buf.len() >= FLUSH {
                    file.write_all(&buf)?;
                    buf.clear();
                }
            }
            file.write_all(&buf)?;
            file.flush()?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fixed_formatting_of_tick_grid_prices_matches_std(
            ticks in 1u64..400_000_000,
            jpy in any::<bool>(),
            decimals in prop::sample::select(vec![3usize, 5, 6]),
        ) {
            let v = ticks as f64 / if jpy { 1e3 } else { 1e5 };
            let mut b = Vec::new();
            push_fixed(&mut b, v, decimals);
            let expected = format!("{v:.decimals$}");
            // Exact ties (1.23450 to 3 decimals) may round either way; prices never need it.
            let scaled = v * POW10[decimals] as f64;
            prop_assume!((scaled.fract() - 0.5).abs() > 1e-6);
            prop_assert_eq!(String::from_utf8(b).unwrap(), expected);
        }
    }

    #[test]
    fn civil_dates_match_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for days in (-800_000..800_000).step_by(97).chain(-3..3) {
            let d = epoch + chrono::Duration::days(days);
            assert_eq!(
                civil_from_days(days),
                (d.year() as i64, d.month(), d.day()),
                "{days}"
            );
        }
    }

    #[test]
    fn iso_timestamps_match_the_domain_formatter() {
        for us in [
            0i64,
            1_709_676_000_000_000,
            1_709_676_000_000_000 + 59 * MICROS_PER_SECOND,
            -86_400_000_000,
            1_709_676_000_123_456,
            951_782_400_000_000, // 2000-02-29
        ] {
            let mut b = Vec::new();
            push_iso(&mut b, us);
            assert_eq!(String::from_utf8(b).unwrap(), format_utc_micros(us));
        }
    }

    #[test]
    fn fixed_formatting_matches_std() {
        let check = |v: f64, d: usize| {
            let mut b = Vec::new();
            push_fixed(&mut b, v, d);
            assert_eq!(String::from_utf8(b).unwrap(), format!("{v:.d$}"), "{v} {d}");
        };
        for v in [
            0.0,
            -0.0,
            1.0,
            1.08542,
            150.123,
            0.00001,
            99.9999996,
            12345.678901,
            -1.5e-3,
        ] {
            for d in [0, 3, 5, 6, 9] {
                if (v * POW10[d] as f64).fract().abs() != 0.5 {
                    check(v, d);
                }
            }
        }
        check(1e300, 6);
        check(f64::NAN, 6);
        for n in (1u64..20_000_000).step_by(7_919) {
            check(n as f64 / 1e5, 6);
            check(n as f64 / 1e5, 5);
            check(n as f64 / 1e3, 6);
            check(n as f64 / 1e3, 3);
        }
    }
}
