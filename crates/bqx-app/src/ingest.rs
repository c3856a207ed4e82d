//! `bqx ingest`: parse every input, then write them all in one store transaction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bqx_domain::{Pair, PriceSide, format_utc_micros};
use bqx_ingest::{FormatChoice, IngestOptions, ParsedFile, SourceTz};
use bqx_store::{FileOutcome, FileWrite, QuarantineRow, SeriesKey, SeriesWrite};
use serde::Serialize;

use crate::progress::{task_advanced, task_finished, task_started};
use crate::stage::run_single_stage;
use crate::{AppError, ErrorCode, Progress, ProgressEvent, open_store};

/// What to ingest and how to read it.
#[derive(Debug, Clone, Serialize)]
pub struct IngestRequest {
    pub files: Vec<PathBuf>,
    #[serde(serialize_with = "display")]
    pub format: FormatChoice,
    pub pair: Option<Pair>,
    #[serde(serialize_with = "display_opt")]
    pub tz: Option<SourceTz>,
    pub side: Option<PriceSide>,
    /// The bar period of a file whose series have fewer than two bars (nothing to read it
    /// from); ignored where the file tells.
    pub timeframe: Option<bqx_domain::Timeframe>,
}

impl IngestRequest {
    /// `files`, everything else found from the files (as `bqx ingest FILE…` without options).
    pub fn files(files: Vec<PathBuf>) -> IngestRequest {
        IngestRequest {
            files,
            format: FormatChoice::Auto,
            pair: None,
            tz: None,
            side: None,
            timeframe: None,
        }
    }
}

fn display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn display_opt<S: serde::Serializer, T: std::fmt::Display>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// Rejections of one kind in one file.
#[derive(Debug, Clone, Serialize)]
pub struct RejectionSummary {
    pub count: u64,
    /// Up to five line numbers, the first ones.
    pub example_lines: Vec<u64>,
    /// The reason given for the first example.
    pub example_reason: String,
}

/// The outcome of one input file (or zip member).
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub source: String,
    pub format: String,
    pub pairs: Vec<Pair>,
    pub tz: String,
    pub sides: Vec<PriceSide>,
    pub timeframes: Vec<String>,
    /// First and last bar (UTC, bar open) among this file's accepted rows.
    pub first_utc: Option<String>,
    pub last_utc: Option<String>,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub skipped_duplicates: u64,
    pub skipped_flats: u64,
    /// Records whose bar was already stored with the same values (re-ingest).
    pub skipped_stored: u64,
    pub bars_written: u64,
    pub rejections: BTreeMap<String, RejectionSummary>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestTotals {
    pub files: usize,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub bars_written: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestResponse {
    pub run_id: String,
    pub store: PathBuf,
    pub files: Vec<FileReport>,
    pub totals: IngestTotals,
    pub seconds: f64,
}

/// Parses every input (any unusable input fails the whole call before anything is written),
/// then writes all files in one transaction and records the run and its reports.
pub fn ingest(
    store_dir: &Path,
    req: &IngestRequest,
    progress: &dyn Progress,
) -> Result<IngestResponse, AppError> {
    if req.files.is_empty() {
        return Err(AppError::new(
            ErrorCode::InvalidArgument,
            "no input files given",
        ));
    }
    let mut store = open_store(store_dir, "bqx ingest")?;
    ingest_with_store(&mut store, req, progress)
}

/// [`ingest`] into a store already open (the online loop's watched folder); `req.files` is not
/// empty.
pub(crate) fn ingest_with_store(
    store: &mut bqx_store::Store,
    req: &IngestRequest,
    progress: &dyn Progress,
) -> Result<IngestResponse, AppError> {
    let started = Instant::now();
    let store_dir = store.dir().to_path_buf();
    let args = serde_json::to_value(req).map_err(|e| AppError::internal(e.to_string()))?;
    let (run_id, files) = run_single_stage(
        store,
        "ingest",
        &args,
        "ingest",
        progress,
        |files: &Vec<FileReport>| serde_json::to_value(totals(files)).unwrap_or_default(),
        |store, run_id| ingest_in(store, run_id, req, progress),
    )?;
    Ok(IngestResponse {
        run_id,
        store: store_dir,
        totals: totals(&files),
        files,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn totals(files: &[FileReport]) -> IngestTotals {
    let mut t = IngestTotals {
        files: files.len(),
        ..Default::default()
    };
    for f in files {
        t.read += f.read;
        t.accepted += f.accepted;
        t.rejected += f.rejected;
        t.skipped += f.skipped;
        t.bars_written += f.bars_written;
    }
    t
}

fn ingest_in(
    store: &mut bqx_store::Store,
    run_id: &str,
    req: &IngestRequest,
    progress: &dyn Progress,
) -> Result<Vec<FileReport>, AppError> {
    let opts = IngestOptions {
        format: req.format,
        pair: req.pair,
        tz: req.tz,
        side: req.side,
        timeframe: req.timeframe,
    };
    let sizes: Vec<u64> = req
        .files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    task_started(progress, "read", sizes.iter().sum(), "bytes");
    task_started(progress, "write", 0, "bars");
    // A reader thread parses file i+1 while this thread writes file i into the open
    // transaction. An unusable input anywhere drops the transaction: nothing is written.
    let reports = std::thread::scope(|scope| -> Result<Vec<FileReport>, AppError> {
        let (send, receive) = std::sync::mpsc::sync_channel::<Parsed>(1);
        let opts = &opts;
        scope.spawn(move || {
            for (path, size) in req.files.iter().zip(&sizes) {
                let parsed = if is_parquet(path, opts) {
                    Ok(Parsed::Parquet(path.clone()))
                } else {
                    bqx_ingest::read_path(path, opts)
                        .map(Parsed::Files)
                        .map_err(AppError::from)
                };
                task_advanced(progress, "read", *size);
                let stop = parsed.is_err();
                if send.send(parsed.unwrap_or_else(Parsed::Failed)).is_err() || stop {
                    break;
                }
            }
        });
        let mut writer = store.bars_writer(run_id)?;
        let mut reports = Vec::new();
        let mut bars_total = 0u64;
        for message in receive {
            let files = match message {
                Parsed::Files(files) => files,
                Parsed::Parquet(path) => vec![read_parquet(&writer, &path, opts)?],
                Parsed::Failed(e) => return Err(e),
            };
            for mut f in files {
                bars_total += f.series.iter().map(|s| s.bars.len() as u64).sum::<u64>();
                progress.event(ProgressEvent::TaskTotal {
                    task: "write".into(),
                    total: bars_total,
                });
                let shape = FileShape::of(&f);
                let outcome = writer
                    .write_file(file_write(&mut f), |n| task_advanced(progress, "write", n))?;
                reports.push(report(&f, shape, &outcome));
            }
        }
        writer.commit()?;
        Ok(reports)
    })?;
    task_finished(progress, "read");
    task_finished(progress, "write");

    let rows: Vec<(String, serde_json::Value)> = reports
        .iter()
        .map(|r| {
            (
                r.source.clone(),
                serde_json::to_value(r).unwrap_or_default(),
            )
        })
        .collect();
    store.record_ingest_reports(run_id, &rows)?;
    Ok(reports)
}

/// What the reader thread hands to the writer.
enum Parsed {
    Files(Vec<ParsedFile>),
    /// Parquet is read by DuckDB, on the writer's connection.
    Parquet(PathBuf),
    Failed(AppError),
}

/// Moves a parsed file's series into a store write (the file keeps its text and counts for
/// the report).
fn file_write(f: &mut ParsedFile) -> FileWrite<'_> {
    let series = std::mem::take(&mut f.series)
        .into_iter()
        .map(|s| SeriesWrite {
            key: SeriesKey {
                pair: s.pair,
                side: s.side,
                timeframe: s.timeframe,
            },
            bars: s.bars,
            first_line: s.first_line,
            records: s.records,
        })
        .collect();
    FileWrite {
        source: f.source.clone(),
        sha256: f.sha256.clone(),
        bytes: f.bytes,
        format: f.format.to_string(),
        source_tz: f.tz.clone(),
        read: f.read,
        accepted: f.accepted,
        skipped: f.skipped_duplicates + f.skipped_flats,
        rejected: f
            .rejected
            .iter()
            .map(|r| QuarantineRow {
                line: r.line,
                kind: r.kind.as_str().to_string(),
                reason: r.reason.clone(),
                raw: r.raw.clone(),
            })
            .collect(),
        series,
        text: &f.text,
    }
}

fn is_parquet(path: &Path, opts: &IngestOptions) -> bool {
    matches!(opts.format, FormatChoice::Parquet) || {
        let mut head = [0u8; 4];
        use std::io::Read;
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .map(|_| bqx_ingest::is_parquet(&head))
            .unwrap_or(false)
    }
}

/// Reads a Parquet file through DuckDB and validates it like any other input.
fn read_parquet(
    writer: &bqx_store::BarsWriter<'_>,
    path: &Path,
    opts: &IngestOptions,
) -> Result<ParsedFile, AppError> {
    let bars = writer.read_parquet_bars(path).map_err(|reason| {
        AppError::from(bqx_ingest::UnusableInput {
            file: path.display().to_string(),
            line: None,
            reason: format!("cannot read as Parquet: {reason}"),
        })
    })?;
    let cols = bqx_ingest::RawColumns {
        ts_micros: bars.ts_micros,
        pair: bars.has_pair.then_some(bars.pair),
        open: bars.open,
        high: bars.high,
        low: bars.low,
        close: bars.close,
        volume: bars.has_volume.then_some(bars.volume),
        spread: bars.has_spread.then_some(bars.spread),
    };
    Ok(bqx_ingest::from_columns(
        &path.display().to_string(),
        cols,
        opts,
    )?)
}

/// What a report needs from a parsed file's series before they move into the write.
struct FileShape {
    pairs: Vec<Pair>,
    sides: Vec<PriceSide>,
    timeframes: Vec<String>,
    first: Option<i64>,
    last: Option<i64>,
}

impl FileShape {
    fn of(f: &ParsedFile) -> FileShape {
        let mut pairs: Vec<Pair> = f.series.iter().map(|s| s.pair).collect();
        pairs.sort();
        pairs.dedup();
        let mut sides: Vec<PriceSide> = f.series.iter().map(|s| s.side).collect();
        sides.sort();
        sides.dedup();
        let mut timeframes: Vec<String> = f.series.iter().map(|s| s.timeframe.name()).collect();
        timeframes.sort();
        timeframes.dedup();
        FileShape {
            pairs,
            sides,
            timeframes,
            first: f
                .series
                .iter()
                .filter_map(|s| s.bars.ts.first())
                .min()
                .copied(),
            last: f
                .series
                .iter()
                .filter_map(|s| s.bars.ts.last())
                .max()
                .copied(),
        }
    }
}

fn report(f: &ParsedFile, shape: FileShape, o: &FileOutcome) -> FileReport {
    let mut rejections: BTreeMap<String, RejectionSummary> = BTreeMap::new();
    for r in &f.rejected {
        let e = rejections
            .entry(r.kind.as_str().to_string())
            .or_insert_with(|| RejectionSummary {
                count: 0,
                example_lines: Vec::new(),
                example_reason: r.reason.clone(),
            });
        e.count += 1;
        if e.example_lines.len() < 5 {
            e.example_lines.push(r.line);
        }
    }
    if !o.conflicts.is_empty() {
        rejections.insert(
            "stored_conflict".into(),
            RejectionSummary {
                count: o.rejected_stored,
                example_lines: o.conflicts.iter().take(5).map(|c| c.line).collect(),
                example_reason: o.conflicts[0].reason.clone(),
            },
        );
    }
    let skipped = f.skipped_duplicates + f.skipped_flats + o.skipped_stored;
    FileReport {
        source: f.source.clone(),
        format: f.format.to_string(),
        pairs: shape.pairs,
        tz: f.tz.clone(),
        sides: shape.sides,
        timeframes: shape.timeframes,
        first_utc: shape.first.map(format_utc_micros),
        last_utc: shape.last.map(format_utc_micros),
        read: f.read,
        accepted: o.accepted,
        rejected: f.rejected.len() as u64 + o.rejected_stored,
        skipped,
        skipped_duplicates: f.skipped_duplicates,
        skipped_flats: f.skipped_flats,
        skipped_stored: o.skipped_stored,
        bars_written: o.bars_written,
        rejections,
        notes: f.notes.clone(),
    }
}
