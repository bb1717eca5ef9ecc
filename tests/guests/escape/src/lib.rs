//! Tries to reach outside the sandbox: a file, the environment, the arguments. Reports what
//! happened instead of failing, so the test can check each attempt was denied. (Sockets are
//! `escape_net`'s: a guest importing them is refused at load.)
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct Escape;

impl Auditor for Escape {
    fn describe() -> Vocabulary {
        Vocabulary::new("escape", "0.1.0", "tries the filesystem, env and arguments")
            .phases([Phase::Request])
            .claim(ClaimSpec::new(
                "file",
                ClaimType::String,
                "result of reading /etc/passwd",
            ))
            .claim(ClaimSpec::new(
                "cwd_listing",
                ClaimType::String,
                "result of listing .",
            ))
            .claim(ClaimSpec::new(
                "env",
                ClaimType::String,
                "environment variables seen",
            ))
            .claim(ClaimSpec::new("args", ClaimType::Count, "arguments seen"))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        let file = match std::fs::read_to_string("/etc/passwd") {
            Ok(s) => format!("read {} bytes", s.len()),
            Err(e) => format!("denied: {e}"),
        };
        let cwd_listing = match std::fs::read_dir(".") {
            Ok(d) => format!("listed {} entries", d.count()),
            Err(e) => format!("denied: {e}"),
        };
        let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        let env = if vars.is_empty() {
            "none".to_string()
        } else {
            vars.join(",")
        };
        Ok(vec![
            Claim::string("file", file),
            Claim::string("cwd_listing", cwd_listing),
            Claim::string("env", env),
            Claim::count("args", std::env::args().count() as u64),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(Escape);
