//! Returns just under the host's per-call claims limit (1 MiB) in every phase it observes: each
//! call is within its own bound, but an exchange's request and response together exceed the
//! exchange's evidence budget.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct FatClaims;

impl Auditor for FatClaims {
    fn describe() -> Vocabulary {
        Vocabulary::new("fat_claims", "0.1.0", "a megabyte of claims per call")
            .phases([Phase::Request, Phase::Response])
            .claim(
                ClaimSpec::new("blob", ClaimType::String, "a large string")
                    .phases([Phase::Request, Phase::Response]),
            )
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(vec![Claim::string("blob", "x".repeat((1 << 20) - 64))])
    }
}

lucid_auditor_sdk::export_auditor!(FatClaims);
