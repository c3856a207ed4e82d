//! Feature selection per fold: constants and near-duplicates dropped, four rankers fused by
//! Borda count, the best `k` kept ([`bqx_eval::select::select_fold`]), all on the fold's
//! training part; each fold's selection is kept in the store's `fitted` table under a key of
//! its inputs (including the cross stage's key). The rankers' scores, the selected lists and
//! their stability across folds are written as the run's `selection` artifact.

use bqx_eval::select::{SelectionFold, SelectionStability, select_fold, selection_stability};
use bqx_store::{LogLevel, Store};
use rayon::prelude::*;
use serde::Serialize;

use super::{SelectDone, Stage, StageCx, fold_basis, hash_lines};
use crate::backtest::write_artifact;
use crate::pipeline::RunRequest;
use crate::progress::{task_advanced, task_finished, task_started};
use crate::{AppError, ErrorCode};

/// Version of the selection procedure (bump when it changes).
const SELECT_VERSION: u32 = 1;

pub(crate) struct SelectStage;

/// The `selection.json` artifact.
#[derive(Debug, Clone, Serialize)]
pub struct SelectionReport<'a> {
    pub k: usize,
    pub candidates: usize,
    pub rows_per_fold_max: usize,
    pub folds: &'a [SelectionFold],
    pub stability: &'a SelectionStability,
}

fn err(e: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::InvalidArgument, format!("select stage: {e}"))
}

impl Stage for SelectStage {
    fn name(&self) -> &'static str {
        "select"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["cross"]
    }
    fn about(&self) -> &'static str {
        "feature selection per fold: MI, |Spearman|, forest, lasso fused by Borda count"
    }
    fn per_fold(&self) -> bool {
        true
    }
    fn needed_by(&self, req: &RunRequest) -> bool {
        req.backtest.scope().select()
    }
    fn fingerprint(&self, cx: &mut StageCx<'_>, store: &mut Store) -> Result<String, AppError> {
        let cross_key = cx.cross.as_ref().map(|c| c.key.clone());
        let l = cx.loaded(store)?;
        let sel = l.cfg.selection.clone().unwrap_or_default();
        let mut lines = fold_basis(l);
        lines.push(format!("select v{SELECT_VERSION}"));
        lines.push(serde_json::to_string(&sel).expect("config serializes"));
        lines.push(format!("usd_factor {}", l.cfg.usd_factor));
        lines.push(format!("cross {}", cross_key.unwrap_or_default()));
        Ok(hash_lines(&lines))
    }
    fn run(&self, cx: &mut StageCx<'_>, store: &mut Store, run_id: &str) -> Result<(), AppError> {
        let key = self.fingerprint(cx, store)?;
        let progress = cx.progress;
        let fits = cx.fold_fits();
        let l = cx.loaded(store)?;
        let sel = l.cfg.selection.clone().unwrap_or_default();
        let setup = bqx_eval::backtest::prepare_folds(&l.inputs.series, &l.cfg).map_err(err)?;
        let names = setup.candidate_names(&l.cfg, l.cfg.usd_factor);
        let folds = setup.plan.folds.clone();
        task_started(progress, "select", folds.len() as u64, "folds");
        let mut reused = 0;
        // Stored folds are reused; the rest are selected a few at a time in parallel (the
        // rankers are mostly single-threaded) and each batch is kept before the next starts,
        // so a killed run loses at most one batch.
        let mut chosen: Vec<Option<SelectionFold>> = vec![None; folds.len()];
        let mut todo = Vec::new();
        for (fi, fold) in folds.iter().enumerate() {
            match store.read_fitted("select", &key, fold.id)? {
                Some(json) => {
                    chosen[fi] = Some(serde_json::from_str::<SelectionFold>(&json).map_err(err)?);
                    reused += 1;
                    task_advanced(progress, "select", 1);
                }
                None => todo.push(fi),
            }
        }
        let select_one = |fi: usize| -> Result<SelectionFold, AppError> {
            let fold = &folds[fi];
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
            let extra = bqx_eval::backtest::fold_extra(&setup, usd, cross, fi).map_err(err)?;
            select_fold(&setup, &extra, fi, &names, &sel).map_err(err)
        };
        for batch in todo.chunks(rayon::current_num_threads().max(1)) {
            let done: Vec<(usize, SelectionFold)> = batch
                .par_iter()
                .map(|&fi| select_one(fi).map(|f| (fi, f)))
                .collect::<Result<_, _>>()?;
            for (fi, f) in done {
                store.write_fitted(
                    "select",
                    &key,
                    folds[fi].id,
                    &serde_json::to_string(&f).map_err(err)?,
                )?;
                chosen[fi] = Some(f);
                task_advanced(progress, "select", 1);
            }
        }
        let out: Vec<SelectionFold> = chosen
            .into_iter()
            .map(|f| f.expect("every fold was reused or selected"))
            .collect();
        task_finished(progress, "select");
        let stability = selection_stability(&out, names.len());
        let report = SelectionReport {
            k: sel.k,
            candidates: names.len(),
            rows_per_fold_max: sel.max_rows,
            folds: &out,
            stability: &stability,
        };
        let json = serde_json::to_string(&report).map_err(err)?;
        write_artifact(
            store,
            run_id,
            "select",
            "selection",
            "selection.json",
            &json,
        )?;
        store.log(
            run_id,
            "select",
            LogLevel::Info,
            &format!(
                "{} of {} candidates per fold over {} folds ({} reused); Jaccard {}, Kuncheva {}",
                sel.k.min(names.len()),
                names.len(),
                out.len(),
                reused,
                stability
                    .jaccard_mean
                    .map_or("—".into(), |v| format!("{v:.3}")),
                stability
                    .kuncheva_mean
                    .map_or("—".into(), |v| format!("{v:.3}")),
            ),
        )?;
        cx.select = Some(SelectDone {
            key,
            k: sel.k,
            folds: out,
            stability,
            candidates: names.len(),
            reused,
        });
        Ok(())
    }
    fn summary(&self, cx: &StageCx<'_>) -> serde_json::Value {
        let Some(s) = &cx.select else {
            return serde_json::Value::Null;
        };
        serde_json::json!({
            "folds": s.folds.len(),
            "reused_folds": s.reused,
            "candidates": s.candidates,
            "k": s.k,
            "selected_max": s.folds.iter().map(|f| f.selected.len()).max().unwrap_or(0),
            "jaccard_mean": s.stability.jaccard_mean,
            "kuncheva_mean": s.stability.kuncheva_mean,
            "key": s.key,
        })
    }
}
