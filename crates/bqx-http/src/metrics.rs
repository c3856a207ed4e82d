//! Prometheus metrics of the server: requests by route and status, request latency by route,
//! the job state, and the online loop's bars, step latency, alerts, weights and error sums (the
//! Grafana dashboard in `bundle/grafana/` reads them).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct AlertLabels {
    pub severity: String,
    pub detector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PairLabels {
    pub pair: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct MemberLabels {
    pub pair: String,
    /// A member (`frozen`, `rls`) or `ensemble`.
    pub member: String,
}

/// The online loop's metrics.
pub(crate) struct OnlineMetrics {
    pub bars: Counter,
    pub step: Histogram,
    pub alerts: Family<AlertLabels, Counter>,
    pub weight: Family<MemberLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub matured: Family<PairLabels, Counter>,
    pub signed: Family<PairLabels, Counter>,
    pub abs_error: Family<MemberLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    pub hits: Family<MemberLabels, Counter>,
}

pub(crate) struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub job_running: Gauge,
    pub runs: Family<StatusLabels, Gauge>,
    pub online: OnlineMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("bqx");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
        });
        let job_running = Gauge::default();
        let runs = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "job_running",
            "1 while a run or ingest job is running",
            job_running.clone(),
        );
        registry.register("runs", "Runs in the registry by status", runs.clone());
        let online = OnlineMetrics {
            bars: Counter::default(),
            // 1 µs … 0.5 s.
            step: Histogram::new(exponential_buckets(0.000_001, 2.0, 20)),
            alerts: Family::default(),
            weight: Family::default(),
            matured: Family::default(),
            signed: Family::default(),
            abs_error: Family::default(),
            hits: Family::default(),
        };
        registry.register(
            "online_bars",
            "Live bars consumed by the online loop",
            online.bars.clone(),
        );
        registry.register(
            "online_step_duration_seconds",
            "Per bar: features, predictions, learning and detectors (store writes excluded)",
            online.step.clone(),
        );
        registry.register(
            "online_alerts",
            "Drift alerts by severity and detector",
            online.alerts.clone(),
        );
        registry.register(
            "online_weight",
            "Ensemble weight of each member at the last checkpoint",
            online.weight.clone(),
        );
        registry.register(
            "online_matured",
            "Matured labels per pair",
            online.matured.clone(),
        );
        registry.register(
            "online_signed",
            "Matured labels with a sign per pair (the denominator of directional accuracy)",
            online.signed.clone(),
        );
        registry.register(
            "online_abs_error",
            "Sum of absolute errors per pair and member (MAE = rate of this / rate of matured)",
            online.abs_error.clone(),
        );
        registry.register(
            "online_hits",
            "Predictions with the label's sign, per pair and member",
            online.hits.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            job_running,
            runs,
            online,
        }
    }

    /// Counts what an online job reports.
    pub fn observe_online(&self, e: &bqx_app::OnlineEvent) {
        let o = &self.online;
        match e {
            bqx_app::OnlineEvent::Alert(a) => {
                o.alerts
                    .get_or_create(&AlertLabels {
                        severity: a.severity.as_str().into(),
                        detector: a.evidence.detector.clone(),
                    })
                    .inc();
            }
            bqx_app::OnlineEvent::Checkpoint { stats, .. } => {
                o.bars.inc_by(stats.bars);
                for &s in &stats.step_seconds {
                    o.step.observe(f64::from(s));
                }
                let names = bqx_app::ONLINE_MEMBERS.iter().copied().chain(["ensemble"]);
                for p in &stats.pairs {
                    let pair = p.pair.to_string();
                    let pl = PairLabels { pair: pair.clone() };
                    o.matured.get_or_create(&pl).inc_by(p.matured);
                    o.signed.get_or_create(&pl).inc_by(p.signed);
                    for (k, member) in names.clone().enumerate() {
                        let ml = MemberLabels {
                            pair: pair.clone(),
                            member: member.into(),
                        };
                        o.abs_error.get_or_create(&ml).inc_by(p.abs_error[k]);
                        o.hits.get_or_create(&ml).inc_by(p.hits[k]);
                        if let Some(&w) = p.weights.get(k) {
                            o.weight.get_or_create(&ml).set(w);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().expect("metrics lock");
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }
}
