//! Prometheus metrics: traffic, latency split into upstream time and hegui's own overhead,
//! and review decisions by stage, action and risk.

use std::sync::Arc;

use hegui_types::{Decision, Outcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    outcome: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    stage: &'static str,
    action: &'static str,
    risk: String,
}

/// The gateway's metrics, in their own registry (one per app, so tests don't share state).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Histogram,
    overhead: Histogram,
    upstream: Histogram,
    decisions: Family<DecisionLabels, Counter>,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        5.0, 10.0, 30.0, 60.0,
    ]
    .into_iter()
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("hegui");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Chat requests by outcome and HTTP status",
            requests.clone(),
        );
        let duration = Histogram::new(latency_buckets());
        registry.register(
            "request_duration_seconds",
            "Total time in the gateway",
            duration.clone(),
        );
        let overhead = Histogram::new(latency_buckets());
        registry.register(
            "overhead_seconds",
            "Time added by hegui (total minus upstream)",
            overhead.clone(),
        );
        let upstream = Histogram::new(latency_buckets());
        registry.register(
            "upstream_duration_seconds",
            "Time spent in the model server",
            upstream.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "review_decisions",
            "Review decisions by stage, action and risk (risk \"none\" for allow)",
            decisions.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            duration,
            overhead,
            upstream,
            decisions,
        })
    }

    /// Counts one finished request.
    pub fn request(&self, outcome: Outcome, status: u16, total_us: u64, upstream_us: Option<u64>) {
        self.requests
            .get_or_create(&RequestLabels {
                outcome: outcome.as_str(),
                status,
            })
            .inc();
        let total = total_us as f64 / 1e6;
        self.duration.observe(total);
        if let Some(u) = upstream_us {
            let up = u as f64 / 1e6;
            self.upstream.observe(up);
            self.overhead.observe((total - up).max(0.0));
        }
    }

    /// Counts one review decision (once per risk it names).
    pub fn decision(&self, d: &Decision) {
        let stage = d.stage.as_str();
        let action = d.action.as_str();
        if d.risks.is_empty() {
            self.decisions
                .get_or_create(&DecisionLabels {
                    stage,
                    action,
                    risk: "none".into(),
                })
                .inc();
        }
        for risk in &d.risks {
            self.decisions
                .get_or_create(&DecisionLabels {
                    stage,
                    action,
                    risk: risk.clone(),
                })
                .inc();
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
