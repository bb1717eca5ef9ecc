//! Who an exchange belongs to.

use serde::{Deserialize, Serialize};

/// Who sent the exchange: an agent, in a workspace, in an org. In JSON
/// `{"org", "workspace", "agent"}`, every field required and no other allowed; in Cedar each is
/// an entity (`Agent::"…"` in `Workspace::"…"` in `Org::"…"`), so `principal in Org::"acme"`
/// matches every agent of the org.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The organisation: the outermost scope, whose enforcement bounds every override below it.
    pub org: String,
    /// The workspace within the org.
    pub workspace: String,
    /// The agent (the API caller) within the workspace.
    pub agent: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_round_trips_and_refuses_unknown_fields() {
        let scope = Scope {
            org: "acme".into(),
            workspace: "w".into(),
            agent: "a".into(),
        };
        let json = serde_json::to_value(&scope).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"org": "acme", "workspace": "w", "agent": "a"})
        );
        assert_eq!(serde_json::from_value::<Scope>(json).unwrap(), scope);

        let extra = serde_json::json!({"org": "acme", "workspace": "w", "agent": "a", "team": "t"});
        let err = serde_json::from_value::<Scope>(extra).unwrap_err();
        assert!(err.to_string().contains("team"), "{err}");
        let missing = serde_json::json!({"org": "acme", "workspace": "w"});
        assert!(serde_json::from_value::<Scope>(missing).is_err());
    }
}
