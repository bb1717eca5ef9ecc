//! What the Observer's pages show, as data: one-line summaries of ARs (the feed), the filters
//! over them, and latency percentiles read back from the gateway's own metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exchange::feed::FeedItem;

/// One AR as a feed row (and as the live feed's event).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ar_hash: String,
    pub chain_depth: Option<u64>,
    pub request_id: String,
    pub timestamp: String,
    /// `org/workspace/agent`.
    pub scope: String,
    pub model: Option<String>,
    /// `allow` or `deny`.
    pub decision: String,
    /// `overrides_changed` for a settings change, `None` for an exchange.
    pub event: Option<String>,
    /// Ids of the policies that denied, and the errors that made a phase deny.
    pub reasons: Vec<String>,
    /// Per phase: `phase:decision`.
    pub phases: Vec<String>,
    pub auditors: Vec<String>,
    pub claims: Vec<String>,
    /// Lucid's own time (without the upstream), when this gateway ran it.
    pub latency_ms: Option<f64>,
    pub stream_mode: Option<String>,
    /// Stretches of text masked.
    pub redactions: usize,
    /// Whether the AR verified (signature, hashes) and links to the one before it, as far as
    /// the reader checked; `None`: not checked.
    pub chain_valid: Option<bool>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Summary {
    /// The summary of a stored or issued AR; `item` adds what only this gateway knows.
    pub fn of(ar_hash: &str, ar: &Value, item: Option<&FeedItem>) -> Summary {
        let scope = &ar["scope"];
        let mut reasons: Vec<String> = Vec::new();
        let mut phases = Vec::new();
        let mut auditors: Vec<String> = Vec::new();
        let mut claims: Vec<String> = Vec::new();
        for phase in ar["phases"].as_array().into_iter().flatten() {
            let effect = text(&phase["decision"]["effect"]);
            phases.push(format!("{}:{effect}", text(&phase["phase"])));
            if effect == "deny" {
                for list in ["reasons", "errors"] {
                    for r in phase["decision"][list].as_array().into_iter().flatten() {
                        let r = text(r);
                        if !reasons.contains(&r) {
                            reasons.push(r);
                        }
                    }
                }
            }
            for claim in phase["claims"].as_array().into_iter().flatten() {
                let auditor = text(&claim["auditor"]);
                if !auditor.is_empty() && !auditors.contains(&auditor) {
                    auditors.push(auditor);
                }
                let name = text(&claim["name"]);
                if !name.is_empty() && !claims.contains(&name) {
                    claims.push(name);
                }
            }
        }
        let redactions = ar["redactions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["spans"].as_array())
            .map(Vec::len)
            .sum();
        Summary {
            ar_hash: ar_hash.to_string(),
            chain_depth: ar["chain_depth"].as_u64(),
            request_id: text(&ar["request_id"]),
            timestamp: text(&ar["timestamp"]),
            scope: format!(
                "{}/{}/{}",
                text(&scope["org"]),
                text(&scope["workspace"]),
                text(&scope["agent"])
            ),
            model: item.and_then(|i| i.model.as_deref().map(str::to_string)),
            decision: text(&ar["decision"]),
            event: ar["event"].as_str().map(str::to_string),
            reasons,
            phases,
            auditors,
            claims,
            latency_ms: item.and_then(|i| i.own_us).map(|us| us as f64 / 1000.0),
            stream_mode: ar["stream_mode"].as_str().map(str::to_string),
            redactions,
            chain_valid: None,
        }
    }

    /// Seconds since the Unix epoch of the AR's timestamp.
    pub fn unix_seconds(&self) -> Option<u64> {
        let at = humantime::parse_rfc3339_weak(&self.timestamp).ok()?;
        at.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

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
    fn a_denied_ar_summarises_its_reasons_auditors_and_claims() {
        let ar = json!({
            "request_id": "req_1", "timestamp": "2026-12-01T10:00:00.000001Z", "chain_depth": 3,
            "scope": {"org": "acme", "workspace": "w", "agent": "a"}, "decision": "deny",
            "stream_mode": "buffer",
            "phases": [
                {"phase": "request", "decision": {"effect": "deny", "reasons": ["balanced.block-cards"], "errors": []},
                 "claims": [{"auditor": "pii", "name": "pii_detected", "type": "boolean", "value": true}]},
                {"phase": "response", "decision": {"effect": "allow", "reasons": ["ignored"], "errors": []},
                 "claims": [{"auditor": "toxicity", "name": "toxic", "type": "boolean", "value": false}]}
            ],
            "redactions": [{"spans": [1, 2]}, {"spans": [3]}]
        });
        let s = Summary::of(&"a".repeat(64), &ar, None);
        assert_eq!(s.decision, "deny");
        assert_eq!(s.reasons, ["balanced.block-cards"]);
        assert_eq!(s.auditors, ["pii", "toxicity"]);
        assert_eq!(s.claims, ["pii_detected", "toxic"]);
        assert_eq!(s.phases, ["request:deny", "response:allow"]);
        assert_eq!(s.scope, "acme/w/a");
        assert_eq!(s.redactions, 3);
        assert_eq!(s.chain_depth, Some(3));
        assert!(s.unix_seconds().is_some());
        let f = |d: &str, sc: &str, a: &str, c: &str| Filters {
            decision: d.into(),
            scope: sc.into(),
            auditor: a.into(),
            claim: c.into(),
        };
        assert!(f("deny", "acme", "pii", "toxic").matches(&s));
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
