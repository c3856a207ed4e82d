//! Serialized responses about finished runs.
//!
//! A finished run never changes (resuming makes a new run), so whatever the API answered about it
//! can be answered again byte for byte. The cache sits in front of the run-scoped routes
//! (`/runs/{id}` and everything under it): a hit is a hash lookup on the request's path and query,
//! with no registry query, no blocking-pool hop and no serialization. Only `200` answers about a
//! run whose status was final *before* the handler ran are kept, so nothing computed while a run
//! was still writing is ever stored. Bounded by bytes; least recently used entries go first.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::HttpError;
use crate::routes::AppState;

/// Upper bound of the cached bodies.
pub(crate) const CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
struct Entry {
    content_type: HeaderValue,
    body: Bytes,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, val: &Entry) -> u64 {
        (key.len() + val.body.len()) as u64 + 64
    }
}

/// See the module documentation.
pub(crate) struct ResponseCache {
    entries: Cache<String, Entry, ByBytes>,
}

impl ResponseCache {
    pub(crate) fn new(bytes: u64) -> ResponseCache {
        ResponseCache {
            entries: Cache::with_weighter(4096, bytes, ByBytes),
        }
    }
}

/// The run id of a run-scoped path (`/runs/{id}` or `/runs/{id}/...`, after the `/api/v1` nest).
fn run_id(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/runs/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

/// Largest body buffered for the cache (larger answers pass through uncached).
const ENTRY_LIMIT: usize = 8 * 1024 * 1024;

/// Middleware of the run-scoped GET routes.
pub(crate) async fn finished_runs(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != axum::http::Method::GET {
        return next.run(req).await;
    }
    let key = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_default();
    if let Some(hit) = st.responses.entries.get(&key) {
        return ([(header::CONTENT_TYPE, hit.content_type)], hit.body).into_response();
    }
    let Some(id) = run_id(req.uri().path()).map(str::to_string) else {
        return next.run(req).await;
    };
    let service = st.service.clone();
    let finished = match tokio::task::spawn_blocking(move || service.run_finished(&id)).await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => return HttpError::from(e).into_response(),
        Err(e) => {
            return HttpError::from(bqx_app::AppError::internal(format!("handler: {e}")))
                .into_response();
        }
    };
    let response = next.run(req).await;
    let small = response
        .body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= ENTRY_LIMIT as u64);
    if !finished || response.status() != StatusCode::OK || !small {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, ENTRY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            return HttpError::from(bqx_app::AppError::internal(format!("response body: {e}")))
                .into_response();
        }
    };
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        st.responses.entries.insert(
            key,
            Entry {
                content_type: ct.clone(),
                body: body.clone(),
            },
        );
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_of_run_scoped_paths() {
        assert_eq!(run_id("/runs/abc"), Some("abc"));
        assert_eq!(run_id("/runs/abc/metrics"), Some("abc"));
        assert_eq!(run_id("/runs/"), None);
        assert_eq!(run_id("/runs"), None);
        assert_eq!(run_id("/data/health"), None);
    }

    #[test]
    fn the_cache_is_bounded_by_bytes() {
        let c = ResponseCache::new(10_000);
        for i in 0..100 {
            c.entries.insert(
                format!("/runs/{i}"),
                Entry {
                    content_type: HeaderValue::from_static("application/json"),
                    body: Bytes::from(vec![b'x'; 1000]),
                },
            );
        }
        assert!(c.entries.weight() <= 10_000, "{}", c.entries.weight());
        assert!(c.entries.len() < 100);
    }
}
