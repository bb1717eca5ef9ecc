//! Returns a count above 2^53-1, outside the receipt's integer domain: the host must turn it into
//! a contract error, not a claim the signer refuses.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct BigCount;

impl Auditor for BigCount {
    fn describe() -> Vocabulary {
        Vocabulary::new("big_count", "0.1.0", "count out of domain")
            .phases([Phase::Request])
            .claim(ClaimSpec::new("n", ClaimType::Count, "too big"))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(vec![Claim::count("n", u64::MAX)])
    }
}

lucid_auditor_sdk::export_auditor!(BigCount);
