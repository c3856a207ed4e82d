//! The line driver: splits a text body into line-aligned chunks, parses them in parallel with a
//! format's [`LineParser`], and merges the columns back in file order.

use rayon::prelude::*;

use crate::civil::DateCache;
use crate::text::{is_blank, strip_cr};
use crate::tz::TzCache;
use crate::{RejectKind, Rejected};

/// One parsed record: a bar (`p` = open, high, low, close) or a tick (`p[0]` = bid,
/// `p[1]` = ask). `key` is the pair index for multi-pair files.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Row {
    pub key: u8,
    pub ts: i64,
    pub p: [f64; 4],
    pub vol: f64,
    pub spr: f64,
}

/// What a parser makes of one non-blank line.
#[derive(Debug)]
pub(crate) enum Outcome {
    Row(Row),
    Reject(RejectKind, String),
}

pub(crate) type Fail = (RejectKind, String);

/// Per-chunk mutable state shared by all parsers.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub tz: TzCache,
    pub dates: DateCache,
    /// Local times that occurred twice (resolved to the earlier instant).
    pub ambiguous: u64,
    /// Naive stamps read as UTC for lack of a `--tz`.
    pub naive_utc: u64,
    /// Stamps that carried their own offset.
    pub stamped: u64,
    /// Of those, stamps whose offset was not zero (not `Z` / `GMT`).
    pub stamped_offset: u64,
    /// Date-only stamps taken as 00:00 UTC.
    pub date_only: u64,
    /// Small cache of pair spellings seen in a pair column.
    pub pairs: Vec<(Box<str>, Result<u8, String>)>,
    /// Last bid / ask, for MT5 tick exports that leave unchanged fields empty.
    pub prev: [Option<f64>; 2],
}

impl Ctx {
    fn absorb(&mut self, o: &Ctx) {
        self.ambiguous += o.ambiguous;
        self.naive_utc += o.naive_utc;
        self.stamped += o.stamped;
        self.stamped_offset += o.stamped_offset;
        self.date_only += o.date_only;
    }
}

/// Which optional columns a parser fills.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Shape {
    pub key: bool,
    pub vol: bool,
    pub spr: bool,
}

pub(crate) trait LineParser: Sync {
    fn shape(&self) -> Shape;

    /// The row of a well-formed, valid line in the common layout, else `None` (then `parse`
    /// decides, with the precise reason). Must agree with `parse` on every line it accepts.
    #[inline(always)]
    fn fast(&self, _line: &str, _ctx: &mut Ctx) -> Option<Row> {
        None
    }

    fn parse(&self, line: &str, ctx: &mut Ctx) -> Outcome;
}

/// Columns of parsed rows in file order.
#[derive(Debug, Default)]
pub(crate) struct Cols {
    pub key: Vec<u8>,
    pub ts: Vec<i64>,
    pub p: [Vec<f64>; 4],
    pub vol: Vec<f64>,
    pub spr: Vec<f64>,
    pub line: Vec<u64>,
}

impl Cols {
    /// Zeroed columns for `n` rows (zeroed memory is mapped lazily, so unused rows cost
    /// nothing).
    fn zeroed(n: usize, shape: Shape) -> Cols {
        let cap = |on: bool| if on { n } else { 0 };
        Cols {
            key: vec![0; cap(shape.key)],
            ts: vec![0; n],
            p: [(); 4].map(|_| vec![0.0; n]),
            vol: vec![0.0; cap(shape.vol)],
            spr: vec![0.0; cap(shape.spr)],
            line: vec![0; n],
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Disjoint mutable windows of `sizes[k]` rows each.
    fn windows(&mut self, sizes: &[usize]) -> Vec<ColsMut<'_>> {
        fn split<'a, T>(mut v: &'a mut [T], sizes: &[usize]) -> Vec<&'a mut [T]> {
            let mut out = Vec::with_capacity(sizes.len());
            for &n in sizes {
                let (a, b) = v.split_at_mut(n.min(v.len()));
                out.push(a);
                v = b;
            }
            out
        }
        let [p0, p1, p2, p3] = &mut self.p;
        let mut key = split(&mut self.key, sizes).into_iter();
        let mut ts = split(&mut self.ts, sizes).into_iter();
        let mut a = split(p0, sizes).into_iter();
        let mut b = split(p1, sizes).into_iter();
        let mut c = split(p2, sizes).into_iter();
        let mut d = split(p3, sizes).into_iter();
        let mut vol = split(&mut self.vol, sizes).into_iter();
        let mut spr = split(&mut self.spr, sizes).into_iter();
        let mut line = split(&mut self.line, sizes).into_iter();
        let mut out = Vec::with_capacity(sizes.len());
        for _ in sizes {
            out.push(ColsMut {
                key: key.next().unwrap_or_default(),
                ts: ts.next().unwrap_or_default(),
                p: [
                    a.next().unwrap_or_default(),
                    b.next().unwrap_or_default(),
                    c.next().unwrap_or_default(),
                    d.next().unwrap_or_default(),
                ],
                vol: vol.next().unwrap_or_default(),
                spr: spr.next().unwrap_or_default(),
                line: line.next().unwrap_or_default(),
            });
        }
        out
    }

    /// Moves the rows of window `k` (at `starts[k]`, `rows[k]` long) together and truncates.
    fn compact(&mut self, starts: &[usize], rows: &[usize], shape: Shape) {
        fn close<T: Copy>(v: &mut Vec<T>, starts: &[usize], rows: &[usize]) {
            let mut to = 0;
            for (&s, &n) in starts.iter().zip(rows) {
                if s != to {
                    v.copy_within(s..s + n, to);
                }
                to += n;
            }
            v.truncate(to);
        }
        if shape.key {
            close(&mut self.key, starts, rows);
        }
        close(&mut self.ts, starts, rows);
        for c in &mut self.p {
            close(c, starts, rows);
        }
        if shape.vol {
            close(&mut self.vol, starts, rows);
        }
        if shape.spr {
            close(&mut self.spr, starts, rows);
        }
        close(&mut self.line, starts, rows);
    }
}

/// One chunk's window into the columns.
#[derive(Debug, Default)]
struct ColsMut<'a> {
    key: &'a mut [u8],
    ts: &'a mut [i64],
    p: [&'a mut [f64]; 4],
    vol: &'a mut [f64],
    spr: &'a mut [f64],
    line: &'a mut [u64],
}

/// The merged result of running a parser over a body.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub cols: Cols,
    pub shape: Shape,
    pub rejected: Vec<Rejected>,
    /// Lines that were records (not blank, not headers).
    pub read: u64,
    pub ctx: Ctx,
}

struct ChunkOut {
    rows: usize,
    rejected: Vec<Rejected>,
    read: u64,
    ctx: Ctx,
}

const MIN_CHUNK: usize = 1 << 20;

/// Parses the lines of one chunk (whose first line is `base`) into its window.
fn parse_chunk<P: LineParser>(
    p: &P,
    body: &str,
    base: u64,
    shape: Shape,
    header: Option<&str>,
    out: ColsMut<'_>,
    mut ctx: Ctx,
) -> ChunkOut {
    let mut rejected = Vec::new();
    let mut read = 0u64;
    let mut no = base;
    let mut k = 0usize;
    let bytes = body.as_bytes();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
        let line = strip_cr(&body[pos..end]);
        pos = end + 1;
        no += 1;
        if is_blank(line) || header == Some(line) {
            continue;
        }
        read += 1;
        let outcome = match p.fast(line, &mut ctx) {
            Some(r) => Outcome::Row(r),
            None => p.parse(line, &mut ctx),
        };
        match outcome {
            Outcome::Row(r) => {
                if shape.key {
                    out.key[k] = r.key;
                }
                out.ts[k] = r.ts;
                out.p[0][k] = r.p[0];
                out.p[1][k] = r.p[1];
                out.p[2][k] = r.p[2];
                out.p[3][k] = r.p[3];
                if shape.vol {
                    out.vol[k] = r.vol;
                }
                if shape.spr {
                    out.spr[k] = r.spr;
                }
                out.line[k] = no - 1;
                k += 1;
            }
            Outcome::Reject(kind, reason) => rejected.push(Rejected {
                line: no - 1,
                raw: line.to_string(),
                kind,
                reason,
            }),
        }
    }
    ChunkOut {
        rows: k,
        rejected,
        read,
        ctx,
    }
}

/// Number of lines of a chunk: its newlines, plus an unterminated last line.
fn count_lines(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count() + usize::from(b.last().is_some_and(|&c| c != b'\n'))
}

/// Runs `p` over `body` (which starts at line `first_line`), in parallel line-aligned chunks
/// unless `sequential`, writing rows straight into the final columns. `header`, when given,
/// marks lines equal to it as repeated headers.
pub(crate) fn run<P: LineParser>(
    p: &P,
    body: &str,
    first_line: u64,
    header: Option<&str>,
    sequential: bool,
    seed: impl Fn() -> Ctx + Sync,
) -> Parsed {
    let shape = p.shape();
    let bytes = body.as_bytes();
    let mut bounds = Vec::new();
    if sequential || bytes.len() < 2 * MIN_CHUNK {
        bounds.push((0, bytes.len()));
    } else {
        let size = (bytes.len() / (rayon::current_num_threads() * 4)).max(MIN_CHUNK);
        let mut start = 0;
        while start < bytes.len() {
            let mut end = (start + size).min(bytes.len());
            if end < bytes.len() {
                end = memchr::memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |i| end + i + 1);
            }
            bounds.push((start, end));
            start = end;
        }
    }
    // Pass 1: lines per chunk give each chunk its first line number and an upper bound on
    // its rows. Pass 2 parses every chunk into its own window of the final columns.
    let sizes: Vec<usize> = bounds
        .par_iter()
        .map(|&(a, b)| count_lines(&bytes[a..b]))
        .collect();
    let mut starts = Vec::with_capacity(sizes.len());
    let mut bases = Vec::with_capacity(sizes.len());
    let (mut row, mut line) = (0usize, first_line);
    for &n in &sizes {
        starts.push(row);
        bases.push(line);
        row += n;
        line += n as u64;
    }
    let mut cols = Cols::zeroed(row, shape);
    let windows = cols.windows(&sizes);
    let outs: Vec<ChunkOut> = windows
        .into_par_iter()
        .zip(bounds.par_iter().zip(bases.par_iter()))
        .map(|(w, (&(a, b), &base))| parse_chunk(p, &body[a..b], base, shape, header, w, seed()))
        .collect();
    let rows: Vec<usize> = outs.iter().map(|o| o.rows).collect();
    cols.compact(&starts, &rows, shape);

    let mut ctx = seed();
    let mut read = 0;
    let mut rejected = Vec::new();
    for (k, o) in outs.into_iter().enumerate() {
        ctx.absorb(&o.ctx);
        if k == 0 {
            ctx.pairs = o.ctx.pairs;
            ctx.prev = o.ctx.prev;
        }
        read += o.read;
        rejected.extend(o.rejected);
    }
    Parsed {
        cols,
        shape,
        rejected,
        read,
        ctx,
    }
}
