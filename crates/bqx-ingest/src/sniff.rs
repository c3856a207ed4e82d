//! Format sniffing on the first non-empty line (and the second, for Dukascopy).

use crate::Format;

/// Matches a pattern where `d` is an ASCII digit, `A` an ASCII upper-case letter and anything
/// else itself, against the start of `s`.
pub(crate) fn starts_like(s: &[u8], pat: &str) -> bool {
    let p = pat.as_bytes();
    s.len() >= p.len()
        && p.iter().zip(s).all(|(&p, &c)| match p {
            b'd' => c.is_ascii_digit(),
            b'A' => c.is_ascii_uppercase(),
            _ => p == c,
        })
}

/// Splits a header line on its delimiter (the most frequent of `,` `;` tab `|`).
pub(crate) fn header_delim(line: &str) -> Option<u8> {
    [b',', b';', b'\t', b'|']
        .into_iter()
        .map(|d| (bytecount(line.as_bytes(), d), d))
        .filter(|&(n, _)| n > 0)
        .max_by_key(|&(n, _)| n)
        .map(|(_, d)| d)
}

fn bytecount(b: &[u8], c: u8) -> usize {
    b.iter().filter(|&&x| x == c).count()
}

/// Normalized header names: lower case, without quotes, angle brackets, spaces, `_` and `-`.
pub(crate) fn header_names(line: &str, delim: u8) -> Vec<String> {
    line.split(delim as char)
        .map(|f| {
            f.trim()
                .chars()
                .filter(|c| !matches!(c, '"' | '\'' | '<' | '>' | ' ' | '_' | '-' | '\u{feff}'))
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .collect()
}

fn is_dukascopy_tick_header(names: &[String]) -> bool {
    let pos = |n: &str| names.iter().position(|x| x == n);
    matches!((pos("ask"), pos("bid")), (Some(_), Some(_)))
        && pos("open").is_none()
        && pos("close").is_none()
}

/// The layout a file's first non-empty line (BOM stripped) announces, following the spec's
/// order: MT5 (`<DATE>`; tick export when `<BID>` and `<ASK>` are present), HistData M1
/// (`YYYYMMDD HHMMSS;`), HistData tick (`YYYYMMDD HHMMSSmmm,`), MT4 (`YYYY.MM.DD,HH:MM,`),
/// TrueFX (`EUR/USD,YYYYMMDD `), Dukascopy (a first column containing "time" and a second
/// line starting `DD.MM.YYYY `, or an `Ask,Bid` tick header), ECB (`Date,USD,JPY,…`), and a
/// generic CSV header naming a time column and open/high/low/close (or a yfinance header).
/// `None`: no known layout.
pub fn sniff(first_line: &str, second_line: Option<&str>) -> Option<Format> {
    let first = first_line
        .trim_start_matches('\u{feff}')
        .trim_end_matches(['\r', '\n']);
    let b = first.as_bytes();
    if b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"<DATE>") {
        let upper = first.to_ascii_uppercase();
        return Some(if upper.contains("<BID>") && upper.contains("<ASK>") {
            Format::Mt5Tick
        } else {
            Format::Mt5
        });
    }
    if starts_like(b, "dddddddd dddddd;") {
        return Some(Format::HistdataM1);
    }
    if starts_like(b, "dddddddd ddddddddd,") {
        return Some(Format::HistdataTick);
    }
    if starts_like(b, "dddd.dd.dd,dd:dd,") {
        return Some(Format::Mt4);
    }
    if starts_like(b, "AAA/AAA,dddddddd ") {
        return Some(Format::Truefx);
    }
    let delim = header_delim(first)?;
    let names = header_names(first, delim);
    if names[0].contains("time") {
        let second_is_dukascopy =
            second_line.is_some_and(|s| starts_like(s.trim_start().as_bytes(), "dd.dd.dddd "));
        if is_dukascopy_tick_header(&names) {
            return Some(Format::DukascopyTick);
        }
        if second_is_dukascopy {
            return Some(Format::Dukascopy);
        }
    }
    if starts_like(b, "Date,AAA,") {
        return Some(Format::Ecb);
    }
    if crate::formats::generic::ColMap::from_header(first, second_line).is_ok() {
        return Some(Format::GenericCsv);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_every_layout() {
        let cases: [(&str, Option<&str>, Option<Format>); 13] = [
            (
                "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>",
                None,
                Some(Format::Mt5),
            ),
            (
                "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>",
                None,
                Some(Format::Mt5Tick),
            ),
            (
                "\u{feff}20240305 170000;1.085420;1.085510;1.085390;1.085470;0",
                None,
                Some(Format::HistdataM1),
            ),
            (
                "20240305 170000123,1.08542,1.08551,0",
                None,
                Some(Format::HistdataTick),
            ),
            (
                "2024.03.06,00:00,1.08542,1.08551,1.08539,1.08547,57",
                None,
                Some(Format::Mt4),
            ),
            (
                "EUR/USD,20240305 22:00:00.118,1.08541,1.08549",
                None,
                Some(Format::Truefx),
            ),
            (
                "Gmt time,Open,High,Low,Close,Volume",
                Some("05.03.2024 22:00:00.000,1,1,1,1,0"),
                Some(Format::Dukascopy),
            ),
            (
                "Local time,Open,High,Low,Close,Volume",
                Some("05.03.2024 23:00:00.000 GMT+0100,1,1,1,1,0"),
                Some(Format::Dukascopy),
            ),
            (
                "Gmt time,Ask,Bid,AskVolume,BidVolume",
                None,
                Some(Format::DukascopyTick),
            ),
            (
                "Date,USD,JPY,BGN,",
                Some("2026-10-30,1.1,175,N/A,"),
                Some(Format::Ecb),
            ),
            (
                "timestamp,pair,open,high,low,close,volume",
                None,
                Some(Format::GenericCsv),
            ),
            (
                "Date,Open,High,Low,Close,Adj Close,Volume",
                None,
                Some(Format::GenericCsv),
            ),
            ("hello world", None, None),
        ];
        for (a, b, want) in cases {
            assert_eq!(sniff(a, b), want, "{a}");
        }
    }
}
