//! Stage 2.18: the multi-task network and its single-task control, trained per pair and fold
//! on the selected features (candle, seeds averaged). The units are the backtest's — same key,
//! same store table — so the backtest that follows reuses them and reports the networks beside
//! the baselines; a killed run resumes unit by unit. Every epoch's losses per head go to the
//! registry (`training_curves`), and the run gets a `training` artifact: per network, fold and
//! pair, the seeds' curves, and the pooled volatility and regime heads.

use std::collections::BTreeMap;

use bqx_eval::backtest::{UnitId, UnitResult};
use bqx_models::ModelSpec;
use bqx_models::net::{NetMeta, Network, save_inputs, save_network};
use bqx_store::{CurveRow, LogLevel, Store};
use serde::Serialize;

use super::{Stage, StageCx};
use crate::backtest::{eval_key, fit_units_into, write_artifact};
use crate::pipeline::RunRequest;
use crate::predict::{CHAMPION_ROWS, CHAMPIONS, ChampionIndex};
use crate::{AppError, ErrorCode};

pub(crate) struct TrainStage;

/// The train stage's output.
pub(crate) struct TrainDone {
    pub key: String,
    pub units: usize,
    pub reused: usize,
    pub networks: Vec<NetworkBrief>,
    /// Pairs with a saved champion (multi-task network of the last fold).
    pub champions: usize,
}

/// One network in brief (run report, tear-sheet).
#[derive(Debug, Clone, Serialize)]
pub struct NetworkBrief {
    pub model: String,
    pub units: usize,
    pub skipped_units: usize,
    pub seeds: usize,
    pub folds: Vec<u32>,
    /// Mean over units and seeds of the epoch whose weights were kept.
    pub mean_best_epoch: Option<f64>,
    /// Share of seed trainings that early stopping ended.
    pub stopped_early_share: Option<f64>,
}

/// One unit in the `training` artifact (the heads' test outputs stay in the store's units).
#[derive(Debug, Clone, Serialize)]
struct UnitCurves<'a> {
    model: &'a str,
    pair: String,
    fold: u32,
    n_train: usize,
    n_valid: usize,
    n_train_used: usize,
    regime_cuts: [f64; 4],
    majority_class: u8,
    curves: &'a [bqx_eval::networks::SeedCurve],
}

fn is_network(m: &ModelSpec) -> bool {
    matches!(m, ModelSpec::MultiTask(_))
}

fn curve_rows(units: &BTreeMap<UnitId, UnitResult>) -> Vec<CurveRow> {
    let mut rows = Vec::new();
    for (id, u) in units {
        let Some(net) = &u.fit.network else { continue };
        for c in &net.curves {
            for e in &c.epochs {
                rows.push(CurveRow {
                    stage: "train".into(),
                    model: id.model.clone(),
                    pair: Some(id.pair.to_string()),
                    fold: id.fold,
                    seed: c.seed,
                    epoch: e.epoch as u32,
                    learning_rate: Some(e.learning_rate),
                    train_total: Some(e.train.total),
                    train_bqx: Some(e.train.bqx),
                    train_vol: e.train.vol,
                    train_regime: e.train.regime,
                    valid_total: e.valid.map(|v| v.total),
                    valid_bqx: e.valid.map(|v| v.bqx),
                    valid_vol: e.valid.and_then(|v| v.vol),
                    valid_regime: e.valid.and_then(|v| v.regime),
                    valid_bqx_mae: e.valid_bqx_mae,
                    best: e.epoch == c.best_epoch,
                });
            }
        }
    }
    rows
}

fn briefs(units: &BTreeMap<UnitId, UnitResult>) -> Vec<NetworkBrief> {
    let mut by: BTreeMap<&str, Vec<(&UnitId, &UnitResult)>> = BTreeMap::new();
    for (id, u) in units {
        by.entry(id.model.as_str()).or_default().push((id, u));
    }
    by.into_iter()
        .map(|(model, us)| {
            let fits: Vec<_> = us
                .iter()
                .filter_map(|(_, u)| u.fit.network.as_ref())
                .collect();
            let curves: Vec<_> = fits.iter().flat_map(|f| &f.curves).collect();
            let mut folds: Vec<u32> = us.iter().map(|(id, _)| id.fold).collect();
            folds.sort_unstable();
            folds.dedup();
            let n = curves.len() as f64;
            NetworkBrief {
                model: model.to_string(),
                units: us.len(),
                skipped_units: us.iter().filter(|(_, u)| u.fit.skipped.is_some()).count(),
                seeds: fits.first().map_or(0, |f| f.curves.len()),
                folds,
                mean_best_epoch: (n > 0.0)
                    .then(|| curves.iter().map(|c| c.best_epoch as f64).sum::<f64>() / n),
                stopped_early_share: (n > 0.0)
                    .then(|| curves.iter().filter(|c| c.stopped_early).count() as f64 / n),
            }
        })
        .collect()
}

/// Trains and saves the champions of the multi-task network (see [`crate::predict`]) unless
/// the directory of this key already holds them, and records the index as the run's
/// `champions` artifact. Returns how many pairs have one.
fn save_champions(
    store: &mut Store,
    run_id: &str,
    l: &super::Loaded,
    fits: &bqx_eval::backtest::FoldFits,
    key: &str,
    units: &BTreeMap<UnitId, UnitResult>,
    progress: &dyn crate::Progress,
) -> Result<usize, AppError> {
    let Some(spec) = l
        .cfg
        .models
        .iter()
        .find(|m| m.kind() == bqx_models::ModelKind::MultiTask)
    else {
        return Ok(0);
    };
    let rel = format!("models/champion/{}", &key[..12]);
    let dir = store.dir().join(&rel);
    let index_path = dir.join("champions.json");
    let index: ChampionIndex = match std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(i) => i,
        None => {
            crate::progress::task_started(progress, "champions", 1, "sets");
            let bqx_eval::backtest::Champions {
                fold,
                input_names: names,
                by_pair: champs,
            } = bqx_eval::backtest::train_champions(
                &l.inputs.series,
                Some(&l.inputs.panel),
                &l.cfg,
                fits,
                spec,
                CHAMPION_ROWS,
            )
            .map_err(|e| AppError::new(ErrorCode::InvalidArgument, format!("train stage: {e}")))?;
            let schema = super::hash_lines(&names);
            let device = match spec {
                ModelSpec::MultiTask(n) => {
                    bqx_models::device_name(n.net.device).unwrap_or_else(|_| "cpu".into())
                }
                _ => "cpu".into(),
            };
            let mut pairs = Vec::new();
            for (pair, c) in champs {
                // The unit's out-of-sample record (the seeds' average) on the fold it serves.
                let unit = units.get(&UnitId {
                    model: "multitask".into(),
                    fold,
                    pair,
                });
                let (hits, n) = unit.map_or((0, 0), |u| {
                    u.predicted
                        .iter()
                        .zip(&u.actual)
                        .filter(|(p, a)| p.is_finite() && a.is_finite() && **a != 0.0)
                        .fold((0, 0), |(h, n), (p, a)| {
                            (h + usize::from(p.signum() == a.signum()), n + 1)
                        })
                });
                let meta = NetMeta {
                    schema_hash: schema.clone(),
                    data_fingerprint: l.inputs.fingerprint.clone(),
                    feature_names: names.clone(),
                    fold: Some(fold),
                    pair: Some(pair.to_string()),
                    device: device.clone(),
                    metrics: serde_json::json!({
                        "valid_bqx_mae": c.fit.epochs.get(c.fit.best_epoch.saturating_sub(1)).and_then(|e| e.valid_bqx_mae),
                        "unit_test_rows": n,
                        "unit_test_directional_accuracy": (n > 0).then(|| hits as f64 / n as f64),
                        "regime_cuts": c.regime_cuts,
                    }),
                };
                let stem = pair.to_string();
                save_network(&Network::MultiTask(c.net), &dir, &stem, &meta)
                    .map_err(|e| AppError::internal(format!("champion {pair}: {e}")))?;
                save_inputs(
                    &dir.join(format!("{stem}.inputs.safetensors")),
                    &schema,
                    &c.ts,
                    &c.x,
                )
                .map_err(|e| AppError::internal(format!("champion {pair}: {e}")))?;
                pairs.push(pair);
            }
            let index = ChampionIndex {
                dir: rel.clone(),
                fold,
                schema_hash: schema,
                pairs,
            };
            // Written last: an index means every champion it lists is on disk.
            let json =
                serde_json::to_vec_pretty(&index).map_err(|e| AppError::internal(e.to_string()))?;
            std::fs::write(&index_path, json)
                .map_err(|e| AppError::internal(format!("{}: {e}", index_path.display())))?;
            crate::progress::task_finished(progress, "champions");
            index
        }
    };
    let json = serde_json::to_string(&index).map_err(|e| AppError::internal(e.to_string()))?;
    write_artifact(store, run_id, "train", CHAMPIONS, "champions.json", &json)?;
    Ok(index.pairs.len())
}

impl Stage for TrainStage {
    fn name(&self) -> &'static str {
        "train"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["select", "embed"]
    }
    fn about(&self) -> &'static str {
        "2.18 multi-task network and its single-task control per pair and fold (candle)"
    }
    fn per_fold(&self) -> bool {
        true
    }
    fn needed_by(&self, req: &RunRequest) -> bool {
        req.backtest.trains_networks()
    }
    fn fingerprint(&self, cx: &mut StageCx<'_>, store: &mut Store) -> Result<String, AppError> {
        // The backtest's key: the networks' units are the backtest's units.
        let upstream = super::backtest::upstream_key(cx);
        let l = cx.loaded(store)?;
        Ok(eval_key(&l.cfg, &l.inputs.fingerprint, upstream.as_deref()))
    }
    fn run(&self, cx: &mut StageCx<'_>, store: &mut Store, run_id: &str) -> Result<(), AppError> {
        let key = self.fingerprint(cx, store)?;
        let fits = cx.fold_fits();
        let progress = cx.progress;
        let l = cx.loaded(store)?;
        if !l.cfg.models.iter().any(is_network) {
            return Err(AppError::new(
                ErrorCode::InvalidArgument,
                "train stage: the run's models include no network (--networks off?)",
            ));
        }
        let (units, reused) =
            fit_units_into(store, l, &fits, &key, &is_network, "train", progress)?;
        store.record_training_curves(run_id, &curve_rows(&units))?;
        let artifact: Vec<UnitCurves<'_>> = units
            .iter()
            .filter_map(|(id, u)| {
                u.fit.network.as_ref().map(|fit| UnitCurves {
                    model: &id.model,
                    pair: id.pair.to_string(),
                    fold: id.fold,
                    n_train: u.fit.n_train,
                    n_valid: u.fit.n_valid,
                    n_train_used: fit.n_train_used,
                    regime_cuts: fit.regime_cuts,
                    majority_class: fit.majority_class,
                    curves: &fit.curves,
                })
            })
            .collect();
        let json = serde_json::to_string(&artifact)
            .map_err(|e| AppError::internal(format!("training artifact: {e}")))?;
        write_artifact(store, run_id, "train", "training", "training.json", &json)?;
        let champions = save_champions(store, run_id, l, &fits, &key, &units, progress)?;
        let networks = briefs(&units);
        for b in &networks {
            store.log(
                run_id,
                "train",
                LogLevel::Info,
                &format!(
                    "{}: {} units ({} skipped) on folds {:?}, {} seeds each, best epoch {:.1} on average",
                    b.model,
                    b.units,
                    b.skipped_units,
                    b.folds,
                    b.seeds,
                    b.mean_best_epoch.unwrap_or(f64::NAN)
                ),
            )?;
        }
        cx.train = Some(TrainDone {
            key,
            units: units.len(),
            reused,
            networks,
            champions,
        });
        Ok(())
    }
    fn summary(&self, cx: &StageCx<'_>) -> serde_json::Value {
        match &cx.train {
            Some(t) => serde_json::json!({
                "units": t.units,
                "reused_units": t.reused,
                "networks": t.networks,
                "champions": t.champions,
                "key": t.key,
            }),
            None => serde_json::Value::Null,
        }
    }
}
