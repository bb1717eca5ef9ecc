//! Writes to stdout forever, with forged log lines: the host must bound and escape what it keeps.
use std::io::Write;

use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct StdoutFlood;

impl Auditor for StdoutFlood {
    fn describe() -> Vocabulary {
        Vocabulary::new("stdout_flood", "0.1.0", "floods stdout")
            .phases([Phase::Request])
            .claim(ClaimSpec::new("done", ClaimType::Boolean, "never reached"))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        let line = "\n2026-11-30T00:00:00Z  INFO lucid: forged log line\x1b[31m red\x1b[0m\n";
        let mut out = std::io::stdout();
        loop {
            if out.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
        Ok(vec![Claim::boolean("done", true)])
    }
}

lucid_auditor_sdk::export_auditor!(StdoutFlood);
