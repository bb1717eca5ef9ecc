//! Sleeps for an hour in describe: loading it must fail within the deadline, not hang.
use lucid_auditor_sdk::{Auditor, Claim, Error, Input, Phase, Vocabulary};

struct SleepyDescribe;

impl Auditor for SleepyDescribe {
    fn describe() -> Vocabulary {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Vocabulary::new("sleepy_describe", "0.1.0", "sleeps in describe").phases([Phase::Request])
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(Vec::new())
    }
}

lucid_auditor_sdk::export_auditor!(SleepyDescribe);
