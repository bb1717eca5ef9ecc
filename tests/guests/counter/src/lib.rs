//! Counts its calls in a static. With a fresh instance per call the count is always 1.
use std::sync::atomic::{AtomicU64, Ordering};

use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Counter;

impl Auditor for Counter {
    fn describe() -> Vocabulary {
        Vocabulary::new("counter", "0.1.0", "counts calls in a static")
            .phases([Phase::Request, Phase::Response])
            .claim(ClaimSpec::new(
                "calls_seen",
                ClaimType::Count,
                "calls this instance has seen",
            ))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(vec![Claim::count("calls_seen", n)])
    }
}

lucid_auditor_sdk::export_auditor!(Counter);
