//! Prometheus metrics (`GET /metrics`): requests by decision, latency per phase and per auditor,
//! auditor errors, chain depth and plugin reloads.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuditorLabels {
    pub auditor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuditorErrorLabels {
    pub auditor: String,
    pub kind: String,
}

fn latency() -> Histogram {
    // 10 µs .. ~10 s.
    Histogram::new(exponential_buckets(0.000_01, 2.5, 16))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<DecisionLabels, Counter>,
    pub request_seconds: Histogram,
    pub phase_seconds: Family<PhaseLabels, Histogram>,
    pub auditor_seconds: Family<AuditorLabels, Histogram>,
    pub auditor_errors: Family<AuditorErrorLabels, Counter>,
    pub chain_depth: Gauge<i64, AtomicI64>,
    pub plugin_reloads: Counter,
    pub upstream_errors: Counter,
    /// Exchanges turned away with 503 because the gateway was at `max_in_flight`.
    pub overloaded: Counter,
    /// Stretches of text masked, by phase.
    pub redactions: Family<PhaseLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("lucid");
        let requests = Family::<DecisionLabels, Counter>::default();
        let request_seconds = latency();
        let phase_seconds =
            Family::<PhaseLabels, Histogram>::new_with_constructor(latency as fn() -> Histogram);
        let auditor_seconds =
            Family::<AuditorLabels, Histogram>::new_with_constructor(latency as fn() -> Histogram);
        let auditor_errors = Family::<AuditorErrorLabels, Counter>::default();
        let chain_depth = Gauge::<i64, AtomicI64>::default();
        let plugin_reloads = Counter::default();
        let upstream_errors = Counter::default();
        let overloaded = Counter::default();
        let redactions = Family::<PhaseLabels, Counter>::default();
        registry.register(
            "redactions",
            "Stretches of text masked because a policy asked for it, by phase",
            redactions.clone(),
        );
        registry.register(
            "requests",
            "Chat requests by overall decision",
            requests.clone(),
        );
        registry.register(
            "request_seconds",
            "Time Lucid added to a chat request (auditors, policy, receipt), without the upstream",
            request_seconds.clone(),
        );
        registry.register(
            "phase_seconds",
            "Time to run the auditors of a phase",
            phase_seconds.clone(),
        );
        registry.register(
            "auditor_seconds",
            "Time of one auditor call",
            auditor_seconds.clone(),
        );
        registry.register(
            "auditor_errors",
            "Auditor failures by kind",
            auditor_errors.clone(),
        );
        registry.register(
            "chain_depth",
            "Depth of the newest stored receipt",
            chain_depth.clone(),
        );
        registry.register(
            "plugin_reloads",
            "Changes of the loaded plugin set",
            plugin_reloads.clone(),
        );
        registry.register(
            "upstream_errors",
            "Failed upstream calls",
            upstream_errors.clone(),
        );
        registry.register(
            "overloaded",
            "Exchanges turned away because the gateway was at its in-flight limit",
            overloaded.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            phase_seconds,
            auditor_seconds,
            auditor_errors,
            chain_depth,
            plugin_reloads,
            upstream_errors,
            overloaded,
            redactions,
        }
    }

    /// `count` stretches masked in `phase`.
    pub fn record_redactions(&self, phase: crate::runtime::claim::Phase, count: usize) {
        self.redactions
            .get_or_create(&PhaseLabels {
                phase: phase.as_str().to_string(),
            })
            .inc_by(count as u64);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn record_phase(&self, report: &crate::runtime::PhaseReport) {
        self.phase_seconds
            .get_or_create(&PhaseLabels {
                phase: report.phase.as_str().to_string(),
            })
            .observe(report.duration.as_secs_f64());
        for run in &report.runs {
            match &run.outcome {
                crate::runtime::RunOutcome::Ran => {
                    self.auditor_seconds
                        .get_or_create(&AuditorLabels {
                            auditor: run.auditor.clone(),
                        })
                        .observe(run.duration_us as f64 / 1e6);
                }
                crate::runtime::RunOutcome::Failed { kind, .. } => {
                    self.auditor_errors
                        .get_or_create(&AuditorErrorLabels {
                            auditor: run.auditor.clone(),
                            kind: kind.as_str().to_string(),
                        })
                        .inc();
                }
                _ => {}
            }
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
