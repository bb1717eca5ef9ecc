//! The phases of an exchange.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownName;

/// When in an exchange an observation happens, and so when a decision is taken. Each phase is
/// one Cedar action (`Action::"request"`) and one entry of an AttestationResult's `phases`.
///
/// In JSON a phase is its snake_case name ([`Phase::as_str`]); phases sort in the order an
/// exchange goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The loaded plugin set, policy and configuration (their hashes), whenever they change.
    Artifact,
    /// The client's chat request, before the model is called.
    Request,
    /// Tool calls carried by the exchange (OpenAI `tools` / `tool_calls`).
    Execution,
    /// The model's response, before it is returned to the client.
    Response,
}

impl Phase {
    /// Every phase, in the order an exchange goes through them.
    pub const ALL: [Phase; 4] = [
        Phase::Artifact,
        Phase::Request,
        Phase::Execution,
        Phase::Response,
    ];

    /// The phase's name: `artifact`, `request`, `execution` or `response`. It is the name used
    /// in JSON, in receipts and as the id of the phase's Cedar action.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Artifact => "artifact",
            Phase::Request => "request",
            Phase::Execution => "execution",
            Phase::Response => "response",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = UnknownName;

    /// Reads a phase from its name ([`Phase::as_str`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownName::new("phase", s, "artifact, request, execution or response"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_round_trips_through_its_name() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
            assert_eq!(p.to_string(), p.as_str());
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
            assert_eq!(
                serde_json::from_value::<Phase>(p.as_str().into()).unwrap(),
                p
            );
        }
    }

    #[test]
    fn unknown_phases_are_refused_with_the_expected_names() {
        let err = "later".parse::<Phase>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown phase 'later' (expected artifact, request, execution or response)"
        );
        assert_eq!(err.name(), "later");
        assert!("Request".parse::<Phase>().is_err());
        assert!(serde_json::from_value::<Phase>("later".into()).is_err());
    }

    #[test]
    fn phases_sort_in_exchange_order() {
        let mut phases = Phase::ALL;
        phases.reverse();
        phases.sort();
        assert_eq!(phases, Phase::ALL);
    }
}
