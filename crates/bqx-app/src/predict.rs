//! `bqx predict` and `POST /api/v1/predict`: the champion of the newest run that trained the
//! networks answers for a pair and a bar time.
//!
//! The champion of a pair is the multi-task network of the last fold's unit (its first seed,
//! trained on the same rows with the same seed, so the same weights), saved by the train stage
//! under `<store>/models/champion/<key12>/` as `<PAIR>.safetensors` + `<PAIR>.json` (a network
//! card that must match the input schema) with the inputs of the pair's most recent 500 rows
//! (`<PAIR>.inputs.safetensors`). A prediction runs the loaded network on the stored inputs of
//! the latest row at or before the time asked for (once per row: the answer is kept with the
//! loaded champion); a time before those rows is refused with the range that is available.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bqx_domain::Pair;
use bqx_models::Matrix;
use bqx_models::net::{MultiTaskNet, Network, NetworkCard, load_inputs, load_network};
use bqx_store::RegistryReader;
use serde::{Deserialize, Serialize};

use crate::{AppError, ErrorCode};

/// Rows whose inputs are kept with each champion.
pub(crate) const CHAMPION_ROWS: usize = 500;
/// Artifact kind of the champions' index.
pub(crate) const CHAMPIONS: &str = "champions";

/// The index the train stage writes (`champions.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChampionIndex {
    /// Directory of the checkpoints, relative to the store.
    pub dir: String,
    pub fold: u32,
    /// Hash of the input column names (the cards' schema hash).
    pub schema_hash: String,
    pub pairs: Vec<Pair>,
}

/// A prediction request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    pub pair: String,
    /// A bar time (RFC 3339, or a date `YYYY-MM-DD` for 00:00 UTC); default: the latest row.
    pub at: Option<String>,
}

/// Class probabilities of the regime head.
#[derive(Debug, Clone, Serialize)]
pub struct RegimeProbabilities {
    pub strong_down: f64,
    pub down: f64,
    pub flat: f64,
    pub up: f64,
    pub strong_up: f64,
}

/// The answer.
#[derive(Debug, Clone, Serialize)]
pub struct PredictResponse {
    pub pair: Pair,
    /// The bar whose features were used (UTC).
    pub feature_time: String,
    /// Forecast of `bqx_return_W(t + h)`.
    pub bqx: f64,
    /// Forecast of the std of the one-bar log returns over the next h bars.
    pub volatility: f64,
    pub regime: RegimeProbabilities,
    /// The most probable regime class.
    pub regime_class: &'static str,
    /// The model card (path relative to the store) and its weights' SHA-256.
    pub model_card: String,
    pub model_sha256: String,
    pub run_id: String,
    pub fold: Option<u32>,
    /// The bar times the champion can answer for.
    pub available_from: String,
    pub available_to: String,
}

/// A champion loaded in memory.
pub struct LoadedChampion {
    pub run_id: String,
    pub pair: Pair,
    card: NetworkCard,
    card_rel: String,
    net: Mutex<MultiTaskNet>,
    ts: Vec<i64>,
    x: Matrix,
    /// Each stored row's answer, computed by the network on first request (the model and the
    /// row never change, so neither does the answer).
    answers: Vec<std::sync::OnceLock<PredictResponse>>,
}

impl std::fmt::Debug for LoadedChampion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedChampion")
            .field("run_id", &self.run_id)
            .field("pair", &self.pair)
            .field("rows", &self.ts.len())
            .finish()
    }
}

fn bad(m: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::InvalidArgument, m.into())
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("predict: {e}"))
}

/// The newest run with champions and its index.
pub(crate) fn newest_champions(store_dir: &Path) -> Result<(String, ChampionIndex), AppError> {
    let none = || {
        AppError::new(
            ErrorCode::NotFound,
            "no trained champion in this store: run `bqx demo` or `bqx run` with the networks on",
        )
    };
    let reg = RegistryReader::open(store_dir)
        .map_err(internal)?
        .ok_or_else(none)?;
    let runs = reg.runs_with_artifact(CHAMPIONS).map_err(internal)?;
    let run_id = runs.into_iter().max().ok_or_else(none)?;
    let art = reg
        .artifacts(&run_id)
        .map_err(internal)?
        .into_iter()
        .find(|a| a.kind == CHAMPIONS)
        .ok_or_else(none)?;
    let text = std::fs::read(store_dir.join(&art.path)).map_err(internal)?;
    let index: ChampionIndex = serde_json::from_slice(&text).map_err(internal)?;
    Ok((run_id, index))
}

/// Loads the champion of `pair` from the newest run that has one.
pub fn load_champion(store_dir: &Path, pair: Pair) -> Result<LoadedChampion, AppError> {
    let (run_id, index) = newest_champions(store_dir)?;
    if !index.pairs.contains(&pair) {
        return Err(AppError::new(
            ErrorCode::NotFound,
            format!(
                "run {run_id} has no champion for {pair} (pairs: {})",
                index
                    .pairs
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let dir: PathBuf = store_dir.join(&index.dir);
    let (net, card) =
        load_network(&dir.join(format!("{pair}.json")), &index.schema_hash).map_err(internal)?;
    let Network::MultiTask(net) = net else {
        return Err(internal("the champion card is not a multi-task network"));
    };
    let (ts, x) = load_inputs(
        &dir.join(format!("{pair}.inputs.safetensors")),
        &index.schema_hash,
    )
    .map_err(internal)?;
    if ts.is_empty() {
        return Err(internal("the champion has no input rows"));
    }
    Ok(LoadedChampion {
        run_id,
        pair,
        card,
        card_rel: format!("{}/{pair}.json", index.dir),
        net: Mutex::new(net),
        answers: (0..ts.len()).map(|_| std::sync::OnceLock::new()).collect(),
        ts,
        x,
    })
}

/// Parses `--at`: RFC 3339, or `YYYY-MM-DD` (00:00 UTC); UTC microseconds.
pub fn parse_at(s: &str) -> Result<i64, AppError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_micros());
    }
    Err(bad(format!(
        "--at {s:?}: expected an RFC 3339 time (2026-10-30T13:15:00Z) or a date (2026-10-30)"
    )))
}

fn iso(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

const CLASSES: [&str; 5] = ["strong_down", "down", "flat", "up", "strong_up"];

impl LoadedChampion {
    /// The forecast from the latest stored row at or before `at` (the latest row without).
    pub fn answer(&self, at: Option<i64>) -> Result<PredictResponse, AppError> {
        let (first, last) = (self.ts[0], *self.ts.last().expect("non-empty"));
        let row = match at {
            None => self.ts.len() - 1,
            Some(t) => {
                let k = self.ts.partition_point(|&x| x <= t);
                if k == 0 {
                    return Err(bad(format!(
                        "{}: the champion answers for bars from {} to {}; {} is earlier",
                        self.pair,
                        iso(first),
                        iso(last),
                        iso(t)
                    )));
                }
                k - 1
            }
        };
        if let Some(a) = self.answers[row].get() {
            return Ok(a.clone());
        }
        let a = self.compute(row)?;
        Ok(self.answers[row].get_or_init(|| a).clone())
    }

    /// Runs the network on stored row `row`.
    fn compute(&self, row: usize) -> Result<PredictResponse, AppError> {
        let (first, last) = (self.ts[0], *self.ts.last().expect("non-empty"));
        let x = self.x.select_rows(&[row]).map_err(internal)?;
        let out = self
            .net
            .lock()
            .expect("champion lock")
            .predict(&x)
            .map_err(internal)?;
        let probs = out
            .regime
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| internal("the champion has no regime head"))?;
        let best = (0..probs.len())
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap_or(2);
        Ok(PredictResponse {
            pair: self.pair,
            feature_time: iso(self.ts[row]),
            bqx: out.bqx[0],
            volatility: out
                .vol
                .and_then(|v| v.first().copied())
                .ok_or_else(|| internal("the champion has no volatility head"))?,
            regime: RegimeProbabilities {
                strong_down: probs[0],
                down: probs[1],
                flat: probs[2],
                up: probs[3],
                strong_up: probs[4],
            },
            regime_class: CLASSES[best],
            model_card: self.card_rel.clone(),
            model_sha256: self.card.weights.sha256.clone(),
            run_id: self.run_id.clone(),
            fold: self.card.meta.fold,
            available_from: iso(first),
            available_to: iso(last),
        })
    }
}

/// `bqx predict`: loads the champion of the pair and answers once.
pub fn predict(store_dir: &Path, req: &PredictRequest) -> Result<PredictResponse, AppError> {
    let pair = Pair::parse(&req.pair).map_err(|e| bad(format!("pair {:?}: {e}", req.pair)))?;
    let at = req.at.as_deref().map(parse_at).transpose()?;
    load_champion(store_dir, pair)?.answer(at)
}
