//! A well-behaved auditor that does nothing: the floor for benchmarks.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct Empty;

impl Auditor for Empty {
    fn describe() -> Vocabulary {
        Vocabulary::new("empty", "0.1.0", "emits one constant claim")
            .phases([
                Phase::Request,
                Phase::Response,
                Phase::Execution,
                Phase::Artifact,
            ])
            .claim(ClaimSpec::new(
                "empty_ran",
                ClaimType::Boolean,
                "always true",
            ))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(vec![Claim::boolean("empty_ran", true)])
    }
}

lucid_auditor_sdk::export_auditor!(Empty);
