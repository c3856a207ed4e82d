use serde::Serialize;

/// What long-running use cases report while they work. The CLI renders these as progress bars;
/// the HTTP server and the desktop shell forward them to the UI.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// A run was recorded in the registry under `run_id`.
    RunStarted {
        run_id: String,
        kind: String,
    },
    StageStarted {
        stage: String,
    },
    StageFinished {
        stage: String,
        status: String,
        secs: f64,
    },
    TaskStarted {
        task: String,
        total: u64,
        unit: String,
    },
    TaskAdvanced {
        task: String,
        delta: u64,
    },
    /// The task's total became known or grew.
    TaskTotal {
        task: String,
        total: u64,
    },
    TaskFinished {
        task: String,
    },
    Message {
        text: String,
    },
}

/// A receiver of progress events; must be cheap and never block for long.
pub trait Progress: Send + Sync {
    fn event(&self, event: ProgressEvent);
}

/// Discards every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: ProgressEvent) {}
}

pub(crate) fn task_started(p: &dyn Progress, task: &str, total: u64, unit: &str) {
    p.event(ProgressEvent::TaskStarted {
        task: task.to_string(),
        total,
        unit: unit.to_string(),
    });
}

pub(crate) fn task_advanced(p: &dyn Progress, task: &str, delta: u64) {
    p.event(ProgressEvent::TaskAdvanced {
        task: task.to_string(),
        delta,
    });
}

pub(crate) fn task_finished(p: &dyn Progress, task: &str) {
    p.event(ProgressEvent::TaskFinished {
        task: task.to_string(),
    });
}
