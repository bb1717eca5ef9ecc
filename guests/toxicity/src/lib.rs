//! The `toxicity` auditor (skeleton: being written).

use lucid_auditor_sdk::{Auditor, Claim, Error, Input, Phase, Vocabulary};

pub struct Skeleton;

impl Auditor for Skeleton {
    fn describe() -> Vocabulary {
        Vocabulary::new("toxicity", env!("CARGO_PKG_VERSION"), "not written yet").phases([Phase::Request])
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(Vec::new())
    }
}

lucid_auditor_sdk::export_auditor!(Skeleton);
