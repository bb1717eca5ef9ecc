//! `cargo xtask bench scale`: how Lucid's cost grows with the number of auditors and the size of
//! a message, what 1,000 slow streaming clients cost it, and what two replicas sharing one
//! PostgreSQL do together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;

use super::compare::{self, Body, Plan};
use super::load::{Load, Oha, Request};
use super::plot::{self, Scale, Series};
use super::postgres::Postgres;
use super::procstat;
use super::report::{self, Table, count, mib, ms, us};
use super::server::{Ready, Server};
use super::stream::{self, StreamStats};
use super::targets::{self, Gateway, Policy, Target, Upstream};
use super::{ScaleArgs, work_dir};

/// The shipped auditors, in the order the curve adds them.
const SHIPPED: &[&str] = &["injection", "pii", "token_budget"];
/// Id suffixes of the extra copies (built with LUCID_AUDITOR_ID_SUFFIX): 3 × 4 = 12 auditors.
const COPY_SUFFIXES: &[&str] = &["_2", "_3", "_4"];
/// Points of the auditor curve (0 is Lucid bare's path with this curve's policy).
const AUDITOR_COUNTS: &[usize] = &[0, 1, 3, 6, 12];
/// The curve's policy: it reads no claim (the balanced preset needs all three shipped
/// auditors' claims to validate) but still fails closed when an auditor fails.
const AUDITOR_POLICY: &str = "permit(principal, action, resource);\n\
    forbid(principal, action, resource) unless { context.coverage.failed.isEmpty() };\n";
/// User message sizes of the size curve, in KB.
const SIZES_KB: &[usize] = &[1, 10, 100];
/// The slow stream: this many chunks, one every interval (4 s per answer).
const STREAM_CHUNKS: u32 = 20;
const STREAM_INTERVAL: Duration = Duration::from_millis(200);
/// Lucid admits 64 exchanges at once by default; the streaming rows need every client in.
const STREAM_CONFIG: &str = "[gateway]\nmax_in_flight = 4096\nqueue_timeout_ms = 60000\n";

/// Build the auditor copies (each a build of guests/ with LUCID_AUDITOR_ID_SUFFIX, in a target
/// dir of its own so that rebuilding one never invalidates another) and check PostgreSQL.
pub fn prepare() -> anyhow::Result<()> {
    for suffix in COPY_SUFFIXES {
        let mut cmd = crate::guests_build();
        cmd.arg("--target-dir")
            .arg(copies_target(suffix))
            .env("LUCID_AUDITOR_ID_SUFFIX", suffix);
        crate::exec(cmd).with_context(|| format!("cannot build the auditor copies {suffix}"))?;
    }
    if let Err(e) = crate::ensure_postgres() {
        eprintln!("xtask: WARNING: the replicas part of `scale` will not run: {e:#}");
    }
    Ok(())
}

fn copies_target(suffix: &str) -> PathBuf {
    crate::root().join(format!(
        "target/bench/auditor-copies/{}",
        suffix.trim_start_matches('_')
    ))
}

/// A plugin dir with the first `n` of: the shipped auditors, then their copies.
fn auditor_dir(work: &Path, n: usize) -> anyhow::Result<PathBuf> {
    let mut files: Vec<(PathBuf, String)> = SHIPPED
        .iter()
        .map(|a| {
            (
                crate::root().join(format!("plugins/{a}.wasm")),
                format!("{a}.wasm"),
            )
        })
        .collect();
    for suffix in COPY_SUFFIXES {
        let dir = copies_target(suffix).join("wasm32-wasip2/release");
        files.extend(
            SHIPPED
                .iter()
                .map(|a| (dir.join(format!("{a}.wasm")), format!("{a}{suffix}.wasm"))),
        );
    }
    if n > files.len() {
        bail!("at most {} auditors can be set up", files.len());
    }
    let dir = work.join(format!("auditors-{n}"));
    targets::fresh_dir(&dir)?;
    for (from, name) in files.into_iter().take(n) {
        std::fs::copy(&from, dir.join(&name)).with_context(|| {
            format!(
                "cannot copy {} (run `cargo xtask bench scale`, which builds it)",
                from.display()
            )
        })?;
    }
    Ok(dir)
}

#[derive(Default, Serialize)]
struct Results {
    auditors: Option<serde_json::Value>,
    sizes: Option<serde_json::Value>,
    streaming: Option<serde_json::Value>,
    replicas: Option<serde_json::Value>,
    notes: Vec<String>,
}

pub fn run(
    args: &ScaleArgs,
    network: &str,
    oha: &Oha,
    upstream: &Upstream,
    mut versions: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    raise_fd_limit();
    let plan = Plan {
        seconds: (args.http.secs as f64 / 2.0).max(1.0),
        rounds: args.http.rounds.max(1),
        concurrency: vec![1, 16],
    };
    let work = work_dir().join("scale");
    targets::fresh_dir(&work)?;
    let mut results = Results::default();
    let mut md = String::new();
    let part = |name: &str| args.parts.iter().any(|p| p == name);
    if part("auditors") {
        eprintln!("scale: auditors {AUDITOR_COUNTS:?}");
        let (json, section) = auditors(oha, upstream, &work, &plan)?;
        results.auditors = Some(json);
        md += &section;
    }
    if part("sizes") {
        eprintln!("scale: message sizes {SIZES_KB:?} KB");
        let (json, section) = sizes(oha, upstream, &work, &plan)?;
        results.sizes = Some(json);
        md += &section;
    }
    if part("streaming") {
        eprintln!("scale: {} streaming clients", args.stream_clients);
        let (json, section) = streaming(&work, args)?;
        results.streaming = Some(json);
        md += &section;
    }
    if part("replicas") {
        eprintln!("scale: two replicas on one PostgreSQL");
        match replicas(oha, upstream, &work, &plan, &mut versions) {
            Ok((json, section)) => {
                results.replicas = Some(json);
                md += &section;
            }
            Err(e) => {
                let note = format!("replicas were not measured: {e:#}");
                eprintln!("xtask: WARNING: {note}");
                md += &format!("#### Two replicas on one PostgreSQL\n\nNot measured: {e:#}\n\n");
                results.notes.push(note);
            }
        }
    }
    let env = report::Environment::collect(network, versions);
    let head = format!(
        "### Scale\n\n`cargo xtask bench scale` — oha, closed loop, {} s per row, {} interleaved \
         rounds (medians); mock upstream: {}.\n\n{}\n",
        plan.seconds,
        plan.rounds,
        upstream.kind,
        env.markdown()
    );
    let json = serde_json::json!({
        "environment": env,
        "plan": plan,
        "upstream": upstream.kind,
        "results": results,
    });
    report::publish("scale", &json, &format!("{head}{md}"))
}

/// Let the streaming rows hold thousands of sockets (children inherit the limit).
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// (a) 0, 1, 3, 6, 12 auditors, every gateway running at once, rows interleaved.
fn auditors(
    oha: &Oha,
    upstream: &Upstream,
    work: &Path,
    plan: &Plan,
) -> anyhow::Result<(serde_json::Value, String)> {
    let mut targets = vec![Target::new("direct", "direct mock", &upstream.server)];
    for &n in AUDITOR_COUNTS {
        let gateway = Gateway {
            name: "lucid serve (auditor curve)",
            data_dir: work.join(format!("data-auditors-{n}")),
            plugins: auditor_dir(work, n)?,
            policy: Policy::Cedar(AUDITOR_POLICY),
            config: None,
            args: Vec::new(),
        };
        let server = Rc::new(gateway.start(&upstream.server.url)?);
        let label = format!("Lucid, {n} auditor{}", if n == 1 { "" } else { "s" });
        targets.push(Target::new(&format!("auditors-{n}"), &label, &server));
    }
    let body = Body::write(work, "chat", &compare::chat_body(compare::CHAT_USER, false))?;
    let samples = compare::run(oha, &targets, std::slice::from_ref(&body), plan)?;
    let rows = compare::summarize(&targets, &samples);
    let notes = compare::failure_notes(&targets, &samples);
    let rss = peak_rss(&targets);
    let find = |key: &str, c: u32| rows.iter().find(|r| r.target == key && r.concurrency == c);
    let mut table = Table::new(&[
        "auditors",
        "c=1 p50",
        "c=1 added p50",
        "c=16 p50",
        "c=16 p99",
        "c=16 req/s",
        "CPU / req (c=16)",
        "peak RSS",
        "failed",
    ]);
    let mut cpu = Vec::new();
    let mut added = Vec::new();
    for &n in AUDITOR_COUNTS {
        let key = format!("auditors-{n}");
        let (Some(one), Some(sixteen)) = (find(&key, 1), find(&key, 16)) else {
            continue;
        };
        let a = find("direct", 1).map_or(f64::NAN, |d| one.p50_ms - d.p50_ms);
        table.row(vec![
            n.to_string(),
            ms(one.p50_ms),
            ms(a),
            ms(sixteen.p50_ms),
            ms(sixteen.p99_ms),
            count(sixteen.rps),
            us(sixteen.cpu_us_per_req),
            mib(rss.get(&key).copied()),
            count((one.failed + sixteen.failed) as f64),
        ]);
        cpu.push((n as f64, sixteen.cpu_us_per_req.unwrap_or(f64::NAN)));
        added.push((n as f64, a));
    }
    println!("\nscale: auditors\n{}", table.console());
    print_notes(&notes);
    let results = report::results_dir();
    std::fs::create_dir_all(&results)?;
    plot::line_chart(
        &results.join("scale-auditors-cpu.svg"),
        "Lucid: server CPU per request vs auditors (c=16)",
        ("auditors (each observes its phases)", Scale::Linear),
        ("CPU per request (µs)", Scale::Linear),
        &[Series {
            name: "Lucid, permit unless an auditor failed".into(),
            points: cpu,
        }],
    )?;
    plot::line_chart(
        &results.join("scale-auditors-latency.svg"),
        "Lucid: added p50 over the direct mock vs auditors (c=1)",
        ("auditors", Scale::Linear),
        ("added p50 (ms)", Scale::Linear),
        &[Series {
            name: "Lucid".into(),
            points: added,
        }],
    )?;
    let mut md = format!(
        "#### Auditors\n\nThe shipped auditors (injection, pii, token_budget), then copies of them \
         built with other ids (`LUCID_AUDITOR_ID_SUFFIX=_2`, `_3`, `_4`: same code, distinct \
         ids and hashes), every one observing its phases of every exchange; the policy permits \
         unless an auditor failed (the balanced preset only validates with all three shipped \
         auditors' claims); signing and SQLite as in Lucid full.\n\n{}\n\
         ![CPU per request vs auditors](bench/results/scale-auditors-cpu.svg)\n\
         ![added p50 vs auditors](bench/results/scale-auditors-latency.svg)\n\n",
        table.markdown()
    );
    md += &notes_markdown(&notes);
    Ok((
        serde_json::json!({"rows": rows, "samples": samples, "peak_rss_bytes": rss, "notes": notes}),
        md,
    ))
}

/// A chat request whose user message is `kb` KB of ordinary prose.
fn sized_body(kb: usize) -> String {
    const PROSE: &str = "The quarterly review covers revenue, hiring and the roadmap for the next release; \
                         the team agreed to keep the scope small and to write the notes together. ";
    let text: String = PROSE.chars().cycle().take(kb * 1024).collect();
    compare::chat_body(&text, false)
}

/// (b) 1, 10 and 100 KB user messages: the direct mock, Lucid full and Lucid bare.
fn sizes(
    oha: &Oha,
    upstream: &Upstream,
    work: &Path,
    plan: &Plan,
) -> anyhow::Result<(serde_json::Value, String)> {
    let full = Rc::new(targets::lucid_full(work, "data-sizes-full").start(&upstream.server.url)?);
    let bare = Rc::new(targets::lucid_bare(work, "data-sizes-bare")?.start(&upstream.server.url)?);
    let targets = vec![
        Target::new("direct", "direct mock", &upstream.server),
        Target::new("lucid-full", "Lucid full", &full),
        Target::new("lucid-bare", "Lucid bare", &bare),
    ];
    let bodies = SIZES_KB
        .iter()
        .map(|kb| Body::write(work, &format!("{kb}KB"), &sized_body(*kb)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let samples = compare::run(oha, &targets, &bodies, plan)?;
    let rows = compare::summarize(&targets, &samples);
    let notes = compare::failure_notes(&targets, &samples);
    let find = |key: &str, body: &str, c: u32| {
        rows.iter()
            .find(|r| r.target == key && r.body == body && r.concurrency == c)
    };
    let mut table = Table::new(&[
        "message",
        "target",
        "c=1 p50",
        "c=1 added p50",
        "c=16 p99",
        "c=16 req/s",
        "CPU / req (c=16)",
        "failed",
    ])
    .text_columns(2);
    let mut cpu: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut added: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for (kb, body) in SIZES_KB.iter().zip(&bodies) {
        for target in &targets {
            let (Some(one), Some(sixteen)) = (
                find(&target.key, &body.key, 1),
                find(&target.key, &body.key, 16),
            ) else {
                continue;
            };
            let a = find("direct", &body.key, 1).map_or(f64::NAN, |d| one.p50_ms - d.p50_ms);
            table.row(vec![
                format!("{kb} KB"),
                target.label.clone(),
                ms(one.p50_ms),
                if target.key == "direct" {
                    "—".into()
                } else {
                    ms(a)
                },
                ms(sixteen.p99_ms),
                count(sixteen.rps),
                us(sixteen.cpu_us_per_req),
                count((one.failed + sixteen.failed) as f64),
            ]);
            let x = *kb as f64;
            cpu.entry(target.label.as_str())
                .or_default()
                .push((x, sixteen.cpu_us_per_req.unwrap_or(f64::NAN)));
            if target.key != "direct" {
                added.entry(target.label.as_str()).or_default().push((x, a));
            }
        }
    }
    println!("\nscale: message sizes\n{}", table.console());
    print_notes(&notes);
    let series = |m: BTreeMap<&str, Vec<(f64, f64)>>| {
        m.into_iter()
            .map(|(name, points)| Series {
                name: name.to_string(),
                points,
            })
            .collect::<Vec<_>>()
    };
    let results = report::results_dir();
    std::fs::create_dir_all(&results)?;
    plot::line_chart(
        &results.join("scale-sizes-cpu.svg"),
        "Server CPU per request vs user message size (c=16)",
        ("user message (KB, log scale)", Scale::Log),
        ("CPU per request (µs, log scale)", Scale::Log),
        &series(cpu),
    )?;
    plot::line_chart(
        &results.join("scale-sizes-latency.svg"),
        "Added p50 over the direct mock vs user message size (c=1)",
        ("user message (KB, log scale)", Scale::Log),
        ("added p50 (ms, log scale)", Scale::Log),
        &series(added),
    )?;
    let mut md = format!(
        "#### Message sizes\n\nThe user message is 1, 10 or 100 KB of prose (the gateway takes \
         up to 4 MiB by default); the mock's answer stays the same.\n\n{}\n\
         ![CPU per request vs message size](bench/results/scale-sizes-cpu.svg)\n\
         ![added p50 vs message size](bench/results/scale-sizes-latency.svg)\n\n",
        table.markdown()
    );
    md += &notes_markdown(&notes);
    Ok((
        serde_json::json!({"rows": rows, "samples": samples, "notes": notes}),
        md,
    ))
}

/// One streaming row's figures.
#[derive(Serialize)]
struct StreamRow {
    target: String,
    #[serde(flatten)]
    stats: StreamStats,
    cpu_us_per_stream: Option<f64>,
    rss_before_bytes: Option<u64>,
    peak_rss_bytes: Option<u64>,
}

/// (c) `stream_clients` clients each keeping a slow stream open, against the slow mock directly
/// and through Lucid full in its `buffer` (default) and `incremental` streaming modes.
fn streaming(work: &Path, args: &ScaleArgs) -> anyhow::Result<(serde_json::Value, String)> {
    let exe = std::env::current_exe().context("cannot locate the xtask binary")?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "bench",
        "sse-upstream",
        "--listen",
        "127.0.0.1:0",
        "--chunks",
    ])
    .arg(STREAM_CHUNKS.to_string())
    .arg("--interval-ms")
    .arg(STREAM_INTERVAL.as_millis().to_string());
    let sse = Rc::new(Server::start(
        "slow SSE upstream",
        cmd,
        Ready::Line("sse upstream listening on"),
        Duration::from_secs(15),
    )?);
    let mut gateways = Vec::new();
    for (key, label, mode) in [
        (
            "lucid-buffer",
            "Lucid full, stream mode buffer (default)",
            "buffer",
        ),
        (
            "lucid-incremental",
            "Lucid full, stream mode incremental",
            "incremental",
        ),
    ] {
        let gateway = Gateway {
            config: Some(format!("{STREAM_CONFIG}[streaming]\nmode = \"{mode}\"\n")),
            ..targets::lucid_full(work, &format!("data-stream-{mode}"))
        };
        let server = Rc::new(gateway.start(&sse.url)?);
        gateways.push(Target::new(key, label, &server));
    }
    let mut all = vec![Target::new("direct", "slow SSE mock directly", &sse)];
    all.extend(gateways);
    let body = compare::chat_body(compare::CHAT_USER, true);
    let stream_time = STREAM_INTERVAL * (STREAM_CHUNKS + 1);
    let seconds = (args.http.secs as f64).max(stream_time.as_secs_f64() * 2.0);
    let mut rows = Vec::new();
    for target in &all {
        target.server.check_alive()?;
        let rss_before = procstat::rss_bytes(target.pid()).ok();
        let cpu_before = procstat::cpu_seconds(target.pid())?;
        let stats = stream::run_clients(
            &target.url,
            &body,
            args.stream_clients,
            seconds,
            stream_time,
        )
        .with_context(|| format!("streaming to {}", target.label))?;
        let cpu = procstat::cpu_seconds(target.pid())? - cpu_before;
        target.server.check_alive()?;
        eprintln!(
            "  {:<44} {} streams ({} failed), first event p50 {} p99 {}, total p50 {} p99 {}",
            target.label,
            stats.completed,
            stats.failed,
            ms(stats.first_event_p50_ms),
            ms(stats.first_event_p99_ms),
            ms(stats.total_p50_ms),
            ms(stats.total_p99_ms)
        );
        rows.push(StreamRow {
            target: target.key.clone(),
            cpu_us_per_stream: (stats.completed > 0).then(|| cpu * 1e6 / stats.completed as f64),
            rss_before_bytes: rss_before,
            peak_rss_bytes: procstat::peak_rss_bytes(target.pid()).ok(),
            stats,
        });
    }
    let direct = rows.iter().find(|r| r.target == "direct").map(|r| &r.stats);
    let mut table = Table::new(&[
        "target",
        "streams",
        "failed",
        "first event p50",
        "first event p99",
        "added first event p50",
        "total p50",
        "total p99",
        "added total p50",
        "CPU / stream",
        "RSS idle → peak",
    ]);
    for (row, target) in rows.iter().zip(&all) {
        let s = &row.stats;
        let added = |f: fn(&StreamStats) -> f64| match direct {
            Some(d) if row.target != "direct" => ms(f(s) - f(d)),
            _ => "—".into(),
        };
        table.row(vec![
            target.label.clone(),
            count(s.completed as f64),
            count(s.failed as f64),
            ms(s.first_event_p50_ms),
            ms(s.first_event_p99_ms),
            added(|s| s.first_event_p50_ms),
            ms(s.total_p50_ms),
            ms(s.total_p99_ms),
            added(|s| s.total_p50_ms),
            // The mock's own CPU (a debug build of xtask) says nothing about Lucid.
            if row.target == "direct" {
                "—".into()
            } else {
                us(row.cpu_us_per_stream)
            },
            if row.target == "direct" {
                "—".into()
            } else {
                format!(
                    "{} → {}",
                    mib(row.rss_before_bytes),
                    mib(row.peak_rss_bytes)
                )
            },
        ]);
    }
    println!("\nscale: streaming\n{}", table.console());
    let failures: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.stats
                .failures
                .iter()
                .map(move |f| format!("{}: {f}", r.target))
        })
        .collect();
    let mut md = format!(
        "#### Streaming: {} concurrent slow clients\n\nEach client keeps one `\"stream\": true` \
         request open at a time on its own connection, for {seconds:.0} s (starts spread over \
         one answer); the mock (xtask's own, `bench sse-upstream`) streams {STREAM_CHUNKS} \
         chunks, one every {} ms. \"First event\" is the time to the first body bytes. Lucid \
         runs with `gateway.max_in_flight = 4096` (default 64: the other clients would wait, \
         then get 503). In `buffer` mode nothing is released before the whole answer is \
         audited; `incremental` releases audited windows of 200 characters.\n\n{}\n",
        args.stream_clients,
        STREAM_INTERVAL.as_millis(),
        table.markdown()
    );
    for f in &failures {
        md += &format!("- failure seen: {f}\n");
    }
    if !failures.is_empty() {
        md += "\n";
    }
    Ok((serde_json::json!({"rows": rows}), md))
}

/// One row of the replica comparison.
#[derive(Serialize)]
struct ReplicaSample {
    setup: String,
    round: u32,
    loads: Vec<Load>,
    gateway_cpu_seconds: f64,
    store_cpu_seconds: Option<f64>,
}

/// (d) Lucid full on SQLite, one Lucid full on PostgreSQL, and two (replicas `a` and `b`)
/// sharing that PostgreSQL with half the clients each; c=16 in all.
fn replicas(
    oha: &Oha,
    upstream: &Upstream,
    work: &Path,
    plan: &Plan,
    versions: &mut BTreeMap<String, String>,
) -> anyhow::Result<(serde_json::Value, String)> {
    let pg = Postgres::start()?;
    if let Some(v) = pg.version() {
        versions.insert("postgresql".into(), v);
    }
    let on_pg = |name: &str, replica: &str| -> anyhow::Result<Rc<Server>> {
        let gateway = Gateway {
            args: vec![
                "--store".into(),
                pg.url(),
                "--replica".into(),
                replica.into(),
            ],
            ..targets::lucid_full(work, name)
        };
        Ok(Rc::new(gateway.start(&upstream.server.url)?))
    };
    let sqlite =
        Rc::new(targets::lucid_full(work, "data-replica-sqlite").start(&upstream.server.url)?);
    let solo = on_pg("data-replica-solo", "solo")?;
    let a = on_pg("data-replica-a", "a")?;
    let b = on_pg("data-replica-b", "b")?;
    let setups: Vec<(&str, &str, Vec<Target>)> = vec![
        (
            "sqlite",
            "one gateway, SQLite",
            vec![Target::new("sqlite", "Lucid full, SQLite", &sqlite)],
        ),
        (
            "pg-one",
            "one gateway, PostgreSQL",
            vec![Target::new("pg-solo", "Lucid full, PostgreSQL", &solo)],
        ),
        (
            "pg-two",
            "two replicas (a, b), one PostgreSQL",
            vec![
                Target::new("pg-a", "replica a", &a),
                Target::new("pg-b", "replica b", &b),
            ],
        ),
    ];
    let body = Body::write(work, "chat", &compare::chat_body(compare::CHAT_USER, false))?;
    for (_, _, targets) in &setups {
        for t in targets {
            compare::probe(t)?;
            compare::measure(oha, t, &body, 4, 1.0)?;
        }
    }
    const TOTAL_CLIENTS: u32 = 16;
    let store_pid = pg.pid();
    let mut samples = Vec::new();
    for round in 1..=plan.rounds {
        for (setup, label, targets) in &setups {
            let uses_pg = setup.starts_with("pg");
            let each = TOTAL_CLIENTS / targets.len() as u32;
            let requests: Vec<Request> = targets
                .iter()
                .map(|t| Request {
                    url: &t.url,
                    headers: &t.headers,
                    body: &body.path,
                })
                .collect();
            let pids: Vec<u32> = targets.iter().map(Target::pid).collect();
            let cpu = |pids: &[u32]| -> anyhow::Result<f64> {
                pids.iter().map(|p| procstat::cpu_seconds(*p)).sum()
            };
            let gw_before = cpu(&pids)?;
            let pg_before = if uses_pg {
                Some(procstat::cpu_seconds(store_pid)?)
            } else {
                None
            };
            let loads = std::thread::scope(|s| {
                let handles: Vec<_> = requests
                    .iter()
                    .map(|r| s.spawn(move || oha.run(r, each, plan.seconds)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .map_err(|_| anyhow::anyhow!("a load thread panicked"))?
                    })
                    .collect::<anyhow::Result<Vec<Load>>>()
            })
            .with_context(|| format!("loading {label}"))?;
            let gateway_cpu = cpu(&pids)? - gw_before;
            let store_cpu = match pg_before {
                Some(before) => Some(procstat::cpu_seconds(store_pid)? - before),
                None => None,
            };
            for t in targets {
                t.server.check_alive()?;
            }
            let answered: u64 = loads.iter().map(|l| l.answered).sum();
            eprintln!(
                "  round {round}/{} {label:<40} {:>8.0} req/s  gateway CPU {:>6.0} µs/req{}",
                plan.rounds,
                loads.iter().map(|l| l.rps).sum::<f64>(),
                gateway_cpu * 1e6 / answered.max(1) as f64,
                store_cpu.map_or(String::new(), |c| format!(
                    "  PostgreSQL CPU {:.0} µs/req",
                    c * 1e6 / answered.max(1) as f64
                ))
            );
            samples.push(ReplicaSample {
                setup: (*setup).to_string(),
                round,
                loads,
                gateway_cpu_seconds: gateway_cpu,
                store_cpu_seconds: store_cpu,
            });
        }
    }
    let mut table = Table::new(&[
        "setup",
        "clients",
        "req/s (sum)",
        "p50",
        "p99",
        "gateway CPU / req",
        "PostgreSQL CPU / req",
        "failed",
    ]);
    let mut summary = Vec::new();
    for (setup, label, targets) in &setups {
        let of: Vec<&ReplicaSample> = samples.iter().filter(|s| s.setup == *setup).collect();
        let rps: Vec<f64> = of
            .iter()
            .map(|s| s.loads.iter().map(|l| l.rps).sum())
            .collect();
        // Over both replicas: the slower one's percentile.
        let worst = |f: fn(&Load) -> f64| {
            compare::median(
                &of.iter()
                    .map(|s| s.loads.iter().map(f).fold(f64::NAN, f64::max))
                    .collect::<Vec<_>>(),
            )
        };
        let answered: u64 = of.iter().flat_map(|s| &s.loads).map(|l| l.answered).sum();
        let failed: u64 = of.iter().flat_map(|s| &s.loads).map(|l| l.failed).sum();
        let per_req = |secs: f64| (answered > 0).then(|| secs * 1e6 / answered as f64);
        let gateway_cpu = per_req(of.iter().map(|s| s.gateway_cpu_seconds).sum());
        let store_cpu = of
            .iter()
            .map(|s| s.store_cpu_seconds)
            .sum::<Option<f64>>()
            .and_then(per_req);
        let clients = if targets.len() > 1 {
            format!(
                "{} × {}",
                targets.len(),
                TOTAL_CLIENTS / targets.len() as u32
            )
        } else {
            TOTAL_CLIENTS.to_string()
        };
        let median_rps = compare::median(&rps);
        table.row(vec![
            label.to_string(),
            clients,
            count(median_rps),
            ms(worst(|l| l.p50_ms)),
            ms(worst(|l| l.p99_ms)),
            us(gateway_cpu),
            us(store_cpu),
            count(failed as f64),
        ]);
        summary.push(serde_json::json!({
            "setup": setup, "label": label, "rps": median_rps,
            "gateway_cpu_us_per_req": gateway_cpu, "store_cpu_us_per_req": store_cpu,
            "failed": failed,
        }));
    }
    println!("\nscale: replicas\n{}", table.console());
    let md = format!(
        "#### Two replicas on one PostgreSQL\n\nLucid full on SQLite, on a local PostgreSQL \
         (fsync on), and as two replicas (`--replica a`, `--replica b`, each its own chain) \
         sharing that PostgreSQL, 16 clients in all (8 per replica). p50/p99 of the pair are the \
         slower replica's. All processes share this machine's cores.\n\n{}\n",
        table.markdown()
    );
    Ok((
        serde_json::json!({"summary": summary, "samples": samples}),
        md,
    ))
}

fn print_notes(notes: &[String]) {
    for note in notes {
        println!("note: {note}");
    }
}

fn notes_markdown(notes: &[String]) -> String {
    let mut md: String = notes.iter().map(|n| format!("- note: {n}\n")).collect();
    if !md.is_empty() {
        md += "\n";
    }
    md
}

/// Peak RSS of each target at the end of a run.
fn peak_rss(targets: &[Target]) -> BTreeMap<String, u64> {
    targets
        .iter()
        .filter_map(|t| {
            procstat::peak_rss_bytes(t.pid())
                .ok()
                .map(|b| (t.key.clone(), b))
        })
        .collect()
}
