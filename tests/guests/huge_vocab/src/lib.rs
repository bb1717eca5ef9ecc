//! Declares 100,000 claims: the host must refuse the vocabulary, quickly.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct HugeVocab;

impl Auditor for HugeVocab {
    fn describe() -> Vocabulary {
        (0..100_000).fold(
            Vocabulary::new("huge_vocab", "0.1.0", "too many claims").phases([Phase::Request]),
            |v, i| v.claim(ClaimSpec::new(format!("c{i}"), ClaimType::Boolean, "x")),
        )
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(Vec::new())
    }
}

lucid_auditor_sdk::export_auditor!(HugeVocab);
