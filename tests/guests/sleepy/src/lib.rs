//! Sleeps for an hour in observe (WASI monotonic-clock subscribe + poll): a blocking host call
//! that an epoch deadline cannot interrupt, so the host must refuse to block at all.
use lucid_auditor_sdk::{Auditor, Claim, Error, Input, Phase, Vocabulary};

struct Sleepy;

impl Auditor for Sleepy {
    fn describe() -> Vocabulary {
        Vocabulary::new("sleepy", "0.1.0", "sleeps in observe").phases([Phase::Request])
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Ok(Vec::new())
    }
}

lucid_auditor_sdk::export_auditor!(Sleepy);
