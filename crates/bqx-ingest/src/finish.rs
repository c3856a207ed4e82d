//! From parsed rows to series: sorting, de-duplication, Dukascopy flats, tick aggregation,
//! timeframe inference and the exact accounting.

use std::collections::HashMap;

use bqx_domain::{
    BarColumns, MICROS_PER_MINUTE, MICROS_PER_SECOND, Pair, PriceSide, Timeframe,
    format_utc_micros, is_fx_weekend,
};
use rayon::prelude::*;

use crate::driver::{Cols, Shape};
use crate::{Format, ParsedSeries, RejectKind, Rejected};

/// Rows of one pair in file order, before sorting.
#[derive(Debug, Default)]
pub(crate) struct SeriesRows {
    pub ts: Vec<i64>,
    pub p: [Vec<f64>; 4],
    pub vol: Option<Vec<f64>>,
    pub spr: Option<Vec<f64>>,
    pub line: Vec<u64>,
}

impl SeriesRows {
    pub(crate) fn new(vol: bool, spr: bool) -> SeriesRows {
        SeriesRows {
            vol: vol.then(Vec::new),
            spr: spr.then(Vec::new),
            ..SeriesRows::default()
        }
    }

    pub(crate) fn push(&mut self, ts: i64, p: [f64; 4], vol: f64, spr: f64, line: u64) {
        self.ts.push(ts);
        for (c, v) in self.p.iter_mut().zip(p) {
            c.push(v);
        }
        if let Some(c) = &mut self.vol {
            c.push(vol);
        }
        if let Some(c) = &mut self.spr {
            c.push(spr);
        }
        self.line.push(line);
    }

    fn len(&self) -> usize {
        self.ts.len()
    }

    fn same(&self, i: usize, j: usize) -> bool {
        let opt = |c: &Option<Vec<f64>>| c.as_ref().is_none_or(|c| c[i] == c[j]);
        self.p.iter().all(|c| c[i] == c[j]) && opt(&self.vol) && opt(&self.spr)
    }

    fn take(&self, idx: &[usize]) -> SeriesRows {
        let pick = |c: &Vec<f64>| idx.par_iter().map(|&i| c[i]).collect::<Vec<f64>>();
        SeriesRows {
            ts: idx.par_iter().map(|&i| self.ts[i]).collect(),
            p: [
                pick(&self.p[0]),
                pick(&self.p[1]),
                pick(&self.p[2]),
                pick(&self.p[3]),
            ],
            vol: self.vol.as_ref().map(pick),
            spr: self.spr.as_ref().map(pick),
            line: idx.par_iter().map(|&i| self.line[i]).collect(),
        }
    }
}

/// Splits the driver's columns into one row set per pair key (canonical pair order).
pub(crate) fn split_by_key(cols: Cols, shape: Shape, fixed: u8) -> Vec<(u8, SeriesRows)> {
    let whole = |cols: Cols| SeriesRows {
        ts: cols.ts,
        p: cols.p,
        vol: shape.vol.then_some(cols.vol),
        spr: shape.spr.then_some(cols.spr),
        line: cols.line,
    };
    if !shape.key {
        return vec![(fixed, whole(cols))];
    }
    match cols.key.first() {
        None => return Vec::new(),
        Some(&k) if cols.key.iter().all(|&x| x == k) => return vec![(k, whole(cols))],
        _ => {}
    }
    let mut by: Vec<Option<SeriesRows>> = (0..Pair::COUNT).map(|_| None).collect();
    for i in 0..cols.len() {
        let k = cols.key[i] as usize;
        let s = by[k].get_or_insert_with(|| SeriesRows::new(shape.vol, shape.spr));
        s.push(
            cols.ts[i],
            [cols.p[0][i], cols.p[1][i], cols.p[2][i], cols.p[3][i]],
            if shape.vol { cols.vol[i] } else { 0.0 },
            if shape.spr { cols.spr[i] } else { 0.0 },
            cols.line[i],
        );
    }
    by.into_iter()
        .enumerate()
        .filter_map(|(k, s)| s.map(|s| (k as u8, s)))
        .collect()
}

/// Bars after sorting, de-duplication and flat removal.
#[derive(Debug)]
struct Built {
    rows: SeriesRows,
    /// (later line, first line, ts) of duplicate stamps with different values.
    conflicts: Vec<(u64, u64, i64)>,
    dups: u64,
    flats: u64,
}

fn strictly_increasing(ts: &[i64]) -> bool {
    if ts.len() > 1 << 16 {
        ts.par_windows(2).all(|w| w[0] < w[1])
    } else {
        ts.windows(2).all(|w| w[0] < w[1])
    }
}

fn stable_order(ts: &[i64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..ts.len()).collect();
    if ts.len() > 1 << 16 {
        idx.par_sort_by_key(|&i| ts[i]);
    } else {
        idx.sort_by_key(|&i| ts[i]);
    }
    idx
}

fn build_bars(rows: SeriesRows, drop_flats: bool) -> Built {
    let mut conflicts = Vec::new();
    let mut dups = 0;
    let mut rows = if strictly_increasing(&rows.ts) {
        rows
    } else {
        // Stable: among equal stamps, file order is kept, so the first occurrence wins.
        let order = stable_order(&rows.ts);
        let mut keep = Vec::with_capacity(order.len());
        let mut g = 0;
        while g < order.len() {
            let first = order[g];
            keep.push(first);
            let mut j = g + 1;
            while j < order.len() && rows.ts[order[j]] == rows.ts[first] {
                let later = order[j];
                if rows.same(first, later) {
                    dups += 1;
                } else {
                    conflicts.push((rows.line[later], rows.line[first], rows.ts[first]));
                }
                j += 1;
            }
            g = j;
        }
        rows.take(&keep)
    };
    let mut flats = 0;
    if drop_flats && let Some(vol) = &rows.vol {
        let n = rows.len();
        let [o, h, l, c] = &rows.p;
        let flat = |i: usize| o[i] == h[i] && h[i] == l[i] && l[i] == c[i] && vol[i] == 0.0;
        let mut keep = vec![true; n];
        let mut i = 0;
        while i < n {
            if !flat(i) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j + 1 < n && flat(j + 1) && c[j + 1] == c[i] {
                j += 1;
            }
            let holiday = j - i + 1 >= 60;
            for (k, kept) in keep.iter_mut().enumerate().take(j + 1).skip(i) {
                if holiday || is_fx_weekend(rows.ts[k]) {
                    *kept = false;
                    flats += 1;
                }
            }
            i = j + 1;
        }
        if flats > 0 {
            let idx: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
            rows = rows.take(&idx);
        }
    }
    Built {
        rows,
        conflicts,
        dups,
        flats,
    }
}

/// One-minute bars aggregated from ticks, one per requested side.
#[derive(Debug)]
struct TickBars {
    bars: Vec<(PriceSide, BarColumns)>,
    first_line: Vec<u64>,
    records: Vec<u32>,
    wide: u64,
}

#[derive(Clone, Copy)]
struct Ohlc([f64; 4]);

impl Ohlc {
    fn start(v: f64) -> Ohlc {
        Ohlc([v; 4])
    }
    fn add(&mut self, v: f64) {
        self.0[1] = self.0[1].max(v);
        self.0[2] = self.0[2].min(v);
        self.0[3] = v;
    }
}

fn aggregate_ticks(rows: SeriesRows, sides: &[PriceSide]) -> TickBars {
    let n = rows.len();
    let rows = if rows.ts.windows(2).all(|w| w[0] <= w[1]) {
        rows
    } else {
        rows.take(&stable_order(&rows.ts))
    };
    let (bid, ask) = (&rows.p[0], &rows.p[1]);
    let mut bars: Vec<(PriceSide, BarColumns)> = sides
        .iter()
        .map(|&s| (s, BarColumns::with_capacity(n / 8 + 1, true, true)))
        .collect();
    let mut first_line = Vec::new();
    let mut records = Vec::new();
    let mut i = 0;
    while i < n {
        let minute = rows.ts[i].div_euclid(MICROS_PER_MINUTE) * MICROS_PER_MINUTE;
        let mut acc = [
            Ohlc::start(bid[i]),
            Ohlc::start(ask[i]),
            Ohlc::start((bid[i] + ask[i]) / 2.0),
        ];
        let mut spread = ask[i] - bid[i];
        let mut j = i + 1;
        while j < n && rows.ts[j] < minute + MICROS_PER_MINUTE {
            acc[0].add(bid[j]);
            acc[1].add(ask[j]);
            acc[2].add((bid[j] + ask[j]) / 2.0);
            spread += ask[j] - bid[j];
            j += 1;
        }
        let count = (j - i) as f64;
        for (side, b) in &mut bars {
            let [o, h, l, c] = match side {
                PriceSide::Bid => acc[0].0,
                PriceSide::Ask => acc[1].0,
                _ => acc[2].0,
            };
            b.push(minute, o, h, l, c, count, spread / count);
        }
        first_line.push(rows.line[i]);
        records.push((j - i) as u32);
        i = j;
    }
    let mut spreads: Vec<f64> = bid.iter().zip(ask).map(|(b, a)| a - b).collect();
    let wide = if spreads.is_empty() {
        0
    } else {
        let mid = spreads.len() / 2;
        let median = *spreads.select_nth_unstable_by(mid, f64::total_cmp).1;
        if median > 0.0 {
            bid.iter()
                .zip(ask)
                .filter(|(b, a)| *a - *b > 10.0 * median)
                .count() as u64
        } else {
            0
        }
    };
    TickBars {
        bars,
        first_line,
        records,
        wide,
    }
}

/// The most common spacing between consecutive bars (over the first 100,000), if any.
pub(crate) fn infer_timeframe(ts: &[i64]) -> Option<Timeframe> {
    let mut counts: HashMap<i64, u64> = HashMap::new();
    for w in ts.windows(2).take(100_000) {
        let d = w[1] - w[0];
        if d > 0 && d % MICROS_PER_SECOND == 0 {
            *counts.entry(d).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(d, n)| (n, std::cmp::Reverse(d)))
        .and_then(|(d, _)| u32::try_from(d / MICROS_PER_SECOND).ok())
        .map(Timeframe::from_secs)
}

/// Bars of one side per file, or ticks aggregated into these sides.
#[derive(Clone, Debug)]
pub(crate) enum Sides {
    Bars(PriceSide),
    Ticks(Vec<PriceSide>),
}

/// Everything a parser collected, before series are built.
#[derive(Debug)]
pub(crate) struct Collected {
    pub format: Format,
    pub tz: String,
    pub sides: Sides,
    pub series: Vec<(Pair, SeriesRows)>,
    pub rejected: Vec<Rejected>,
    /// Records read, counting one per line (bars, ticks) or per (line, pair) (ECB).
    pub read: u64,
    pub notes: Vec<String>,
    pub timeframe: Option<Timeframe>,
    /// The user's period for a series whose spacing cannot be read (`IngestOptions::timeframe`).
    pub timeframe_hint: Option<Timeframe>,
    pub drop_flats: bool,
    /// Drop a volume column that is all zeros (yfinance FX).
    pub zero_volume_unknown: bool,
}

/// Built series and the final accounting.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    pub series: Vec<ParsedSeries>,
    pub rejected: Vec<Rejected>,
    pub read: u64,
    pub accepted: u64,
    pub skipped_duplicates: u64,
    pub skipped_flats: u64,
    pub notes: Vec<String>,
}

/// Builds the series. `raw(lines)` returns the raw text of the given source lines.
pub(crate) fn finish(
    c: Collected,
    raw: &(dyn Fn(&[u64]) -> HashMap<u64, String> + Sync),
) -> Finished {
    let mut f = Finished {
        notes: c.notes,
        ..Finished::default()
    };
    match &c.sides {
        Sides::Ticks(sides) => {
            let k = sides.len() as u64;
            f.read = c.read * k;
            for r in c.rejected {
                for s in sides {
                    f.rejected.push(Rejected {
                        reason: format!("{} ({s} series)", r.reason),
                        ..r.clone()
                    });
                }
            }
            let mut wide = 0;
            for (pair, rows) in c.series {
                let t = aggregate_ticks(rows, sides);
                wide += t.wide;
                for (side, bars) in t.bars {
                    f.series.push(ParsedSeries {
                        pair,
                        side,
                        timeframe: Timeframe::M1,
                        bars,
                        first_line: t.first_line.clone(),
                        records: t.records.clone(),
                    });
                }
            }
            if wide > 0 {
                f.notes.push(format!(
                    "{wide} ticks with spread > 10x median (rollover) kept and flagged"
                ));
            }
        }
        Sides::Bars(side) => {
            f.read = c.read;
            f.rejected = c.rejected;
            let mut conflicts = Vec::new();
            let mut guessed = false;
            for (pair, rows) in c.series {
                let b = build_bars(rows, c.drop_flats);
                f.skipped_duplicates += b.dups;
                f.skipped_flats += b.flats;
                conflicts.extend(b.conflicts.into_iter().map(|x| (pair, x)));
                let r = b.rows;
                let mut volume = r.vol;
                if c.zero_volume_unknown
                    && volume.as_ref().is_some_and(|v| v.iter().all(|&x| x == 0.0))
                {
                    volume = None;
                }
                let timeframe = c
                    .timeframe
                    .or_else(|| infer_timeframe(&r.ts))
                    .or(c.timeframe_hint)
                    .unwrap_or_else(|| {
                        guessed = true;
                        Timeframe::M1
                    });
                let n = r.ts.len();
                let [open, high, low, close] = r.p;
                f.series.push(ParsedSeries {
                    pair,
                    side: *side,
                    timeframe,
                    bars: BarColumns {
                        ts: r.ts,
                        open,
                        high,
                        low,
                        close,
                        volume,
                        spread: r.spr,
                    },
                    first_line: r.line,
                    records: vec![1; n],
                });
            }
            if guessed {
                f.notes
                    .push("too few bars to infer the timeframe: assumed m1".to_string());
            }
            if !conflicts.is_empty() {
                let lines: Vec<u64> = conflicts.iter().map(|(_, (l, _, _))| *l).collect();
                let raws = raw(&lines);
                for (pair, (line, first, ts)) in conflicts {
                    f.rejected.push(Rejected {
                        line,
                        raw: raws.get(&line).cloned().unwrap_or_default(),
                        kind: RejectKind::DuplicateConflict,
                        reason: format!(
                            "{pair}: {} already given at line {first} with different values; \
                             the first is kept",
                            format_utc_micros(ts)
                        ),
                    });
                }
                f.rejected.sort_by_key(|r| r.line);
            }
        }
    }
    f.accepted = f
        .series
        .iter()
        .map(|s| s.records.iter().map(|&r| r as u64).sum::<u64>())
        .sum();
    f
}
