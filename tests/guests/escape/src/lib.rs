//! Tries to reach outside the sandbox: a file, the environment, a socket. Reports what happened
//! instead of failing, so the test can check each attempt was denied.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct Escape;

impl Auditor for Escape {
    fn describe() -> Vocabulary {
        Vocabulary::new("escape", "0.1.0", "tries the filesystem, env and network")
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
            .claim(ClaimSpec::new(
                "socket",
                ClaimType::String,
                "result of connecting to 127.0.0.1:22",
            ))
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
        let socket = match std::net::TcpStream::connect("127.0.0.1:22") {
            Ok(_) => "connected".to_string(),
            Err(e) => format!("denied: {e}"),
        };
        Ok(vec![
            Claim::string("file", file),
            Claim::string("cwd_listing", cwd_listing),
            Claim::string("env", env),
            Claim::count("args", std::env::args().count() as u64),
            Claim::string("socket", socket),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(Escape);
