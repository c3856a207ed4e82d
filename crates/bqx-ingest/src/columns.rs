//! Columns read elsewhere (Parquet through DuckDB) validated like any other source.

use bqx_domain::{Pair, PriceSide, format_utc_micros};

use crate::driver::{Ctx, Fail};
use crate::finish::{Collected, SeriesRows, Sides, finish};
use crate::formats::{check_bar, check_nonneg, pair_key};
use crate::{Format, IngestOptions, ParsedFile, RejectKind, Rejected, UnusableInput};

/// Parquet columns as read by the store layer: one entry per row, `None` for NULL.
/// `ts_micros` are UTC microseconds at bar open.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawColumns {
    pub ts_micros: Vec<Option<i64>>,
    pub pair: Option<Vec<Option<String>>>,
    pub open: Vec<Option<f64>>,
    pub high: Vec<Option<f64>>,
    pub low: Vec<Option<f64>>,
    pub close: Vec<Option<f64>>,
    pub volume: Option<Vec<Option<f64>>>,
    pub spread: Option<Vec<Option<f64>>>,
}

impl RawColumns {
    /// Row `i` rendered as CSV (`timestamp,pair,open,high,low,close,volume,spread`, with only
    /// the columns present; NULL is empty).
    pub fn render_row(&self, i: usize) -> String {
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let mut f = vec![self.ts_micros[i].map(format_utc_micros).unwrap_or_default()];
        if let Some(p) = &self.pair {
            f.push(p[i].clone().unwrap_or_default());
        }
        for c in [&self.open, &self.high, &self.low, &self.close] {
            f.push(num(c[i]));
        }
        for c in [&self.volume, &self.spread].into_iter().flatten() {
            f.push(num(c[i]));
        }
        f.join(",")
    }

    fn row(
        &self,
        i: usize,
        fixed: Option<Pair>,
        forced: Option<Pair>,
        ctx: &mut Ctx,
    ) -> Result<(u8, i64, [f64; 4], f64, f64), Fail> {
        let missing = |what: &str| (RejectKind::MissingValue, format!("{what} is NULL"));
        let ts = self.ts_micros[i].ok_or_else(|| missing("timestamp"))?;
        let mut p = [0.0; 4];
        for (k, (c, what)) in [&self.open, &self.high, &self.low, &self.close]
            .into_iter()
            .zip(["open", "high", "low", "close"])
            .enumerate()
        {
            p[k] = c[i].ok_or_else(|| missing(what))?;
        }
        let opt = |c: &Option<Vec<Option<f64>>>, what: &str| -> Result<f64, Fail> {
            match c {
                None => Ok(0.0),
                Some(c) => {
                    let v = c[i].ok_or_else(|| missing(what))?;
                    if !v.is_finite() {
                        return Err((RejectKind::BadNumber, format!("{what} {v} is not finite")));
                    }
                    check_nonneg(v, what)?;
                    Ok(v)
                }
            }
        };
        let vol = opt(&self.volume, "volume")?;
        let spr = opt(&self.spread, "spread")?;
        let key = match (&self.pair, fixed) {
            (Some(col), _) => {
                let s = col[i].as_deref().ok_or_else(|| missing("pair"))?;
                pair_key(s, forced, ctx)?
            }
            (None, Some(p)) => p.index() as u8,
            (None, None) => {
                return Err((RejectKind::UnknownPair, "cannot tell the pair".to_string()));
            }
        };
        check_bar(&p)?;
        Ok((key, ts, p, vol, spr))
    }
}

/// Validates Parquet columns like a file: `line` is the 1-based row number and `raw` the row
/// rendered as CSV. `sha256` and `bytes` are left empty for the caller, which has the file.
pub fn from_columns(
    name: &str,
    cols: RawColumns,
    opts: &IngestOptions,
) -> Result<ParsedFile, UnusableInput> {
    let n = cols.ts_micros.len();
    let lens = [
        Some(cols.open.len()),
        Some(cols.high.len()),
        Some(cols.low.len()),
        Some(cols.close.len()),
        cols.pair.as_ref().map(Vec::len),
        cols.volume.as_ref().map(Vec::len),
        cols.spread.as_ref().map(Vec::len),
    ];
    if lens.into_iter().flatten().any(|l| l != n) {
        return Err(UnusableInput::new(
            name,
            None,
            "columns of different lengths",
        ));
    }
    if n == 0 {
        return Err(UnusableInput::new(name, None, "empty file (no rows)"));
    }
    let fixed = if cols.pair.is_some() {
        None
    } else {
        Some(
            opts.pair
                .or_else(|| crate::pair_from_name(name))
                .ok_or_else(|| {
                    UnusableInput::new(
                        name,
                        None,
                        "cannot tell the pair (no pair column, none in the file name); pass --pair",
                    )
                })?,
        )
    };
    let mut notes = Vec::new();
    if opts.tz.is_some() {
        notes.push("--tz ignored: Parquet timestamps are UTC".to_string());
    }
    let (has_vol, has_spr) = (cols.volume.is_some(), cols.spread.is_some());
    let mut by: Vec<Option<SeriesRows>> = (0..Pair::COUNT).map(|_| None).collect();
    let mut rejected = Vec::new();
    let mut ctx = Ctx::default();
    for i in 0..n {
        let line = i as u64 + 1;
        match cols.row(i, fixed, opts.pair, &mut ctx) {
            Ok((key, ts, p, vol, spr)) => by[key as usize]
                .get_or_insert_with(|| SeriesRows::new(has_vol, has_spr))
                .push(ts, p, vol, spr, line),
            Err((kind, reason)) => rejected.push(Rejected {
                line,
                raw: cols.render_row(i),
                kind,
                reason,
            }),
        }
    }
    let series = by
        .into_iter()
        .enumerate()
        .filter_map(|(k, s)| Some((Pair::from_index(k)?, s?)))
        .collect();
    let c = Collected {
        format: Format::Parquet,
        tz: "UTC".to_string(),
        sides: Sides::Bars(opts.side.unwrap_or(PriceSide::Mid)),
        series,
        rejected,
        read: n as u64,
        notes,
        timeframe: None,
        timeframe_hint: opts.timeframe,
        drop_flats: false,
        zero_volume_unknown: false,
    };
    let fin = finish(c, &|lines: &[u64]| {
        lines
            .iter()
            .map(|&l| (l, cols.render_row(l as usize - 1)))
            .collect()
    });
    let parsed = ParsedFile {
        source: name.to_string(),
        sha256: String::new(),
        bytes: 0,
        format: Format::Parquet,
        tz: "UTC".to_string(),
        series: fin.series,
        read: fin.read,
        accepted: fin.accepted,
        rejected: fin.rejected,
        skipped_duplicates: fin.skipped_duplicates,
        skipped_flats: fin.skipped_flats,
        notes: fin.notes,
        text: String::new(),
    };
    debug_assert!(parsed.accounting_holds());
    Ok(parsed)
}
