//! Returns an object claim nested 10,000 levels deep (as text): parsing it must not overflow the
//! host's stack.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct DeepJson;

impl Auditor for DeepJson {
    fn describe() -> Vocabulary {
        Vocabulary::new("deep_json", "0.1.0", "deeply nested object")
            .phases([Phase::Request])
            .claim(ClaimSpec::new("deep", ClaimType::Object, "nested"))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        // The SDK serializes objects; build the value shallowly and let depth come from text the
        // host parses: an array of arrays.
        let depth = 10_000;
        let mut value = lucid_auditor_sdk::serde_json::Value::Null;
        for _ in 0..depth {
            value = lucid_auditor_sdk::serde_json::Value::Array(vec![value]);
        }
        let claim = Claim::object("deep", value);
        Ok(vec![claim])
    }
}

lucid_auditor_sdk::export_auditor!(DeepJson);
