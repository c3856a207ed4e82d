//! A long-lived handle on one store for the surfaces that stay up (the HTTP server, the desktop
//! app): at most one background job (a run or an ingest) with a live snapshot of its stages and
//! tasks, listeners for its events, and the read side of the registry, reports, predictions and
//! bars, with caches keyed by what they depend on.
//!
//! Concurrency: the registry is read through a read-only SQLite connection (WAL), so runs,
//! stages and metrics stay readable while a job writes. DuckDB holds one process-wide lock:
//! reads that need it (data health, coverage, prices, predictions) are answered from caches
//! when they can and otherwise wait for the store, which a running job holds — they fail with
//! `store_in_use` instead of blocking for minutes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::SystemTime;

use bqx_domain::{Pair, PriceSide, Timeframe};
use bqx_store::{MetricRow, RegistryReader, SeriesKey};
use serde::Serialize;

use crate::decimate::{decimate_minmax, drawdown};
use crate::{
    AppError, ErrorCode, IngestRequest, Progress, ProgressEvent, RunRequest, StatusReport,
    check_stages, ingest, open_store, run_pipeline, stage_table, status,
};

/// What a listener receives: the running job's progress events and its snapshot whenever it
/// starts or ends.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum ServiceEvent {
    Progress(ProgressEvent),
    Job(JobSnapshot),
    /// The online loop's start, alerts, signals and checkpoints.
    Online(crate::OnlineEvent),
}

/// One stage of a job as the UI shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct JobStage {
    pub stage: String,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub seconds: Option<f64>,
}

/// One progress task of a job.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct JobTask {
    pub task: String,
    pub done: u64,
    pub total: u64,
    pub unit: String,
}

/// The state of a background job.
#[derive(Clone, Debug, Serialize)]
pub struct JobSnapshot {
    pub id: u64,
    /// `run` or `ingest`.
    pub kind: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    /// The registry run, once recorded.
    pub run_id: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<AppError>,
    pub stages: Vec<JobStage>,
    pub tasks: Vec<JobTask>,
    /// The last messages (at most [`LOG_LINES`]).
    pub log: Vec<String>,
}

/// Messages kept in a job snapshot.
pub const LOG_LINES: usize = 200;

/// A run as listed by the surfaces.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub kind: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    pub seconds: Option<f64>,
    pub args: serde_json::Value,
    /// Whether the run wrote a backtest report.
    pub has_backtest: bool,
}

/// A stage of a recorded run.
#[derive(Clone, Debug, Serialize)]
pub struct RunStage {
    pub stage: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub seconds: Option<f64>,
    pub summary: Option<serde_json::Value>,
}

/// Everything the registry knows of one run (the summary's fields, flattened, then these).
#[derive(Clone, Debug, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunSummary,
    pub stages: Vec<RunStage>,
    pub logs: Vec<bqx_store::LogRow>,
    pub artifacts: Vec<bqx_store::ArtifactRow>,
}

/// A pipeline stage for the stage graph.
#[derive(Clone, Debug, Serialize)]
pub struct PipelineStage {
    pub name: String,
    pub built: bool,
    /// Executed by a run (`bqx run`, `POST /runs`); ingest and export have their own commands.
    pub runnable: bool,
    /// Fitted per fold on training rows, artifacts keyed by fold and input fingerprint.
    pub per_fold: bool,
    pub about: String,
    pub depends_on: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Pipeline {
    pub stages: Vec<PipelineStage>,
    pub job: Option<JobSnapshot>,
}

/// Which rows of a run's metrics to return (every given field must match).
#[derive(Clone, Debug, Default)]
pub struct MetricFilter {
    pub model: Option<String>,
    pub scope: Option<String>,
    pub pair: Option<String>,
    pub metric: Option<String>,
}

/// A cumulative P&L curve with its drawdown, decimated.
#[derive(Clone, Debug, Serialize)]
pub struct Equity {
    pub model: String,
    pub pair: Option<String>,
    pub points: usize,
    pub total_points: usize,
    pub ts: Vec<i64>,
    /// Cumulative net log return.
    pub equity: Vec<f64>,
    /// Equity minus its running maximum (≤ 0).
    pub drawdown: Vec<f64>,
}

/// Out-of-sample predictions of one model for one pair over all folds, decimated.
#[derive(Clone, Debug, Serialize)]
pub struct Predictions {
    pub model: String,
    pub pair: String,
    pub points: usize,
    pub total_points: usize,
    pub ts: Vec<i64>,
    pub predicted: Vec<f64>,
    pub actual: Vec<f64>,
}

/// Bars per month per series.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub months: Vec<String>,
    pub pairs: Vec<CoverageRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CoverageRow {
    pub pair: Pair,
    pub timeframe: Timeframe,
    pub side: PriceSide,
    /// Bars in each month of `months`.
    pub bars: Vec<u64>,
}

/// A price series decimated into buckets: the last close of each bucket with its low and high.
#[derive(Clone, Debug, Serialize)]
pub struct PriceSeries {
    pub pair: Pair,
    pub timeframe: Timeframe,
    pub side: PriceSide,
    pub points: usize,
    pub total_points: usize,
    pub ts: Vec<i64>,
    pub close: Vec<f64>,
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

/// Most points a decimated series may have.
pub const MAX_POINTS: usize = 10_000;

type Listener = Arc<dyn Fn(&ServiceEvent) + Send + Sync>;

struct JobState {
    next_id: u64,
    job: Option<JobSnapshot>,
    /// The last job's final event was delivered to every listener.
    settled: bool,
}

#[derive(Default)]
struct Caches {
    /// Parsed report files by path, with the file's modification time.
    reports: HashMap<PathBuf, (SystemTime, Arc<serde_json::Value>)>,
    /// Equity files by path.
    equity: HashMap<PathBuf, (SystemTime, Arc<Vec<bqx_eval::backtest::ModelEquity>>)>,
    /// Predictions by (eval key, model, series): immutable once written.
    predictions: HashMap<(String, String, SeriesKey), Arc<Vec<bqx_store::Prediction>>>,
    /// Metrics of finished runs (immutable once the run has ended).
    metrics: HashMap<String, Arc<Vec<MetricRow>>>,
    /// DuckDB-derived views, valid for one registry generation.
    generation: String,
    health: Option<Arc<StatusReport>>,
    coverage: Option<Arc<Coverage>>,
    bars: HashMap<SeriesKey, Arc<bqx_domain::BarColumns>>,
}

/// The champions loaded for `/predict`: the run they come from, when the registry was last
/// asked for the newest run with champions, and those loaded so far by pair.
#[derive(Default)]
struct LoadedChampions {
    run_id: Option<String>,
    checked: Option<std::time::Instant>,
    by_pair: HashMap<bqx_domain::Pair, Arc<crate::LoadedChampion>>,
}

/// How long `/predict` trusts its answer to "which run has the newest champions" (a newer run's
/// champions are picked up within this time).
const CHAMPION_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// See the module documentation.
pub struct Service {
    store_dir: PathBuf,
    jobs: Mutex<JobState>,
    idle: Condvar,
    listeners: RwLock<Vec<Listener>>,
    caches: Mutex<Caches>,
    /// Serializes this process's own openings of the DuckDB store.
    duck: Mutex<()>,
    registry: Mutex<Option<RegistryReader>>,
    /// Champions loaded for `/predict`, by pair, with the run they come from (one per pair;
    /// dropped when a newer run saves champions).
    champions: Mutex<LoadedChampions>,
    /// Asks a running online job to checkpoint and end.
    online_stop: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store_dir", &self.store_dir)
            .finish()
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn not_found(what: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::NotFound, what)
}

fn seconds_between(a: &str, b: Option<&str>) -> Option<f64> {
    let a = chrono::DateTime::parse_from_rfc3339(a).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(b?).ok()?;
    Some((b - a).num_milliseconds() as f64 / 1000.0)
}

/// The progress sink of a job: updates the snapshot and forwards every event.
struct JobProgress {
    service: Arc<Service>,
}

impl Progress for JobProgress {
    fn event(&self, event: ProgressEvent) {
        self.service.apply(&event);
        self.service.emit(&ServiceEvent::Progress(event));
    }
}

impl Service {
    /// A service over the store in `store_dir` (which need not exist yet).
    pub fn new(store_dir: &Path) -> Arc<Service> {
        Arc::new(Service {
            store_dir: store_dir.to_path_buf(),
            jobs: Mutex::new(JobState {
                next_id: 0,
                job: None,
                settled: true,
            }),
            idle: Condvar::new(),
            listeners: RwLock::new(Vec::new()),
            caches: Mutex::new(Caches::default()),
            duck: Mutex::new(()),
            registry: Mutex::new(None),
            champions: Mutex::new(LoadedChampions::default()),
            online_stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// Starts the online loop as a job: its alerts, signals (every `signal_every` live bars)
    /// and checkpoints are emitted as [`ServiceEvent::Online`]; `conflict` if a job is running.
    pub fn start_online(
        self: &Arc<Self>,
        req: crate::OnlineRequest,
        signal_every: u64,
    ) -> Result<JobSnapshot, AppError> {
        let dir = self.store_dir.clone();
        let stop = Arc::clone(&self.online_stop);
        let me = Arc::clone(self);
        stop.store(false, std::sync::atomic::Ordering::Relaxed);
        self.start("online", vec!["online".into()], move |p| {
            let mut emit = |e: crate::OnlineEvent| me.emit(&ServiceEvent::Online(e));
            crate::online(&dir, &req, p, signal_every, &stop, &mut emit).map(|r| r.run_id)
        })
    }

    /// Asks the running online job to checkpoint and end; `false` when none is running.
    pub fn stop_online(&self) -> bool {
        let running = self
            .job()
            .is_some_and(|j| j.kind == "online" && j.state == "running");
        if running {
            self.online_stop
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        running
    }

    /// Rolls back a stopped online session's champion of `pair`; `conflict` while any job
    /// runs (an online job would overwrite the change at its next checkpoint).
    pub fn online_rollback(&self, session: &str, pair: &str) -> Result<crate::Decision, AppError> {
        let jobs = self.jobs.lock().expect("jobs lock");
        if let Some(j) = jobs.job.as_ref().filter(|j| j.state == "running") {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!(
                    "job {} ({}) is running; stop it (POST /api/v1/online/stop), then roll back \
                     and resume the session",
                    j.id, j.kind
                ),
            ));
        }
        let _duck = self.duck.lock().expect("duck lock");
        crate::online_rollback(&self.store_dir, session, pair)
    }

    /// Puts posted bars into the store's inbox for the online loop (no store lock needed).
    pub fn post_bars(&self, req: &crate::BarsRequest) -> Result<crate::BarsAccepted, AppError> {
        crate::post_bars(&self.store_dir, req)
    }

    /// Alerts, newest first.
    pub fn alerts(
        &self,
        session: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::AlertView>, AppError> {
        crate::alerts(&self.store_dir, session, limit)
    }

    /// Online sessions, most recently updated first.
    pub fn online_sessions(&self) -> Result<Vec<crate::OnlineSessionSummary>, AppError> {
        crate::online_sessions(&self.store_dir)
    }

    /// One online session at its last checkpoint.
    pub fn online_session(&self, session: &str) -> Result<crate::OnlineSessionView, AppError> {
        crate::online_session(&self.store_dir, session)
    }

    /// A prediction of the champion of `req.pair` (loaded once, then answered from memory).
    pub fn predict(&self, req: &crate::PredictRequest) -> Result<crate::PredictResponse, AppError> {
        let pair = bqx_domain::Pair::parse(&req.pair).map_err(|e| {
            AppError::new(
                ErrorCode::InvalidArgument,
                format!("pair {:?}: {e}", req.pair),
            )
        })?;
        let at = req.at.as_deref().map(crate::parse_at).transpose()?;
        let fresh = {
            let c = self.champions.lock().expect("champions lock");
            c.checked.is_some_and(|t| t.elapsed() < CHAMPION_RECHECK)
        };
        if !fresh {
            let (newest, _) = crate::predict::newest_champions(&self.store_dir)?;
            let mut c = self.champions.lock().expect("champions lock");
            if c.run_id.as_deref() != Some(newest.as_str()) {
                c.by_pair.clear();
                c.run_id = Some(newest);
            }
            c.checked = Some(std::time::Instant::now());
        }
        let cached = self
            .champions
            .lock()
            .expect("champions lock")
            .by_pair
            .get(&pair)
            .cloned();
        let champion = match cached {
            Some(ch) => ch,
            None => {
                let ch = Arc::new(crate::load_champion(&self.store_dir, pair)?);
                let mut c = self.champions.lock().expect("champions lock");
                if c.run_id.as_deref() == Some(ch.run_id.as_str()) {
                    c.by_pair.insert(pair, Arc::clone(&ch));
                }
                ch
            }
        };
        champion.answer(at)
    }

    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Calls `f` with every later event (from the job's thread; keep it short).
    pub fn subscribe(&self, f: impl Fn(&ServiceEvent) + Send + Sync + 'static) {
        self.listeners
            .write()
            .expect("listeners lock")
            .push(Arc::new(f));
    }

    fn emit(&self, event: &ServiceEvent) {
        let listeners = self.listeners.read().expect("listeners lock").clone();
        for l in listeners {
            l(event);
        }
    }

    /// The current (or last) job.
    pub fn job(&self) -> Option<JobSnapshot> {
        self.jobs.lock().expect("jobs lock").job.clone()
    }

    /// Whether a job is running.
    pub fn busy(&self) -> bool {
        self.job().is_some_and(|j| j.state == "running")
    }

    /// Blocks until no job runs; returns the last job.
    pub fn wait_idle(&self) -> Option<JobSnapshot> {
        let mut st = self.jobs.lock().expect("jobs lock");
        while st.job.as_ref().is_some_and(|j| j.state == "running") || !st.settled {
            st = self.idle.wait(st).expect("jobs lock");
        }
        st.job.clone()
    }

    /// Starts `bqx run` for `req` in the background; `conflict` if a job is running.
    pub fn start_run(self: &Arc<Self>, req: RunRequest) -> Result<JobSnapshot, AppError> {
        req.backtest.check()?;
        let stages: Vec<String> = check_stages(&req)?.into_iter().map(String::from).collect();
        // The folds against the stored bars, now, while no job holds the store: a store too
        // short for them is an `invalid_argument` answer, not a job that fails.
        let idle = self.job().is_none_or(|j| j.state != "running");
        if idle && self.store_dir.join(bqx_store::DUCKDB_FILE).exists() {
            let _duck = self.duck.lock().expect("duck lock");
            let store = crate::open_store(&self.store_dir, "bqx serve")?;
            crate::pipeline::fold_plan(&store, &req)?;
        }
        let dir = self.store_dir.clone();
        self.start("run", stages, move |p| {
            run_pipeline(&dir, &req, "run", p).map(|r| r.run_id)
        })
    }

    /// Starts an ingest of `req.files` in the background; `conflict` if a job is running.
    pub fn start_ingest(self: &Arc<Self>, req: IngestRequest) -> Result<JobSnapshot, AppError> {
        if req.files.is_empty() {
            return Err(AppError::new(
                ErrorCode::InvalidArgument,
                "no input files given",
            ));
        }
        let dir = self.store_dir.clone();
        self.start("ingest", vec!["ingest".into()], move |p| {
            ingest(&dir, &req, p).map(|r| r.run_id)
        })
    }

    fn start(
        self: &Arc<Self>,
        kind: &str,
        stages: Vec<String>,
        body: impl FnOnce(&dyn Progress) -> Result<String, AppError> + Send + 'static,
    ) -> Result<JobSnapshot, AppError> {
        let snapshot = {
            let mut st = self.jobs.lock().expect("jobs lock");
            if let Some(j) = st.job.as_ref().filter(|j| j.state == "running") {
                return Err(AppError::new(
                    ErrorCode::Conflict,
                    format!(
                        "job {} ({}) is running; wait for it to finish",
                        j.id, j.kind
                    ),
                ));
            }
            st.next_id += 1;
            let job = JobSnapshot {
                id: st.next_id,
                kind: kind.into(),
                state: "running".into(),
                run_id: None,
                started_at: now(),
                finished_at: None,
                error: None,
                stages: stages
                    .into_iter()
                    .map(|stage| JobStage {
                        stage,
                        status: "pending".into(),
                        seconds: None,
                    })
                    .collect(),
                tasks: Vec::new(),
                log: Vec::new(),
            };
            st.job = Some(job.clone());
            st.settled = false;
            job
        };
        self.emit(&ServiceEvent::Job(snapshot.clone()));
        let service = Arc::clone(self);
        std::thread::Builder::new()
            .name(format!("bqx-job-{}", snapshot.id))
            .spawn(move || {
                let progress = JobProgress {
                    service: Arc::clone(&service),
                };
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&progress)))
                        .unwrap_or_else(|_| Err(AppError::internal("the job panicked (a bug)")));
                service.finish_job(result);
            })
            .map_err(|e| AppError::internal(format!("cannot start a job thread: {e}")))?;
        Ok(snapshot)
    }

    fn finish_job(&self, result: Result<String, AppError>) {
        let snapshot = {
            let mut st = self.jobs.lock().expect("jobs lock");
            let job = st.job.as_mut().expect("a job was running");
            job.finished_at = Some(now());
            match result {
                Ok(run_id) => {
                    job.state = "succeeded".into();
                    job.run_id = Some(run_id);
                }
                Err(e) => {
                    job.state = "failed".into();
                    push_log(job, format!("error: {}", e.message));
                    job.error = Some(e);
                    for s in &mut job.stages {
                        if s.status == "running" {
                            s.status = "failed".into();
                        }
                    }
                }
            }
            job.clone()
        };
        self.emit(&ServiceEvent::Job(snapshot));
        self.jobs.lock().expect("jobs lock").settled = true;
        self.idle.notify_all();
    }

    /// Folds a progress event into the running job's snapshot.
    fn apply(&self, event: &ProgressEvent) {
        let mut st = self.jobs.lock().expect("jobs lock");
        let Some(job) = st.job.as_mut() else { return };
        match event {
            ProgressEvent::RunStarted { run_id, .. } => job.run_id = Some(run_id.clone()),
            ProgressEvent::StageStarted { stage } => {
                stage_mut(job, stage).status = "running".into();
                push_log(job, format!("stage {stage} started"));
            }
            ProgressEvent::StageFinished {
                stage,
                status,
                secs,
            } => {
                let s = stage_mut(job, stage);
                s.status = status.clone();
                s.seconds = Some(*secs);
                push_log(job, format!("stage {stage} {status} in {secs:.1} s"));
            }
            ProgressEvent::TaskStarted { task, total, unit } => {
                job.tasks.retain(|t| &t.task != task);
                job.tasks.push(JobTask {
                    task: task.clone(),
                    done: 0,
                    total: *total,
                    unit: unit.clone(),
                });
            }
            ProgressEvent::TaskAdvanced { task, delta } => {
                if let Some(t) = job.tasks.iter_mut().find(|t| &t.task == task) {
                    t.done += delta;
                }
            }
            ProgressEvent::TaskTotal { task, total } => {
                if let Some(t) = job.tasks.iter_mut().find(|t| &t.task == task) {
                    t.total = *total;
                }
            }
            ProgressEvent::TaskFinished { task } => {
                if let Some(t) = job.tasks.iter_mut().find(|t| &t.task == task) {
                    t.done = t.done.max(t.total);
                }
            }
            ProgressEvent::Message { text } => push_log(job, text.clone()),
        }
    }

    // ---- the read side -------------------------------------------------------------------

    fn with_registry<T>(
        &self,
        f: impl FnOnce(&RegistryReader) -> bqx_store::Result<T>,
    ) -> Result<Option<T>, AppError> {
        let mut slot = self.registry.lock().expect("registry lock");
        if slot.is_none() {
            *slot = RegistryReader::open(&self.store_dir)?;
        }
        match slot.as_ref() {
            Some(r) => Ok(Some(f(r)?)),
            None => Ok(None),
        }
    }

    /// The stage graph and the current job.
    pub fn pipeline(&self) -> Pipeline {
        let stages = stage_table()
            .into_iter()
            .map(|s| PipelineStage {
                name: s.name.to_string(),
                built: s.built,
                runnable: s.runnable,
                per_fold: s.per_fold,
                about: s.about.to_string(),
                depends_on: s.depends_on.iter().map(|d| d.to_string()).collect(),
            })
            .collect();
        Pipeline {
            stages,
            job: self.job(),
        }
    }

    /// The newest runs first (empty when there is no store yet).
    pub fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, AppError> {
        let found =
            self.with_registry(|r| Ok((r.runs(limit)?, r.runs_with_artifact("report")?)))?;
        let Some((runs, with_report)) = found else {
            return Ok(Vec::new());
        };
        Ok(runs
            .into_iter()
            .map(|r| {
                let has = with_report.contains(&r.run_id);
                summary(r, has)
            })
            .collect())
    }

    /// One run with its stages, logs and artifacts.
    pub fn run(&self, run_id: &str) -> Result<RunDetail, AppError> {
        let found = self.with_registry(|r| {
            let Some(run) = r.run(run_id)? else {
                return Ok(None);
            };
            Ok(Some((
                run,
                r.stages(run_id)?,
                r.logs(run_id)?,
                r.artifacts(run_id)?,
            )))
        })?;
        let Some(Some((run, stages, logs, artifacts))) = found else {
            return Err(not_found(format!("no run {run_id}")));
        };
        let has_backtest = artifacts.iter().any(|a| a.kind == "report");
        Ok(RunDetail {
            run: summary(run, has_backtest),
            stages: stages
                .into_iter()
                .map(|s| RunStage {
                    seconds: seconds_between(&s.started_at, s.finished_at.as_deref()),
                    stage: s.stage,
                    status: s.status,
                    started_at: s.started_at,
                    finished_at: s.finished_at,
                    summary: s.summary,
                })
                .collect(),
            logs,
            artifacts,
        })
    }

    /// A run's metrics matching `filter`.
    pub fn metrics(&self, run_id: &str, filter: &MetricFilter) -> Result<Vec<MetricRow>, AppError> {
        let cached = self
            .caches
            .lock()
            .expect("cache lock")
            .metrics
            .get(run_id)
            .cloned();
        let rows = match cached {
            Some(rows) => rows,
            None => {
                let found = self.with_registry(|r| {
                    let Some(run) = r.run(run_id)? else {
                        return Ok(None);
                    };
                    Ok(Some((run.status, r.metrics(run_id)?)))
                })?;
                let Some(Some((status, rows))) = found else {
                    return Err(not_found(format!("no run {run_id}")));
                };
                let rows = Arc::new(rows);
                if status != "running" {
                    self.caches
                        .lock()
                        .expect("cache lock")
                        .metrics
                        .insert(run_id.to_string(), Arc::clone(&rows));
                }
                rows
            }
        };
        let ok = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        Ok(rows
            .iter()
            .filter(|m| {
                ok(&filter.model, Some(&m.model))
                    && ok(&filter.scope, Some(&m.scope))
                    && ok(&filter.pair, m.pair.as_deref())
                    && ok(&filter.metric, Some(&m.metric))
            })
            .cloned()
            .collect())
    }

    /// Whether the run has ended (succeeded or failed). A finished run never changes again: a
    /// resumed run is a new run, so everything read about a finished one may be kept.
    pub fn run_finished(&self, run_id: &str) -> Result<bool, AppError> {
        match self.with_registry(|r| r.run(run_id))? {
            Some(Some(run)) => Ok(run.status != "running"),
            _ => Ok(false),
        }
    }

    fn run_exists(&self, run_id: &str) -> Result<(), AppError> {
        match self.with_registry(|r| r.run(run_id))? {
            Some(Some(_)) => Ok(()),
            _ => Err(not_found(format!("no run {run_id}"))),
        }
    }

    fn artifact_path(&self, run_id: &str, kind: &str) -> Result<PathBuf, AppError> {
        self.stage_artifact_path(run_id, "backtest", kind)
    }

    fn stage_artifact_path(
        &self,
        run_id: &str,
        stage: &str,
        kind: &str,
    ) -> Result<PathBuf, AppError> {
        self.run_exists(run_id)?;
        let artifacts = self
            .with_registry(|r| r.artifacts(run_id))?
            .unwrap_or_default();
        let a = artifacts
            .iter()
            .find(|a| a.stage == stage && a.kind == kind)
            .ok_or_else(|| not_found(format!("run {run_id} has no {stage} {kind}")))?;
        Ok(self.store_dir.join(&a.path))
    }

    /// The run's lead-lag report and sister map (`crosspair.json` of the cross stage), as
    /// stored.
    pub fn crosspair_report(&self, run_id: &str) -> Result<Vec<u8>, AppError> {
        let path = self.stage_artifact_path(run_id, "cross", "crosspair")?;
        std::fs::read(&path).map_err(|e| AppError::internal(format!("{}: {e}", path.display())))
    }

    /// The run's feature-selection report (`selection.json` of the select stage), as stored.
    pub fn selection_report(&self, run_id: &str) -> Result<Vec<u8>, AppError> {
        let path = self.stage_artifact_path(run_id, "select", "selection")?;
        std::fs::read(&path).map_err(|e| AppError::internal(format!("{}: {e}", path.display())))
    }

    /// The run's embedding reports (`embeddings.json` of the embed stage), as stored.
    pub fn embeddings_report(&self, run_id: &str) -> Result<Vec<u8>, AppError> {
        let path = self.stage_artifact_path(run_id, "embed", "embeddings")?;
        std::fs::read(&path).map_err(|e| AppError::internal(format!("{}: {e}", path.display())))
    }

    /// The run's network training (`training.json` of the train stage), as stored.
    pub fn training_report(&self, run_id: &str) -> Result<Vec<u8>, AppError> {
        let path = self.stage_artifact_path(run_id, "train", "training")?;
        std::fs::read(&path).map_err(|e| AppError::internal(format!("{}: {e}", path.display())))
    }

    /// The run's whole backtest report (the stored JSON), parsed once per file version.
    pub fn backtest_report(&self, run_id: &str) -> Result<Arc<serde_json::Value>, AppError> {
        let path = self.artifact_path(run_id, "report")?;
        let mtime = modified(&path)?;
        if let Some((t, v)) = self.caches.lock().expect("cache lock").reports.get(&path)
            && *t == mtime
        {
            return Ok(Arc::clone(v));
        }
        let text = std::fs::read(&path)
            .map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
        let value = Arc::new(value);
        self.caches
            .lock()
            .expect("cache lock")
            .reports
            .insert(path, (mtime, Arc::clone(&value)));
        Ok(value)
    }

    /// The report without its per-pair and per-fold details (see `docs/api.md`).
    pub fn backtest_summary(&self, run_id: &str) -> Result<serde_json::Value, AppError> {
        let r = self.backtest_report(run_id)?;
        let models: Vec<serde_json::Value> = r["models"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .map(|m| {
                        serde_json::json!({
                            "name": m["name"],
                            "spec": m["spec"],
                            "units": m["units"],
                            "skipped_units": m["skipped_units"],
                            "trials": m["report"]["trials"],
                            "pooled": m["report"]["pooled"],
                            "heads": m["heads"],
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(serde_json::json!({
            "run_id": run_id,
            "target": r["target"],
            "config": r["config"],
            "ceiling": r["ceiling"],
            "folds": r["folds"],
            "series": r["series"],
            "notes": r["notes"],
            "n_features": r["features"].as_array().map_or(0, |f| f.len()),
            "models": models,
            "same_units": r["same_units"],
        }))
    }

    fn model_report<'r>(
        report: &'r serde_json::Value,
        model: &str,
    ) -> Result<&'r serde_json::Value, AppError> {
        report["models"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["name"] == model))
            .map(|m| &m["report"])
            .ok_or_else(|| not_found(format!("the backtest has no model {model}")))
    }

    /// Per pair, the metrics of `model` over all folds.
    pub fn backtest_pairs(
        &self,
        run_id: &str,
        model: &str,
    ) -> Result<Vec<serde_json::Value>, AppError> {
        let r = self.backtest_report(run_id)?;
        let m = Self::model_report(&r, model)?;
        Ok(m["pairs"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| serde_json::json!({ "pair": p["pair"], "all_folds": p["all_folds"] }))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Per fold, the metrics of `model` pooled over pairs, or for one pair.
    pub fn backtest_folds(
        &self,
        run_id: &str,
        model: &str,
        pair: Option<&str>,
    ) -> Result<serde_json::Value, AppError> {
        let r = self.backtest_report(run_id)?;
        let m = Self::model_report(&r, model)?;
        match pair {
            None => Ok(m["pooled_by_fold"].clone()),
            Some(p) => m["pairs"]
                .as_array()
                .and_then(|ps| ps.iter().find(|x| x["pair"] == p))
                .map(|x| x["folds"].clone())
                .ok_or_else(|| not_found(format!("the backtest has no pair {p}"))),
        }
    }

    /// The cumulative P&L and drawdown of `model` (pooled portfolio, or one pair).
    pub fn equity(
        &self,
        run_id: &str,
        model: &str,
        pair: Option<&str>,
        points: usize,
    ) -> Result<Equity, AppError> {
        let path = self.artifact_path(run_id, "equity")?;
        let mtime = modified(&path)?;
        let cached = self
            .caches
            .lock()
            .expect("cache lock")
            .equity
            .get(&path)
            .filter(|(t, _)| *t == mtime)
            .map(|(_, v)| Arc::clone(v));
        let all = match cached {
            Some(v) => v,
            None => {
                let text = std::fs::read(&path)
                    .map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
                let v: Vec<bqx_eval::backtest::ModelEquity> = serde_json::from_slice(&text)
                    .map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
                let v = Arc::new(v);
                self.caches
                    .lock()
                    .expect("cache lock")
                    .equity
                    .insert(path, (mtime, Arc::clone(&v)));
                v
            }
        };
        let m = all
            .iter()
            .find(|m| m.model == model)
            .ok_or_else(|| not_found(format!("the backtest has no model {model}")))?;
        let path = match pair {
            None => &m.pooled,
            Some(p) => {
                let p = parse_pair(p)?;
                &m.pairs
                    .iter()
                    .find(|(q, _)| *q == p)
                    .ok_or_else(|| not_found(format!("the backtest has no pair {p}")))?
                    .1
            }
        };
        let mut cum = Vec::with_capacity(path.pnl.len());
        let mut acc = 0.0;
        for x in &path.pnl {
            acc += x;
            cum.push(acc);
        }
        let dd = drawdown(&cum);
        let keep = decimate_minmax(&[&cum, &dd], check_points(points)?);
        Ok(Equity {
            model: model.into(),
            pair: pair.map(|p| p.to_uppercase()),
            points: keep.len(),
            total_points: cum.len(),
            ts: keep.iter().map(|&i| path.ts[i]).collect(),
            equity: keep.iter().map(|&i| cum[i]).collect(),
            drawdown: keep.iter().map(|&i| dd[i]).collect(),
        })
    }

    /// Out-of-sample predictions of `model` for `pair` (all folds), decimated.
    pub fn predictions(
        &self,
        run_id: &str,
        model: &str,
        pair: &str,
        points: usize,
    ) -> Result<Predictions, AppError> {
        let points = check_points(points)?;
        let pair = parse_pair(pair)?;
        // Only the stages: the run's logs and artifacts are not needed here.
        let stages = match self.with_registry(|r| r.stages(run_id))? {
            Some(stages) if !stages.is_empty() => stages,
            _ => {
                self.run_exists(run_id)?;
                Vec::new()
            }
        };
        let summary = stages
            .iter()
            .find(|s| s.stage == "backtest" && s.status == "succeeded")
            .and_then(|s| s.summary.clone())
            .ok_or_else(|| not_found(format!("run {run_id} has no finished backtest")))?;
        let eval_key = summary["eval_key"]
            .as_str()
            .ok_or_else(|| not_found(format!("run {run_id} has no stored predictions")))?
            .to_string();
        let key = summary["series"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(series_key)
            .find(|k| k.pair == pair)
            .ok_or_else(|| not_found(format!("the backtest of run {run_id} has no pair {pair}")))?;
        let ck = (eval_key.clone(), model.to_string(), key);
        let cached = self
            .caches
            .lock()
            .expect("cache lock")
            .predictions
            .get(&ck)
            .cloned();
        let rows = match cached {
            Some(rows) => rows,
            None => {
                let rows = Arc::new(
                    self.with_duck(|s| Ok(s.read_predictions(&eval_key, model, key, None)?))?,
                );
                if rows.is_empty() {
                    return Err(not_found(format!(
                        "no predictions of model {model} for {pair} in run {run_id}"
                    )));
                }
                self.caches
                    .lock()
                    .expect("cache lock")
                    .predictions
                    .insert(ck, Arc::clone(&rows));
                rows
            }
        };
        let predicted: Vec<f64> = rows.iter().map(|r| r.predicted).collect();
        let actual: Vec<f64> = rows.iter().map(|r| r.actual).collect();
        let keep = decimate_minmax(&[&predicted, &actual], points);
        Ok(Predictions {
            model: model.into(),
            pair: pair.to_string(),
            points: keep.len(),
            total_points: rows.len(),
            ts: keep.iter().map(|&i| rows[i].ts).collect(),
            predicted: keep.iter().map(|&i| predicted[i]).collect(),
            actual: keep.iter().map(|&i| actual[i]).collect(),
        })
    }

    /// Runs `f` on the store, opened for this call; `store_in_use` while a job (or another
    /// process) holds it.
    fn with_duck<T>(
        &self,
        f: impl FnOnce(&bqx_store::Store) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        if !self.store_dir.join(bqx_store::DUCKDB_FILE).exists() {
            return Err(not_found(format!(
                "no store at {} yet (run `bqx demo` or ingest data)",
                self.store_dir.display()
            )));
        }
        let _guard = self.lock_duck()?;
        let store = open_store(&self.store_dir, "bqx serve")?;
        f(&store)
    }

    /// This process's turn on the DuckDB store; `store_in_use` while this service's job holds
    /// it (another process holding it is reported by `open_store`).
    fn lock_duck(&self) -> Result<std::sync::MutexGuard<'_, ()>, AppError> {
        if let Some(job) = self.job().filter(|j| j.state == "running") {
            return Err(AppError::new(
                ErrorCode::StoreInUse,
                format!(
                    "the store is busy with job {} ({}); try again when it has finished",
                    job.id, job.kind
                ),
            ));
        }
        Ok(self.duck.lock().expect("duck lock"))
    }

    /// Drops DuckDB-derived caches when the registry changed since they were filled.
    fn refresh_generation(&self) -> Result<(), AppError> {
        let generation = self.with_registry(|r| r.generation())?.unwrap_or_default();
        let mut c = self.caches.lock().expect("cache lock");
        if c.generation != generation {
            c.generation = generation;
            c.health = None;
            c.coverage = None;
            c.bars.clear();
        }
        Ok(())
    }

    /// The store's data health (as `bqx status`).
    pub fn data_health(&self) -> Result<Arc<StatusReport>, AppError> {
        self.refresh_generation()?;
        if let Some(h) = self.caches.lock().expect("cache lock").health.clone() {
            return Ok(h);
        }
        let report = {
            let _guard = self.lock_duck()?;
            Arc::new(status(&self.store_dir)?)
        };
        self.caches.lock().expect("cache lock").health = Some(Arc::clone(&report));
        Ok(report)
    }

    /// Bars per month of every series.
    pub fn coverage(&self) -> Result<Arc<Coverage>, AppError> {
        self.refresh_generation()?;
        if let Some(c) = self.caches.lock().expect("cache lock").coverage.clone() {
            return Ok(c);
        }
        let rows = self.with_duck(|s| Ok(s.monthly_coverage()?))?;
        let mut months: Vec<String> = rows.iter().map(|(_, m, _)| m.clone()).collect();
        months.sort();
        months.dedup();
        let mut pairs: Vec<CoverageRow> = Vec::new();
        for (key, month, n) in rows {
            let at = months.binary_search(&month).expect("month listed");
            if pairs.last().is_none_or(|r| {
                (r.pair, r.side, r.timeframe) != (key.pair, key.side, key.timeframe)
            }) {
                pairs.push(CoverageRow {
                    pair: key.pair,
                    timeframe: key.timeframe,
                    side: key.side,
                    bars: vec![0; months.len()],
                });
            }
            pairs.last_mut().expect("pushed").bars[at] = n;
        }
        let c = Arc::new(Coverage { months, pairs });
        self.caches.lock().expect("cache lock").coverage = Some(Arc::clone(&c));
        Ok(c)
    }

    /// A pair's prices (the panel's side preference unless `side` is given; the timeframe with
    /// most bars unless given) in `[from, to)`, decimated to `points` buckets.
    pub fn price_series(
        &self,
        pair: &str,
        timeframe: Option<&str>,
        side: Option<&str>,
        from: Option<i64>,
        to: Option<i64>,
        points: usize,
    ) -> Result<PriceSeries, AppError> {
        let points = check_points(points)?;
        let pair = parse_pair(pair)?;
        let tf: Option<Timeframe> = timeframe
            .map(|t| {
                t.parse::<Timeframe>()
                    .map_err(|e| AppError::new(ErrorCode::InvalidArgument, e.to_string()))
            })
            .transpose()?;
        let side: Option<PriceSide> = side
            .map(|t| {
                t.parse::<PriceSide>()
                    .map_err(|e| AppError::new(ErrorCode::InvalidArgument, e.to_string()))
            })
            .transpose()?;
        let coverage = self.coverage()?;
        let rank = |s: PriceSide| {
            crate::status::SIDE_PREFERENCE
                .iter()
                .position(|x| *x == s)
                .unwrap_or(9)
        };
        let key = coverage
            .pairs
            .iter()
            .filter(|r| r.pair == pair)
            .filter(|r| tf.is_none_or(|t| r.timeframe == t))
            .filter(|r| side.is_none_or(|s| r.side == s))
            .max_by_key(|r| (r.bars.iter().sum::<u64>(), std::cmp::Reverse(rank(r.side))))
            .map(|r| SeriesKey {
                pair: r.pair,
                side: r.side,
                timeframe: r.timeframe,
            })
            .ok_or_else(|| not_found(format!("no bars of {pair} in the store")))?;
        let cached = self
            .caches
            .lock()
            .expect("cache lock")
            .bars
            .get(&key)
            .cloned();
        let bars = match cached {
            Some(b) => b,
            None => {
                let b = Arc::new(self.with_duck(|s| Ok(s.load_series(key)?))?);
                self.caches
                    .lock()
                    .expect("cache lock")
                    .bars
                    .insert(key, Arc::clone(&b));
                b
            }
        };
        let lo = from.map_or(0, |f| bars.ts.partition_point(|&t| t < f));
        let hi = to.map_or(bars.ts.len(), |t| bars.ts.partition_point(|&x| x < t));
        let n = hi.saturating_sub(lo);
        let buckets = points.max(1);
        let mut out = PriceSeries {
            pair,
            timeframe: key.timeframe,
            side: key.side,
            points: 0,
            total_points: n,
            ts: Vec::new(),
            close: Vec::new(),
            low: Vec::new(),
            high: Vec::new(),
        };
        if n > 0 {
            let per = n.div_ceil(buckets);
            let mut i = lo;
            while i < hi {
                let end = (i + per).min(hi);
                out.ts.push(bars.ts[i]);
                out.close.push(bars.close[end - 1]);
                out.low.push(
                    bars.low[i..end]
                        .iter()
                        .copied()
                        .fold(f64::INFINITY, f64::min),
                );
                out.high.push(
                    bars.high[i..end]
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max),
                );
                i = end;
            }
        }
        out.points = out.ts.len();
        Ok(out)
    }
}

fn push_log(job: &mut JobSnapshot, line: String) {
    job.log.push(line);
    if job.log.len() > LOG_LINES {
        let extra = job.log.len() - LOG_LINES;
        job.log.drain(..extra);
    }
}

fn stage_mut<'j>(job: &'j mut JobSnapshot, stage: &str) -> &'j mut JobStage {
    if let Some(i) = job.stages.iter().position(|s| s.stage == stage) {
        return &mut job.stages[i];
    }
    job.stages.push(JobStage {
        stage: stage.into(),
        status: "pending".into(),
        seconds: None,
    });
    job.stages.last_mut().expect("pushed")
}

fn summary(r: bqx_store::RunRow, has_backtest: bool) -> RunSummary {
    RunSummary {
        has_backtest,
        seconds: seconds_between(&r.started_at, r.finished_at.as_deref()),
        run_id: r.run_id,
        kind: r.kind,
        status: r.status,
        started_at: r.started_at,
        finished_at: r.finished_at,
        error: r.error,
        args: r.args,
    }
}

fn modified(path: &Path) -> Result<SystemTime, AppError> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| AppError::internal(format!("{}: {e}", path.display())))
}

fn parse_pair(s: &str) -> Result<Pair, AppError> {
    s.parse::<Pair>()
        .map_err(|e| AppError::new(ErrorCode::InvalidArgument, e.to_string()))
}

fn check_points(points: usize) -> Result<usize, AppError> {
    if (2..=MAX_POINTS).contains(&points) {
        Ok(points)
    } else {
        Err(AppError::new(
            ErrorCode::InvalidArgument,
            format!("points must lie in 2..={MAX_POINTS} (got {points})"),
        ))
    }
}

fn series_key(v: &serde_json::Value) -> Option<SeriesKey> {
    Some(SeriesKey {
        pair: v["pair"].as_str()?.parse().ok()?,
        side: v["side"].as_str()?.parse().ok()?,
        timeframe: v["timeframe"].as_str()?.parse().ok()?,
    })
}
