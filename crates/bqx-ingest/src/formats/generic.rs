//! Generic header-driven OHLCV CSV (`timestamp,pair,open,high,low,close,volume`) and Yahoo /
//! yfinance daily CSVs (`Date,Open,High,Low,Close,Adj Close,Volume`).

use bqx_domain::Pair;

use crate::civil::parse_stamp;
use crate::driver::{Ctx, Fail, LineParser, Outcome, Row, Shape};
use crate::formats::{
    bad_stamp, check_bar, check_nonneg, count_fields, field_count_fail, num, outcome, pair_key,
    resolve_stamp, split_fields,
};
use crate::sniff::{header_delim, header_names};
use crate::tz::SourceTz;

const MAX_FIELDS: usize = 64;

/// Column roles of a generic CSV, found by header name.
#[derive(Clone, Debug)]
pub(crate) struct ColMap {
    pub delim: u8,
    pub n: usize,
    pub layout: String,
    pub ts: usize,
    /// A separate time-of-day column (with `ts` then holding the date).
    pub time: Option<usize>,
    pub pair: Option<usize>,
    pub ohlc: [usize; 4],
    pub vol: Option<usize>,
    pub spr: Option<usize>,
    /// A Yahoo / yfinance layout (has `Adj Close`, or the multi-line `Price/Ticker/Date` header).
    pub yfinance: bool,
    /// Header lines to skip (3 for the newer yfinance layout).
    pub header_lines: usize,
    /// The symbol of a yfinance `Ticker` header line.
    pub ticker: Option<String>,
}

const CANONICAL: &str = "timestamp,pair,open,high,low,close,volume";

impl ColMap {
    /// Maps a header line (and, for yfinance's 3-line header, the following `Ticker` line).
    pub(crate) fn from_header(line: &str, second: Option<&str>) -> Result<ColMap, String> {
        let delim = header_delim(line).ok_or_else(|| {
            format!("no delimiter in the header line; expected a header like {CANONICAL}")
        })?;
        let mut names = header_names(line, delim);
        if names.len() > MAX_FIELDS {
            return Err(format!(
                "{} columns; at most {MAX_FIELDS} expected",
                names.len()
            ));
        }
        let mut header_lines = 1;
        let mut ticker = None;
        // yfinance >= 0.2.51 writes `Price,Close,…` / `Ticker,EURUSD=X,…` / `Date,,,…`.
        if names[0] == "price"
            && let Some(t) = second.filter(|s| s.to_ascii_lowercase().starts_with("ticker"))
        {
            names[0] = "date".to_string();
            header_lines = 3;
            ticker = t.split(delim as char).nth(1).map(|s| s.trim().to_string());
        }
        let pos = |want: &[&str]| want.iter().find_map(|w| names.iter().position(|n| n == w));
        let (ts, time) = if let Some(i) = pos(&[
            "timestamp",
            "datetime",
            "ts",
            "timestamputc",
            "datetimeutc",
            "gmttime",
            "localtime",
            "opentime",
            "timeutc",
        ]) {
            (Some(i), None)
        } else if let (Some(d), Some(t)) = (pos(&["date"]), pos(&["time"])) {
            (Some(d), Some(t))
        } else if let Some(i) = pos(&["date", "time"]) {
            (Some(i), None)
        } else {
            (
                names
                    .iter()
                    .position(|n| n.contains("time") || n.contains("date")),
                None,
            )
        };
        let ohlc = ["open", "high", "low", "close"].map(|n| pos(&[n]));
        let mut missing: Vec<&str> = Vec::new();
        if ts.is_none() {
            missing.push("timestamp");
        }
        for (i, n) in ohlc.iter().zip(["open", "high", "low", "close"]) {
            if i.is_none() {
                missing.push(n);
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "missing required column(s) {}; expected a header like {CANONICAL} \
                 (pair and volume optional, spread optional)",
                missing.join(", ")
            ));
        }
        Ok(ColMap {
            delim,
            n: names.len(),
            layout: line.to_string(),
            ts: ts.unwrap_or(0),
            time,
            pair: pos(&[
                "pair",
                "symbol",
                "instrument",
                "ticker",
                "currencypair",
                "ccypair",
            ]),
            ohlc: ohlc.map(|i| i.unwrap_or(0)),
            vol: pos(&["volume", "vol", "tickvolume", "tickvol", "ticks"]),
            spr: pos(&["spread"]),
            yfinance: header_lines == 3 || names.iter().any(|n| n == "adjclose"),
            header_lines,
            ticker,
        })
    }
}

/// The generic parser. `fixed_key` is the pair of files without a pair column.
#[derive(Debug)]
pub(crate) struct Generic {
    pub map: ColMap,
    /// `--tz`, for naive stamps; without it they are read as UTC.
    pub tz: Option<SourceTz>,
    pub forced: Option<Pair>,
    pub fixed_key: Option<u8>,
}

impl Generic {
    fn row(&self, line: &str, ctx: &mut Ctx) -> Result<Row, Fail> {
        if line.contains('"') {
            let rec = csv::ReaderBuilder::new()
                .has_headers(false)
                .delimiter(self.map.delim)
                .flexible(true)
                .from_reader(line.as_bytes())
                .into_records()
                .next();
            let Some(Ok(rec)) = rec else {
                return Err(field_count_fail(self.map.n, 0, &self.map.layout));
            };
            let fields: Vec<&str> = rec.iter().collect();
            return self.fields(line, &fields, ctx);
        }
        let mut f = [""; MAX_FIELDS + 1];
        let n = split_fields(line, self.map.delim, &mut f).unwrap_or(usize::MAX);
        if n == usize::MAX {
            return Err(field_count_fail(
                self.map.n,
                count_fields(line, self.map.delim),
                &self.map.layout,
            ));
        }
        self.fields(line, &f[..n], ctx)
    }

    fn fields(&self, line: &str, f: &[&str], ctx: &mut Ctx) -> Result<Row, Fail> {
        let m = &self.map;
        // Tolerate one trailing empty field (a trailing delimiter).
        let n = if f.len() == m.n + 1 && f[m.n].trim().is_empty() {
            m.n
        } else {
            f.len()
        };
        if n != m.n {
            return Err(field_count_fail(
                m.n,
                count_fields(line, m.delim),
                &m.layout,
            ));
        }
        let st = match m.time {
            None => parse_stamp(f[m.ts]),
            Some(t) => parse_stamp(&format!("{} {}", f[m.ts].trim(), f[t].trim())),
        }
        .ok_or_else(|| {
            bad_stamp(
                &match m.time {
                    None => f[m.ts].to_string(),
                    Some(t) => format!("{} {}", f[m.ts], f[t]),
                },
                "ISO-8601 such as 2024-03-05T22:00:00Z",
            )
        })?;
        let p = [
            num(f[m.ohlc[0]], "open")?,
            num(f[m.ohlc[1]], "high")?,
            num(f[m.ohlc[2]], "low")?,
            num(f[m.ohlc[3]], "close")?,
        ];
        let vol = match m.vol {
            Some(i) => num(f[i], "volume")?,
            None => 0.0,
        };
        check_nonneg(vol, "volume")?;
        let spr = match m.spr {
            Some(i) => num(f[i], "spread")?,
            None => 0.0,
        };
        check_nonneg(spr, "spread")?;
        let key = match (m.pair, self.fixed_key) {
            (Some(i), _) => pair_key(f[i], self.forced, ctx)?,
            (None, Some(k)) => k,
            (None, None) => {
                return Err((
                    crate::RejectKind::UnknownPair,
                    "cannot tell the pair; pass --pair".to_string(),
                ));
            }
        };
        let ts = if st.offset.is_some() {
            resolve_stamp(st, &SourceTz::Utc, ctx)?
        } else if st.date_only {
            ctx.date_only += 1;
            st.local
        } else if let Some(tz) = &self.tz {
            resolve_stamp(st, tz, ctx)?
        } else {
            ctx.naive_utc += 1;
            st.local
        };
        check_bar(&p)?;
        Ok(Row {
            key,
            ts,
            p,
            vol,
            spr,
        })
    }
}

impl LineParser for Generic {
    fn shape(&self) -> Shape {
        Shape {
            key: self.map.pair.is_some(),
            vol: self.map.vol.is_some(),
            spr: self.map.spr.is_some(),
        }
    }

    fn parse(&self, line: &str, ctx: &mut Ctx) -> Outcome {
        outcome(self.row(line, ctx))
    }
}
