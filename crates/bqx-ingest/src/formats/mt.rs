//! MetaTrader exports, in broker server time: MT4 History Center (`YYYY.MM.DD,HH:MM,o,h,l,c,v`)
//! and MT5 (`<DATE>\t<TIME>\t<OPEN>…` bars or `<DATE>\t<TIME>\t<BID>\t<ASK>…` ticks).

use crate::RejectKind;
use crate::civil::{Stamp, clock_micros, day_micros, dig, parse_clock, parse_date};
use crate::driver::{Ctx, Fail, LineParser, Outcome, Row, Shape};
use crate::formats::{
    bad_stamp, bar_ok, check_bar, check_nonneg, check_tick, count_fields, field_count_fail,
    is_missing, num, num_end, num_then, outcome, resolve_stamp, split_fields,
};
use crate::sniff::{header_delim, header_names};
use crate::tz::{Conv, SourceTz};

const MT4_LAYOUT: &str = "YYYY.MM.DD,HH:MM,open,high,low,close,volume";

#[derive(Debug)]
pub(crate) struct Mt4 {
    pub tz: SourceTz,
}

impl Mt4 {
    #[inline(always)]
    fn fast_row(&self, b: &[u8], ctx: &mut Ctx) -> Option<Row> {
        if b.len() < 26 || b[4] != b'.' || b[7] != b'.' || b[10] != b',' || b[13] != b':' {
            return None;
        }
        if b[16] != b',' {
            return None;
        }
        let ymd = dig(&b[0..4])? * 10_000 + dig(&b[5..7])? * 100 + dig(&b[8..10])?;
        let day = ctx.dates.day(ymd)?;
        let clock = clock_micros(dig(&b[11..13])?, dig(&b[14..16])?, 0, 0)?;
        let mut rest = &b[17..];
        let o = num_then(&mut rest, b',')?;
        let h = num_then(&mut rest, b',')?;
        let l = num_then(&mut rest, b',')?;
        let c = num_then(&mut rest, b',')?;
        let v = num_end(rest)?;
        if v.is_nan() || v < 0.0 {
            return None;
        }
        let ts = match self.tz.to_utc(day + clock, &mut ctx.tz) {
            Conv::Single(us) => us,
            _ => return None,
        };
        Some(Row {
            ts,
            p: [o, h, l, c],
            vol: v,
            ..Row::default()
        })
    }

    fn slow(&self, line: &str, ctx: &mut Ctx) -> Result<Row, Fail> {
        let mut f = [""; 9];
        let n = split_fields(line, b',', &mut f).unwrap_or(usize::MAX);
        if n != 7 {
            return Err(field_count_fail(7, count_fields(line, b','), MT4_LAYOUT));
        }
        let st = date_time(f[0], Some(f[1]))
            .ok_or_else(|| bad_stamp(&format!("{},{}", f[0], f[1]), "YYYY.MM.DD,HH:MM"))?;
        let p = [
            num(f[2], "open")?,
            num(f[3], "high")?,
            num(f[4], "low")?,
            num(f[5], "close")?,
        ];
        let vol = num(f[6], "volume")?;
        check_nonneg(vol, "volume")?;
        let ts = resolve_stamp(st, &self.tz, ctx)?;
        Ok(Row {
            ts,
            p,
            vol,
            ..Row::default()
        })
    }
}

/// A naive stamp from separate date and time fields (no time field = 00:00 local).
fn date_time(date: &str, time: Option<&str>) -> Option<Stamp> {
    let (y, m, d) = parse_date(date.trim())?;
    let day = day_micros(y, m, d)?;
    let clock = match time {
        Some(t) => parse_clock(t.trim())?,
        None => 0,
    };
    Some(Stamp {
        local: day + clock,
        offset: None,
        date_only: false,
    })
}

impl LineParser for Mt4 {
    fn shape(&self) -> Shape {
        Shape {
            vol: true,
            ..Shape::default()
        }
    }

    #[inline(always)]
    fn fast(&self, line: &str, ctx: &mut Ctx) -> Option<Row> {
        self.fast_row(line.as_bytes(), ctx).filter(|r| bar_ok(&r.p))
    }

    fn parse(&self, line: &str, ctx: &mut Ctx) -> Outcome {
        outcome(
            self.slow(line, ctx)
                .and_then(|r| check_bar(&r.p).map(|()| r)),
        )
    }
}

/// Column positions of an MT5 export, found by header name.
#[derive(Clone, Debug)]
pub(crate) struct Mt5Cols {
    delim: u8,
    n: usize,
    layout: String,
    date: usize,
    time: Option<usize>,
    /// open, high, low, close for bars; bid, ask for ticks.
    prices: Vec<usize>,
    tickvol: Option<usize>,
    spread: Option<usize>,
}

impl Mt5Cols {
    /// Maps the header; `Err` names the missing columns.
    pub(crate) fn from_header(line: &str, tick: bool) -> Result<Mt5Cols, String> {
        let delim = if line.contains('\t') {
            b'\t'
        } else {
            header_delim(line).unwrap_or(b'\t')
        };
        let names = header_names(line, delim);
        let pos = |n: &str| names.iter().position(|x| x == n);
        let wanted: &[&str] = if tick {
            &["bid", "ask"]
        } else {
            &["open", "high", "low", "close"]
        };
        let mut missing = Vec::new();
        let date = pos("date");
        if date.is_none() {
            missing.push("<DATE>".to_string());
        }
        let mut prices = Vec::new();
        for w in wanted {
            match pos(w) {
                Some(i) => prices.push(i),
                None => missing.push(format!("<{}>", w.to_ascii_uppercase())),
            }
        }
        let time = pos("time");
        if tick && time.is_none() {
            missing.push("<TIME>".to_string());
        }
        if names.len() > 16 {
            return Err(format!(
                "{} columns in the MT5 header; at most 16 expected",
                names.len()
            ));
        }
        if !missing.is_empty() {
            return Err(format!(
                "missing column(s) {} in the MT5 header; expected {}",
                missing.join(", "),
                if tick {
                    "<DATE> <TIME> <BID> <ASK> <LAST> <VOLUME> <FLAGS>"
                } else {
                    "<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>"
                }
            ));
        }
        Ok(Mt5Cols {
            delim,
            n: names.len(),
            layout: line.replace('\t', " "),
            date: date.unwrap_or(0),
            time,
            prices,
            tickvol: if tick { None } else { pos("tickvol") },
            spread: if tick { None } else { pos("spread") },
        })
    }

    pub(crate) fn has_tickvol(&self) -> bool {
        self.tickvol.is_some()
    }

    pub(crate) fn has_spread(&self) -> bool {
        self.spread.is_some()
    }

    fn fields<'a>(&self, line: &'a str, f: &mut [&'a str; 16]) -> Result<(), Fail> {
        let n = split_fields(line, self.delim, f).unwrap_or(usize::MAX);
        if n != self.n {
            return Err(field_count_fail(
                self.n,
                count_fields(line, self.delim),
                &self.layout,
            ));
        }
        Ok(())
    }

    fn stamp(&self, f: &[&str]) -> Result<Stamp, Fail> {
        let time = self.time.map(|i| f[i]);
        date_time(f[self.date], time).ok_or_else(|| {
            bad_stamp(
                &format!("{} {}", f[self.date], time.unwrap_or("")),
                "YYYY.MM.DD and HH:MM:SS",
            )
        })
    }
}

#[derive(Debug)]
pub(crate) struct Mt5 {
    pub cols: Mt5Cols,
    pub tz: SourceTz,
    /// Price units per MT5 point (pip / 10).
    pub point: f64,
}

impl Mt5 {
    fn row(&self, line: &str, ctx: &mut Ctx) -> Result<Row, Fail> {
        let mut f = [""; 16];
        self.cols.fields(line, &mut f)?;
        let st = self.cols.stamp(&f)?;
        let c = &self.cols.prices;
        let p = [
            num(f[c[0]], "open")?,
            num(f[c[1]], "high")?,
            num(f[c[2]], "low")?,
            num(f[c[3]], "close")?,
        ];
        let vol = match self.cols.tickvol {
            Some(i) => num(f[i], "tick volume")?,
            None => 0.0,
        };
        check_nonneg(vol, "tick volume")?;
        let spr = match self.cols.spread {
            Some(i) => num(f[i], "spread")? * self.point,
            None => 0.0,
        };
        check_nonneg(spr, "spread")?;
        let ts = resolve_stamp(st, &self.tz, ctx)?;
        check_bar(&p)?;
        Ok(Row {
            ts,
            p,
            vol,
            spr,
            ..Row::default()
        })
    }
}

impl LineParser for Mt5 {
    fn shape(&self) -> Shape {
        Shape {
            key: false,
            vol: self.cols.has_tickvol(),
            spr: self.cols.has_spread(),
        }
    }

    fn parse(&self, line: &str, ctx: &mut Ctx) -> Outcome {
        outcome(self.row(line, ctx))
    }
}

/// MT5 tick export; a field that did not change is empty and takes the previous value, so this
/// parser must run sequentially.
#[derive(Debug)]
pub(crate) struct Mt5Tick {
    pub cols: Mt5Cols,
    pub tz: SourceTz,
}

impl Mt5Tick {
    fn row(&self, line: &str, ctx: &mut Ctx) -> Result<Row, Fail> {
        let mut f = [""; 16];
        self.cols.fields(line, &mut f)?;
        let st = self.cols.stamp(&f)?;
        // Read both fields first: a quote present on a rejected line is still the market's,
        // and is carried forward.
        let mut q: [Result<f64, Fail>; 2] = [Ok(0.0), Ok(0.0)];
        for (k, name) in ["bid", "ask"].into_iter().enumerate() {
            let s = f[self.cols.prices[k]];
            q[k] = if s.trim().is_empty() {
                ctx.prev[k].ok_or_else(|| {
                    (
                        RejectKind::MissingValue,
                        format!("{name} is empty and no earlier {name} to carry forward"),
                    )
                })
            } else if is_missing(s) {
                Err((
                    RejectKind::MissingValue,
                    format!("{name} is missing ('{s}')"),
                ))
            } else {
                let v = num(s, name);
                if let Ok(v) = v
                    && v > 0.0
                {
                    ctx.prev[k] = Some(v);
                }
                v
            };
        }
        let [bid, ask] = q;
        let (bid, ask) = (bid?, ask?);
        let q = [bid, ask];
        let ts = resolve_stamp(st, &self.tz, ctx)?;
        check_tick(q[0], q[1])?;
        Ok(Row {
            ts,
            p: [q[0], q[1], 0.0, 0.0],
            ..Row::default()
        })
    }
}

impl LineParser for Mt5Tick {
    fn shape(&self) -> Shape {
        Shape::default()
    }

    fn parse(&self, line: &str, ctx: &mut Ctx) -> Outcome {
        outcome(self.row(line, ctx))
    }
}
