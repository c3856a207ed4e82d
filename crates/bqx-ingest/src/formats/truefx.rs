//! TrueFX tick CSV: `EUR/USD,YYYYMMDD HH:MM:SS.mmm,bid,ask`, UTC.

use bqx_domain::Pair;

use crate::civil::{clock_micros, dig, parse_stamp};
use crate::driver::{Ctx, Fail, LineParser, Outcome, Row, Shape};
use crate::formats::{
    bad_stamp, check_tick, count_fields, field_count_fail, num, num_end, num_then, outcome,
    pair_key, resolve_stamp, split_fields, tick_ok,
};
use crate::tz::{Conv, SourceTz};

const LAYOUT: &str = "PAIR,YYYYMMDD HH:MM:SS.mmm,bid,ask";

#[derive(Debug)]
pub(crate) struct Truefx {
    pub tz: SourceTz,
    /// `--pair`: rows for another pair are rejected.
    pub forced: Option<Pair>,
}

impl Truefx {
    #[inline(always)]
    fn fast_row(&self, line: &str, ctx: &mut Ctx) -> Option<Row> {
        let b = line.as_bytes();
        if b.len() < 34
            || b[7] != b','
            || b[16] != b' '
            || b[19] != b':'
            || b[22] != b':'
            || b[25] != b'.'
            || b[29] != b','
        {
            return None;
        }
        let key = pair_key(&line[..7], self.forced, ctx).ok()?;
        let day = ctx.dates.day(dig(&b[8..16])?)?;
        let clock = clock_micros(
            dig(&b[17..19])?,
            dig(&b[20..22])?,
            dig(&b[23..25])?,
            dig(&b[26..29])? * 1000,
        )?;
        let mut rest = &b[30..];
        let bid = num_then(&mut rest, b',')?;
        let ask = num_end(rest)?;
        let ts = match self.tz.to_utc(day + clock, &mut ctx.tz) {
            Conv::Single(us) => us,
            _ => return None,
        };
        Some(Row {
            key,
            ts,
            p: [bid, ask, 0.0, 0.0],
            ..Row::default()
        })
    }

    fn slow(&self, line: &str, ctx: &mut Ctx) -> Result<Row, Fail> {
        let mut f = [""; 8];
        let n = split_fields(line, b',', &mut f).unwrap_or(usize::MAX);
        if n != 4 {
            return Err(field_count_fail(4, count_fields(line, b','), LAYOUT));
        }
        let st = parse_stamp(f[1])
            .filter(|s| !s.date_only)
            .ok_or_else(|| bad_stamp(f[1], "YYYYMMDD HH:MM:SS.mmm"))?;
        let bid = num(f[2], "bid")?;
        let ask = num(f[3], "ask")?;
        let key = pair_key(f[0], self.forced, ctx)?;
        let ts = resolve_stamp(st, &self.tz, ctx)?;
        Ok(Row {
            key,
            ts,
            p: [bid, ask, 0.0, 0.0],
            ..Row::default()
        })
    }
}

impl LineParser for Truefx {
    fn shape(&self) -> Shape {
        Shape {
            key: true,
            ..Shape::default()
        }
    }

    #[inline(always)]
    fn fast(&self, line: &str, ctx: &mut Ctx) -> Option<Row> {
        self.fast_row(line, ctx).filter(|r| tick_ok(r.p[0], r.p[1]))
    }

    fn parse(&self, line: &str, ctx: &mut Ctx) -> Outcome {
        outcome(
            self.slow(line, ctx)
                .and_then(|r| check_tick(r.p[0], r.p[1]).map(|()| r)),
        )
    }
}
