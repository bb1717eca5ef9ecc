//! What Lucid reads from a `postgres://` URL itself — `sslmode`, `sslrootcert`,
//! `connect_timeout`, `statement_timeout` — and the rest of the URL, which goes to tokio-postgres
//! unchanged.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres_rustls::MakeRustlsConnect;

use crate::evidence::StoreError;

/// Connecting (TCP, TLS and authentication together) gives up after this, unless the URL says
/// `connect_timeout=SECONDS`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The server cancels a statement after this, unless the URL says `statement_timeout=SECONDS`.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much longer than the statement timeout the client waits for an answer: the server
/// cancels at the statement timeout; a server that does not answer at all is given up on here.
pub const CLIENT_MARGIN: Duration = Duration::from_secs(5);
/// The largest timeout a URL may ask for (a day): every wait stays bounded.
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// libpq's `sslmode`, without `allow` (plain first, TLS if the server insists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain; the default here (libpq's default is `prefer`).
    Disable,
    /// TLS if the server offers it, plain if it has none.
    Prefer,
    /// TLS or nothing.
    Require,
    /// TLS, and the server's certificate chains to a trusted root.
    VerifyCa,
    /// TLS, the chain, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode={other} is not supported (use disable, prefer, require, verify-ca or verify-full)"
                ));
            }
        })
    }
}

/// A parsed `postgres://` URL.
pub struct PgOptions {
    /// Everything tokio-postgres understands (host, port, user, database, `options`, keepalives…).
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub ssl_mode: SslMode,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    /// The URL without its password, for messages.
    pub location: String,
}

impl PgOptions {
    pub fn parse(url: &str) -> Result<PgOptions, StoreError> {
        let location = redact(url);
        let invalid = |message: String| StoreError::InvalidUrl {
            location: location.clone(),
            message,
        };
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ssl_mode = SslMode::Disable;
        let mut root_cert = None;
        let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
        let mut statement_timeout = DEFAULT_STATEMENT_TIMEOUT;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = || percent_decode(value).map_err(&invalid);
            match key {
                "sslmode" => ssl_mode = decoded()?.parse().map_err(&invalid)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(decoded()?)),
                "connect_timeout" => {
                    connect_timeout = seconds(key, &decoded()?).map_err(&invalid)?
                }
                "statement_timeout" => {
                    statement_timeout = seconds(key, &decoded()?).map_err(&invalid)?
                }
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                    return Err(invalid(format!(
                        "{key} is not supported (no client certificates or revocation lists)"
                    )));
                }
                _ => rest.push(pair),
            }
        }
        let rest = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config =
            tokio_postgres::Config::from_str(&rest).map_err(|e| invalid(super::describe(&e)))?;
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        // Per TCP attempt; the whole connect is bounded by the same time (see `PgStore`).
        config.connect_timeout(connect_timeout);
        let tls = super::tls::connector(ssl_mode, root_cert.as_deref()).map_err(invalid)?;
        Ok(PgOptions {
            config,
            tls,
            ssl_mode,
            connect_timeout,
            statement_timeout,
            location,
        })
    }

    /// How long the client waits for one statement's answer.
    pub fn statement_deadline(&self) -> Duration {
        self.statement_timeout + CLIENT_MARGIN
    }
}

fn seconds(key: &str, value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(n) if (1..=MAX_TIMEOUT_SECS).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "{key}={value} is not a whole number of seconds from 1 to {MAX_TIMEOUT_SECS} (a gateway never waits without a bound)"
        )),
    }
}

fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in '{value}'"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{value}' is not UTF-8 once decoded"))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some(scheme) = url.find("://") else {
        return url.to_string();
    };
    let start = scheme + 3;
    let authority_end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => {
            let user = url[start..start + at].split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..start], &url[start + at..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://lucid:secret@db:5432/ev"),
            "postgres://lucid@db:5432/ev"
        );
        assert_eq!(redact("postgres://db/ev"), "postgres://db/ev");
        assert_eq!(
            redact("postgres://u:p@db/ev?sslrootcert=/a@b"),
            "postgres://u@db/ev?sslrootcert=/a@b"
        );
    }

    #[test]
    fn lucid_options_are_read_and_the_rest_is_passed_on() {
        let o = PgOptions::parse(
            "postgres://lucid:pw@db:6543/ev?application_name=gw&sslmode=require&connect_timeout=3&statement_timeout=7",
        )
        .unwrap();
        assert_eq!(o.ssl_mode, SslMode::Require);
        assert_eq!(o.connect_timeout, Duration::from_secs(3));
        assert_eq!(o.statement_timeout, Duration::from_secs(7));
        assert_eq!(o.config.get_application_name(), Some("gw"));
        assert_eq!(o.config.get_ports(), [6543]);
        assert!(!o.location.contains("pw"), "{}", o.location);

        let o = PgOptions::parse("postgresql://db/ev").unwrap();
        assert_eq!(o.ssl_mode, SslMode::Disable);
        assert_eq!(o.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(o.statement_timeout, DEFAULT_STATEMENT_TIMEOUT);
    }

    #[test]
    fn bad_options_are_refused_with_the_reason() {
        for (url, reason) in [
            (
                "postgres://db/ev?sslmode=allow",
                "sslmode=allow is not supported",
            ),
            (
                "postgres://db/ev?connect_timeout=0",
                "connect_timeout=0 is not",
            ),
            (
                "postgres://db/ev?statement_timeout=x",
                "statement_timeout=x is not",
            ),
            ("postgres://db/ev?sslkey=k.pem", "sslkey is not supported"),
            ("postgres://db/ev?sslrootcert=%zz", "bad percent-encoding"),
            ("postgres://db/ev?nonsense=1", "unknown option `nonsense`"),
            (
                "postgres://db/ev?sslmode=verify-ca&sslrootcert=/no/such/ca.pem",
                "cannot read sslrootcert /no/such/ca.pem",
            ),
        ] {
            let err = PgOptions::parse(url)
                .err()
                .unwrap_or_else(|| panic!("{url}"));
            assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err}");
            assert!(err.to_string().contains(reason), "{url}: {err}");
        }
    }
}
