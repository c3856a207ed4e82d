//! Stage 2.16, cross-pair interactions: per fold, the sister map, the momentum products and the
//! Granger lead-lag relations are discovered on the fold's training part
//! ([`bqx_eval::backtest::fit_fold_cross`]) and kept in the store's `fitted` table under a key
//! of everything they depend on; a rerun reuses them and a killed run resumes at the first fold
//! it had not finished. The lead-lag report and sister map of every fold are written as the
//! run's `crosspair` artifact.

use std::collections::BTreeMap;

use bqx_features::{CROSS_KIND, CROSS_VERSION, CrossParams, FittedParams, PairCross};
use bqx_store::{LogLevel, Store};
use serde::Serialize;

use super::{CrossDone, Stage, StageCx, fold_basis, hash_lines};
use crate::backtest::write_artifact;
use crate::pipeline::RunRequest;
use crate::progress::{task_advanced, task_finished, task_started};
use crate::{AppError, ErrorCode};

pub(crate) struct CrossStage;

/// The lead-lag report and sister map (`crosspair.json`).
#[derive(Debug, Clone, Serialize)]
pub struct CrossPairReport {
    pub timeframe: String,
    pub max_lag: usize,
    pub fdr_level: f64,
    pub folds: Vec<CrossPairFold>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrossPairFold {
    pub fold: u32,
    /// UTC µs.
    pub train_start: i64,
    pub test_start: i64,
    pub pairs: Vec<PairCross>,
}

fn err(e: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::InvalidArgument, format!("cross stage: {e}"))
}

impl Stage for CrossStage {
    fn name(&self) -> &'static str {
        "cross"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["base"]
    }
    fn about(&self) -> &'static str {
        "2.16 cross-pair interactions and Granger lead-lag, discovered per fold on training rows"
    }
    fn per_fold(&self) -> bool {
        true
    }
    fn needed_by(&self, req: &RunRequest) -> bool {
        req.backtest.scope().cross()
    }
    fn fingerprint(&self, cx: &mut StageCx<'_>, store: &mut Store) -> Result<String, AppError> {
        let l = cx.loaded(store)?;
        let cross = l.cfg.cross_pair.unwrap_or_default();
        let mut lines = fold_basis(l);
        lines.push(format!("{CROSS_KIND} v{CROSS_VERSION}"));
        lines.push(serde_json::to_string(&cross).expect("config serializes"));
        Ok(hash_lines(&lines))
    }
    fn run(&self, cx: &mut StageCx<'_>, store: &mut Store, run_id: &str) -> Result<(), AppError> {
        let key = self.fingerprint(cx, store)?;
        let progress = cx.progress;
        let l = cx.loaded(store)?;
        let cfg = l.cfg.cross_pair.unwrap_or_default();
        let panel = match &l.cross_panel {
            Some(p) => p,
            None => return Err(err("the configuration has no cross-pair features")),
        };
        let setup = bqx_eval::backtest::prepare_folds(&l.inputs.series, &l.cfg).map_err(err)?;
        let folds = setup.plan.folds.clone();
        task_started(progress, "cross", folds.len() as u64, "folds");
        let mut fits = BTreeMap::new();
        let mut reused = 0;
        for (fi, fold) in folds.iter().enumerate() {
            let stored = store.read_fitted("cross", &key, fold.id)?;
            let fit = match stored {
                Some(json) => {
                    reused += 1;
                    FittedParams::<CrossParams>::from_json(&json, CROSS_KIND, CROSS_VERSION)
                        .map_err(err)?
                }
                None => {
                    let fit =
                        bqx_eval::backtest::fit_fold_cross(&setup, panel, fi, &cfg).map_err(err)?;
                    // Each fold is kept as soon as it is fitted: a killed run resumes after it.
                    store.write_fitted("cross", &key, fold.id, &fit.to_json())?;
                    fit
                }
            };
            fits.insert(fold.id, fit);
            task_advanced(progress, "cross", 1);
        }
        task_finished(progress, "cross");
        let report = CrossPairReport {
            timeframe: l.inputs.timeframe.to_string(),
            max_lag: cfg.max_lag,
            fdr_level: cfg.fdr_level,
            folds: folds
                .iter()
                .map(|f| CrossPairFold {
                    fold: f.id,
                    train_start: f.train_start,
                    test_start: f.test_start,
                    pairs: fits[&f.id].params.pairs.clone(),
                })
                .collect(),
        };
        let json = serde_json::to_string(&report).map_err(err)?;
        write_artifact(store, run_id, "cross", "crosspair", "crosspair.json", &json)?;
        let significant: usize = report
            .folds
            .iter()
            .flat_map(|f| &f.pairs)
            .map(|p| p.kept.iter().filter(|k| k.significant).count())
            .sum();
        store.log(
            run_id,
            "cross",
            LogLevel::Info,
            &format!(
                "{} folds ({} reused), {} significant lead-lag relations kept (q < {}), key {}",
                folds.len(),
                reused,
                significant,
                cfg.fdr_level,
                &key[..12]
            ),
        )?;
        cx.cross = Some(CrossDone { key, fits, reused });
        Ok(())
    }
    fn summary(&self, cx: &StageCx<'_>) -> serde_json::Value {
        let Some(c) = &cx.cross else {
            return serde_json::Value::Null;
        };
        let kept: Vec<_> = c
            .fits
            .values()
            .flat_map(|f| &f.params.pairs)
            .flat_map(|p| &p.kept)
            .collect();
        serde_json::json!({
            "folds": c.fits.len(),
            "reused_folds": c.reused,
            "relations_kept": kept.len(),
            "relations_significant": kept.iter().filter(|k| k.significant).count(),
            "key": c.key,
        })
    }
}
