//! What the Observer's pages show, as data: the filters over the feed's summaries, and latency
//! percentiles read back from the gateway's own metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::exchange::feed::Summary;

/// The feed's filters (`/ui?decision=deny&scope=acme&auditor=pii&claim=pii_detected`); an empty
/// field does not filter.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    pub decision: String,
    /// A prefix of `org/workspace/agent`.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub auditor: String,
    #[serde(default)]
    pub claim: String,
}

/// Longest filter value taken (longer ones are cut).
const FILTER_MAX: usize = 128;

impl Filters {
    /// Trimmed and bounded.
    pub fn clean(mut self) -> Filters {
        for f in [
            &mut self.decision,
            &mut self.scope,
            &mut self.auditor,
            &mut self.claim,
        ] {
            let t: String = f.trim().chars().take(FILTER_MAX).collect();
            *f = t;
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.decision.is_empty()
            && self.scope.is_empty()
            && self.auditor.is_empty()
            && self.claim.is_empty()
    }

    pub fn matches(&self, s: &Summary) -> bool {
        (self.decision.is_empty() || s.decision == self.decision)
            && (self.scope.is_empty() || s.scope.starts_with(&self.scope))
            && (self.auditor.is_empty() || s.auditors.contains(&self.auditor))
            && (self.claim.is_empty() || s.claims.contains(&self.claim))
    }
}

/// p50 and p99 (seconds) and the count of one latency histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub count: u64,
}

/// The latency histograms and error counters of the gateway's metrics (Prometheus text).
#[derive(Debug, Default)]
pub struct MetricsView {
    /// Per phase.
    pub phases: BTreeMap<String, Latency>,
    /// Per auditor.
    pub auditors: BTreeMap<String, Latency>,
    /// Auditor failures: auditor → kind → count.
    pub errors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Lucid's own time per request.
    pub request: Option<Latency>,
}

/// The value of `label="…"` in a metric line's label set.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let pattern = format!("{name}=\"");
    let mut from = 0;
    while let Some(at) = labels[from..].find(&pattern).map(|i| i + from) {
        // A whole label name: at the start, or after a comma.
        if at == 0 || labels.as_bytes()[at - 1] == b',' {
            let start = at + pattern.len();
            let end = labels[start..].find('"')? + start;
            return Some(&labels[start..end]);
        }
        from = at + pattern.len();
    }
    None
}

impl MetricsView {
    /// Read from the text exposition of [`crate::exchange::metrics::Metrics::render`].
    pub fn parse(text: &str) -> MetricsView {
        // (family, key) → cumulative (le, count) buckets.
        let mut buckets: BTreeMap<(&str, String), Vec<(f64, f64)>> = BTreeMap::new();
        let mut out = MetricsView::default();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.trim_end_matches('}')),
                None => (series, ""),
            };
            let key = |l: &str| label(labels, l).unwrap_or_default().to_string();
            match name {
                "lucid_phase_seconds_bucket" | "lucid_auditor_seconds_bucket" => {
                    let (family, k) = if name.starts_with("lucid_phase") {
                        ("phase", key("phase"))
                    } else {
                        ("auditor", key("auditor"))
                    };
                    let le = match label(labels, "le") {
                        Some("+Inf") => f64::INFINITY,
                        Some(le) => le.parse().unwrap_or(f64::INFINITY),
                        None => continue,
                    };
                    buckets.entry((family, k)).or_default().push((le, value));
                }
                "lucid_request_seconds_bucket" => {
                    let le = match label(labels, "le") {
                        Some("+Inf") => f64::INFINITY,
                        Some(le) => le.parse().unwrap_or(f64::INFINITY),
                        None => continue,
                    };
                    buckets
                        .entry(("request", String::new()))
                        .or_default()
                        .push((le, value));
                }
                "lucid_auditor_errors_total" => {
                    *out.errors
                        .entry(key("auditor"))
                        .or_default()
                        .entry(key("kind"))
                        .or_default() += value as u64;
                }
                _ => {}
            }
        }
        for ((family, key), mut b) in buckets {
            b.sort_by(|x, y| x.0.total_cmp(&y.0));
            let Some(latency) = percentiles(&b) else {
                continue;
            };
            match family {
                "phase" => {
                    out.phases.insert(key, latency);
                }
                "auditor" => {
                    out.auditors.insert(key, latency);
                }
                _ => out.request = Some(latency),
            }
        }
        out
    }
}

/// p50 and p99 of cumulative histogram buckets, interpolated linearly within a bucket (the
/// same estimate as Prometheus' `histogram_quantile`); `None` without observations.
fn percentiles(buckets: &[(f64, f64)]) -> Option<Latency> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let quantile = |q: f64| {
        let rank = q * total;
        let mut lower = 0.0;
        let mut below = 0.0;
        for &(le, count) in buckets {
            if count >= rank {
                if le.is_infinite() {
                    // Beyond the last bound: say the last bound (a lower estimate).
                    return lower;
                }
                let inside = count - below;
                let share = if inside > 0.0 {
                    (rank - below) / inside
                } else {
                    1.0
                };
                return lower + (le - lower) * share;
            }
            lower = le;
            below = count;
        }
        lower
    };
    Some(Latency {
        p50: quantile(0.5),
        p99: quantile(0.99),
        count: total as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_match_decision_scope_prefix_auditor_and_claim() {
        let ar = json!({
            "scope": {"org": "acme", "workspace": "w", "agent": "a"}, "decision": "deny",
            "phases": [{"phase": "request", "decision": {"effect": "deny", "reasons": ["r"]},
                        "claims": [{"auditor": "pii", "name": "pii_detected"}, {"auditor": "toxicity", "name": "toxic"}]}]
        });
        let s = Summary::of(&"a".repeat(64), &ar, None);
        let f = |d: &str, sc: &str, a: &str, c: &str| Filters {
            decision: d.into(),
            scope: sc.into(),
            auditor: a.into(),
            claim: c.into(),
        };
        assert!(f("deny", "acme", "pii", "toxic").matches(&s));
        assert!(f("", "", "", "").matches(&s));
        assert!(!f("allow", "", "", "").matches(&s));
        assert!(!f("", "other", "", "").matches(&s));
        assert!(!f("", "", "geo_fence", "").matches(&s));
        assert!(!f("", "", "", "pii").matches(&s));
    }

    #[test]
    fn percentiles_are_read_back_from_the_metrics_text() {
        let text = "\
# TYPE lucid_auditor_seconds histogram
lucid_auditor_seconds_bucket{le=\"0.001\",auditor=\"pii\"} 50
lucid_auditor_seconds_bucket{le=\"0.002\",auditor=\"pii\"} 100
lucid_auditor_seconds_bucket{le=\"+Inf\",auditor=\"pii\"} 100
lucid_auditor_seconds_count{auditor=\"pii\"} 100
lucid_phase_seconds_bucket{le=\"0.01\",phase=\"request\"} 0
lucid_phase_seconds_bucket{le=\"+Inf\",phase=\"request\"} 0
lucid_auditor_errors_total{auditor=\"pii\",kind=\"timeout\"} 2
";
        let m = MetricsView::parse(text);
        let pii = m.auditors["pii"];
        assert_eq!(pii.count, 100);
        assert!((pii.p50 - 0.001).abs() < 1e-9, "{pii:?}");
        assert!(pii.p99 > 0.0019 && pii.p99 <= 0.002, "{pii:?}");
        assert!(
            m.phases.is_empty(),
            "no observations, no percentiles: {m:?}"
        );
        assert_eq!(m.errors["pii"]["timeout"], 2);
    }
}
