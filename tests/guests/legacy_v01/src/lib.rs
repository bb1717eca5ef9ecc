//! An auditor built against the frozen `lucid:auditor@0.1.0` contract, straight from its WIT
//! (not through the SDK, which follows the current contract): the host must keep loading it.

wit_bindgen::generate!({
    path: "../../../wit/auditor-0.1",
    world: "lucid:auditor/auditor-plugin@0.1.0",
});

use exports::lucid::auditor::auditor::Guest;
use lucid::auditor::types::{
    AuditorError, Claim, ClaimSpec, ClaimType, ClaimValue, Observation, Phase, Vocabulary,
};

struct Legacy;

impl Guest for Legacy {
    fn describe() -> Vocabulary {
        Vocabulary {
            id: "legacy_v01".into(),
            version: "0.1.0".into(),
            description: "an auditor of the 0.1 contract".into(),
            phases: vec![Phase::Request, Phase::Response],
            claims: vec![ClaimSpec {
                name: "legacy_words".into(),
                type_: ClaimType::Count,
                phases: vec![Phase::Request, Phase::Response],
                description: "words in the request body".into(),
            }],
            settings: Vec::new(),
        }
    }

    fn observe(input: Observation) -> Result<Vec<Claim>, AuditorError> {
        let words = input.request.split_whitespace().count() as u64;
        Ok(vec![Claim {
            name: "legacy_words".into(),
            value: ClaimValue::Count(words),
            confidence: 1.0,
            metadata: None,
        }])
    }
}

export!(Legacy);
