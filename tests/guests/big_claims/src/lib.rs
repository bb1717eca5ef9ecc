//! Returns a claim list of about 50 MB.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct BigClaims;

impl Auditor for BigClaims {
    fn describe() -> Vocabulary {
        Vocabulary::new("big_claims", "0.1.0", "returns a huge claim")
            .phases([Phase::Request])
            .claim(ClaimSpec::new(
                "huge",
                ClaimType::StringList,
                "50 MB of strings",
            ))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        let item = "x".repeat(1024);
        let items = vec![item; 50 * 1024];
        Ok(vec![Claim::string_list("huge", items)])
    }
}

lucid_auditor_sdk::export_auditor!(BigClaims);
