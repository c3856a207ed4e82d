//! Stage 2.17: per fold the networks train on, one autoencoder pooled over every pair on the
//! fold's training rows of the candidate features (stored + USD factor + cross-pair), read a
//! row batch at a time from the loaded feature columns. Each fold's model is saved under
//! `<store>/models/embed/<key12>/fold_<id>.{safetensors,json}` (a network card), its report in
//! the `fitted` table: a rerun loads the model and recomputes the embeddings (a forward pass)
//! instead of training again; a killed run resumes at the first fold without a model. The
//! embeddings `emb_00 … emb_63` of every row of a fold's range (test rows from that fold's model)
//! go to the train stage's networks; the run gets an `embeddings` artifact (per fold:
//! reconstruction error per family, constant units, k-means with silhouette and cluster
//! profiles, a 2-D projection) and the autoencoder's curves in `training_curves`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bqx_eval::backtest::{FoldExtra, fold_extra, prepare_folds};
use bqx_eval::embed::{EmbedFoldReport, embed_report, fit_fold_autoencoder, fold_embeddings};
use bqx_models::ModelSpec;
use bqx_models::net::{NetMeta, Network, load_network, save_network};
use bqx_store::{CurveRow, LogLevel, Store};

use super::{Stage, StageCx, fold_basis, hash_lines};
use crate::backtest::write_artifact;
use crate::pipeline::RunRequest;
use crate::progress::{task_advanced, task_finished, task_started};
use crate::{AppError, ErrorCode};

/// Version of the embedding procedure (bump when it changes).
const EMBED_VERSION: u32 = 2;
/// Clusters of the interpretation (features.md § Stage 2.17).
const CLUSTERS: usize = 10;

pub(crate) struct EmbedStage;

/// The embed stage's output.
pub(crate) struct EmbedDone {
    pub key: String,
    pub columns: BTreeMap<u32, Arc<FoldExtra>>,
    pub reports: Vec<EmbedFoldReport>,
    pub reused: usize,
}

fn err(e: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::InvalidArgument, format!("embed stage: {e}"))
}

/// The fold indices the run's networks train on (the union over network specs).
fn network_fold_indices(models: &[ModelSpec], n_folds: usize) -> Vec<usize> {
    let mut out: Vec<usize> = models
        .iter()
        .filter_map(|m| match m {
            ModelSpec::MultiTask(n) => Some(bqx_eval::networks::network_folds(n, n_folds)),
            _ => None,
        })
        .flatten()
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl Stage for EmbedStage {
    fn name(&self) -> &'static str {
        "embed"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["cross"]
    }
    fn about(&self) -> &'static str {
        "2.17 autoencoder embeddings pooled over pairs, fitted per fold (candle)"
    }
    fn per_fold(&self) -> bool {
        true
    }
    fn needed_by(&self, req: &RunRequest) -> bool {
        req.backtest.trains_networks() && req.backtest.embeddings_profile() != "off"
    }
    fn fingerprint(&self, cx: &mut StageCx<'_>, store: &mut Store) -> Result<String, AppError> {
        let cross_key = cx.cross.as_ref().map(|c| c.key.clone());
        let l = cx.loaded(store)?;
        let mut lines = fold_basis(l);
        lines.push(format!("embed v{EMBED_VERSION}"));
        lines.push(serde_json::to_string(&l.cfg.embeddings).expect("config serializes"));
        lines.push(format!("usd_factor {}", l.cfg.usd_factor));
        lines.push(format!("cross {}", cross_key.unwrap_or_default()));
        Ok(hash_lines(&lines))
    }
    fn run(&self, cx: &mut StageCx<'_>, store: &mut Store, run_id: &str) -> Result<(), AppError> {
        let key = self.fingerprint(cx, store)?;
        let progress = cx.progress;
        let fits = cx.fold_fits();
        let l = cx.loaded(store)?;
        let Some(ae_cfg) = l.cfg.embeddings.clone() else {
            return Err(err(
                "the run has no autoencoder configuration (--embeddings off?)",
            ));
        };
        let setup = prepare_folds(&l.inputs.series, &l.cfg).map_err(err)?;
        let folds = network_fold_indices(&l.cfg.models, setup.plan.folds.len());
        let catalog = crate::feature_catalog();
        let family_of = |name: &str| -> String {
            catalog
                .features
                .iter()
                .find(|f| f.name == name)
                .map_or_else(|| "other".to_string(), |f| f.family.to_string())
        };
        let mut names = l
            .inputs
            .series
            .first()
            .map(|s| s.names.clone())
            .unwrap_or_default();
        names.extend(
            setup
                .candidate_names(&l.cfg, l.cfg.usd_factor)
                .into_iter()
                .skip(names.len()),
        );
        let families: Vec<String> = names.iter().map(|n| family_of(n)).collect();
        let schema = hash_lines(&names);
        let dir = store.dir().join("models").join("embed").join(&key[..12]);
        task_started(progress, "embed", folds.len() as u64, "folds");
        let mut columns = BTreeMap::new();
        let mut reports = Vec::new();
        let mut curves = Vec::new();
        let mut reused = 0;
        for fi in folds {
            let fold = setup.plan.folds[fi];
            let cross = match (&l.cross_panel, fits.cross.get(&fold.id)) {
                (Some(p), Some(f)) => Some((p, f)),
                (Some(_), None) => {
                    return Err(err(format!(
                        "fold {}: the cross stage has not run",
                        fold.id
                    )));
                }
                _ => None,
            };
            let usd = l.cfg.usd_factor.then_some(&l.inputs.panel);
            let t0 = std::time::Instant::now();
            let extra = fold_extra(&setup, usd, cross, fi).map_err(err)?;
            let t_extra = t0.elapsed().as_secs_f64();
            let stem = format!("fold_{}", fold.id);
            let stored = store.read_fitted("embed", &key, fold.id)?;
            let loaded = match stored {
                Some(json) => match load_network(&dir.join(&stem), &schema) {
                    Ok((Network::Autoencoder(ae), _)) => {
                        let r: EmbedFoldReport = serde_json::from_str(&json).map_err(err)?;
                        Some((ae, r))
                    }
                    // A missing or unreadable model: train again.
                    _ => None,
                },
                None => None,
            };
            let (cols, report) = match loaded {
                Some((mut ae, r)) => {
                    reused += 1;
                    (
                        fold_embeddings(&setup, &extra, fi, &mut ae).map_err(err)?,
                        r,
                    )
                }
                None => {
                    let (mut ae, fit) =
                        fit_fold_autoencoder(&setup, &extra, fi, &ae_cfg).map_err(err)?;
                    let t_fit = t0.elapsed().as_secs_f64();
                    let cols = fold_embeddings(&setup, &extra, fi, &mut ae).map_err(err)?;
                    let t_emb = t0.elapsed().as_secs_f64();
                    let report = embed_report(
                        &setup,
                        &extra,
                        fi,
                        &mut ae,
                        &fit,
                        &cols,
                        &families,
                        l.cfg.horizon,
                        CLUSTERS,
                        l.cfg.seed,
                    )
                    .map_err(err)?;
                    store.log(
                        run_id,
                        "embed",
                        LogLevel::Info,
                        &format!(
                            "fold {}: fold columns {t_extra:.1} s, training {:.1} s ({} epochs), embedding every row {:.1} s, report {:.1} s",
                            fold.id,
                            t_fit - t_extra,
                            fit.epochs.len(),
                            t_emb - t_fit,
                            t0.elapsed().as_secs_f64() - t_emb
                        ),
                    )?;
                    let net = Network::Autoencoder(ae);
                    save_network(
                        &net,
                        &dir,
                        &stem,
                        &NetMeta {
                            schema_hash: schema.clone(),
                            data_fingerprint: l.inputs.fingerprint.clone(),
                            feature_names: names.clone(),
                            fold: Some(fold.id),
                            pair: None,
                            device: bqx_models::device_name(ae_cfg.device)
                                .unwrap_or_else(|_| "cpu".into()),
                            metrics: serde_json::json!({
                                "silhouette": report.silhouette,
                                "reconstruction": report.reconstruction,
                                "constant_units": report.constant_units,
                            }),
                        },
                    )
                    .map_err(err)?;
                    // The report is written after the model, so a stored report always has
                    // its model.
                    store.write_fitted(
                        "embed",
                        &key,
                        fold.id,
                        &serde_json::to_string(&report).map_err(err)?,
                    )?;
                    (cols, report)
                }
            };
            columns.insert(fold.id, Arc::new(cols));
            for e in &report.curve {
                curves.push(CurveRow {
                    stage: "embed".into(),
                    model: "autoencoder".into(),
                    pair: None,
                    fold: fold.id,
                    seed: ae_cfg.seed,
                    epoch: e.epoch as u32,
                    learning_rate: Some(ae_cfg.learning_rate),
                    train_total: Some(e.train_mse),
                    train_bqx: None,
                    train_vol: None,
                    train_regime: None,
                    valid_total: e.valid_mse,
                    valid_bqx: None,
                    valid_vol: None,
                    valid_regime: None,
                    valid_bqx_mae: None,
                    best: e.epoch == report.best_epoch,
                });
            }
            reports.push(report);
            task_advanced(progress, "embed", 1);
        }
        task_finished(progress, "embed");
        store.record_training_curves(run_id, &curves)?;
        let json = serde_json::to_string(&reports).map_err(err)?;
        write_artifact(
            store,
            run_id,
            "embed",
            "embeddings",
            "embeddings.json",
            &json,
        )?;
        for r in &reports {
            store.log(
                run_id,
                "embed",
                LogLevel::Info,
                &format!(
                    "fold {}: {} training rows × {} inputs, best epoch {}, silhouette {}, {} constant units",
                    r.fold,
                    r.n_train,
                    r.n_inputs,
                    r.best_epoch,
                    r.silhouette.map_or("—".into(), |s| format!("{s:.3}")),
                    r.constant_units.len()
                ),
            )?;
        }
        cx.embed = Some(EmbedDone {
            key,
            columns,
            reports,
            reused,
        });
        Ok(())
    }
    fn summary(&self, cx: &StageCx<'_>) -> serde_json::Value {
        let Some(e) = &cx.embed else {
            return serde_json::Value::Null;
        };
        serde_json::json!({
            "folds": e.reports.iter().map(|r| r.fold).collect::<Vec<_>>(),
            "reused_folds": e.reused,
            "silhouette": e.reports.iter().map(|r| r.silhouette).collect::<Vec<_>>(),
            "constant_units": e.reports.iter().map(|r| r.constant_units.len()).sum::<usize>(),
            "dead_units": e.reports.iter().map(|r| r.dead_units.iter().sum::<usize>()).collect::<Vec<_>>(),
            "key": e.key,
        })
    }
}
