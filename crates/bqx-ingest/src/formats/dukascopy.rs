//! Dukascopy CSV exports: `Gmt time,Open,High,Low,Close,Volume` bars and
//! `Gmt time,Ask,Bid,AskVolume,BidVolume` ticks, stamped `DD.MM.YYYY HH:MM:SS.mmm` in GMT, or
//! with a `GMT+0100` suffix when the user chose local time.

use crate::RejectKind;
use crate::civil::parse_stamp;
use crate::driver::{Ctx, Fail, LineParser, Outcome, Row, Shape};
use crate::formats::{
    bad_stamp, check_bar, check_nonneg, check_tick, count_fields, field_count_fail, num, outcome,
    resolve_stamp, split_fields,
};
use crate::sniff::{header_delim, header_names};
use crate::tz::SourceTz;

#[derive(Clone, Debug)]
pub(crate) struct DukaCols {
    delim: u8,
    n: usize,
    layout: String,
    time: usize,
    /// open, high, low, close (bars) or bid, ask (ticks).
    prices: Vec<usize>,
    volume: Option<usize>,
    /// The header says local time: stamps must carry their GMT offset (or `--tz` is needed).
    pub local_header: bool,
}

impl DukaCols {
    pub(crate) fn from_header(line: &str, tick: bool) -> Result<DukaCols, String> {
        let delim = header_delim(line).ok_or("the header has no delimiter")?;
        let names = header_names(line, delim);
        let pos = |n: &str| names.iter().position(|x| x == n);
        let time = names
            .iter()
            .position(|x| x.contains("time"))
            .ok_or("no column containing \"time\" in the Dukascopy header")?;
        let wanted: &[&str] = if tick {
            &["bid", "ask"]
        } else {
            &["open", "high", "low", "close"]
        };
        let mut prices = Vec::new();
        let mut missing = Vec::new();
        for w in wanted {
            match pos(w) {
                Some(i) => prices.push(i),
                None => missing.push(*w),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "missing column(s) {} in the Dukascopy header; expected {}",
                missing.join(", "),
                if tick {
                    "Gmt time,Ask,Bid,AskVolume,BidVolume"
                } else {
                    "Gmt time,Open,High,Low,Close,Volume"
                }
            ));
        }
        if names.len() > 16 {
            return Err(format!("{} columns; at most 16 expected", names.len()));
        }
        Ok(DukaCols {
            delim,
            n: names.len(),
            layout: line.to_string(),
            time,
            prices,
            volume: if tick { None } else { pos("volume") },
            local_header: names[time].contains("local"),
        })
    }

    pub(crate) fn has_volume(&self) -> bool {
        self.volume.is_some()
    }
}

/// Dukascopy bars or ticks. `tz` applies to stamps without a `GMT±hhmm` suffix.
#[derive(Debug)]
pub(crate) struct Dukascopy {
    pub cols: DukaCols,
    pub tz: SourceTz,
    /// `--tz` was given (needed for local-time stamps without a suffix).
    pub tz_given: bool,
    pub tick: bool,
}

impl Dukascopy {
    fn row(&self, line: &str, ctx: &mut Ctx) -> Result<Row, Fail> {
        let c = &self.cols;
        let mut f = [""; 16];
        let n = split_fields(line, c.delim, &mut f).unwrap_or(usize::MAX);
        if n != c.n {
            return Err(field_count_fail(
                c.n,
                count_fields(line, c.delim),
                &c.layout,
            ));
        }
        let raw = f[c.time];
        let st = parse_stamp(raw)
            .filter(|s| !s.date_only)
            .ok_or_else(|| bad_stamp(raw, "DD.MM.YYYY HH:MM:SS.mmm [GMT+hhmm]"))?;
        if st.offset.is_none() && c.local_header && !self.tz_given {
            return Err((
                RejectKind::BadTimestamp,
                format!(
                    "local-time stamp '{}' has no GMT offset suffix; pass --tz",
                    raw.trim()
                ),
            ));
        }
        if self.tick {
            let bid = num(f[c.prices[0]], "bid")?;
            let ask = num(f[c.prices[1]], "ask")?;
            let ts = resolve_stamp(st, &self.tz, ctx)?;
            check_tick(bid, ask)?;
            return Ok(Row {
                ts,
                p: [bid, ask, 0.0, 0.0],
                ..Row::default()
            });
        }
        let p = [
            num(f[c.prices[0]], "open")?,
            num(f[c.prices[1]], "high")?,
            num(f[c.prices[2]], "low")?,
            num(f[c.prices[3]], "close")?,
        ];
        let vol = match c.volume {
            Some(i) => num(f[i], "volume")?,
            None => 0.0,
        };
        check_nonneg(vol, "volume")?;
        let ts = resolve_stamp(st, &self.tz, ctx)?;
        check_bar(&p)?;
        Ok(Row {
            ts,
            p,
            vol,
            ..Row::default()
        })
    }
}

impl LineParser for Dukascopy {
    fn shape(&self) -> Shape {
        Shape {
            vol: !self.tick && self.cols.has_volume(),
            ..Shape::default()
        }
    }

    fn parse(&self, line: &str, ctx: &mut Ctx) -> Outcome {
        outcome(self.row(line, ctx))
    }
}

/// `BID` or `ASK` as a token of the file name (`EURUSD_Candlestick_1_M_BID_….csv`).
pub(crate) fn side_from_name(name: &str) -> Option<bqx_domain::PriceSide> {
    let upper = name.to_ascii_uppercase();
    let mut bid = false;
    let mut ask = false;
    for tok in upper.split(|c: char| !c.is_ascii_alphanumeric()) {
        bid |= tok == "BID";
        ask |= tok == "ASK";
    }
    match (bid, ask) {
        (true, false) => Some(bqx_domain::PriceSide::Bid),
        (false, true) => Some(bqx_domain::PriceSide::Ask),
        _ => None,
    }
}
