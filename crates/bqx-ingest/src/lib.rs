//! Ingest for BQX ML: turns the files a trader brings (HistData, Dukascopy, MetaTrader 4/5,
//! TrueFX, ECB reference rates, generic CSV / Parquet columns, zip archives of these) into
//! validated, sorted, de-duplicated bar series in UTC, with an exact account of every row:
//! `read == accepted + rejected + skipped_duplicates + skipped_flats`.
//!
//! This crate does no database work; `bqx-store` stores the result and handles conflicts
//! against stored bars.
//!
//! Decisions where the format spec is silent:
//! * Naive stamps in a generic CSV are read in `--tz` when given, else as UTC (with a note);
//!   date-only stamps are 00:00 UTC. Stamps with `Z` or an offset always use it.
//! * `--tz` overrides the fixed zones of HistData (EST) and TrueFX (UTC) with a note; it is
//!   ignored (with a note) for ECB fixes.
//! * `--pair` with a pair column: rows naming another pair are rejected as `unknown_pair`.
//! * Multi-series sources count one record per (line, series): ECB lines count once per
//!   derived pair, tick lines once per side built (bid, ask, mid), and a rejected tick line
//!   yields one rejection per side, so `accepted == Σ records` holds over all series.
//! * Leading lines of a headerless layout that contain no digit are skipped as headers (noted);
//!   other unreadable lines before the first recognizable one become rejected records.

#![forbid(unsafe_code)]

mod civil;
mod columns;
mod driver;
mod finish;
mod formats;
mod sniff;
mod text;
mod tz;

use std::fmt;
use std::io::{Cursor, Read};
use std::path::Path;
use std::str::FromStr;

use bqx_domain::{BarColumns, Pair, PriceSide, Timeframe};
use serde::{Deserialize, Serialize};

pub use columns::{RawColumns, from_columns};
pub use sniff::sniff;
pub use text::sha256_hex;
pub use tz::SourceTz;

use driver::{Ctx, LineParser, Parsed, run};
use finish::{Collected, Sides, finish, split_by_key};
use formats::dukascopy::{DukaCols, Dukascopy, side_from_name};
use formats::generic::{ColMap, Generic};
use formats::histdata::{HistM1, HistTick};
use formats::mt::{Mt4, Mt5, Mt5Cols, Mt5Tick};
use formats::truefx::Truefx;
use text::{Line, fetch_lines, first_lines, sha256_parts};

/// The `--format` choice: `auto` sniffs, anything else forces the parser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FormatChoice {
    #[default]
    Auto,
    Histdata,
    Dukascopy,
    Mt4,
    Mt5,
    Truefx,
    Ecb,
    Csv,
    Parquet,
}

impl FormatChoice {
    pub const ALL: [FormatChoice; 9] = [
        FormatChoice::Auto,
        FormatChoice::Histdata,
        FormatChoice::Dukascopy,
        FormatChoice::Mt4,
        FormatChoice::Mt5,
        FormatChoice::Truefx,
        FormatChoice::Ecb,
        FormatChoice::Csv,
        FormatChoice::Parquet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FormatChoice::Auto => "auto",
            FormatChoice::Histdata => "histdata",
            FormatChoice::Dukascopy => "dukascopy",
            FormatChoice::Mt4 => "mt4",
            FormatChoice::Mt5 => "mt5",
            FormatChoice::Truefx => "truefx",
            FormatChoice::Ecb => "ecb",
            FormatChoice::Csv => "csv",
            FormatChoice::Parquet => "parquet",
        }
    }

    /// The concrete layouts this choice accepts.
    fn accepts(self, f: Format) -> bool {
        use Format as F;
        match self {
            FormatChoice::Auto => true,
            FormatChoice::Histdata => matches!(f, F::HistdataM1 | F::HistdataTick),
            FormatChoice::Dukascopy => matches!(f, F::Dukascopy | F::DukascopyTick),
            FormatChoice::Mt4 => f == F::Mt4,
            FormatChoice::Mt5 => matches!(f, F::Mt5 | F::Mt5Tick),
            FormatChoice::Truefx => f == F::Truefx,
            FormatChoice::Ecb => f == F::Ecb,
            FormatChoice::Csv => f == F::GenericCsv,
            FormatChoice::Parquet => f == F::Parquet,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            FormatChoice::Auto | FormatChoice::Csv => {
                "a CSV header such as timestamp,pair,open,high,low,close,volume"
            }
            FormatChoice::Histdata => {
                "HistData `YYYYMMDD HHMMSS;open;high;low;close;volume` \
                 (or ticks `YYYYMMDD HHMMSSmmm,bid,ask,volume`)"
            }
            FormatChoice::Dukascopy => {
                "a Dukascopy header `Gmt time,Open,High,Low,Close,Volume` \
                 (or `Gmt time,Ask,Bid,AskVolume,BidVolume`) followed by `DD.MM.YYYY HH:MM:SS.mmm` rows"
            }
            FormatChoice::Mt4 => "MT4 `YYYY.MM.DD,HH:MM,open,high,low,close,volume`",
            FormatChoice::Mt5 => {
                "an MT5 header `<DATE>\\t<TIME>\\t<OPEN>…` or `<DATE>\\t<TIME>\\t<BID>\\t<ASK>…`"
            }
            FormatChoice::Truefx => "TrueFX `EUR/USD,YYYYMMDD HH:MM:SS.mmm,bid,ask`",
            FormatChoice::Ecb => "the ECB header `Date,USD,JPY,…`",
            FormatChoice::Parquet => "a Parquet file (PAR1)",
        }
    }
}

impl fmt::Display for FormatChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FormatChoice {
    type Err = String;
    /// `auto|histdata|dukascopy|mt4|mt5|truefx|ecb|csv|parquet` (`generic` = `csv`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        if t == "generic" {
            return Ok(FormatChoice::Csv);
        }
        FormatChoice::ALL
            .into_iter()
            .find(|c| c.as_str() == t)
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a format: use auto, histdata, dukascopy, mt4, mt5, truefx, ecb, csv or parquet"
                )
            })
    }
}

/// The concrete layout a file was read as (recorded with the data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    HistdataM1,
    HistdataTick,
    Dukascopy,
    DukascopyTick,
    Mt4,
    Mt5,
    Mt5Tick,
    Truefx,
    Ecb,
    GenericCsv,
    Parquet,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::HistdataM1 => "histdata_m1",
            Format::HistdataTick => "histdata_tick",
            Format::Dukascopy => "dukascopy",
            Format::DukascopyTick => "dukascopy_tick",
            Format::Mt4 => "mt4",
            Format::Mt5 => "mt5",
            Format::Mt5Tick => "mt5_tick",
            Format::Truefx => "truefx",
            Format::Ecb => "ecb",
            Format::GenericCsv => "generic_csv",
            Format::Parquet => "parquet",
        }
    }

    /// Layouts that have no header line.
    fn headerless(self) -> bool {
        matches!(
            self,
            Format::HistdataM1 | Format::HistdataTick | Format::Mt4 | Format::Truefx
        )
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the user told ingest about a file; everything `None` is found from the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestOptions {
    pub format: FormatChoice,
    pub pair: Option<Pair>,
    pub tz: Option<SourceTz>,
    pub side: Option<PriceSide>,
    /// The bar period when the file cannot tell it (a series of fewer than two bars, so no
    /// spacing to read); a format that fixes the period, or a spacing in the file, wins.
    pub timeframe: Option<Timeframe>,
}

/// One input file (or zip member) read into series, with the account of every record.
#[derive(Clone, Debug)]
pub struct ParsedFile {
    /// The path, or `archive.zip!inner.csv` for zip members.
    pub source: String,
    /// Hex SHA-256 of the file's bytes (of the member's uncompressed bytes for zip members).
    pub sha256: String,
    pub bytes: u64,
    pub format: Format,
    /// The source time zone actually applied (a stable description).
    pub tz: String,
    pub series: Vec<ParsedSeries>,
    /// Records read: data lines (blank and header lines excluded), counted once per series
    /// they feed for multi-series sources (ECB: per pair; ticks: per side).
    pub read: u64,
    /// Records that went into bars; equals the sum of `records` over all series.
    pub accepted: u64,
    pub rejected: Vec<Rejected>,
    /// Exact duplicates (same stamp, same values) skipped.
    pub skipped_duplicates: u64,
    /// Dukascopy weekend / holiday filler bars skipped.
    pub skipped_flats: u64,
    pub notes: Vec<String>,
    /// The decoded text, to fetch raw lines by number later (empty for Parquet).
    pub text: String,
}

impl ParsedFile {
    /// `read == accepted + rejected + skipped_duplicates + skipped_flats` and
    /// `accepted == Σ records`.
    pub fn accounting_holds(&self) -> bool {
        let records: u64 = self
            .series
            .iter()
            .flat_map(|s| s.records.iter())
            .map(|&r| r as u64)
            .sum();
        self.read
            == self.accepted
                + self.rejected.len() as u64
                + self.skipped_duplicates
                + self.skipped_flats
            && self.accepted == records
    }

    /// The raw text of a 1-based source line.
    pub fn line(&self, line: u64) -> Option<&str> {
        let i = usize::try_from(line.checked_sub(1)?).ok()?;
        self.text.split('\n').nth(i).map(text::strip_cr)
    }
}

/// Bars of one (pair, side, timeframe), strictly increasing in `bars.ts`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSeries {
    pub pair: Pair,
    pub side: PriceSide,
    pub timeframe: Timeframe,
    pub bars: BarColumns,
    /// 1-based source line of each bar's (first) record.
    pub first_line: Vec<u64>,
    /// How many source records each bar consumed: 1 for bar files, n ticks for tick bars.
    pub records: Vec<u32>,
}

/// A record that did not become (part of) a bar, kept for quarantine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// 1-based line in the file (row number for Parquet).
    pub line: u64,
    pub raw: String,
    pub kind: RejectKind,
    pub reason: String,
}

/// Why a record was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    FieldCount,
    BadTimestamp,
    BadNumber,
    NonPositivePrice,
    OhlcViolation,
    NonexistentLocalTime,
    DuplicateConflict,
    MissingValue,
    CrossedQuote,
    UnknownPair,
    /// Conflicts with a bar already stored (used by the store layer).
    StoredConflict,
}

impl RejectKind {
    pub const ALL: [RejectKind; 11] = [
        RejectKind::FieldCount,
        RejectKind::BadTimestamp,
        RejectKind::BadNumber,
        RejectKind::NonPositivePrice,
        RejectKind::OhlcViolation,
        RejectKind::NonexistentLocalTime,
        RejectKind::DuplicateConflict,
        RejectKind::MissingValue,
        RejectKind::CrossedQuote,
        RejectKind::UnknownPair,
        RejectKind::StoredConflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::FieldCount => "field_count",
            RejectKind::BadTimestamp => "bad_timestamp",
            RejectKind::BadNumber => "bad_number",
            RejectKind::NonPositivePrice => "non_positive_price",
            RejectKind::OhlcViolation => "ohlc_violation",
            RejectKind::NonexistentLocalTime => "nonexistent_local_time",
            RejectKind::DuplicateConflict => "duplicate_conflict",
            RejectKind::MissingValue => "missing_value",
            RejectKind::CrossedQuote => "crossed_quote",
            RejectKind::UnknownPair => "unknown_pair",
            RejectKind::StoredConflict => "stored_conflict",
        }
    }
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RejectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RejectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a reject kind"))
    }
}

/// A file that cannot be read at all; nothing of it is returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{file}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct UnusableInput {
    pub file: String,
    pub line: Option<u64>,
    pub reason: String,
}

impl UnusableInput {
    pub fn new(file: &str, line: Option<u64>, reason: impl Into<String>) -> UnusableInput {
        UnusableInput {
            file: file.to_string(),
            line,
            reason: reason.into(),
        }
    }
}

/// True when the bytes start with the Parquet magic `PAR1`.
pub fn is_parquet(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PAR1")
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Reads a file: a zip yields one [`ParsedFile`] per data member (`.txt` gap reports are
/// ignored with a note), anything else one.
pub fn read_path(path: &Path, opts: &IngestOptions) -> Result<Vec<ParsedFile>, UnusableInput> {
    let name = path.display().to_string();
    let bytes = read_file(path)
        .map_err(|e| UnusableInput::new(&name, None, format!("cannot read the file: {e}")))?;
    let zip_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if is_zip(&bytes) || (zip_name && !bytes.is_empty()) {
        return read_zip(&name, bytes, opts);
    }
    Ok(vec![parse_owned(&name, bytes, opts)?])
}

/// `std::fs::read`, with large files read (and their fresh pages faulted in) by all threads.
fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use rayon::prelude::*;
        use std::os::unix::fs::FileExt;
        const PIECE: usize = 1 << 24;
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        let len = usize::try_from(meta.len()).unwrap_or(0);
        if meta.is_file() && len >= 4 * PIECE {
            let mut buf = vec![0u8; len];
            buf.par_chunks_mut(PIECE)
                .enumerate()
                .try_for_each(|(i, chunk)| file.read_exact_at(chunk, (i * PIECE) as u64))?;
            return Ok(buf);
        }
    }
    std::fs::read(path)
}

fn read_zip(
    name: &str,
    bytes: Vec<u8>,
    opts: &IngestOptions,
) -> Result<Vec<ParsedFile>, UnusableInput> {
    let corrupt = |e: &dyn fmt::Display| {
        UnusableInput::new(
            name,
            None,
            format!("not a readable zip archive ({e}); it may be truncated or corrupt"),
        )
    };
    let mut ar = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt(&e))?;
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for i in 0..ar.len() {
        let mut f = ar.by_index(i).map_err(|e| corrupt(&e))?;
        if f.is_dir() {
            continue;
        }
        let member = f.name().to_string();
        let base = member.rsplit('/').next().unwrap_or(&member).to_string();
        if member.starts_with("__MACOSX/") || base.starts_with("._") {
            continue;
        }
        let source = format!("{name}!{member}");
        let mut buf = Vec::with_capacity(f.size().min(1 << 30) as usize);
        f.read_to_end(&mut buf).map_err(|e| {
            UnusableInput::new(
                &source,
                None,
                format!("corrupt zip member ({e}); the archive may be truncated"),
            )
        })?;
        drop(f);
        let lower = base.to_ascii_lowercase();
        if lower.ends_with(".zip") || is_zip(&buf) {
            notes.push(format!("ignored nested archive member {member}"));
            continue;
        }
        if lower.ends_with(".txt") && !looks_like_data(&buf) {
            notes.push(format!("ignored gap report member {member}"));
            continue;
        }
        out.push(parse_owned(&source, buf, opts)?);
    }
    let Some(first) = out.first_mut() else {
        return Err(UnusableInput::new(
            name,
            None,
            format!(
                "the archive holds no data member{}",
                if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", notes.join("; "))
                }
            ),
        ));
    };
    notes.append(&mut first.notes);
    first.notes = notes;
    Ok(out)
}

/// A `.txt` member is data only when it sniffs as a known non-generic layout.
fn looks_like_data(buf: &[u8]) -> bool {
    let head = &buf[..buf.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let lines = first_lines(text.trim_start_matches('\u{feff}'), 2);
    lines.first().is_some_and(|l| {
        sniff(l.text, lines.get(1).map(|l| l.text)).is_some_and(|f| f != Format::GenericCsv)
    })
}

/// Parses one file's bytes (not a zip). `name` is used in messages, for the pair and side
/// found in file names, and as `source`.
pub fn parse_bytes(
    name: &str,
    bytes: &[u8],
    opts: &IngestOptions,
) -> Result<ParsedFile, UnusableInput> {
    parse_owned(name, par_copy(bytes), opts)
}

/// `bytes.to_vec()`, copied (and its fresh pages faulted in) by all threads for large inputs.
fn par_copy(bytes: &[u8]) -> Vec<u8> {
    use rayon::prelude::*;
    const PIECE: usize = 1 << 22;
    if bytes.len() < 4 * PIECE {
        return bytes.to_vec();
    }
    let mut v = vec![0u8; bytes.len()];
    v.par_chunks_mut(PIECE)
        .zip(bytes.par_chunks(PIECE))
        .for_each(|(d, s)| d.copy_from_slice(s));
    v
}

fn parse_owned(
    name: &str,
    bytes: Vec<u8>,
    opts: &IngestOptions,
) -> Result<ParsedFile, UnusableInput> {
    let size = bytes.len() as u64;
    if bytes.is_empty() {
        return Err(UnusableInput::new(name, None, "empty file"));
    }
    if is_parquet(&bytes) || opts.format == FormatChoice::Parquet {
        return Err(UnusableInput::new(
            name,
            None,
            "Parquet is read by the store layer (DuckDB) and passed to bqx_ingest::from_columns",
        ));
    }
    let dec = text::decode(name, bytes)?;
    let text = dec.text;
    let (sha256, collected) = rayon::join(
        || {
            dec.sha256
                .clone()
                .unwrap_or_else(|| sha256_parts(dec.prefix, text.as_bytes()))
        },
        || collect(name, &text, opts),
    );
    let collected = collected?;
    if collected.read == 0 {
        return Err(UnusableInput::new(
            name,
            None,
            "no data rows (only header or blank lines)",
        ));
    }
    let format = collected.format;
    let tz = collected.tz.clone();
    let fin = finish(collected, &|lines: &[u64]| fetch_lines(&text, lines));
    let parsed = ParsedFile {
        source: name.to_string(),
        sha256,
        bytes: size,
        format,
        tz,
        series: fin.series,
        read: fin.read,
        accepted: fin.accepted,
        rejected: fin.rejected,
        skipped_duplicates: fin.skipped_duplicates,
        skipped_flats: fin.skipped_flats,
        notes: fin.notes,
        text,
    };
    debug_assert!(parsed.accounting_holds(), "accounting broken for {name}");
    Ok(parsed)
}

/// The file-name components a pair, side or MT4 period may come from: the zip member's name
/// first, then the archive's.
fn name_parts(name: &str) -> Vec<&str> {
    fn base(s: &str) -> &str {
        s.rsplit(['/', '\\']).next().unwrap_or(s)
    }
    let mut parts: Vec<&str> = name.rsplit('!').map(base).collect();
    parts.dedup();
    parts
}

fn pair_from_name(name: &str) -> Option<Pair> {
    name_parts(name).into_iter().find_map(Pair::find_in)
}

/// The MT period in minutes written after the pair (`EURUSD60.csv` → h1).
fn mt_period_from_name(name: &str, pair: Pair) -> Option<Timeframe> {
    let file = name_parts(name).into_iter().next()?.to_ascii_uppercase();
    let at = file.find(pair.name())? + 6;
    let digits: String = file[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Timeframe::from_mt_minutes(digits.parse().ok()?)
}

fn fmt_note(ctx: &Ctx, notes: &mut Vec<String>) {
    if ctx.ambiguous > 0 {
        notes.push(format!(
            "{} ambiguous local times resolved to the earlier instant",
            ctx.ambiguous
        ));
    }
    if ctx.naive_utc > 0 {
        notes.push(format!(
            "{} time stamps without a zone read as UTC (pass --tz if they are local times)",
            ctx.naive_utc
        ));
    }
    if ctx.date_only > 0 {
        notes.push(format!(
            "{} date-only stamps taken as 00:00 UTC",
            ctx.date_only
        ));
    }
}

/// Where the body (the lines after any header) starts.
#[derive(Clone, Copy, Debug)]
struct Body {
    offset: usize,
    line: u64,
}

fn after(l: &Line<'_>) -> Body {
    Body {
        offset: l.end,
        line: l.no + 1,
    }
}

const WHOLE: Body = Body { offset: 0, line: 1 };

struct Plan {
    format: Format,
    /// Where parsing starts (after headers, or after leading non-data lines).
    body: Body,
    notes: Vec<String>,
}

/// Decides the layout from the first lines, honoring a forced `--format`.
fn plan(name: &str, lines: &[Line<'_>], choice: FormatChoice) -> Result<Plan, UnusableInput> {
    let l0 = &lines[0];
    let second = lines.get(1).map(|l| l.text);
    if choice == FormatChoice::Csv {
        return Ok(Plan {
            format: Format::GenericCsv,
            body: WHOLE,
            notes: vec![],
        });
    }
    if let Some(f) = sniff(l0.text, second)
        && choice.accepts(f)
    {
        return Ok(Plan {
            format: f,
            body: WHOLE,
            notes: vec![],
        });
    }
    // A headerless layout may follow a few leading lines: a title without digits is skipped
    // as a header; anything else stays in the body and is rejected as a record.
    if sniff(l0.text, second).is_none() {
        for (k, l) in lines.iter().enumerate().skip(1) {
            let Some(f) = sniff(l.text, None).filter(|f| f.headerless() && choice.accepts(*f))
            else {
                continue;
            };
            let lead = &lines[..k];
            let titles = lead
                .iter()
                .take_while(|l| !l.text.bytes().any(|c| c.is_ascii_digit()));
            let skipped: Vec<&Line<'_>> = titles.collect();
            let body = skipped.last().map_or(WHOLE, |l| after(l));
            let notes = skipped
                .iter()
                .map(|l| format!("skipped header line {} '{}'", l.no, l.text))
                .collect();
            return Ok(Plan {
                format: f,
                body,
                notes,
            });
        }
    }
    let found: String = l0.text.chars().take(120).collect();
    Err(UnusableInput::new(
        name,
        Some(l0.no),
        if choice == FormatChoice::Auto {
            format!(
                "unknown format: found '{found}'; expected HistData `YYYYMMDD HHMMSS;…`, MT4 \
                 `YYYY.MM.DD,HH:MM,…`, MT5 `<DATE>\\t<TIME>…`, TrueFX `EUR/USD,YYYYMMDD …`, a \
                 Dukascopy `Gmt time,Open,…` header, the ECB `Date,USD,…` header, or {}",
                FormatChoice::Csv.expected()
            )
        } else {
            format!(
                "--format {choice}: expected {}, found '{found}'",
                choice.expected()
            )
        },
    ))
}

fn tick_sides(name: &str, side: Option<PriceSide>) -> Result<Vec<PriceSide>, UnusableInput> {
    match side {
        None => Ok(vec![PriceSide::Bid, PriceSide::Ask, PriceSide::Mid]),
        Some(PriceSide::Fix) => Err(UnusableInput::new(
            name,
            None,
            "--side fix does not apply to tick data; use bid, ask or mid",
        )),
        Some(s) => Ok(vec![s]),
    }
}

fn need_pair(name: &str, opts: &IngestOptions) -> Result<Pair, UnusableInput> {
    opts.pair.or_else(|| pair_from_name(name)).ok_or_else(|| {
        UnusableInput::new(
            name,
            None,
            "cannot tell the pair (no pair column, none in the file name); pass --pair",
        )
    })
}

fn need_tz(name: &str, opts: &IngestOptions) -> Result<SourceTz, UnusableInput> {
    opts.tz.ok_or_else(|| {
        UnusableInput::new(
            name,
            None,
            "MetaTrader exports are in broker server time; pass --tz: ny-close for the common \
             UTC+2 winter / UTC+3 summer server, a fixed offset such as UTC+2, or an IANA zone \
             such as Europe/Athens",
        )
    })
}

/// Runs a line parser and turns its rows into the [`Collected`] shape.
struct Run<'a> {
    text: &'a str,
    body: Body,
    header: Option<&'a str>,
    sequential: bool,
}

impl Run<'_> {
    fn go<P: LineParser>(&self, p: &P) -> Parsed {
        run(
            p,
            &self.text[self.body.offset..],
            self.body.line,
            self.header,
            self.sequential,
            Ctx::default,
        )
    }
}

fn series_of(
    cols: driver::Cols,
    shape: driver::Shape,
    fixed: Pair,
) -> Vec<(Pair, finish::SeriesRows)> {
    split_by_key(cols, shape, fixed.index() as u8)
        .into_iter()
        .filter_map(|(k, s)| Pair::from_index(k as usize).map(|p| (p, s)))
        .collect()
}

fn collect<'a>(
    name: &str,
    text: &'a str,
    opts: &IngestOptions,
) -> Result<Collected, UnusableInput> {
    let lines = first_lines(text, 12);
    if lines.is_empty() {
        return Err(UnusableInput::new(
            name,
            None,
            "empty file (no non-blank line)",
        ));
    }
    let Plan {
        format,
        body,
        mut notes,
    } = plan(name, &lines, opts.format)?;
    let l0 = &lines[0];
    let unusable_at = |line: u64, reason: String| UnusableInput::new(name, Some(line), reason);
    let mut c = Collected {
        format,
        tz: String::new(),
        sides: Sides::Bars(opts.side.unwrap_or(PriceSide::Bid)),
        series: Vec::new(),
        rejected: Vec::new(),
        read: 0,
        notes: Vec::new(),
        timeframe: None,
        timeframe_hint: opts.timeframe,
        drop_flats: false,
        zero_volume_unknown: false,
    };
    let headerless = Run {
        text,
        body,
        header: None,
        sequential: false,
    };
    let with_header = |header_line: &Line<'a>| Run {
        text,
        body: after(header_line),
        header: Some(header_line.text),
        sequential: false,
    };
    let (mut parsed, fixed) = match format {
        Format::HistdataM1 | Format::HistdataTick => {
            let pair = need_pair(name, opts)?;
            let tz = opts.tz.unwrap_or(SourceTz::HISTDATA_EST);
            if opts.tz.is_some_and(|t| t != SourceTz::HISTDATA_EST) {
                notes.push(format!(
                    "--tz {tz} overrides HistData's fixed EST (UTC-05:00)"
                ));
            }
            c.tz = tz.to_string();
            let parsed = if format == Format::HistdataM1 {
                c.timeframe = Some(Timeframe::M1);
                headerless.go(&HistM1 { tz })
            } else {
                c.sides = Sides::Ticks(tick_sides(name, opts.side)?);
                headerless.go(&HistTick { tz })
            };
            (parsed, pair)
        }
        Format::Mt4 => {
            let pair = need_pair(name, opts)?;
            let tz = need_tz(name, opts)?;
            c.tz = tz.to_string();
            c.timeframe = mt_period_from_name(name, pair);
            let parsed = headerless.go(&Mt4 { tz });
            (parsed, pair)
        }
        Format::Mt5 | Format::Mt5Tick => {
            let tick = format == Format::Mt5Tick;
            let cols = Mt5Cols::from_header(l0.text, tick).map_err(|e| unusable_at(l0.no, e))?;
            let pair = need_pair(name, opts)?;
            let tz = need_tz(name, opts)?;
            c.tz = tz.to_string();
            let run = with_header(l0);
            let parsed = if tick {
                c.sides = Sides::Ticks(tick_sides(name, opts.side)?);
                Run {
                    sequential: true,
                    ..run
                }
                .go(&Mt5Tick { cols, tz })
            } else {
                run.go(&Mt5 {
                    cols,
                    tz,
                    point: pair.pip() / 10.0,
                })
            };
            (parsed, pair)
        }
        Format::Truefx => {
            let tz = opts.tz.unwrap_or(SourceTz::Utc);
            if tz != SourceTz::Utc {
                notes.push(format!("--tz {tz} overrides TrueFX's UTC"));
            }
            c.tz = tz.to_string();
            c.sides = Sides::Ticks(tick_sides(name, opts.side)?);
            let parsed = headerless.go(&Truefx {
                tz,
                forced: opts.pair,
            });
            (parsed, Pair::ALL[0])
        }
        Format::Dukascopy | Format::DukascopyTick => {
            let tick = format == Format::DukascopyTick;
            let cols = DukaCols::from_header(l0.text, tick).map_err(|e| unusable_at(l0.no, e))?;
            let pair = need_pair(name, opts)?;
            let tz = opts.tz.unwrap_or(SourceTz::Utc);
            if tick {
                c.sides = Sides::Ticks(tick_sides(name, opts.side)?);
            } else {
                let side = opts
                    .side
                    .or_else(|| name_parts(name).into_iter().find_map(side_from_name));
                if side.is_none() {
                    notes.push(
                        "no BID or ASK in the file name: bid assumed (pass --side)".to_string(),
                    );
                }
                c.sides = Sides::Bars(side.unwrap_or(PriceSide::Bid));
                c.drop_flats = true;
            }
            let local_header = cols.local_header;
            let parsed = with_header(l0).go(&Dukascopy {
                cols,
                tz,
                tz_given: opts.tz.is_some(),
                tick,
            });
            c.tz = if parsed.ctx.stamped > 0 {
                if opts.tz.is_some() {
                    format!("stamped per row (GMT+hhmm), else {tz}")
                } else {
                    "stamped per row (GMT+hhmm)".to_string()
                }
            } else {
                if local_header && opts.tz.is_none() {
                    notes.push("local-time header without GMT offsets".to_string());
                }
                tz.to_string()
            };
            (parsed, pair)
        }
        Format::Ecb => {
            if opts.tz.is_some() {
                notes.push("--tz ignored: ECB rates are fixes at 14:15 Europe/Berlin".to_string());
            }
            if opts.side.is_some_and(|s| s != PriceSide::Fix) {
                notes.push("--side ignored: ECB rates are fixes".to_string());
            }
            if opts.pair.is_some() {
                notes.push("--pair ignored: the ECB file yields all derivable pairs".to_string());
            }
            let out = formats::ecb::parse(l0.text, &text[l0.end..], l0.no + 1)
                .map_err(|e| unusable_at(l0.no, e))?;
            notes.extend(out.notes);
            c.tz = "Europe/Berlin 14:15 (ECB fix)".to_string();
            c.sides = Sides::Bars(PriceSide::Fix);
            c.timeframe = Some(Timeframe::D1);
            c.series = out.series;
            c.rejected = out.rejected;
            c.read = out.read;
            c.notes = notes;
            return Ok(c);
        }
        Format::GenericCsv => {
            let map = ColMap::from_header(l0.text, lines.get(1).map(|l| l.text))
                .map_err(|e| unusable_at(l0.no, e))?;
            let header_end = lines
                .get(map.header_lines - 1)
                .ok_or_else(|| unusable_at(l0.no, "incomplete yfinance header".to_string()))?;
            let ticker_pair = map.ticker.as_deref().and_then(Pair::find_in);
            let fixed = if map.pair.is_some() {
                None
            } else {
                Some(
                    opts.pair
                        .or(ticker_pair)
                        .or_else(|| pair_from_name(name))
                        .ok_or_else(|| {
                            UnusableInput::new(
                                name,
                                Some(l0.no),
                                "cannot tell the pair (no pair column, none in the file name); \
                                 pass --pair",
                            )
                        })?,
                )
            };
            c.sides = Sides::Bars(opts.side.unwrap_or(PriceSide::Mid));
            if map.yfinance {
                c.zero_volume_unknown = true;
                notes.push(
                    "yfinance layout: daily stamps taken as dates at 00:00 UTC; the source's time \
                     zone for them is unreliable"
                        .to_string(),
                );
            }
            let yfinance = map.yfinance;
            let parsed = Run {
                text,
                body: after(header_end),
                header: Some(l0.text),
                sequential: false,
            }
            .go(&Generic {
                map,
                tz: opts.tz,
                forced: opts.pair,
                fixed_key: fixed.map(|p| p.index() as u8),
            });
            let ctx = &parsed.ctx;
            let mut tz = Vec::new();
            if ctx.stamped_offset > 0 {
                tz.push("stamped per row".to_string());
            } else if ctx.stamped > 0 {
                tz.push("UTC".to_string());
            }
            if ctx.date_only > 0 {
                tz.push(if yfinance {
                    "date only, 00:00 UTC (source zone unreliable)".to_string()
                } else {
                    "date only, 00:00 UTC".to_string()
                });
            }
            if ctx.naive_utc > 0 {
                tz.push("UTC (naive stamps, no --tz)".to_string());
            } else if let Some(t) = opts.tz
                && ctx.stamped + ctx.date_only < parsed.cols.len() as u64
            {
                tz.push(t.to_string());
            }
            if tz.is_empty() {
                tz.push(opts.tz.unwrap_or(SourceTz::Utc).to_string());
            }
            c.tz = tz.join("; ");
            (parsed, fixed.unwrap_or(Pair::ALL[0]))
        }
        Format::Parquet => {
            return Err(UnusableInput::new(
                name,
                None,
                "Parquet is read by the store layer (DuckDB) and passed to from_columns",
            ));
        }
    };
    let cols = std::mem::take(&mut parsed.cols);
    c.series = series_of(cols, parsed.shape, fixed);
    fmt_note(&parsed.ctx, &mut notes);
    c.read = parsed.read;
    c.rejected = parsed.rejected;
    c.notes = notes;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_file_read_matches_fs_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let bytes: Vec<u8> = (0..(70usize << 20) + 12_345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_file(&path).unwrap() == bytes);
        let small = dir.path().join("small.bin");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(read_file(&small).unwrap(), b"abc");
    }

    #[test]
    fn names_give_pair_period_and_side() {
        assert_eq!(
            name_parts("a/b/X.zip!dir/EURUSD1.csv"),
            ["EURUSD1.csv", "X.zip"]
        );
        let pair = Pair::parse("EURUSD").unwrap();
        assert_eq!(
            mt_period_from_name("EURUSD240.csv", pair),
            Some(Timeframe::H4)
        );
        assert_eq!(mt_period_from_name("EURUSD.csv", pair), None);
        assert_eq!(
            pair_from_name("HISTDATA_COM_ASCII_GBPJPY_M1_2024.zip!data.csv").map(|p| p.name()),
            Some("GBPJPY")
        );
        assert_eq!(
            side_from_name("EURUSD_Candlestick_1_M_ASK_01.03.2024.csv"),
            Some(PriceSide::Ask)
        );
    }
}
