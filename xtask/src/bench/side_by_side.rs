//! `gateway` and `peers`: every target side by side under the same load, in one interleaved
//! run over the union of their targets (`all` runs both at once), each report showing its own.

use std::collections::BTreeMap;
use std::rc::Rc;

use anyhow::Context;

use super::compare::{self, Body, Plan, Row};
use super::load::Oha;
use super::targets::{self, Target, Upstream};
use super::{ScaleArgs, Suite, peers, procstat, report, work_dir};

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
pub fn run(
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
        "### {title}\n\n`{command}` — oha, closed loop, {} s per row, {} interleaved rounds \
         (figures are the rounds' medians), the same chat request to every target; mock \
         upstream: {}.\n\n{}\n",
        plan.seconds,
        plan.rounds,
        upstream.kind,
        env.markdown()
    );
    for c in &plan.concurrency {
        md += &format!(
            "#### c={c}\n\n{}\n",
            report::comparison(rows, *c, rss).markdown()
        );
    }
    md += about;
    md += "Lucid full: every shipped auditor in `plugins/` (eleven since issue 18; earlier \
           runs had three: injection, pii, token_budget), the balanced preset, a signed receipt per exchange, SQLite \
           (WAL, synchronous=FULL). Lucid bare: no auditor, a permit-all policy, the same \
           receipt and store. Server CPU per request is the target process's user+system time \
           (with its children) over a row divided by the requests it answered (denials included); \
           req/s counts HTTP 200 answers only; peak RSS is \
           its VmHWM at the end of the run.\n\n";
    if !goals.is_empty() {
        md += &format!(
            "#### Issue 17's goals\n\n{}\n",
            report::goals_table(goals).markdown()
        );
    }
    for note in notes {
        md += &format!("- note: {note}\n");
    }
    if !notes.is_empty() {
        md += "\n";
    }
    md
}
