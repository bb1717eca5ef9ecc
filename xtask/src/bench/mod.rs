//! `cargo xtask bench`: the micro benchmarks (auditor runtime, Cedar, receipts) and the HTTP
//! benchmarks of issue 17 — Lucid side by side with the mock upstream, plain proxies and the
//! gateways users would pick instead (`gateway`, `peers`), and how it scales (`scale`).
//!
//! Benchmarks report; they never pass or fail on a figure. Performance goals are checked here,
//! never by timed assertions in tests.
//!
//! Layout: [`load`] drives oha, [`procstat`] reads a server's CPU and memory, [`server`] runs
//! child processes, [`targets`] and [`peers`] start what is measured, [`compare`] runs rows in
//! interleaved rounds, [`scale`] (with [`stream`]) the curves, [`plot`] draws them and
//! [`report`] writes tables, JSON and Markdown.

mod compare;
mod load;
mod netns;
mod peers;
mod plot;
mod postgres;
mod procstat;
mod report;
mod scale;
mod server;
mod stream;
mod targets;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use compare::{Body, Plan, Row};
use load::Oha;
use targets::{Target, Upstream};

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
    // The slow upstream is started by the scale benchmark, inside the namespace too.
    if let Some(Which::SseUpstream {
        listen,
        chunks,
        interval_ms,
    }) = &which
    {
        return stream::serve_upstream(listen, *chunks, *interval_ms);
    }
    // Inside the namespace: only the HTTP benchmarks, everything already built and installed.
    if let Some(network) = netns::inside() {
        netns::setup_inside()?;
        let (suite, args) = match which {
            Some(Which::Gateway(a)) => (suite(true, false, false), ScaleArgs::from_http(a)),
            Some(Which::Peers(a)) => (suite(false, true, false), ScaleArgs::from_http(a)),
            Some(Which::Scale(a)) => (suite(false, false, true), a),
            Some(Which::All(a)) => (suite(true, true, true), a),
            _ => anyhow::bail!("only the HTTP benchmarks run inside the network namespace"),
        };
        return http(suite, &args, &network);
    }
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
        Some(Which::SseUpstream {
            listen,
            chunks,
            interval_ms,
        }) => return stream::serve_upstream(&listen, chunks, interval_ms),
    };
    run_micro(micro)?;
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

/// The micro benchmarks, in this order.
fn run_micro(which: &[&str]) -> anyhow::Result<()> {
    if which.is_empty() {
        return Ok(());
    }
    crate::build_guests()?;
    crate::build_test_guests()?;
    if which.contains(&"runtime") {
        let mut cmd = crate::cargo();
        cmd.args(["bench", "-p", "lucid", "--bench", "runtime"])
            .env("LUCID_TEST_PLUGINS", crate::root().join("plugins"))
            .env(
                "LUCID_TEST_GUESTS",
                crate::root().join("tests/guests/target/wasm32-wasip2/release"),
            );
        crate::exec(cmd)?;
    }
    if which.contains(&"cedar") {
        let mut cmd = crate::cargo();
        cmd.args(["bench", "-p", "lucid-policy", "--bench", "decide"]);
        crate::exec(cmd)?;
    }
    if which.contains(&"receipt") {
        crate::build_host()?;
        bench_receipt()?;
    }
    Ok(())
}

/// Sign + durably commit N ARs with 8 writers through the real signer and SQLite store, then
/// verify them all.
fn bench_receipt() -> anyhow::Result<()> {
    let dir = crate::root().join("target/bench-receipt");
    let _ = std::fs::remove_dir_all(&dir);
    let n = 20_000u32;
    let started = std::time::Instant::now();
    let out = Command::new(crate::lucid_bin())
        .args([
            "chain",
            "demo",
            &n.to_string(),
            "--writers",
            "8",
            "--data-dir",
        ])
        .arg(&dir)
        .output()
        .context("cannot run lucid chain demo")?;
    let signed = started.elapsed();
    if !out.status.success() {
        anyhow::bail!(
            "chain demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let started = std::time::Instant::now();
    let out = Command::new(crate::lucid_bin())
        .args(["chain", "verify", "--data-dir"])
        .arg(&dir)
        .output()
        .context("cannot run lucid chain verify")?;
    let verified = started.elapsed();
    if !out.status.success() {
        anyhow::bail!(
            "chain verify failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!(
        "receipt bench: {n} ARs, 8 writers: sign+commit {:.0} ARs/s ({:.1?} incl. start-up); verify {:.0} ARs/s ({:.1?})",
        f64::from(n) / signed.as_secs_f64(),
        signed,
        f64::from(n) / verified.as_secs_f64(),
        verified
    );
    Ok(())
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
        side_by_side(suite, args, network, &oha, &upstream, versions.clone())?;
    }
    if suite.scale {
        scale::run(args, network, &oha, &upstream, versions)?;
    }
    Ok(())
}

/// Keys of the targets each report shows.
const GATEWAY_KEYS: &[&str] = &[
    "direct",
    "nginx-proxy",
    "bench-proxy",
    "lucid-full",
    "lucid-bare",
];
const PEERS_KEYS: &[&str] = &[
    "direct",
    "nginx-proxy",
    "lucid-full",
    "lucid-bare",
    "litellm",
    "litellm-guard",
    "portkey",
    "portkey-guard",
];

/// The gateway and/or peers comparison: one interleaved run over the union of their targets.
fn side_by_side(
    suite: Suite,
    args: &ScaleArgs,
    network: &str,
    oha: &Oha,
    upstream: &Upstream,
    mut versions: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let work = work_dir();
    let plan = args.plan();
    let mut notes: Vec<String> = Vec::new();
    let mut targets = vec![Target::new(
        "direct",
        &format!("direct mock ({})", args.http.upstream),
        &upstream.server,
    )];
    let nginx = Rc::new(targets::nginx_proxy(
        &work.join("nginx-proxy"),
        upstream.authority(),
    )?);
    targets.push(Target::new("nginx-proxy", "nginx proxy_pass", &nginx));
    if suite.gateway {
        let proxy = Rc::new(targets::lucid_bench_proxy(upstream)?);
        targets.push(Target::new("bench-proxy", "lucid bench-proxy", &proxy));
    }
    let full = Rc::new(targets::lucid_full(&work, "lucid-full").start(&upstream.server.url)?);
    let mut full_target = Target::new("lucid-full", "Lucid full", &full);
    // The balanced preset denies a payment card number (the pii auditor's claim).
    full_target.refuses_cards = true;
    targets.push(full_target);
    let bare = Rc::new(targets::lucid_bare(&work, "lucid-bare")?.start(&upstream.server.url)?);
    targets.push(Target::new("lucid-bare", "Lucid bare", &bare));
    if suite.peers {
        peer_targets(upstream, &work, &mut targets, &mut versions, &mut notes);
    }
    let body = Body::write(
        &work,
        "chat",
        &compare::chat_body(compare::CHAT_USER, false),
    )?;
    eprintln!(
        "side by side: {} targets, {} s per row, {} rounds, c = {:?}, mock upstream: {}",
        targets.len(),
        plan.seconds,
        plan.rounds,
        plan.concurrency,
        upstream.kind
    );
    let samples = compare::run(oha, &targets, std::slice::from_ref(&body), &plan)?;
    let rows = compare::summarize(&targets, &samples);
    notes.extend(compare::failure_notes(&targets, &samples));
    let rss: BTreeMap<String, u64> = targets
        .iter()
        .filter_map(|t| {
            procstat::peak_rss_bytes(t.pid())
                .ok()
                .map(|b| (t.key.clone(), b))
        })
        .collect();
    let env = report::Environment::collect(network, versions);
    let reports: Vec<(&str, &[&str])> = [("gateway", GATEWAY_KEYS), ("peers", PEERS_KEYS)]
        .into_iter()
        .filter(|(name, _)| match *name {
            "gateway" => suite.gateway,
            _ => suite.peers,
        })
        .collect();
    for (name, keys) in reports {
        let shown: Vec<Row> = rows
            .iter()
            .filter(|r| keys.contains(&r.target.as_str()))
            .cloned()
            .collect();
        let goals = report::goals(&shown);
        println!(
            "\n{name}: {} s per row, {} rounds (medians)",
            plan.seconds, plan.rounds
        );
        for c in &plan.concurrency {
            println!(
                "\nc={c}\n{}",
                report::comparison(&shown, *c, &rss).console()
            );
        }
        println!();
        for line in report::goal_lines(&goals) {
            println!("{line}");
        }
        for note in &notes {
            println!("note: {note}");
        }
        let md = side_by_side_markdown(name, &env, &plan, upstream, &shown, &rss, &goals, &notes);
        let json = serde_json::json!({
            "environment": env,
            "plan": plan,
            "upstream": upstream.kind,
            "targets": targets
                .iter()
                .filter(|t| keys.contains(&t.key.as_str()))
                .map(|t| serde_json::json!({"key": t.key, "label": t.label}))
                .collect::<Vec<_>>(),
            "rows": shown,
            "samples": samples
                .iter()
                .filter(|s| keys.contains(&s.target.as_str()))
                .collect::<Vec<_>>(),
            "peak_rss_bytes": rss,
            "goals": goals,
            "notes": notes,
        });
        report::publish(name, &json, &md)?;
    }
    Ok(())
}

/// Start the peers (LiteLLM without and with its guardrail, Portkey) and add their targets; a
/// peer that cannot be started is left out with a note.
fn peer_targets(
    upstream: &Upstream,
    work: &std::path::Path,
    targets: &mut Vec<Target>,
    versions: &mut BTreeMap<String, String>,
    notes: &mut Vec<String>,
) {
    let litellm = peers::litellm_installed()
        .context("LiteLLM is not installed")
        .and_then(|v| {
            let plain = Rc::new(peers::litellm(work, upstream, false)?);
            let guard = Rc::new(peers::litellm(work, upstream, true)?);
            Ok((v, plain, guard))
        });
    let portkey = peers::portkey_installed()
        .context("Portkey's gateway is not installed")
        .and_then(|v| Ok((v, Rc::new(peers::portkey()?))));
    match (litellm, portkey) {
        (Ok((lv, plain, guard)), Ok((pv, pk))) => {
            versions.insert("litellm".into(), lv);
            versions.insert("portkey-gateway".into(), pv);
            if let Some(node) = peers::node_version() {
                versions.insert("node".into(), node);
            }
            targets.extend(peers::targets(&plain, &guard, &pk, upstream));
        }
        (litellm, portkey) => {
            // Partial sets would shift every ratio; report which peer failed and go on without.
            for (name, result) in [("LiteLLM", litellm.err()), ("Portkey", portkey.err())] {
                if let Some(e) = result {
                    let note = format!("{name} was not run: {e:#}");
                    eprintln!("xtask: WARNING: {note}");
                    notes.push(note);
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn side_by_side_markdown(
    name: &str,
    env: &report::Environment,
    plan: &Plan,
    upstream: &Upstream,
    rows: &[Row],
    rss: &BTreeMap<String, u64>,
    goals: &[report::Goal],
    notes: &[String],
) -> String {
    let (title, command, about) = if name == "gateway" {
        (
            "Gateway: Lucid against the mock directly and plain proxies",
            "cargo xtask bench gateway",
            "",
        )
    } else {
        (
            "Peers: Lucid against LiteLLM and Portkey",
            "cargo xtask bench peers",
            "LiteLLM's guardrail is its built-in `litellm_content_filter` with one regex \
             (`default_on`, pre-call, BLOCK); Portkey's is its built-in `default.regexMatch` \
             check as an input guardrail with `deny: true`, in the request's `x-portkey-config`. \
             Both refuse a card number (checked before the run), as Lucid full's balanced preset \
             does.\n\n",
        )
    };
    let mut md = format!(
        "## {title}\n\n`{command}` — oha, closed loop, {} s per row, {} interleaved rounds \
         (figures are the rounds' medians), the same chat request to every target; mock \
         upstream: {}.\n\n{}\n",
        plan.seconds,
        plan.rounds,
        upstream.kind,
        env.markdown()
    );
    for c in &plan.concurrency {
        md += &format!(
            "### c={c}\n\n{}\n",
            report::comparison(rows, *c, rss).markdown()
        );
    }
    md += about;
    md += "Lucid full: the three shipped auditors (injection, pii, token_budget; request and \
           response phases), the balanced preset, a signed receipt per exchange, SQLite \
           (WAL, synchronous=FULL). Lucid bare: no auditor, a permit-all policy, the same \
           receipt and store. Server CPU per request is the target process's user+system time \
           (with its children) over a row divided by the HTTP 200 answers it gave; peak RSS is \
           its VmHWM at the end of the run.\n\n";
    if !goals.is_empty() {
        md += &format!(
            "### Issue 17's goals\n\n{}\n",
            report::goals_table(goals).markdown()
        );
    }
    for note in notes {
        md += &format!("- note: {note}\n");
    }
    md
}
