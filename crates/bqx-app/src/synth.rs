//! `bqx synth`: the seeded synthetic 28-pair market, to a file, a HistData directory or the store.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bqx_domain::{PriceSide, Timeframe};
use bqx_store::{BarsWrite, FileWrite, RunStatus, SeriesKey, SeriesWrite};
use bqx_synth::{Plant, SynthConfig};
use serde::Serialize;

use crate::progress::{task_advanced, task_finished, task_started};
use crate::{AppError, ErrorCode, Progress, open_store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthFormat {
    /// `timestamp,pair,open,high,low,close,volume,spread`, one file.
    Csv,
    /// One HistData-layout file per pair in a directory (EST, bid, no header).
    Histdata,
}

#[derive(Debug, Clone, Serialize)]
pub struct SynthRequest {
    /// Bars per pair.
    pub bars: usize,
    pub timeframe: Timeframe,
    pub seed: u64,
    /// `lead-lag:LEADER:FOLLOWER:LAG:STRENGTH`, repeatable.
    pub plants: Vec<String>,
    pub format: SynthFormat,
    /// A file (csv) or a directory (histdata).
    pub out: Option<PathBuf>,
    /// Write straight into the store instead of a file.
    pub into_store: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SynthResponse {
    pub bars_per_pair: usize,
    pub total_bars: u64,
    pub first_utc: Option<String>,
    pub last_utc: Option<String>,
    pub files: Vec<PathBuf>,
    pub run_id: Option<String>,
    pub seconds: f64,
}

pub fn synth(
    store_dir: Option<&Path>,
    req: &SynthRequest,
    progress: &dyn Progress,
) -> Result<SynthResponse, AppError> {
    let started = Instant::now();
    if req.into_store == req.out.is_some() {
        return Err(AppError::new(
            ErrorCode::InvalidArgument,
            "give exactly one of --out FILE|DIR and --into-store",
        ));
    }
    let plants = req
        .plants
        .iter()
        .map(|p| p.parse::<Plant>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::new(ErrorCode::InvalidArgument, e.to_string()))?;
    let cfg = SynthConfig {
        bars: req.bars,
        timeframe: req.timeframe,
        seed: req.seed,
        plants,
        ..SynthConfig::default()
    };
    task_started(progress, "generate", 28 * req.bars as u64, "bars");
    let market = bqx_synth::generate(&cfg)
        .map_err(|e| AppError::new(ErrorCode::InvalidArgument, e.to_string()))?;
    let total: u64 = market.series.iter().map(|(_, b)| b.len() as u64).sum();
    task_advanced(progress, "generate", total);
    task_finished(progress, "generate");
    let first = market
        .series
        .iter()
        .filter_map(|(_, b)| b.ts.first())
        .min()
        .copied();
    let last = market
        .series
        .iter()
        .filter_map(|(_, b)| b.ts.last())
        .max()
        .copied();
    let mut files = Vec::new();
    let mut run_id = None;
    let io = |p: &Path, e: std::io::Error| AppError::internal(format!("{}: {e}", p.display()));
    if let Some(out) = &req.out {
        match req.format {
            SynthFormat::Csv => {
                if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                }
                let f = std::fs::File::create(out).map_err(|e| io(out, e))?;
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                bqx_synth::write_generic_csv(&market, &mut w).map_err(|e| io(out, e))?;
                use std::io::Write;
                w.flush().map_err(|e| io(out, e))?;
                files.push(out.clone());
            }
            SynthFormat::Histdata => {
                std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
                files = bqx_synth::write_histdata_dir(&market, out).map_err(|e| io(out, e))?;
            }
        }
    } else {
        let dir = store_dir.ok_or_else(|| {
            AppError::new(ErrorCode::InvalidArgument, "--into-store needs a store")
        })?;
        let mut store = open_store(dir, "bqx synth --into-store")?;
        let args = serde_json::to_value(req).map_err(|e| AppError::internal(e.to_string()))?;
        let id = store.begin_run("synth", &args)?;
        let series: Vec<SeriesWrite> = market
            .series
            .into_iter()
            .map(|(pair, bars)| {
                let n = bars.len();
                SeriesWrite {
                    key: SeriesKey {
                        pair,
                        side: PriceSide::Bid,
                        timeframe: market.timeframe,
                    },
                    bars,
                    first_line: (1..=n as u64).collect(),
                    records: vec![1; n],
                }
            })
            .collect();
        let source = format!(
            "synth:seed={},bars={},timeframe={}{}",
            req.seed,
            req.bars,
            req.timeframe,
            req.plants
                .iter()
                .map(|p| format!(",plant={p}"))
                .collect::<String>()
        );
        task_started(progress, "write", total, "bars");
        let result = store.write_bars(
            BarsWrite {
                run_id: id.clone(),
                files: vec![FileWrite {
                    sha256: String::new(),
                    bytes: 0,
                    format: "synth".into(),
                    source_tz: "UTC".into(),
                    read: total,
                    accepted: total,
                    skipped: 0,
                    rejected: Vec::new(),
                    series,
                    text: "",
                    source,
                }],
            },
            |n| task_advanced(progress, "write", n),
        );
        task_finished(progress, "write");
        let status = if result.is_ok() {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        let err = result.as_ref().err().map(|e| e.to_string());
        store.finish_run(&id, status, err.as_deref())?;
        result?;
        run_id = Some(id);
    }
    Ok(SynthResponse {
        bars_per_pair: req.bars,
        total_bars: total,
        first_utc: first.map(bqx_domain::format_utc_micros),
        last_utc: last.map(bqx_domain::format_utc_micros),
        files,
        run_id,
        seconds: started.elapsed().as_secs_f64(),
    })
}
