//! The BQX ML HTTP API (`docs/api.md`): an axum router over [`bqx_app::Service`], server-sent
//! progress events, Prometheus metrics, an OpenAPI document and the web UI's files.
//!
//! Handlers hold no domain logic: each parses its parameters, calls one `Service` function on
//! the blocking pool and maps the result or the `AppError` to JSON. The desktop app answers the
//! same routes in-process through [`dispatch`], so the browser and the desktop window cannot
//! drift apart.
//!
//! Security: bound to loopback by default; any other bind address needs a token (checked on
//! every request, constant time); no CORS headers, so browsers refuse cross-origin reads; a
//! `POST` needs a JSON body and, when the browser sends an `Origin`, the server's own origin
//! (so a web page cannot start runs on a loopback server); bodies are capped at
//! [`BODY_LIMIT`]; non-loopback clients get a request budget per address.

mod cache;
mod error;
mod limits;
mod metrics;
mod openapi;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use bqx_app::Service;

pub use error::HttpError;
pub use limits::RateLimit;
pub use openapi::{ROUTES, RouteDoc, openapi_document};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How the server is exposed.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The address the listener is bound to (decides whether a token is required).
    pub bind: SocketAddr,
    /// Required on every request when set.
    pub token: Option<String>,
    /// The built web UI (`ui/dist`), served at `/`.
    pub ui_dir: Option<PathBuf>,
    /// Request budget of each non-loopback client.
    pub rate_limit: RateLimit,
}

impl HttpConfig {
    /// The configuration for `bind`. Off loopback a token is mandatory: the given one, or a
    /// freshly generated one (returned so the caller can print it).
    pub fn new(bind: SocketAddr, token: Option<String>) -> (HttpConfig, Option<String>) {
        let token = token.filter(|t| !t.is_empty());
        let (token, generated) = match token {
            Some(t) => (Some(t), None),
            None if bind.ip().is_loopback() => (None, None),
            None => {
                let t = generate_token();
                (Some(t.clone()), Some(t))
            }
        };
        (
            HttpConfig {
                bind,
                token,
                ui_dir: None,
                rate_limit: RateLimit::default(),
            },
            generated,
        )
    }

    /// Loopback without a token (tests, the desktop app's in-process dispatch).
    pub fn loopback() -> HttpConfig {
        HttpConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), None).0
    }
}

/// 32 random bytes, hex.
pub fn generate_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The whole application: API, events, metrics, OpenAPI and (if configured) the UI.
pub fn router(service: Arc<Service>, cfg: &HttpConfig) -> Router {
    routes::build(service, cfg)
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small JSON answers: send them now instead of waiting for Nagle's timer.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Answers one request in-process (no socket): the desktop app's transport. Returns the HTTP
/// status and the JSON body (`null` for an empty body, a string for non-JSON text).
pub async fn dispatch(
    router: &Router,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            axum::body::Body::from(b.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let req = match req.body(body) {
        Ok(r) => r,
        Err(e) => {
            return (
                400,
                HttpError::bad_request(format!("bad request: {e}")).body(),
            );
        }
    };
    let resp = match router.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let value = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, value)
}
