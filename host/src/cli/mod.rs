//! The `lucid` command line (the binary only; the library has no `anyhow` and no clap):
//! [`args`] holds the clap arguments, each command group has a module of its own, and
//! `lucid serve` hands its options to the library's wiring, [`lucid::app`].

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

mod args;
mod attest;
mod auditor;
mod chain;
mod contract;
mod eval;
mod passport;
mod policy;
mod scaffold;
mod serve;

pub use args::*;

pub fn init_tracing(cli: &Cli) {
    let filter = cli
        .log
        .clone()
        .or_else(|| std::env::var("LUCID_LOG").ok())
        .unwrap_or_else(|| "warn".to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// One line for an error and its causes.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if parts.last().is_none_or(|last| !last.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::serve(&args),
        Command::Auditor(AuditorCommand::Inspect { file }) => auditor::inspect(&file),
        Command::Auditor(AuditorCommand::Test(args)) => auditor::test(&args),
        Command::Auditor(AuditorCommand::Eval(args)) => eval::eval(&args),
        Command::Auditor(AuditorCommand::Sign { file, key }) => auditor::sign(&file, &key),
        Command::Auditor(AuditorCommand::Verify {
            file,
            trusted_keys,
            registry,
        }) => auditor::verify(&file, trusted_keys.as_deref(), registry.as_deref()),
        Command::Auditor(AuditorCommand::Init(args)) => scaffold::init(&args),
        Command::Auditor(AuditorCommand::Build(args)) => scaffold::build(&args),
        Command::Auditor(AuditorCommand::Publish {
            file,
            key,
            registry,
            trust_key,
        }) => auditor::publish(&file, &key, &registry, trust_key),
        Command::Chain(ChainCommand::Verify { from, source }) => {
            chain::verify(from.as_deref(), &source)
        }
        Command::Chain(ChainCommand::Export { source, .. }) => chain::export(&source),
        Command::Chain(ChainCommand::Demo {
            count,
            store,
            receipt,
            writers,
        }) => chain::demo(count, writers, &store, &receipt),
        Command::Policy(PolicyCommand::Schema { plugins }) => policy::schema(&plugins),
        Command::Attest(AttestCommand::Verify(args)) => attest::verify(&args),
        Command::Passport(PassportCommand::Show(args)) => passport::show(&args),
        Command::Policy(PolicyCommand::Validate { dir, plugins }) => {
            policy::validate(&dir, &plugins)
        }
        Command::Policy(PolicyCommand::Test { dir, plugins }) => {
            policy::test(&dir, plugins.as_deref())
        }
        Command::MockUpstream { listen } => {
            serve::serve_router(&listen, lucid::gateway::mock_server::router())
        }
        Command::BenchProxy { listen, upstream } => {
            serve::serve_router(&listen, lucid::gateway::passthrough::router(&upstream))
        }
        Command::Keygen { out } => {
            let id = lucid::runtime::notary::keygen(&out)?;
            emit(&json!({"secret_key": out.display().to_string(), "public_key": format!("{}.pub", out.display()), "key_id": id}).to_string());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How long one GET of a gateway may take, connection included.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// GET `target` (a URL built from the user's `--url`, named in messages) with the host's HTTP
/// client (hyper, rustls with the webpki roots), `Authorization: Bearer` when given, bounded in
/// time and to `max_bytes` of body. Returns the status and the body, whatever the status.
fn http_get(
    target: &str,
    url: &str,
    bearer: Option<&str>,
    max_bytes: usize,
) -> anyhow::Result<(hyper::StatusCode, Vec<u8>)> {
    use anyhow::bail;
    use http_body_util::{BodyExt as _, Empty, Limited};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;

    let uri: hyper::Uri = target
        .parse()
        .with_context(|| format!("invalid --url '{url}'"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        bail!("invalid --url '{url}': expected http(s)://host[:port]");
    }
    let mut request = hyper::Request::get(uri).header("accept", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Empty::<bytes::Bytes>::new())?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        let work = async {
            let response = client
                .request(request)
                .await
                .with_context(|| format!("cannot reach {target}"))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), max_bytes)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading {target}: {e}"))?
                .to_bytes();
            Ok((status, body.to_vec()))
        };
        tokio::time::timeout(FETCH_TIMEOUT, work)
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "{target} did not answer within {} s",
                    FETCH_TIMEOUT.as_secs()
                )
            })?
    })
}

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

use lucid::app::emit;
