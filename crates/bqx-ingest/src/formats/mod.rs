//! One module per layout, plus the value checks they share.

pub(crate) mod dukascopy;
pub(crate) mod ecb;
pub(crate) mod generic;
pub(crate) mod histdata;
pub(crate) mod mt;
pub(crate) mod truefx;

use bqx_domain::Pair;

use crate::RejectKind;
use crate::civil::Stamp;
use crate::driver::{Ctx, Fail, Outcome, Row};
use crate::tz::SourceTz;

/// `a;b;c` → fields, at most `N`; returns `None` when there are more.
#[inline]
pub(crate) fn split_fields<'a, const N: usize>(
    line: &'a str,
    delim: u8,
    out: &mut [&'a str; N],
) -> Option<usize> {
    let mut n = 0;
    let mut start = 0;
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == delim {
            *out.get_mut(n)? = &line[start..i];
            n += 1;
            start = i + 1;
        }
    }
    *out.get_mut(n)? = &line[start..];
    Some(n + 1)
}

/// Counts fields (for a field-count message).
pub(crate) fn count_fields(line: &str, delim: u8) -> usize {
    line.bytes().filter(|&c| c == delim).count() + 1
}

pub(crate) fn field_count_fail(expected: usize, found: usize, layout: &str) -> Fail {
    (
        RejectKind::FieldCount,
        format!("expected {expected} fields ({layout}), found {found}"),
    )
}

/// True for the spellings of a missing value.
pub(crate) fn is_missing(s: &str) -> bool {
    let t = s.trim().trim_matches('"');
    t.is_empty()
        || ["n/a", "na", "null", "none", "nan", "-"]
            .iter()
            .any(|m| t.eq_ignore_ascii_case(m))
}

/// A number field, with the reject reason naming the column.
pub(crate) fn num(s: &str, what: &str) -> Result<f64, Fail> {
    if let Some((v, n)) = plain_decimal(s.as_bytes())
        && n == s.len()
    {
        return Ok(v);
    }
    let t = s.trim().trim_matches('"').trim();
    if is_missing(t) {
        return Err((
            RejectKind::MissingValue,
            format!("{what} is missing ('{t}')"),
        ));
    }
    match fast_float2::parse::<f64, _>(t) {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err((
            RejectKind::BadNumber,
            format!("{what} '{t}' is not a finite number"),
        )),
    }
}

const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The leading ASCII digits of `b[..8]` (at most 8): their value and count. `b` must hold at
/// least 8 bytes. SWAR: one load, a non-digit mask, and Lemire's 8-digit multiply trick.
#[inline(always)]
pub(crate) fn swar8(b: &[u8]) -> (u64, usize) {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    let v = u64::from_le_bytes(w).wrapping_sub(0x3030_3030_3030_3030);
    // A byte is a digit iff v's byte is 0..=9: above 9 (+0x76 reaches 0x80) or wrapped below
    // '0' (top bit set) marks the first non-digit. Carries and borrows only disturb later
    // bytes, past that first non-digit.
    let nondigit = (v.wrapping_add(0x7676_7676_7676_7676) | v) & 0x8080_8080_8080_8080;
    let n = (nondigit.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0);
    }
    // Keep the n digits as the low-order end of an 8-digit number (leading zeros in front).
    let v = v << (8 * (8 - n));
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v = ((v & 0x0000_00FF_0000_00FF)
        .wrapping_mul(0x000F_4240_0000_0064)
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(0x0000_2710_0000_0001)))
        >> 32;
    (v, n)
}

/// A plain decimal `123.4567` of at most 15 significant digits: the digits as an integer
/// divided by a power of ten. Both are exact doubles, so the one IEEE division is correctly
/// rounded (Clinger's fast path) and the result equals a full parser's. Returns the value and
/// the bytes consumed; `None` for anything else (signs, exponents, long mantissas).
#[inline(always)]
fn plain_decimal(b: &[u8]) -> Option<(f64, usize)> {
    if b.len() < 8 {
        return plain_decimal_scalar(b);
    }
    // Integer part and fraction by SWAR (each at most 7 digits here).
    let (int, n) = swar8(b);
    if n == 0 || n == 8 {
        return plain_decimal_scalar(b);
    }
    let (m, digits, i, frac) = if b[n] != b'.' {
        (int, n, n, 0)
    } else if b.len() >= n + 9 {
        let (f, k) = swar8(&b[n + 1..]);
        if k == 8 {
            return plain_decimal_scalar(b);
        }
        (int * POW10_U[k] + f, n + k, n + 1 + k, k)
    } else {
        return plain_decimal_scalar(b);
    };
    if digits > 15
        || matches!(b.get(i), Some(c) if c.is_ascii_digit() || matches!(c, b'e' | b'E' | b'.'))
    {
        return None;
    }
    Some(((m as i64) as f64 / POW10[frac], i))
}

const POW10_U: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

#[inline]
fn plain_decimal_scalar(b: &[u8]) -> Option<(f64, usize)> {
    let mut m: u64 = 0;
    let mut i = 0;
    while i < b.len() && i < 16 {
        let d = b[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        m = m.wrapping_mul(10).wrapping_add(d as u64);
        i = i.wrapping_add(1);
    }
    if i == 0 {
        return None;
    }
    let mut digits = i;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && digits < 16 {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            m = m.wrapping_mul(10).wrapping_add(d as u64);
            i += 1;
            digits += 1;
        }
        frac = i - start;
    }
    if digits > 15
        || matches!(b.get(i), Some(c) if c.is_ascii_digit() || matches!(c, b'e' | b'E' | b'.'))
    {
        return None;
    }
    Some(((m as i64) as f64 / POW10[frac], i))
}

#[inline(always)]
fn parse_partial(b: &[u8]) -> Option<(f64, usize)> {
    match plain_decimal(b) {
        Some(r) => Some(r),
        None => fast_float2::parse_partial::<f64, _>(b).ok(),
    }
}

/// Parses a number followed by `sep`, advancing `rest` past the separator (fast paths).
#[inline(always)]
pub(crate) fn num_then(rest: &mut &[u8], sep: u8) -> Option<f64> {
    let (v, n) = parse_partial(rest)?;
    if rest.get(n) != Some(&sep) {
        return None;
    }
    *rest = &rest[n + 1..];
    Some(v)
}

/// Parses a number that must end the slice (fast paths).
#[inline(always)]
pub(crate) fn num_end(rest: &[u8]) -> Option<f64> {
    let (v, n) = parse_partial(rest)?;
    (n == rest.len()).then_some(v)
}

const NAMES: [&str; 4] = ["open", "high", "low", "close"];

/// Prices finite and > 0, and low ≤ min(open, close) ≤ max(open, close) ≤ high.
#[inline(always)]
pub(crate) fn check_bar(p: &[f64; 4]) -> Result<(), Fail> {
    let [o, h, l, c] = *p;
    let positive = o > 0.0 && h > 0.0 && l > 0.0 && c > 0.0;
    let finite = o < f64::INFINITY && h < f64::INFINITY && l < f64::INFINITY && c < f64::INFINITY;
    if positive && finite && l <= o.min(c) && o.max(c) <= h {
        return Ok(());
    }
    bar_failure(p)
}

/// The check of [`check_bar`] as a bool, for fast paths.
#[inline(always)]
pub(crate) fn bar_ok(p: &[f64; 4]) -> bool {
    let [o, h, l, c] = *p;
    o > 0.0 && h > 0.0 && l > 0.0 && c > 0.0 && h < f64::INFINITY && l <= o.min(c) && o.max(c) <= h
}

/// The check of [`check_tick`] as a bool, for fast paths.
#[inline(always)]
pub(crate) fn tick_ok(bid: f64, ask: f64) -> bool {
    bid > 0.0 && ask >= bid && ask < f64::INFINITY
}

#[cold]
fn bar_failure(p: &[f64; 4]) -> Result<(), Fail> {
    if !p.iter().all(|&v| v > 0.0 && v < f64::INFINITY) {
        for (v, name) in p.iter().zip(NAMES) {
            if !v.is_finite() {
                return Err((
                    RejectKind::BadNumber,
                    format!("{name} {v} is not a finite number"),
                ));
            }
            if *v <= 0.0 {
                return Err((
                    RejectKind::NonPositivePrice,
                    format!("{name} {v} is not > 0"),
                ));
            }
        }
    }
    let [o, h, l, c] = *p;
    if l > o.min(c) {
        return Err((
            RejectKind::OhlcViolation,
            format!("low {l} is above min(open {o}, close {c})"),
        ));
    }
    if o.max(c) > h {
        return Err((
            RejectKind::OhlcViolation,
            format!("high {h} is below max(open {o}, close {c})"),
        ));
    }
    Ok(())
}

/// Volumes and spreads must not be negative.
#[inline]
pub(crate) fn check_nonneg(v: f64, what: &str) -> Result<(), Fail> {
    if v >= 0.0 {
        Ok(())
    } else {
        Err((RejectKind::BadNumber, format!("{what} {v} is negative")))
    }
}

/// Bid and ask finite and > 0, and ask ≥ bid.
#[inline]
pub(crate) fn check_tick(bid: f64, ask: f64) -> Result<(), Fail> {
    for (v, name) in [(bid, "bid"), (ask, "ask")] {
        if !v.is_finite() {
            return Err((
                RejectKind::BadNumber,
                format!("{name} {v} is not a finite number"),
            ));
        }
        if v <= 0.0 {
            return Err((
                RejectKind::NonPositivePrice,
                format!("{name} {v} is not > 0"),
            ));
        }
    }
    if ask < bid {
        return Err((
            RejectKind::CrossedQuote,
            format!("ask {ask} is below bid {bid} (crossed quote)"),
        ));
    }
    Ok(())
}

pub(crate) fn bad_stamp(s: &str, expected: &str) -> Fail {
    (
        RejectKind::BadTimestamp,
        format!(
            "'{}' is not a valid time stamp; expected {expected}",
            s.trim()
        ),
    )
}

/// UTC of a stamp: its own offset if it has one, else `tz` (counting the cases in `ctx`).
pub(crate) fn resolve_stamp(st: Stamp, tz: &SourceTz, ctx: &mut Ctx) -> Result<i64, Fail> {
    if let Some(us) = st.explicit_utc() {
        ctx.stamped += 1;
        ctx.stamped_offset += u64::from(st.offset != Some(0));
        return Ok(us);
    }
    tz.resolve(st.local, &mut ctx.tz, &mut ctx.ambiguous)
        .map_err(|e| (RejectKind::NonexistentLocalTime, e))
}

/// Turns a row-level result into an outcome.
#[inline]
pub(crate) fn outcome(r: Result<Row, Fail>) -> Outcome {
    match r {
        Ok(row) => Outcome::Row(row),
        Err((k, reason)) => Outcome::Reject(k, reason),
    }
}

/// Resolves a pair column value (cached per spelling). `forced` is the `--pair` flag: rows for
/// another pair are rejected.
pub(crate) fn pair_key(s: &str, forced: Option<Pair>, ctx: &mut Ctx) -> Result<u8, Fail> {
    let t = s.trim().trim_matches('"').trim();
    let hit = ctx
        .pairs
        .iter()
        .find(|(k, _)| &**k == t)
        .map(|(_, v)| v.clone());
    let res = match hit {
        Some(v) => v,
        None => {
            let v = match Pair::parse(t) {
                Ok(p) => match forced {
                    Some(f) if f != p => Err(format!("row is for {p} but --pair selects {f}")),
                    _ => Ok(p.index() as u8),
                },
                Err(_) if t.is_empty() => Err("pair is missing".to_string()),
                Err(e) => Err(e.to_string()),
            };
            if ctx.pairs.len() < 64 {
                ctx.pairs.push((t.into(), v.clone()));
            }
            v
        }
    };
    res.map_err(|reason| (RejectKind::UnknownPair, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_match_a_full_parser() {
        let cases = [
            "1.085420",
            "0",
            "12",
            "150.123",
            "0.000001",
            "99999.9999999999",
            "1.7976",
            "7.",
            "123456789012345",
            "0.1",
            "0.3",
            "2.675",
            "1.0854200000000",
        ];
        for s in cases {
            let (v, n) = plain_decimal(s.as_bytes()).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(n, s.len(), "{s}");
            assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
        }
        for s in [
            "-1.0",
            "1e5",
            "1234567890123456",
            "1.2.3",
            ".5",
            "1.00000000000000001",
        ] {
            match plain_decimal(s.as_bytes()) {
                None => {}
                Some((v, n)) => panic!("{s} -> {v} ({n})"),
            }
        }
        // The SWAR path needs 17 bytes of look-ahead: pad like a real line.
        for s in cases {
            let padded = format!("{s};1.0;2.0;3.0;0");
            let (v, n) = plain_decimal(padded.as_bytes()).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(n, s.len(), "{s}");
            assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
        }
        for (s, want) in [
            ("12345678;", (12_345_678, 8)),
            ("0042x;;;;", (42, 4)),
            (";1234567", (0, 0)),
        ] {
            assert_eq!(swar8(s.as_bytes()), want, "{s}");
        }
        // Random plain decimals, padded or not, agree bit for bit with std's parser.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let int_len = 1 + (x % 9) as usize;
            let frac_len = ((x >> 8) % 10) as usize;
            let digits: String = (0..int_len + frac_len)
                .map(|k| char::from(b'0' + ((x >> (k % 60)) % 10) as u8))
                .collect();
            let s = if frac_len > 0 {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            } else {
                digits
            };
            let pad = if x & 1 == 0 { ";1.085420;0" } else { "" };
            let full = format!("{s}{pad}");
            let want = s.parse::<f64>().unwrap();
            if let Some((v, n)) = plain_decimal(full.as_bytes()) {
                assert_eq!((v.to_bits(), n), (want.to_bits(), s.len()), "{full}");
            }
            let (v, n) = parse_partial(full.as_bytes()).unwrap();
            assert_eq!((v.to_bits(), n), (want.to_bits(), s.len()), "{full}");
        }
        let mut r: &[u8] = b"1.5;2.25;x";
        assert_eq!(num_then(&mut r, b';'), Some(1.5));
        assert_eq!(num_then(&mut r, b';'), Some(2.25));
        assert_eq!(num_end(b"3e2"), Some(300.0));
    }
}
