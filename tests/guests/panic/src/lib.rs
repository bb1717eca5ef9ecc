//! Panics with a message the host must surface.
use lucid_auditor_sdk::{Auditor, Claim, Error, Input, Phase, Vocabulary};

struct Panic;

impl Auditor for Panic {
    fn describe() -> Vocabulary {
        Vocabulary::new("panic", "0.1.0", "panics on every call").phases([Phase::Request])
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        panic!("auditor exploded on purpose: code 42");
    }
}

lucid_auditor_sdk::export_auditor!(Panic);
