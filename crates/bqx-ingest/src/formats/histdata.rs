//! HistData.com Generic ASCII: M1 bars `YYYYMMDD HHMMSS;o;h;l;c;v` and ticks
//! `YYYYMMDD HHMMSSmmm,bid,ask,v`, stamped in EST without DST (fixed UTC−5).

use crate::civil::{clock_micros, parse_stamp};
use crate::driver::{Ctx, Fail, LineParser, Outcome, Row, Shape};
use crate::formats::{
    bad_stamp, bar_ok, check_bar, check_tick, field_count_fail, num, num_end, num_then, outcome,
    resolve_stamp, split_fields, swar8, tick_ok,
};
use crate::tz::{Conv, SourceTz};

const M1_LAYOUT: &str = "YYYYMMDD HHMMSS;open;high;low;close;volume";
const TICK_LAYOUT: &str = "YYYYMMDD HHMMSSmmm,bid,ask,volume";

#[derive(Debug)]
pub(crate) struct HistM1 {
    pub tz: SourceTz,
}

#[inline]
fn to_utc(tz: &SourceTz, local: i64, ctx: &mut Ctx) -> Option<i64> {
    match tz.to_utc(local, &mut ctx.tz) {
        Conv::Single(us) => Some(us),
        // Rare: let the slow path count and report it.
        _ => None,
    }
}

impl HistM1 {
    #[inline(always)]
    fn fast_row(&self, b: &[u8], ctx: &mut Ctx) -> Option<Row> {
        if b.len() < 25 || b[8] != b' ' || b[15] != b';' {
            return None;
        }
        let (ymd, n) = swar8(b);
        let (hms, k) = swar8(&b[9..]);
        if n != 8 || k != 6 {
            return None;
        }
        let (ymd, hms) = (ymd as u32, hms as u32);
        let day = ctx.dates.day(ymd)?;
        let clock = clock_micros(hms / 10_000, hms / 100 % 100, hms % 100, 0)?;
        let mut rest = &b[16..];
        let o = num_then(&mut rest, b';')?;
        let h = num_then(&mut rest, b';')?;
        let l = num_then(&mut rest, b';')?;
        let c = num_then(&mut rest, b';')?;
        // The volume is only checked (HistData's is always 0): digits need no float.
        if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
            let v = num_end(rest)?;
            if v.is_nan() || v < 0.0 {
                return None;
            }
        }
        let ts = to_utc(&self.tz, day + clock, ctx)?;
        Some(Row {
            ts,
            p: [o, h, l, c],
            ..Row::default()
        })
    }

    fn slow(&self, line: &str, ctx: &mut Ctx) -> Result<Row, Fail> {
        let mut f = [""; 8];
        let n = split_fields(line, b';', &mut f).unwrap_or(usize::MAX);
        if n != 6 {
            return Err(field_count_fail(
                6,
                crate::formats::count_fields(line, b';'),
                M1_LAYOUT,
            ));
        }
        let st = parse_stamp(f[0])
            .filter(|s| !s.date_only)
            .ok_or_else(|| bad_stamp(f[0], "YYYYMMDD HHMMSS"))?;
        let p = [
            num(f[1], "open")?,
            num(f[2], "high")?,
            num(f[3], "low")?,
            num(f[4], "close")?,
        ];
        let v = num(f[5], "volume")?;
        crate::formats::check_nonneg(v, "volume")?;
        let ts = resolve_stamp(st, &self.tz, ctx)?;
        Ok(Row {
            ts,
            p,
            ..Row::default()
        })
    }
}

impl LineParser for HistM1 {
    fn shape(&self) -> Shape {
        Shape::default()
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

#[derive(Debug)]
pub(crate) struct HistTick {
    pub tz: SourceTz,
}

impl HistTick {
    #[inline(always)]
    fn fast_row(&self, b: &[u8], ctx: &mut Ctx) -> Option<Row> {
        if b.len() < 23 || b[8] != b' ' || b[18] != b',' {
            return None;
        }
        let ymd = crate::civil::dig(&b[0..8])?;
        let hms = crate::civil::dig(&b[9..15])?;
        let ms = crate::civil::dig(&b[15..18])?;
        let day = ctx.dates.day(ymd)?;
        let clock = clock_micros(hms / 10_000, hms / 100 % 100, hms % 100, ms * 1000)?;
        let mut rest = &b[19..];
        let bid = num_then(&mut rest, b',')?;
        let ask = num_then(&mut rest, b',')?;
        let v = num_end(rest)?;
        if v.is_nan() || v < 0.0 {
            return None;
        }
        let ts = to_utc(&self.tz, day + clock, ctx)?;
        Some(Row {
            ts,
            p: [bid, ask, 0.0, 0.0],
            ..Row::default()
        })
    }

    fn slow(&self, line: &str, ctx: &mut Ctx) -> Result<Row, Fail> {
        let mut f = [""; 8];
        let n = split_fields(line, b',', &mut f).unwrap_or(usize::MAX);
        if n != 4 && n != 3 {
            return Err(field_count_fail(
                4,
                crate::formats::count_fields(line, b','),
                TICK_LAYOUT,
            ));
        }
        let st = parse_stamp(f[0])
            .filter(|s| !s.date_only)
            .ok_or_else(|| bad_stamp(f[0], "YYYYMMDD HHMMSSmmm"))?;
        let bid = num(f[1], "bid")?;
        let ask = num(f[2], "ask")?;
        if n == 4 {
            crate::formats::check_nonneg(num(f[3], "volume")?, "volume")?;
        }
        let ts = resolve_stamp(st, &self.tz, ctx)?;
        Ok(Row {
            ts,
            p: [bid, ask, 0.0, 0.0],
            ..Row::default()
        })
    }
}

impl LineParser for HistTick {
    fn shape(&self) -> Shape {
        Shape::default()
    }

    #[inline(always)]
    fn fast(&self, line: &str, ctx: &mut Ctx) -> Option<Row> {
        self.fast_row(line.as_bytes(), ctx)
            .filter(|r| tick_ok(r.p[0], r.p[1]))
    }

    fn parse(&self, line: &str, ctx: &mut Ctx) -> Outcome {
        outcome(
            self.slow(line, ctx)
                .and_then(|r| check_tick(r.p[0], r.p[1]).map(|()| r)),
        )
    }
}
