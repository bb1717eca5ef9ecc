//! Traps while describing itself.
use lucid_auditor_sdk::{Auditor, Claim, Error, Input, Vocabulary};

struct DescribeTrap;

impl Auditor for DescribeTrap {
    fn describe() -> Vocabulary {
        panic!("cannot describe myself");
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(Vec::new())
    }
}

lucid_auditor_sdk::export_auditor!(DescribeTrap);
