//! Tries to open a socket: its component imports `wasi:sockets`, so the host refuses it at load.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct EscapeNet;

impl Auditor for EscapeNet {
    fn describe() -> Vocabulary {
        Vocabulary::new("escape_net", "0.1.0", "tries the network")
            .phases([Phase::Request])
            .claim(ClaimSpec::new(
                "socket",
                ClaimType::String,
                "result of connecting to 127.0.0.1:22",
            ))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        let socket = match std::net::TcpStream::connect("127.0.0.1:22") {
            Ok(_) => "connected".to_string(),
            Err(e) => format!("denied: {e}"),
        };
        Ok(vec![Claim::string("socket", socket)])
    }
}

lucid_auditor_sdk::export_auditor!(EscapeNet);
