//! Breaks its own contract: an undeclared claim, or a declared one with the wrong type,
//! depending on the `mode` setting.
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, SettingSpec, Vocabulary,
};

struct WrongType;

impl Auditor for WrongType {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "wrong_type",
            "0.1.0",
            "returns claims its vocabulary does not allow",
        )
        .phases([Phase::Request])
        .claim(ClaimSpec::new(
            "risk",
            ClaimType::ScoreNormalized,
            "declared as a score",
        ))
        .setting(SettingSpec::string(
            "mode",
            "type",
            "type | undeclared | duplicate | error",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        match input.settings().string("mode").unwrap_or("type") {
            "undeclared" => Ok(vec![Claim::boolean("surprise", true)]),
            "duplicate" => Ok(vec![Claim::score("risk", 0.1), Claim::score("risk", 0.2)]),
            "error" => Err(Error::failed("refusing to observe")),
            _ => Ok(vec![Claim::count("risk", 3)]),
        }
    }
}

lucid_auditor_sdk::export_auditor!(WrongType);
