//! ECB euro reference rates (`eurofxref-hist.csv`): `Date,USD,JPY,…,` with units per 1 EUR,
//! newest first, `N/A` where a currency has no rate. Each line is a fix at 14:15 Europe/Berlin;
//! the 28 pairs follow from the 7 EUR rates (`ab = EURb / EURa`). One record = (line, pair).

use bqx_domain::{Currency, MICROS_PER_MINUTE, Pair};

use crate::civil::{day_micros, parse_date};
use crate::finish::SeriesRows;
use crate::formats::{count_fields, num};
use crate::text::{is_blank, strip_cr};
use crate::tz::{SourceTz, TzCache};
use crate::{RejectKind, Rejected};

/// The ECB result: one row set per derivable pair, in canonical pair order.
#[derive(Debug, Default)]
pub(crate) struct EcbOut {
    pub series: Vec<(Pair, SeriesRows)>,
    pub rejected: Vec<Rejected>,
    pub read: u64,
    pub notes: Vec<String>,
}

/// Parses the body after the header line `header` (which is line `first_line - 1`).
pub(crate) fn parse(header: &str, body: &str, first_line: u64) -> Result<EcbOut, String> {
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let n = names.len();
    // Column of each of the 8 currencies (EUR has none: its rate is 1).
    let mut col: [Option<usize>; 8] = [None; 8];
    for c in Currency::ALL.into_iter().skip(1) {
        col[c.priority()] = names.iter().position(|x| x.eq_ignore_ascii_case(c.code()));
    }
    let pairs: Vec<Pair> = Pair::ALL
        .into_iter()
        .filter(|p| {
            [p.base(), p.quote()]
                .iter()
                .all(|c| *c == Currency::EUR || col[c.priority()].is_some())
        })
        .collect();
    if pairs.is_empty() {
        return Err("the ECB header names none of USD, JPY, GBP, CHF, AUD, CAD, NZD".to_string());
    }
    let mut out = EcbOut::default();
    let absent: Vec<&str> = Currency::ALL
        .into_iter()
        .skip(1)
        .filter(|c| col[c.priority()].is_none())
        .map(|c| c.code())
        .collect();
    if !absent.is_empty() {
        out.notes.push(format!(
            "no ECB column for {}: only the {} pairs without it are derived",
            absent.join(", "),
            pairs.len()
        ));
    }
    out.series = pairs
        .iter()
        .map(|&p| (p, SeriesRows::new(false, false)))
        .collect();
    let berlin = SourceTz::Iana(chrono_tz::Europe::Berlin);
    let mut cache = TzCache::default();
    let mut ambiguous = 0;
    let fix_time = (14 * 60 + 15) * MICROS_PER_MINUTE;
    let np = pairs.len() as u64;
    for (i, line) in body.split('\n').enumerate() {
        let line = strip_cr(line);
        if is_blank(line) || line == header {
            continue;
        }
        let no = first_line + i as u64;
        out.read += np;
        let reject_all = |out: &mut EcbOut, kind: RejectKind, reason: &str| {
            for p in &pairs {
                out.rejected.push(Rejected {
                    line: no,
                    raw: line.to_string(),
                    kind,
                    reason: format!("{p}: {reason}"),
                });
            }
        };
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != n {
            let reason = format!(
                "expected {n} fields like the header, found {}",
                count_fields(line, b',')
            );
            reject_all(&mut out, RejectKind::FieldCount, &reason);
            continue;
        }
        let day = parse_date(fields[0].trim()).and_then(|(y, m, d)| day_micros(y, m, d));
        let Some(day) = day else {
            let reason = format!("'{}' is not a date (YYYY-MM-DD)", fields[0].trim());
            reject_all(&mut out, RejectKind::BadTimestamp, &reason);
            continue;
        };
        let ts = match berlin.resolve(day + fix_time, &mut cache, &mut ambiguous) {
            Ok(ts) => ts,
            Err(e) => {
                reject_all(&mut out, RejectKind::NonexistentLocalTime, &e);
                continue;
            }
        };
        // EUR → currency rates, or the reason one is unusable.
        let rate: Vec<Result<f64, (RejectKind, String)>> = Currency::ALL
            .iter()
            .map(|c| match col[c.priority()] {
                None => Ok(1.0),
                Some(k) => num(fields[k], &format!("EUR{c} rate")).and_then(|v| {
                    if v > 0.0 {
                        Ok(v)
                    } else {
                        Err((
                            RejectKind::NonPositivePrice,
                            format!("EUR{c} rate {v} is not > 0"),
                        ))
                    }
                }),
            })
            .collect();
        for (k, p) in pairs.iter().enumerate() {
            let a = &rate[p.base().priority()];
            let b = &rate[p.quote().priority()];
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    let v = b / a;
                    out.series[k].1.push(ts, [v; 4], 0.0, 0.0, no);
                }
                (Err((kind, reason)), _) | (_, Err((kind, reason))) => {
                    out.rejected.push(Rejected {
                        line: no,
                        raw: line.to_string(),
                        kind: *kind,
                        reason: format!("{p}: {reason}"),
                    });
                }
            }
        }
    }
    if ambiguous > 0 {
        out.notes.push(format!(
            "{ambiguous} ambiguous local times resolved to the earlier instant"
        ));
    }
    Ok(out)
}
