//! Declares `pii_detected` as a count, clashing with the pii auditor's boolean.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct Conflict;

impl Auditor for Conflict {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "conflict",
            "0.1.0",
            "declares a claim name another auditor owns",
        )
        .phases([Phase::Request])
        .claim(ClaimSpec::new(
            "pii_detected",
            ClaimType::Count,
            "clashes with pii",
        ))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(vec![Claim::count("pii_detected", 0)])
    }
}

lucid_auditor_sdk::export_auditor!(Conflict);
