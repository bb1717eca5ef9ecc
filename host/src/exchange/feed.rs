//! The live feed of receipts: every AR this gateway issues, with what the AR itself does not
//! say (the model asked for, Lucid's own latency). Kept cheap on the exchange's path: a small
//! record per AR goes into a bounded ring (what a freshly opened feed shows next to the stored
//! ARs), and only while someone listens (the Observer's live feed) is the AR summarised — once,
//! however many listen — and sent to them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

/// How many recent ARs the ring remembers.
pub const RECENT: usize = 1000;
/// Summaries a slow listener may fall behind before it misses some (it is told how many).
const LAGGING: usize = 256;

/// What only this gateway knows about one AR it issued.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub ar_hash: Arc<str>,
    /// The model the client asked for (`None` for ARs that are not exchanges).
    pub model: Option<Arc<str>>,
    /// Lucid's own time for the exchange (without the upstream's), in microseconds.
    pub own_us: Option<u64>,
}

/// One issued AR as the live feed sends it: its summary, and that summary as JSON.
#[derive(Debug)]
pub struct Live {
    pub summary: Summary,
    pub json: String,
}

/// The feed: a ring of recent items and a broadcast of summaries to listeners.
pub struct Feed {
    recent: Mutex<VecDeque<FeedItem>>,
    sender: broadcast::Sender<Arc<Live>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::new()
    }
}

impl Feed {
    pub fn new() -> Feed {
        let (sender, _) = broadcast::channel(LAGGING);
        Feed {
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            sender,
        }
    }

    /// Record one issued AR (after it was durably stored); `text` is the AR as stored.
    pub fn publish(&self, item: FeedItem, text: &str) {
        let live = (self.sender.receiver_count() > 0)
            .then(|| serde_json::from_str::<Value>(text).ok())
            .flatten()
            .map(|ar| {
                let summary = Summary::of(&item.ar_hash, &ar, Some(&item));
                let json = serde_json::to_string(&summary).unwrap_or_default();
                Arc::new(Live { summary, json })
            });
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(item);
        }
        if let Some(live) = live {
            // Listeners may have gone meanwhile: not an error.
            let _ = self.sender.send(live);
        }
    }

    /// The items of the recent ARs, by ar_hash.
    pub fn recent(&self) -> HashMap<Arc<str>, FeedItem> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .map(|i| (i.ar_hash.clone(), i.clone()))
            .collect()
    }

    /// The item of `ar_hash` if it is among the recent ones.
    pub fn find(&self, ar_hash: &str) -> Option<FeedItem> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .rev()
            .find(|i| &*i.ar_hash == ar_hash)
            .cloned()
    }

    /// The ar_hash of the newest AR published.
    pub fn last(&self) -> Option<Arc<str>> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.back().map(|i| i.ar_hash.clone())
    }

    /// Listen to the summaries of the ARs published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Live>> {
        self.sender.subscribe()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(n: usize) -> FeedItem {
        FeedItem {
            ar_hash: format!("{n:064x}").into(),
            model: Some("m".into()),
            own_us: Some(1500),
        }
    }

    #[test]
    fn the_ring_remembers_the_most_recent_and_listeners_get_summaries() {
        let feed = Feed::new();
        feed.publish(item(0), "{}");
        let mut listener = feed.subscribe();
        feed.publish(item(1), r#"{"decision": "allow", "chain_depth": 7}"#);
        let first = listener.try_recv().expect("a summary");
        assert_eq!(first.summary.ar_hash, format!("{:064x}", 1));
        assert_eq!(first.summary.model.as_deref(), Some("m"));
        assert_eq!(first.summary.latency_ms, Some(1.5));
        assert!(first.json.contains("\"chain_depth\":7"), "{}", first.json);
        for n in 2..=RECENT {
            feed.publish(item(n), "{}");
        }
        assert_eq!(feed.recent().len(), RECENT);
        assert!(feed.find(&format!("{:064x}", 0)).is_none());
        assert!(feed.find(&format!("{RECENT:064x}")).is_some());
        assert_eq!(
            feed.last().as_deref(),
            Some(format!("{RECENT:064x}").as_str())
        );
        // A listener that fell behind is told how many it missed, then goes on.
        assert!(matches!(
            listener.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
        assert!(listener.try_recv().is_ok());
    }

    #[test]
    fn nothing_is_parsed_without_listeners() {
        let feed = Feed::new();
        // Not JSON: a listener would get nothing, and without one it is never read.
        feed.publish(item(1), "not json");
        let mut listener = feed.subscribe();
        feed.publish(item(2), "not json");
        assert!(listener.try_recv().is_err());
        assert_eq!(feed.recent().len(), 2);
    }

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
    }
}
