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
mod policy;
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
        Command::Auditor(AuditorCommand::Sign { file, key }) => auditor::sign(&file, &key),
        Command::Auditor(AuditorCommand::Verify { file, trusted_keys }) => {
            auditor::verify(&file, &trusted_keys)
        }
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

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

use lucid::app::emit;
