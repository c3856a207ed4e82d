//! `bqx-desktop`: the BQX ML desktop app. One Tauri window shows the web UI (`ui/dist`); the UI
//! talks to the store through the same HTTP API as in a browser, but answered in-process
//! (`bqx_http::dispatch`, no socket) by the `api` command, and it receives the job's progress as
//! `bqx-event` events. Native extras: a file dialog to pick files to ingest, and a notification
//! when a job ends. No domain logic lives here.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::Arc;

use bqx_app::{IngestRequest, JobSnapshot, Service, ServiceEvent};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_notification::NotificationExt;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The event the UI listens to; its payload is a [`ServiceEvent`] (`{"kind", "data"}`).
const EVENT: &str = "bqx-event";

/// What the app keeps for its commands.
struct Desktop {
    service: Arc<Service>,
    router: axum::Router,
}

/// The answer of the `api` command: an HTTP status and a JSON body, as `bqx serve` would send.
#[derive(Debug, Serialize)]
struct ApiResponse {
    status: u16,
    body: serde_json::Value,
}

/// Answers one API request (`docs/api.md`) in-process. Never rejects: errors are HTTP statuses
/// with the API's error body (the `Result` is what Tauri requires of an async command that
/// borrows its state).
#[tauri::command]
async fn api(
    state: State<'_, Desktop>,
    method: String,
    path: String,
    body: Option<serde_json::Value>,
) -> Result<ApiResponse, String> {
    let (status, body) = bqx_http::dispatch(&state.router, &method, &path, body.as_ref()).await;
    Ok(ApiResponse { status, body })
}

/// Lets the user pick data files in a native dialog and starts their ingest. Resolves to the
/// job (`null` when the dialog was cancelled); a refused start (a job already running) rejects
/// with the API's error shape (`{"error": {"code", "message"}}`).
#[tauri::command]
async fn pick_and_ingest(
    app: AppHandle,
    state: State<'_, Desktop>,
) -> Result<Option<JobSnapshot>, serde_json::Value> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Ingest data files")
        .add_filter("Bars, ticks, archives", &["csv", "zip", "parquet", "txt"])
        .pick_files(move |picked| {
            let _ = tx.send(picked);
        });
    let picked = rx.await.ok().flatten().unwrap_or_default();
    let files: Vec<_> = picked
        .into_iter()
        .filter_map(|f| f.into_path().ok())
        .collect();
    if files.is_empty() {
        return Ok(None);
    }
    state
        .service
        .start_ingest(IngestRequest::files(files))
        .map(Some)
        .map_err(|e| serde_json::json!({ "error": e }))
}

/// Forwards every service event to the webview, and notifies natively when a job ends.
fn forward_events(app: &AppHandle, service: &Service) {
    let app = app.clone();
    service.subscribe(move |event| {
        if let Err(e) = app.emit(EVENT, event) {
            eprintln!("bqx-desktop: cannot emit {EVENT}: {e}");
        }
        let note = match event {
            ServiceEvent::Job(job) => job_notification(job).map(|(t, b)| (t.to_string(), b)),
            ServiceEvent::Online(bqx_app::OnlineEvent::Alert(a)) => alert_notification(a),
            _ => None,
        };
        if let Some((title, body)) = note {
            // Best effort: a desktop without a notification daemon just has none.
            if let Err(e) = app.notification().builder().title(title).body(body).show() {
                eprintln!("bqx-desktop: notification failed: {e}");
            }
        }
    });
}

/// The notification for a finished job, or `None` while it runs.
fn job_notification(job: &JobSnapshot) -> Option<(&'static str, String)> {
    let what = match &job.run_id {
        Some(id) => format!("{} {id}", job.kind),
        None => job.kind.clone(),
    };
    let (done, failed) = match job.kind.as_str() {
        "ingest" => ("Ingest finished", "Ingest failed"),
        "online" => ("Online loop stopped", "Online loop failed"),
        _ => ("Run finished", "Run failed"),
    };
    match job.state.as_str() {
        "succeeded" => Some((done, format!("{what} succeeded"))),
        "failed" => Some((
            failed,
            match &job.error {
                Some(e) => format!("{what} failed: {e}"),
                None => format!("{what} failed"),
            },
        )),
        _ => None,
    }
}

/// A native notification for a confirmed drift (critical alerts only: warnings and feature
/// shifts stay on the Live page).
/// The alerts worth interrupting a trader for: a confirmed drift (critical), and a change of the
/// model that serves (a challenger promoted, or its fit failed: the champion/challenger
/// warnings).
fn alert_notification(a: &bqx_app::Alert) -> Option<(String, String)> {
    let body = || format!("{} (see {})", a.reason, a.playbook);
    if a.severity == bqx_app::Severity::Critical {
        Some((format!("Drift alert: {} {}", a.pair, a.subject), body()))
    } else if a.severity == bqx_app::Severity::Warning && a.evidence.detector == "challenger" {
        Some((format!("Model change: {} {}", a.pair, a.subject), body()))
    } else {
        None
    }
}

fn main() {
    bqx_app::configure_cpu_threads();
    let store = match bqx_app::resolve_view_store_dir(None) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("bqx-desktop: {e}");
            std::process::exit(1);
        }
    };
    let service = Service::new(&store);
    let router = bqx_http::router(service.clone(), &bqx_http::HttpConfig::loopback());

    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .manage(Desktop {
            service: service.clone(),
            router,
        })
        .invoke_handler(tauri::generate_handler![api, pick_and_ingest])
        .setup(|app| {
            let desktop = app.state::<Desktop>();
            forward_events(app.handle(), &desktop.service);
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("bqx-desktop: {e}");
        std::process::exit(1);
    }
}
