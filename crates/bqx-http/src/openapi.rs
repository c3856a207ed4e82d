//! The OpenAPI 3.1 document, generated from one table of routes that a test checks against the
//! router (every documented route answers, nothing answers undocumented).

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    /// Path with `{param}` placeholders, as mounted (including `/api/v1`).
    pub path: &'static str,
    pub summary: &'static str,
    /// Query parameters: (name, required, description).
    pub query: &'static [(&'static str, bool, &'static str)],
    /// Whether the route takes a JSON body.
    pub body: Option<&'static str>,
    /// Name of the response shape in `docs/api.md`.
    pub response: &'static str,
}

const POINTS: (&str, bool, &str) = (
    "points",
    false,
    "decimate to at most this many points (2..=10000, default 1000)",
);

/// Every route of the API.
pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
        method: "get",
        path: "/api/v1/health",
        summary: "Version, store and current job",
        query: &[],
        body: None,
        response: "Health",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/pipeline",
        summary: "The stage graph and the current job",
        query: &[],
        body: None,
        response: "Pipeline",
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/runs",
        summary: "Start or resume a run of the pipeline",
        query: &[],
        body: Some(
            "StartRun: {stages?: [str], models?: [str], seed?: int, window?: int, horizon?: int, features?: \"base\"|\"cross\"|\"selected\", select_k?: int, networks?: \"quick\"|\"full\"|\"off\", embeddings?: \"quick\"|\"full\"|\"off\"}",
        ),
        response: "Job",
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/ingest",
        summary: "Ingest files on this machine",
        query: &[],
        body: Some("StartIngest: {paths: [str], format?: str, pair?: str, tz?: str, side?: str}"),
        response: "Job",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs",
        summary: "Runs, newest first",
        query: &[("limit", false, "at most this many (default 100)")],
        body: None,
        response: "[RunSummary]",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}",
        summary: "One run: stages, logs, artifacts",
        query: &[],
        body: None,
        response: "RunDetail",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/metrics",
        summary: "A run's metrics",
        query: &[
            ("model", false, "model name"),
            ("scope", false, "pooled, pair or fold"),
            ("pair", false, "pair, e.g. EURUSD"),
            ("metric", false, "metric name"),
        ],
        body: None,
        response: "[MetricRow]",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/backtest",
        summary: "The backtest report without per-pair details",
        query: &[],
        body: None,
        response: "BacktestSummary",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/backtest/pairs",
        summary: "Per-pair metrics of a model",
        query: &[("model", true, "model name")],
        body: None,
        response: "[PairMetrics]",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/backtest/folds",
        summary: "Per-fold metrics of a model, pooled or for one pair",
        query: &[
            ("model", true, "model name"),
            ("pair", false, "pair (pooled when absent)"),
        ],
        body: None,
        response: "[FoldMetrics]",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/equity",
        summary: "Cumulative P&L and drawdown of a model",
        query: &[
            ("model", true, "model name"),
            ("pair", false, "pair (equal-weight portfolio when absent)"),
            POINTS,
        ],
        body: None,
        response: "Equity",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/crosspair",
        summary: "Stage 2.16 per fold: every follower's sister map, momentum products, candidate leaders (F, p, q at the best lag) and kept relations",
        query: &[],
        body: None,
        response: "CrossPairReport",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/selection",
        summary: "Feature selection per fold: dropped features, each ranker's scores, the selected list, stability across folds",
        query: &[],
        body: None,
        response: "SelectionReport",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/training",
        summary: "Stage 2.18 per network, pair and fold: every seed's per-epoch losses per head, the kept epoch, the regime cut-offs and the rows used",
        query: &[],
        body: None,
        response: "[TrainingUnit]",
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/predict",
        summary: "The champion (multi-task network of the newest run's last fold) for a pair: BQX and volatility forecasts, regime probabilities, the model card and the feature time used",
        query: &[],
        body: Some("PredictRequest: {pair: str, at?: str (RFC 3339 or YYYY-MM-DD)}"),
        response: "PredictResponse",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/embeddings",
        summary: "Stage 2.17 per fold: the autoencoder's curve, reconstruction error per family, constant units, k-means silhouette and cluster profiles, a 2-D projection of test rows",
        query: &[],
        body: None,
        response: "[EmbedFold]",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/runs/{id}/predictions",
        summary: "Out-of-sample predictions of a model for a pair",
        query: &[
            ("model", true, "model name"),
            ("pair", true, "pair"),
            POINTS,
        ],
        body: None,
        response: "Predictions",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/data/health",
        summary: "Data health of the store",
        query: &[],
        body: None,
        response: "StatusReport",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/data/coverage",
        summary: "Bars per pair per month",
        query: &[],
        body: None,
        response: "Coverage",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/data/series",
        summary: "A pair's prices, decimated",
        query: &[
            ("pair", true, "pair"),
            ("timeframe", false, "e.g. 1m, 1d"),
            ("side", false, "bid, ask, mid or fix"),
            ("from", false, "Unix µs, inclusive"),
            ("to", false, "Unix µs, exclusive"),
            POINTS,
        ],
        body: None,
        response: "PriceSeries",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/alerts",
        summary: "The online loop's drift alerts, newest first",
        query: &[
            ("session", false, "only this online session"),
            ("limit", false, "at most this many (1..10000, default 200)"),
        ],
        body: None,
        response: "[AlertView]",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/online",
        summary: "Online sessions, most recently updated first",
        query: &[],
        body: None,
        response: "[OnlineSession]",
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/online",
        summary: "Start or resume the online loop as a job",
        query: &[],
        body: Some(
            "OnlineRequest: {replay?: str, pairs?: [str], timeframe?: str, train_fraction?: f, inputs?: int, speed?: f, max_bars?: int, checkpoint_every?: int, fresh?: bool, config?: {...}}",
        ),
        response: "Job",
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/bars",
        summary: "Put bars into the store's inbox for an online loop watching it",
        query: &[],
        body: Some(
            "BarsRequest: {pair: str, bars: [{time: RFC 3339, open: f, high: f, low: f, close: f, volume?: f}]}",
        ),
        response: "BarsAccepted",
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/online/stop",
        summary: "Ask the running online job to checkpoint and end",
        query: &[],
        body: None,
        response: "{stopping: bool}",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/online/{session}",
        summary: "One online session at its last checkpoint",
        query: &[],
        body: None,
        response: "OnlineSessionView",
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/online/{session}/rollback",
        summary: "Make the previous champion of a pair serve again in a stopped session",
        query: &[],
        body: Some("{pair: str}"),
        response: "Decision",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/features/catalog",
        summary: "The feature catalog",
        query: &[],
        body: None,
        response: "FeatureCatalog",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/events",
        summary: "Server-sent events: progress and job updates",
        query: &[],
        body: None,
        response: "text/event-stream",
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This document",
        query: &[],
        body: None,
        response: "OpenAPI",
    },
    RouteDoc {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (OpenMetrics text)",
        query: &[],
        body: None,
        response: "text/plain",
    },
];

/// The OpenAPI 3.1 document of [`ROUTES`].
pub fn openapi_document() -> serde_json::Value {
    let error = serde_json::json!({
        "description": "Error: {\"error\": {\"code\", \"message\"}}; codes in docs/api.md",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    });
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let mut params: Vec<serde_json::Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                serde_json::json!({"name": name, "in": "path", "required": true,
                                   "schema": {"type": "string"}})
            })
            .collect();
        params.extend(r.query.iter().map(|(name, required, description)| {
            serde_json::json!({"name": name, "in": "query", "required": required,
                               "description": description, "schema": {"type": "string"}})
        }));
        // A started job is 202 Accepted; everything else answers at once.
        let ok = if matches!(r.response, "Job" | "BarsAccepted") {
            "202"
        } else {
            "200"
        };
        let mut op = serde_json::json!({
            "summary": r.summary,
            "operationId": format!("{}_{}", r.method, r.path.trim_start_matches('/').replace(['/', '{', '}', '.'], "_")),
            "parameters": params,
            "responses": {
                ok: {"description": format!("{} (see docs/api.md)", r.response)},
                "default": error,
            },
        });
        if let Some(body) = r.body {
            op["requestBody"] = serde_json::json!({
                "required": true,
                "description": body,
                "content": {"application/json": {"schema": {"type": "object"}}}
            });
        }
        paths
            .entry(r.path.to_string())
            .or_insert_with(|| serde_json::json!({}))[r.method] = op;
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {
            "title": "BQX ML API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Local forex ML appliance. Loopback by default; a bearer token is required when exposed. Timestamps are Unix microseconds (UTC)."
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}}}}}}
        },
        "paths": paths,
    })
}
