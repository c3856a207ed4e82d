//! The API in-process (no socket): every documented route on a real store with a real run
//! (the embedded ECB data and ridge), the error shape, the token off
//! loopback, the origin check, the body limit and the request budget.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use bqx_app::{Service, ServiceEvent};
use bqx_http::{HttpConfig, ROUTES, RateLimit, router};
use serde_json::Value;
use tower::ServiceExt;

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

async fn get_ok(app: &Router, hit: &mut BTreeSet<String>, uri: &str) -> Value {
    hit.insert(route_of("get", uri));
    let (s, v) = get(app, uri).await;
    assert_eq!(s, StatusCode::OK, "{uri}: {v}");
    v
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    call(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn post(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error shape: {v}"))
}

/// Waits until the service's job has ended (at most 10 minutes; a running online loop is then
/// stopped) and asserts that it succeeded.
async fn job_succeeds(service: &Arc<Service>) -> bqx_app::JobSnapshot {
    let s = Arc::clone(service);
    let waiting = tokio::task::spawn_blocking(move || s.wait_idle());
    let done = match tokio::time::timeout(std::time::Duration::from_secs(600), waiting).await {
        Ok(done) => done.unwrap().expect("a job ran"),
        Err(_) => {
            service.stop_online();
            panic!("the job did not end within 10 minutes");
        }
    };
    assert_eq!(done.state, "succeeded", "{:?}", done.error);
    done
}

/// Which documented route a request path exercises.
fn route_of(method: &str, uri: &str) -> String {
    let path = uri.split('?').next().unwrap();
    ROUTES
        .iter()
        .filter(|r| r.method == method)
        .find(|r| {
            let a: Vec<&str> = r.path.split('/').collect();
            let b: Vec<&str> = path.split('/').collect();
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(x, y)| x == y || (x.starts_with('{') && x.ends_with('}')))
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .unwrap_or_else(|| panic!("{uri} is not a documented route"))
}

fn ecb_zip(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("eurofxref-hist.zip");
    std::fs::write(&p, bqx_app::embedded_ecb_zip()).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_with_the_runs_real_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let service = Service::new(&store);
    let events: Arc<Mutex<Vec<ServiceEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    service.subscribe(move |e| sink.lock().unwrap().push(e.clone()));
    let app = router(Arc::clone(&service), &HttpConfig::loopback());
    let mut hit: BTreeSet<String> = BTreeSet::new();

    // An empty store: no runs yet, and an explanation instead of data.
    assert_eq!(
        get_ok(&app, &mut hit, "/api/v1/runs").await,
        Value::Array(vec![])
    );
    let (s, v) = get(&app, "/api/v1/data/coverage").await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "not_found"));

    // Ingest through the API, then a run through the API.
    let zip = ecb_zip(dir.path());
    // The options of `bqx ingest` go through (an explicit format; empty strings mean unset).
    let body = serde_json::json!({ "paths": [zip], "format": "ecb", "tz": "" }).to_string();
    hit.insert(route_of("post", "/api/v1/ingest"));
    let (s, job) = call(&app, post("/api/v1/ingest", &body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "ingest");
    job_succeeds(&service).await;

    hit.insert(route_of("post", "/api/v1/runs"));
    // A fold span that does not parse is refused at once, naming the field.
    let (s, v) = call(&app, post("/api/v1/runs", r#"{"train": "2 weeks"}"#)).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(v.to_string().contains("--train"), "{v}");
    // Folds longer than the stored history: refused before a job starts, saying so.
    let (s, v) = call(&app, post("/api/v1/runs", r#"{"train": "50y"}"#)).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(v.to_string().contains("too little"), "{v}");
    assert!(
        service.job().is_none_or(|j| j.kind != "run"),
        "no run job started"
    );
    let (s, job) = call(
        &app,
        post("/api/v1/runs", r#"{"models": ["ridge"], "seed": 7}"#),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    assert_eq!(
        job["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stage"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["panel", "base", "cross", "select", "backtest"]
    );
    // While it runs: a second job is refused, DuckDB reads say the store is busy, the
    // registry stays readable.
    let (s, v) = call(&app, post("/api/v1/runs", "{}")).await;
    assert_eq!((s, error_code(&v)), (StatusCode::CONFLICT, "conflict"));
    let (s, v) = get(&app, "/api/v1/data/health").await;
    assert_eq!((s, error_code(&v)), (StatusCode::CONFLICT, "store_in_use"));
    assert!(
        !get_ok(&app, &mut hit, "/api/v1/runs")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The job names its run once the run is in the registry (the run takes tens of seconds).
    let running_id = loop {
        let (_, h) = get(&app, "/api/v1/health").await;
        if let Some(id) = h["job"]["run_id"].as_str() {
            break id.to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // Asked while running, the run's detail must not be kept by the response cache.
    let (s, while_running) = get(&app, &format!("/api/v1/runs/{running_id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(while_running["status"], "running");
    let job = job_succeeds(&service).await;
    assert!(
        job.stages.iter().all(|s| s.status == "succeeded"),
        "{job:?}"
    );
    let run_id = job.run_id.clone().expect("the job knows its run");
    {
        let ev = events.lock().unwrap();
        let started: Vec<&str> = ev
            .iter()
            .filter_map(|e| match e {
                ServiceEvent::Progress(bqx_app::ProgressEvent::StageStarted { stage }) => {
                    Some(stage.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            started,
            ["ingest", "panel", "base", "cross", "select", "backtest"]
        );
        let jobs = ev
            .iter()
            .filter(|e| matches!(e, ServiceEvent::Job(_)))
            .count();
        assert_eq!(jobs, 4, "a job event at the start and the end of each job");
    }

    let health = get_ok(&app, &mut hit, "/api/v1/health").await;
    assert_eq!(health["job"]["run_id"], run_id.as_str());
    let pipeline = get_ok(&app, &mut hit, "/api/v1/pipeline").await;
    let names: Vec<&str> = pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let table: Vec<&str> = bqx_app::stage_table().iter().map(|s| s.name).collect();
    assert_eq!(names, table, "the API's graph is the stage table");
    let select = pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "select")
        .unwrap();
    assert_eq!(select["depends_on"], serde_json::json!(["cross"]));
    assert_eq!(select["per_fold"], true);

    let runs = get_ok(&app, &mut hit, "/api/v1/runs?limit=1").await;
    assert_eq!(runs[0]["run_id"], run_id.as_str());
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(run_id, running_id);
    let detail = get_ok(&app, &mut hit, &format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(
        detail["status"], "succeeded",
        "not the answer given while running"
    );
    assert_eq!(
        detail,
        get_ok(&app, &mut hit, &format!("/api/v1/runs/{run_id}")).await
    );
    assert_eq!(detail["has_backtest"], true);
    assert_eq!(detail["stages"].as_array().unwrap().len(), 5);
    // The lead-lag report and the selection, fold by fold.
    let cross = get_ok(&app, &mut hit, &format!("/api/v1/runs/{run_id}/crosspair")).await;
    let folds = cross["folds"].as_array().unwrap();
    assert!(!folds.is_empty());
    let pairs = folds[0]["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 28);
    assert_eq!(pairs[0]["leaders"].as_array().unwrap().len(), 27);
    assert_eq!(pairs[0]["kept"].as_array().unwrap().len(), 12);
    // A run without networks (models: ridge) has no embed or train stage: 404s that say so,
    // and no champion to predict with. (The demo's networks answer in tests/e2e_demo.rs through
    // the real server, and on the UI's Training and Embeddings pages in tests/ui.)
    for route in ["training", "embeddings"] {
        hit.insert(route_of("get", &format!("/api/v1/runs/{{id}}/{route}")));
        let (s, v) = get(&app, &format!("/api/v1/runs/{run_id}/{route}")).await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{route}: {v}"
        );
    }
    hit.insert(route_of("post", "/api/v1/predict"));
    let (s, v) = call(&app, post("/api/v1/predict", r#"{"pair": "EURUSD"}"#)).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no trained champion")
    );
    let (s, v) = call(
        &app,
        post("/api/v1/predict", r#"{"pair": "EURUSD", "bogus": 1}"#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let sel = get_ok(&app, &mut hit, &format!("/api/v1/runs/{run_id}/selection")).await;
    assert_eq!(sel["folds"].as_array().unwrap().len(), folds.len());
    assert!(sel["stability"]["jaccard_mean"].is_number() || folds.len() == 1);
    assert!(
        detail["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "equity")
    );

    // The figures agree across routes and with the report file.
    let summary = get_ok(&app, &mut hit, &format!("/api/v1/runs/{run_id}/backtest")).await;
    let ridge = summary["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ridge")
        .unwrap();
    let da = ridge["pooled"]["direction"]["accuracy"].as_f64().unwrap();
    assert!((0.3..0.7).contains(&da), "{da}");
    let rows = get_ok(
        &app,
        &mut hit,
        &format!("/api/v1/runs/{run_id}/metrics?model=ridge&scope=pooled"),
    )
    .await;
    let stored = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "directional_accuracy")
        .unwrap_or_else(|| panic!("no pooled DA in {rows}"));
    assert_eq!(stored["value"].as_f64().unwrap(), da);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|m| m["model"] == "ridge" && m["scope"] == "pooled")
    );
    let pairs = get_ok(
        &app,
        &mut hit,
        &format!("/api/v1/runs/{run_id}/backtest/pairs?model=ridge"),
    )
    .await;
    assert_eq!(pairs.as_array().unwrap().len(), 28);
    let folds = get_ok(
        &app,
        &mut hit,
        &format!("/api/v1/runs/{run_id}/backtest/folds?model=ridge"),
    )
    .await;
    let n_folds = summary["folds"].as_array().unwrap().len();
    assert_eq!(folds.as_array().unwrap().len(), n_folds);
    let eurusd_folds = get_ok(
        &app,
        &mut hit,
        &format!("/api/v1/runs/{run_id}/backtest/folds?model=ridge&pair=eurusd"),
    )
    .await;
    assert_eq!(eurusd_folds.as_array().unwrap().len(), n_folds);

    // Equity: the last point is the sum of the stored per-decision P&L, computed here from
    // the artifact; the decimated curve keeps its ends and respects the budget.
    let path = store.join("reports").join(&run_id).join("equity.json");
    let paths: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let ridge_paths = paths
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "ridge")
        .unwrap();
    let sum: f64 = ridge_paths["pooled"]["pnl"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    let eq = get_ok(
        &app,
        &mut hit,
        &format!("/api/v1/runs/{run_id}/equity?model=ridge&points=50"),
    )
    .await;
    let curve = eq["equity"].as_array().unwrap();
    assert!(curve.len() <= 50 && eq["total_points"].as_u64().unwrap() > 50);
    assert!((curve.last().unwrap().as_f64().unwrap() - sum).abs() < 1e-9);
    assert!(
        eq["drawdown"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d.as_f64().unwrap() <= 0.0)
    );
    let pair_eq = get_ok(
        &app,
        &mut hit,
        &format!("/api/v1/runs/{run_id}/equity?model=ridge&pair=EURUSD"),
    )
    .await;
    assert_eq!(pair_eq["pair"], "EURUSD");

    // Predictions: as many as the pair's out-of-sample rows in the report.
    let preds = get_ok(
        &app,
        &mut hit,
        &format!("/api/v1/runs/{run_id}/predictions?model=ridge&pair=EURUSD&points=100"),
    )
    .await;
    let eurusd = pairs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pair"] == "EURUSD")
        .unwrap();
    assert_eq!(preds["total_points"], eurusd["all_folds"]["n_rows"]);
    assert!(preds["ts"].as_array().unwrap().len() <= 100);

    // Data views agree with the store's status.
    let health = get_ok(&app, &mut hit, "/api/v1/data/health").await;
    assert_eq!(health["series"].as_array().unwrap().len(), 28);
    let coverage = get_ok(&app, &mut hit, "/api/v1/data/coverage").await;
    let total: u64 = coverage["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["bars"].as_array().unwrap().iter())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total, health["bars"].as_u64().unwrap());
    assert_eq!(coverage["pairs"].as_array().unwrap().len(), 28);
    let series = get_ok(&app, &mut hit, "/api/v1/data/series?pair=EURUSD&points=200").await;
    let eurusd_health = health["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["pair"] == "EURUSD")
        .unwrap();
    assert_eq!(series["total_points"], eurusd_health["bars"]);
    assert!(series["ts"].as_array().unwrap().len() <= 200);
    for (lo, (c, hi)) in series["low"].as_array().unwrap().iter().zip(
        series["close"]
            .as_array()
            .unwrap()
            .iter()
            .zip(series["high"].as_array().unwrap()),
    ) {
        let (lo, c, hi) = (
            lo.as_f64().unwrap(),
            c.as_f64().unwrap(),
            hi.as_f64().unwrap(),
        );
        assert!(lo <= c && c <= hi);
    }

    assert_eq!(
        get_ok(&app, &mut hit, "/api/v1/alerts").await,
        Value::Array(vec![]),
        "no online session yet"
    );
    let catalog = get_ok(&app, &mut hit, "/api/v1/features/catalog").await;
    assert_eq!(
        catalog["count"].as_u64().unwrap() as usize,
        bqx_app::feature_catalog().count
    );
    let doc = get_ok(&app, &mut hit, "/api/v1/openapi.json").await;
    for r in ROUTES {
        assert!(
            doc["paths"][r.path][r.method].is_object(),
            "{} {} undocumented",
            r.method,
            r.path
        );
    }

    // Server-sent events: a late subscriber first gets the current job.
    hit.insert(route_of("get", "/api/v1/events"));
    let resp = app
        .clone()
        .oneshot(Request::get("/api/v1/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body().into_data_stream();
    let first = tokio_stream::StreamExt::next(&mut body)
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&first);
    assert!(text.starts_with("event: job\ndata: {"), "{text}");
    assert!(text.contains(&run_id));

    hit.insert(route_of("get", "/metrics"));
    let (s, text) = get(&app, "/metrics").await;
    assert_eq!(s, StatusCode::OK);
    let text = text.as_str().unwrap().to_string();
    assert!(
        text.contains(r#"bqx_http_requests_total{method="GET",route="/api/v1/runs",status="200"}"#)
    );
    assert!(text.contains(r#"bqx_runs{status="succeeded"} 2"#), "{text}");

    // The online loop as a job: its session, the session at its checkpoint, its alerts (the
    // same as the job's alert events), and its Prometheus counters.
    assert_eq!(
        get_ok(&app, &mut hit, "/api/v1/online").await,
        Value::Array(vec![])
    );
    hit.insert(route_of("post", "/api/v1/online"));
    let (s, job) = call(
        &app,
        post(
            "/api/v1/online",
            r#"{"pairs": ["EURUSD", "USDJPY"], "train_fraction": 0.6, "checkpoint_every": 500}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "online");
    job_succeeds(&service).await;
    hit.insert(route_of("post", "/api/v1/online/stop"));
    let (s, v) = call(&app, post("/api/v1/online/stop", "{}")).await;
    assert_eq!((s, &v["stopping"]), (StatusCode::OK, &Value::Bool(false)));
    let sessions = get_ok(&app, &mut hit, "/api/v1/online").await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        sessions[0]["pairs"],
        serde_json::json!(["EURUSD", "USDJPY"])
    );
    assert_eq!(sessions[0]["source"], "store");
    let live = sessions[0]["live_bars"].as_u64().unwrap();
    assert!(live > 2 * 2000, "{live}");
    let session = sessions[0]["session"].as_str().unwrap().to_string();
    let view = get_ok(&app, &mut hit, &format!("/api/v1/online/{session}")).await;
    assert_eq!(view["summary"], sessions[0]);
    assert_eq!(
        view["members"],
        serde_json::json!(["frozen", "rls", "tree"])
    );
    let pairs = view["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    let matured: u64 = pairs
        .iter()
        .map(|p| p["score"]["matured"].as_u64().unwrap())
        .sum();
    assert_eq!(view["pooled"]["matured"].as_u64(), Some(matured));
    for p in pairs {
        assert_eq!(p["score"]["mae"].as_array().unwrap().len(), 4);
        assert!(p["latest"]["ensemble"].is_f64(), "{p}");
        assert!(!p["timeline"].as_array().unwrap().is_empty());
    }
    let (s, v) = get(&app, "/api/v1/online/no-such-session").await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    for p in pairs {
        assert_eq!(p["champion"], 0, "{p}");
        assert!(p["decisions"].is_array());
    }
    // Nothing was promoted on this short stream: a rollback has nothing to undo (409), and an
    // unknown session or pair is 404.
    hit.insert(route_of("post", "/api/v1/online/{session}/rollback"));
    let (s, v) = call(
        &app,
        post(
            &format!("/api/v1/online/{session}/rollback"),
            r#"{"pair": "EURUSD"}"#,
        ),
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::CONFLICT, "conflict"),
        "{v}"
    );
    assert!(v.to_string().contains("nothing to roll back"), "{v}");
    let (s, v) = call(
        &app,
        post(
            "/api/v1/online/no-such-session/rollback",
            r#"{"pair": "EURUSD"}"#,
        ),
    )
    .await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, v) = call(
        &app,
        post(
            &format!("/api/v1/online/{session}/rollback"),
            r#"{"pair": "GBPJPY"}"#,
        ),
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{v}"
    );
    let stored = get_ok(
        &app,
        &mut hit,
        &format!("/api/v1/alerts?session={session}&limit=10000"),
    )
    .await;
    let raised = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ServiceEvent::Online(bqx_app::OnlineEvent::Alert(_))))
        .count();
    assert_eq!(stored.as_array().unwrap().len(), raised);
    for a in stored.as_array().unwrap() {
        assert!(
            a["playbook"]
                .as_str()
                .unwrap()
                .starts_with("docs/playbook.md#")
        );
        assert!(a["evidence"]["value"].is_f64(), "{a}");
    }
    let (_, text) = get(&app, "/metrics").await;
    let text = text.as_str().unwrap().to_string();
    assert!(
        text.contains(&format!("bqx_online_bars_total {live}")),
        "{text}"
    );
    assert!(text.contains(&format!("bqx_online_step_duration_seconds_count {live}")));
    assert!(text.contains(r#"bqx_online_weight{pair="EURUSD",member="frozen"}"#));
    // Every series the Grafana dashboard in bundle/ queries is exported.
    // The manifest directory at run time (a compile-time path can be another checkout's when
    // the build cache shares objects).
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let dashboard =
        std::fs::read_to_string(format!("{dir}/../../bundle/grafana/bqx-online.json")).unwrap();
    let dash: Value = serde_json::from_str(&dashboard).unwrap();
    let mut queried = BTreeSet::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("bqx_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                queried.insert(name);
            }
        }
    }
    assert!(queried.len() >= 7, "{queried:?}");
    for name in &queried {
        assert!(
            text.lines().any(|l| l.starts_with(name.as_str())),
            "the dashboard queries {name}, which /metrics does not export"
        );
    }

    // Bars over HTTP: into the store's inbox, ingested by a loop that watches it. The loop
    // resumes the finished session (same request), has no stored bar left, and ends after the
    // two posted EURUSD fixes.
    hit.insert(route_of("post", "/api/v1/bars"));
    let (s, v) = call(
        &app,
        post("/api/v1/bars", r#"{"pair": "EURXYZ", "bars": []}"#),
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    let (s, v) = call(
        &app,
        post(
            "/api/v1/bars",
            r#"{"pair": "EURUSD", "bars": [{"time": "yesterday", "open": 1, "high": 1, "low": 1, "close": 1}]}"#,
        ),
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bars[0].time")
    );
    let (s, job) = call(
        &app,
        post(
            "/api/v1/online",
            r#"{"pairs": ["EURUSD", "USDJPY"], "train_fraction": 0.6, "checkpoint_every": 500,
                "watch_inbox": true, "max_bars": 2, "poll_seconds": 0.05}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let (s, v) = call(
        &app,
        post(
            "/api/v1/bars",
            r#"{"pair": "EURUSD", "bars": [
                {"time": "2026-11-02T13:15:00Z", "open": 1.16, "high": 1.16, "low": 1.16, "close": 1.16},
                {"time": "2026-11-03T14:15:00+01:00", "open": 1.161, "high": 1.161, "low": 1.161, "close": 1.161}]}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["bars"], 2);
    assert!(v["file"].as_str().unwrap().starts_with("inbox/bars-"));
    job_succeeds(&service).await;
    let after = get_ok(&app, &mut hit, &format!("/api/v1/online/{session}")).await;
    assert_eq!(after["summary"]["live_bars"].as_u64(), Some(live + 2));
    let eur = after["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pair"] == "EURUSD")
        .unwrap();
    // The newest prediction is the posted 3 November fix (13:15 UTC).
    assert_eq!(eur["latest"]["ts"].as_i64(), Some(1_793_711_700_000_000));

    let documented: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(hit, documented, "every documented route was exercised");
}

#[tokio::test]
async fn errors_have_one_shape() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(Service::new(dir.path()), &HttpConfig::loopback());
    let cases = [
        ("/api/v1/runs/nope", StatusCode::NOT_FOUND, "not_found"),
        ("/api/v1/nope", StatusCode::NOT_FOUND, "not_found"),
        (
            "/api/v1/runs?limit=x",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "/api/v1/data/series",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "/api/v1/data/series?pair=EURXYZ",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "/api/v1/runs/x/equity",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
    ];
    for (uri, status, code) in cases {
        let (s, v) = get(&app, uri).await;
        assert_eq!((s, error_code(&v)), (status, code), "{uri}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    // POST rules: JSON only, same origin only, bounded bodies, known fields only.
    let (s, v) = call(
        &app,
        Request::post("/api/v1/runs")
            .header("content-type", "text/plain")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    let (s, v) = call(
        &app,
        Request::post("/api/v1/runs")
            .header("content-type", "application/json")
            .header("host", "127.0.0.1:8750")
            .header("origin", "https://evil.example")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!((s, error_code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let big = format!(r#"{{"paths": ["{}"]}}"#, "x".repeat(bqx_http::BODY_LIMIT));
    let (s, v) = call(&app, post("/api/v1/ingest", &big)).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let (s, v) = call(
        &app,
        post(
            "/api/v1/ingest",
            r#"{"paths": ["/x.csv"], "tz": "Mars/Olympus"}"#,
        ),
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("`tz`"),
        "{v}"
    );
    let (s, v) = call(&app, post("/api/v1/runs", r#"{"stagez": []}"#)).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    let (s, v) = call(&app, post("/api/v1/runs", r#"{"stages": ["online"]}"#)).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument"),
        "{v}"
    );
    // Same origin is fine (the run then fails for want of a store, as a job).
    let (s, v) = call(
        &app,
        Request::post("/api/v1/runs")
            .header("content-type", "application/json")
            .header("host", "127.0.0.1:8750")
            .header("origin", "http://127.0.0.1:8750")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    // No CORS: a cross-origin read gets no allow-origin header.
    let resp = app
        .clone()
        .oneshot(
            Request::get("/api/v1/health")
                .header("origin", "https://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert!(resp.headers().get("content-security-policy").is_some());
}

#[tokio::test]
async fn off_loopback_every_request_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let bind: SocketAddr = "0.0.0.0:8750".parse().unwrap();
    let (cfg, generated) = HttpConfig::new(bind, None);
    let token = generated.expect("a token is generated off loopback");
    assert_eq!(token.len(), 64);
    assert_eq!(cfg.token.as_deref(), Some(token.as_str()));
    let app = router(Service::new(dir.path()), &cfg)
        .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 9], 5000))));
    for uri in [
        "/api/v1/health",
        "/api/v1/runs",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/nope",
    ] {
        let (s, v) = get(&app, uri).await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{uri}"
        );
    }
    // The UI's files (here: none installed) are not behind the token; they hold no data.
    let (s, _) = get(&app, "/index.html").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let wrong = Request::get("/api/v1/health")
        .header("authorization", "Bearer 00")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, wrong).await.0, StatusCode::UNAUTHORIZED);
    let right = Request::get("/api/v1/health")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, right).await.0, StatusCode::OK);
    assert_eq!(
        get(&app, &format!("/api/v1/health?token={token}")).await.0,
        StatusCode::OK
    );
    // A given token is used as is; loopback needs none.
    let (cfg, generated) = HttpConfig::new(bind, Some("s3cret".into()));
    assert_eq!((cfg.token.as_deref(), generated), (Some("s3cret"), None));
    let (cfg, _) = HttpConfig::new("127.0.0.1:0".parse().unwrap(), None);
    assert!(cfg.token.is_none());
}

#[tokio::test]
async fn remote_clients_have_a_request_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HttpConfig::new("0.0.0.0:0".parse().unwrap(), Some("t".into())).0;
    cfg.rate_limit = RateLimit {
        per_second: 0.001,
        burst: 3.0,
    };
    let service = Service::new(dir.path());
    let remote = router(Arc::clone(&service), &cfg)
        .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 1], 1))));
    for _ in 0..3 {
        assert_eq!(
            get(&remote, "/api/v1/health?token=t").await.0,
            StatusCode::OK
        );
    }
    let (s, v) = get(&remote, "/api/v1/health?token=t").await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let local = router(service, &cfg).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    for _ in 0..20 {
        assert_eq!(
            get(&local, "/api/v1/health?token=t").await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn desktop_dispatch_answers_the_same_routes() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(Service::new(dir.path()), &HttpConfig::loopback());
    let (s, v) = bqx_http::dispatch(&app, "GET", "/api/v1/runs", None).await;
    assert_eq!((s, v), (200, Value::Array(vec![])));
    let (s, v) = bqx_http::dispatch(&app, "GET", "/api/v1/runs/x", None).await;
    assert_eq!((s, error_code(&v)), (404, "not_found"));
    let body = serde_json::json!({ "paths": [] });
    let (s, v) = bqx_http::dispatch(&app, "POST", "/api/v1/ingest", Some(&body)).await;
    assert_eq!((s, error_code(&v)), (400, "invalid_argument"));
}
