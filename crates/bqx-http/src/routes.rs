//! The routes of `docs/api.md`, the middleware (auth, origin, budget, metrics) and the UI files.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Path, Request, State,
};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bqx_app::{BacktestRequest, IngestRequest, MetricFilter, RunRequest, Service, ServiceEvent};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::cache::{self, CACHE_BYTES, ResponseCache};
use crate::limits::Buckets;
use crate::metrics::{Metrics, RequestLabels, RouteLabels, StatusLabels};
use crate::{BODY_LIMIT, HttpConfig, HttpError};

/// Shared by every handler (one `Arc`: every middleware and handler clones it per request).
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

pub(crate) struct Shared {
    pub(crate) service: Arc<Service>,
    events: broadcast::Sender<ServiceEvent>,
    metrics: Arc<Metrics>,
    token: Option<String>,
    buckets: Buckets,
    pub(crate) responses: ResponseCache,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

type ApiResult<T> = Result<T, HttpError>;

/// Query parameters with rejections in the API's error shape.
pub(crate) struct Q<T>(T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Q(q.0))
            .map_err(|e: QueryRejection| HttpError::bad_request(e.body_text()))
    }
}

/// A JSON body with rejections in the API's error shape (413 when over the limit).
pub(crate) struct J<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for J<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|j| J(j.0))
            .map_err(|e: JsonRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    HttpError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("request bodies are limited to {BODY_LIMIT} bytes"),
                    )
                } else {
                    HttpError::bad_request(e.body_text())
                }
            })
    }
}

/// Runs a blocking `Service` call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, bqx_app::AppError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HttpError::from(bqx_app::AppError::internal(format!("handler: {e}"))))?
        .map_err(HttpError::from)
}

pub(crate) fn build(service: Arc<Service>, cfg: &HttpConfig) -> Router {
    let (events, _) = broadcast::channel(4096);
    let tx = events.clone();
    let shared_metrics = Arc::new(Metrics::new());
    let m = Arc::clone(&shared_metrics);
    service.subscribe(move |e| {
        if let ServiceEvent::Online(o) = e {
            m.observe_online(o);
        }
        let _ = tx.send(e.clone());
    });
    let state = AppState(Arc::new(Shared {
        service,
        events,
        metrics: shared_metrics,
        token: cfg.token.clone(),
        buckets: Buckets::new(cfg.rate_limit),
        responses: ResponseCache::new(CACHE_BYTES),
    }));
    // Everything about one run, answered from the response cache once the run has finished.
    let run_scoped = Router::new()
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/metrics", get(metrics))
        .route("/runs/{id}/backtest", get(backtest))
        .route("/runs/{id}/backtest/pairs", get(backtest_pairs))
        .route("/runs/{id}/backtest/folds", get(backtest_folds))
        .route("/runs/{id}/equity", get(equity))
        .route("/runs/{id}/crosspair", get(crosspair))
        .route("/runs/{id}/selection", get(selection))
        .route("/runs/{id}/training", get(training))
        .route("/predict", axum::routing::post(predict))
        .route("/runs/{id}/embeddings", get(embeddings))
        .route("/runs/{id}/predictions", get(predictions))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            cache::finished_runs,
        ));
    let api = Router::new()
        .route("/health", get(health))
        .route("/pipeline", get(pipeline))
        .route("/runs", get(runs).post(start_run))
        .route("/ingest", axum::routing::post(start_ingest))
        .merge(run_scoped)
        .route("/data/health", get(data_health))
        .route("/data/coverage", get(coverage))
        .route("/data/series", get(series))
        .route("/alerts", get(alerts))
        .route("/online", get(online_sessions).post(start_online))
        .route("/online/stop", axum::routing::post(stop_online))
        .route("/bars", axum::routing::post(post_bars))
        .route("/online/{session}", get(online_session))
        .route(
            "/online/{session}/rollback",
            axum::routing::post(online_rollback),
        )
        .route("/features/catalog", get(catalog))
        .route("/events", get(events_stream))
        .route("/openapi.json", get(openapi))
        .fallback(api_not_found);
    let mut app = Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(prometheus));
    app = match &cfg.ui_dir {
        Some(dir) => app.fallback_service(
            ServeDir::new(dir).fallback(ServeFile::new(PathBuf::from(dir).join("index.html"))),
        ),
        None => app.fallback(no_ui),
    };
    app.layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                 base-uri 'none'; form-action 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}

/// Token, origin and budget checks, and the request metrics.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/api/") {
                "unmatched".into()
            } else {
                "ui".into()
            }
        });
    // The socket's peer (absent for in-process dispatch, i.e. the desktop app).
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| {
            req.extensions()
                .get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        });
    let response = match check(&st, &req, peer) {
        Err(e) => e.into_response(),
        Ok(()) => next.run(req).await,
    };
    let status = response.status().as_u16();
    st.metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.to_string(),
            route: route.clone(),
            status,
        })
        .inc();
    st.metrics
        .latency
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}

fn check(st: &AppState, req: &Request, peer: Option<std::net::IpAddr>) -> ApiResult<()> {
    if let Some(ip) = peer
        && !st.buckets.allow(ip, Instant::now())
    {
        return Err(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests from this address; slow down",
        ));
    }
    // The UI's own files hold no data: a browser must be able to load them before the page
    // can send the token with its API calls.
    let path = req.uri().path();
    let protected = path.starts_with("/api/") || path == "/metrics";
    if let Some(token) = st.token.as_ref().filter(|_| protected) {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string)
            .or_else(|| {
                req.uri().query().and_then(|q| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix("token="))
                        .map(str::to_string)
                })
            });
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => {}
            Some(_) => {
                return Err(HttpError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "wrong token",
                ));
            }
            None => {
                return Err(HttpError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "this server is exposed beyond loopback: send its token as \
                     `Authorization: Bearer TOKEN` (or ?token=TOKEN)",
                ));
            }
        }
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let origin = origin.to_str().unwrap_or("");
            let same = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|o| o == host);
            if !same {
                return Err(HttpError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("cross-origin request from {origin} refused"),
                ));
            }
        }
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(HttpError::bad_request(
                "a POST needs `Content-Type: application/json`",
            ));
        }
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn api_not_found(req: Request) -> HttpError {
    HttpError::not_found(format!("no route {} {}", req.method(), req.uri().path()))
}

async fn no_ui() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "The web UI is not installed here. Build it with `npm --prefix ui install && npm --prefix ui run build` \
         and start `bqx serve --ui ui/dist`; the API is at /api/v1 (see /api/v1/openapi.json).\n",
    )
        .into_response()
}

// ---- handlers ------------------------------------------------------------------------------

async fn health(State(st): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "store": st.service.store_dir(),
        "job": st.service.job(),
    }))
}

async fn pipeline(State(st): State<AppState>) -> Json<bqx_app::Pipeline> {
    Json(st.service.pipeline())
}

/// The body of `POST /runs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRun {
    #[serde(default)]
    stages: Vec<String>,
    models: Option<Vec<String>>,
    seed: Option<u64>,
    window: Option<usize>,
    horizon: Option<usize>,
    /// `base`, `cross` or `selected` (default).
    features: Option<String>,
    select_k: Option<usize>,
    /// A network profile (`quick`, `full`) or `off` (files only from the CLI).
    networks: Option<String>,
    /// An autoencoder profile (`quick`, `full`) or `off`.
    embeddings: Option<String>,
    /// Fold spans: bars (`2000`), days (`90d`), months (`6mo`) or years (`5y`).
    train: Option<String>,
    test: Option<String>,
    step: Option<String>,
    rolling: Option<String>,
}

async fn start_run(
    State(st): State<AppState>,
    J(body): J<StartRun>,
) -> ApiResult<(StatusCode, Json<bqx_app::JobSnapshot>)> {
    let req = RunRequest {
        stages: body.stages,
        backtest: BacktestRequest {
            models: body.models,
            seed: body.seed,
            window: body.window,
            horizon: body.horizon,
            timeframe: None,
            features: body
                .features
                .as_deref()
                .map(bqx_app::FeatureScope::parse)
                .transpose()?,
            select_k: body.select_k,
            networks: match body.networks {
                Some(n) if n != "off" && !bqx_app::profile_names().contains(&n) => {
                    return Err(bqx_app::AppError::new(
                        bqx_app::ErrorCode::InvalidArgument,
                        format!(
                            "unknown network profile '{n}' (profiles: {}, off)",
                            bqx_app::profile_names().join(", ")
                        ),
                    )
                    .into());
                }
                n => n,
            },
            embeddings: match body.embeddings {
                Some(e) if !["quick", "full", "off"].contains(&e.as_str()) => {
                    return Err(bqx_app::AppError::new(
                        bqx_app::ErrorCode::InvalidArgument,
                        format!("unknown embeddings profile '{e}' (quick, full, off)"),
                    )
                    .into());
                }
                e => e,
            },
            train: body.train,
            test: body.test,
            step: body.step,
            rolling: body.rolling,
        },
    };
    // Spans and the rest of what needs no data are checked now (400), not in the job.
    req.backtest.check()?;
    let job = st.service.start_run(req)?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartIngest {
    paths: Vec<PathBuf>,
    /// As `bqx ingest --format` (default `auto`), `--pair`, `--tz`, `--side`, `--timeframe`.
    format: Option<String>,
    pair: Option<String>,
    tz: Option<String>,
    side: Option<String>,
    timeframe: Option<String>,
}

/// Parses an optional body field with the CLI's parser; a bad value is a 400 naming the field.
fn field<T: std::str::FromStr>(name: &str, v: Option<&str>) -> ApiResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| HttpError::bad_request(format!("`{name}`: {e}")))
        })
        .transpose()
}

async fn start_ingest(
    State(st): State<AppState>,
    J(body): J<StartIngest>,
) -> ApiResult<(StatusCode, Json<bqx_app::JobSnapshot>)> {
    let job = st.service.start_ingest(IngestRequest {
        format: field("format", body.format.as_deref())?.unwrap_or_default(),
        pair: field("pair", body.pair.as_deref())?,
        tz: field("tz", body.tz.as_deref())?,
        side: field("side", body.side.as_deref())?,
        timeframe: field("timeframe", body.timeframe.as_deref())?,
        files: body.paths,
    })?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn runs(
    State(st): State<AppState>,
    Q(q): Q<Limit>,
) -> ApiResult<Json<Vec<bqx_app::RunSummary>>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let s = st.service.clone();
    Ok(Json(blocking(move || s.runs(limit)).await?))
}

async fn run(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<bqx_app::RunDetail>> {
    let s = st.service.clone();
    Ok(Json(blocking(move || s.run(&id)).await?))
}

#[derive(Debug, Deserialize)]
struct MetricQuery {
    model: Option<String>,
    scope: Option<String>,
    pair: Option<String>,
    metric: Option<String>,
}

async fn metrics(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<MetricQuery>,
) -> ApiResult<Json<Vec<bqx_app::MetricRow>>> {
    let s = st.service.clone();
    let filter = MetricFilter {
        model: q.model,
        scope: q.scope,
        pair: q.pair.map(|p| p.to_uppercase()),
        metric: q.metric,
    };
    Ok(Json(blocking(move || s.metrics(&id, &filter)).await?))
}

async fn backtest(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let s = st.service.clone();
    Ok(Json(blocking(move || s.backtest_summary(&id)).await?))
}

/// A stored JSON artifact, as stored.
fn json_bytes(bytes: Vec<u8>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

async fn crosspair(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = st.service.clone();
    Ok(json_bytes(blocking(move || s.crosspair_report(&id)).await?))
}

async fn embeddings(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = st.service.clone();
    Ok(json_bytes(
        blocking(move || s.embeddings_report(&id)).await?,
    ))
}

async fn predict(
    State(st): State<AppState>,
    J(body): J<bqx_app::PredictRequest>,
) -> ApiResult<Json<bqx_app::PredictResponse>> {
    let s = st.service.clone();
    Ok(Json(blocking(move || s.predict(&body)).await?))
}

async fn training(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = st.service.clone();
    Ok(json_bytes(blocking(move || s.training_report(&id)).await?))
}

async fn selection(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = st.service.clone();
    Ok(json_bytes(blocking(move || s.selection_report(&id)).await?))
}

#[derive(Debug, Deserialize)]
struct ModelPair {
    model: Option<String>,
    pair: Option<String>,
    points: Option<usize>,
}

fn need_model(q: &ModelPair) -> ApiResult<String> {
    q.model
        .clone()
        .ok_or_else(|| HttpError::bad_request("query parameter `model` is required"))
}

async fn backtest_pairs(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<ModelPair>,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let model = need_model(&q)?;
    let s = st.service.clone();
    Ok(Json(blocking(move || s.backtest_pairs(&id, &model)).await?))
}

async fn backtest_folds(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<ModelPair>,
) -> ApiResult<Json<serde_json::Value>> {
    let model = need_model(&q)?;
    let pair = q.pair.map(|p| p.to_uppercase());
    let s = st.service.clone();
    Ok(Json(
        blocking(move || s.backtest_folds(&id, &model, pair.as_deref())).await?,
    ))
}

async fn equity(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<ModelPair>,
) -> ApiResult<Json<bqx_app::Equity>> {
    let model = need_model(&q)?;
    let s = st.service.clone();
    let points = q.points.unwrap_or(1000);
    Ok(Json(
        blocking(move || s.equity(&id, &model, q.pair.as_deref(), points)).await?,
    ))
}

async fn predictions(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<ModelPair>,
) -> ApiResult<Json<bqx_app::Predictions>> {
    let model = need_model(&q)?;
    let pair = q
        .pair
        .clone()
        .ok_or_else(|| HttpError::bad_request("query parameter `pair` is required"))?;
    let points = q.points.unwrap_or(1000);
    let s = st.service.clone();
    Ok(Json(
        blocking(move || s.predictions(&id, &model, &pair, points)).await?,
    ))
}

async fn data_health(State(st): State<AppState>) -> ApiResult<Response> {
    let s = st.service.clone();
    let h = blocking(move || s.data_health()).await?;
    Ok(Json(&*h).into_response())
}

async fn coverage(State(st): State<AppState>) -> ApiResult<Response> {
    let s = st.service.clone();
    let c = blocking(move || s.coverage()).await?;
    Ok(Json(&*c).into_response())
}

#[derive(Debug, Deserialize)]
struct SeriesQuery {
    pair: Option<String>,
    timeframe: Option<String>,
    side: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    points: Option<usize>,
}

async fn series(
    State(st): State<AppState>,
    Q(q): Q<SeriesQuery>,
) -> ApiResult<Json<bqx_app::PriceSeries>> {
    let pair = q
        .pair
        .clone()
        .ok_or_else(|| HttpError::bad_request("query parameter `pair` is required"))?;
    let s = st.service.clone();
    let points = q.points.unwrap_or(1000);
    Ok(Json(
        blocking(move || {
            s.price_series(
                &pair,
                q.timeframe.as_deref(),
                q.side.as_deref(),
                q.from,
                q.to,
                points,
            )
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertQuery {
    session: Option<String>,
    limit: Option<usize>,
}

async fn alerts(
    State(st): State<AppState>,
    Q(q): Q<AlertQuery>,
) -> ApiResult<Json<Vec<bqx_app::AlertView>>> {
    let s = st.service.clone();
    let limit = q.limit.unwrap_or(200);
    Ok(Json(
        blocking(move || s.alerts(q.session.as_deref(), limit)).await?,
    ))
}

async fn online_sessions(
    State(st): State<AppState>,
) -> ApiResult<Json<Vec<bqx_app::OnlineSessionSummary>>> {
    let s = st.service.clone();
    Ok(Json(blocking(move || s.online_sessions()).await?))
}

async fn online_session(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<bqx_app::OnlineSessionView>> {
    let s = st.service.clone();
    Ok(Json(blocking(move || s.online_session(&id)).await?))
}

/// Live bars between two `signals` events of a job started over HTTP.
const SIGNAL_EVERY: u64 = 28;

async fn start_online(
    State(st): State<AppState>,
    J(body): J<bqx_app::OnlineRequest>,
) -> ApiResult<(StatusCode, Json<bqx_app::JobSnapshot>)> {
    let s = st.service.clone();
    let job = blocking(move || s.start_online(body, SIGNAL_EVERY)).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

async fn post_bars(
    State(st): State<AppState>,
    J(body): J<bqx_app::BarsRequest>,
) -> ApiResult<(StatusCode, Json<bqx_app::BarsAccepted>)> {
    let s = st.service.clone();
    let done = blocking(move || s.post_bars(&body)).await?;
    Ok((StatusCode::ACCEPTED, Json(done)))
}

/// Body of `POST /api/v1/online/{session}/rollback`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    pair: String,
}

async fn online_rollback(
    State(st): State<AppState>,
    Path(id): Path<String>,
    J(body): J<RollbackBody>,
) -> ApiResult<Json<bqx_app::Decision>> {
    let s = st.service.clone();
    Ok(Json(
        blocking(move || s.online_rollback(&id, &body.pair)).await?,
    ))
}

async fn stop_online(State(st): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let stopping = st.service.stop_online();
    Ok(Json(serde_json::json!({ "stopping": stopping })))
}

async fn catalog() -> Json<bqx_app::FeatureCatalog> {
    Json(bqx_app::feature_catalog())
}

async fn events_stream(
    State(st): State<AppState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let rx = st.events.subscribe();
    let first = st.service.job().map(ServiceEvent::Job);
    let head = tokio_stream::iter(first.into_iter().map(Ok));
    let tail = BroadcastStream::new(rx);
    let stream = head.chain(tail).filter_map(|item| {
        let event = match item {
            Ok(e) => e,
            // A slow client missed events: tell it to refetch the job.
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                return Some(Ok(Event::default().event("lagged").data(n.to_string())));
            }
        };
        let (name, data) = match &event {
            ServiceEvent::Progress(p) => ("progress", serde_json::to_string(p)),
            ServiceEvent::Job(j) => ("job", serde_json::to_string(j)),
            // The data is the whole tagged event (`{"event": "alert", …}`) under a name a client
            // can filter on.
            ServiceEvent::Online(o) => (
                match o {
                    bqx_app::OnlineEvent::Alert(_) => "alert",
                    bqx_app::OnlineEvent::Signals { .. } => "signals",
                    bqx_app::OnlineEvent::Decision(_) => "decision",
                    _ => "online",
                },
                serde_json::to_string(o),
            ),
        };
        data.ok().map(|d| Ok(Event::default().event(name).data(d)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi_document())
}

async fn prometheus(State(st): State<AppState>) -> Response {
    st.metrics.job_running.set(i64::from(st.service.busy()));
    let s = st.service.clone();
    if let Ok(runs) = blocking(move || s.runs(100_000)).await {
        let mut counts = std::collections::BTreeMap::<String, i64>::new();
        for r in runs {
            *counts.entry(r.status).or_default() += 1;
        }
        for status in ["running", "succeeded", "failed"] {
            st.metrics
                .runs
                .get_or_create(&StatusLabels {
                    status: status.into(),
                })
                .set(counts.get(status).copied().unwrap_or(0));
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.encode(),
    )
        .into_response()
}
