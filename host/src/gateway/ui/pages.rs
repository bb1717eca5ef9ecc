//! The Observer's pages as HTML (maud escapes every value). Element ids and `data-*`
//! attributes are a contract the browser tests and `ui.js` rely on: keep them.

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::ChainWindow;
use super::plot;
use super::view::{Filters, MetricsView, Summary};
use crate::policy::{PhaseDecision, PolicyState};
use crate::runtime::{AttributedClaim, RuntimeView};

/// The gateway's state, in every page's header.
pub struct Status {
    pub plugin_set_hash: String,
    pub auditors: usize,
    pub policy_hash: String,
    pub policy_problem: Option<String>,
    pub chain_depth: u64,
    pub attestation: Option<String>,
    pub admin: bool,
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// A JSON list as `a, b, c`.
fn list(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| text(v))
}

fn decision_badge(decision: &str) -> Markup {
    let class = match decision {
        "allow" => "badge allow",
        "deny" => "badge deny",
        _ => "badge",
    };
    html! { span class=(class) { (decision) } }
}

fn validity(id: &str, valid: bool, yes: &str, no: &str) -> Markup {
    html! {
        span id=(id) class={ "badge " (if valid { "allow" } else { "deny" }) } data-valid=(valid) {
            (if valid { yes } else { no })
        }
    }
}

/// The `<head>` of every page; `script`: with the page script.
fn page_head(title: &str, script: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Lucid Observer" }
            link rel="stylesheet" href="/ui/assets/ui.css";
            @if script { script src="/ui/assets/ui.js" defer {} }
        }
    }
}

fn layout(title: &str, page: &str, status: &Status, body: Markup) -> Markup {
    let nav = [
        ("feed", "/ui", "Feed"),
        ("chain", "/ui/chain", "Chain"),
        ("auditors", "/ui/auditors", "Auditors"),
        ("policy", "/ui/policy", "Policy"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            (page_head(title, true))
            body data-page=(page) {
                header.top {
                    a.brand href="/ui" { "Lucid " span { "Observer" } }
                    nav aria-label="Pages" {
                        @for (id, href, label) in nav {
                            @if id == page {
                                a href=(href) aria-current="page" { (label) }
                            } @else {
                                a href=(href) { (label) }
                            }
                        }
                    }
                    div.state {
                        span title=(status.plugin_set_hash) { (status.auditors) " auditors · set " code { (short(&status.plugin_set_hash)) } }
                        @if let Some(problem) = &status.policy_problem {
                            span.badge.deny title=(problem) { "policy refused" }
                        } @else {
                            span title=(status.policy_hash) { "policy " code { (short(&status.policy_hash)) } }
                        }
                        span #depth { "depth " (status.chain_depth) }
                        @match &status.attestation {
                            Some(mode) if mode == "mock" => span.badge.warn title="mock attestation: proves nothing about the hardware" { "mock attestation" },
                            Some(mode) => span.badge.allow { (mode) },
                            None => span.badge { "no attestation" },
                        }
                        @if status.admin {
                            form.logout method="post" action="/ui/logout" { button type="submit" { "Log out" } }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page that only says something (errors, refusals).
pub fn message(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (page_head(title, false))
            body data-page="message" {
                header.top { a.brand href="/ui" { "Lucid " span { "Observer" } } }
                main {
                    h1 { (title) }
                    p #message { (message) }
                    p { a href="/ui" { "Back to the feed" } }
                }
            }
        }
    }
}

pub fn login(next: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (page_head("Log in", false))
            body data-page="login" {
                header.top { a.brand href="/ui" { "Lucid " span { "Observer" } } }
                main.narrow {
                    h1 { "Log in" }
                    p { "The Observer shows this gateway's evidence. It needs the gateway's admin token." }
                    @if let Some(error) = error {
                        p #login-error.error role="alert" { (error) }
                    }
                    form #login method="post" action="/ui/login" {
                        input type="hidden" name="next" value=(next);
                        label for="token" { "Admin token" }
                        input #token name="token" type="password" autocomplete="current-password" required autofocus;
                        button #login-submit type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

pub struct FeedPage<'a> {
    pub rows: &'a [Summary],
    pub filters: &'a Filters,
    pub window: &'a ChainWindow,
    pub points: &'a [(u64, bool)],
    pub status: Status,
}

/// One feed row; `ui.js` builds the same shape for live rows.
fn feed_row(s: &Summary) -> Markup {
    let time = s.timestamp.get(11..19).unwrap_or(&s.timestamp);
    html! {
        tr.exchange data-ar-hash=(s.ar_hash) data-decision=(s.decision) data-scope=(s.scope) {
            td.time title=(s.timestamp) { (time) }
            td { (s.scope) }
            td { (s.model.as_deref().unwrap_or("—")) }
            td { (decision_badge(&s.decision)) }
            td.reasons {
                @if let Some(event) = &s.event { em { (event) } }
                @else if s.reasons.is_empty() { "—" }
                @else { (s.reasons.join(", ")) }
            }
            td.num { @if let Some(ms) = s.latency_ms { (format!("{ms:.2} ms")) } @else { "—" } }
            td { (s.stream_mode.as_deref().unwrap_or("—")) }
            td.num { (s.redactions) }
            td { a.passport-link href={ "/ui/exchange/" (s.ar_hash) } { code { (short(&s.ar_hash)) } } }
        }
    }
}

fn chain_status(window: &ChainWindow) -> Markup {
    let valid = window.broken.is_none() && window.report.valid;
    html! {
        (validity("chain-status", valid, "valid", "invalid"))
    }
}

pub fn feed(p: &FeedPage) -> Markup {
    let f = p.filters;
    let allowed = p.points.iter().filter(|x| !x.1).count();
    let denied = p.points.len() - allowed;
    let body = html! {
        section.cards {
            div.card { h2 { "Chain" } p { (chain_status(p.window)) } small #chain-checked { "last " (p.window.ars.len()) " receipts checked" } }
            div.card { h2 { "Allowed" } p.big #count-allow { (allowed) } small { "in the window" } }
            div.card { h2 { "Denied" } p.big #count-deny { (denied) } small { "in the window" } }
            div.card { h2 { "Live" } p #live-state { "off (reload to refresh)" } small { "new exchanges appear here as they are receipted" } }
        }
        section {
            h2 { "Decisions over time" }
            (plot::decisions(p.points))
        }
        section {
            h2 { "Exchanges" }
            form #filters method="get" action="/ui" {
                label { "Decision "
                    select name="decision" {
                        option value="" selected[f.decision.is_empty()] { "any" }
                        option value="allow" selected[f.decision == "allow"] { "allow" }
                        option value="deny" selected[f.decision == "deny"] { "deny" }
                    }
                }
                label { "Scope " input name="scope" value=(f.scope) placeholder="org/workspace/agent" size="18"; }
                label { "Auditor " input name="auditor" value=(f.auditor) placeholder="pii" size="12"; }
                label { "Claim " input name="claim" value=(f.claim) placeholder="pii_detected" size="14"; }
                button type="submit" { "Filter" }
                @if !f.is_empty() { a href="/ui" { "clear" } }
            }
            table #feed {
                thead { tr {
                    th { "Time (UTC)" } th { "Scope" } th { "Model" } th { "Decision" } th { "Reasons" }
                    th { "Lucid latency" } th { "Stream" } th { "Masked" } th { "Receipt" }
                } }
                tbody #feed-rows {
                    @for s in p.rows { (feed_row(s)) }
                }
            }
            @if p.rows.is_empty() {
                p.empty #feed-empty { "No exchanges yet. Send one to " code { "/v1/chat/completions" } "; it appears here." }
            }
        }
    };
    layout("Feed", "feed", &p.status, body)
}

pub struct PassportPage<'a> {
    pub facts: &'a Value,
    pub ar: &'a Value,
    pub summary: &'a Summary,
    /// The chain was checked over a window, not from its genesis.
    pub partial: bool,
    pub status: Status,
}

fn row(label: &str, value: Markup) -> Markup {
    html! { tr { th scope="row" { (label) } td { (value) } } }
}

fn hash_cell(v: &Value) -> Markup {
    html! { code.hash { (text(v)) } }
}

pub fn passport(p: &PassportPage) -> Markup {
    let f = p.facts;
    let decision = text(&f["exchange"]["decision"]);
    let verified = f["verified"] == true;
    let signature_ok = f["signature"]["valid"] == true;
    let chain_ok = f["chain"]["valid"] == true;
    let previous = f["chain"]["previous_ar_hash"].as_str();
    let att = &f["attestation"];
    let body = html! {
        section #passport data-ar-hash=(text(&f["ar_hash"])) {
            h1 { "Passport " code.hash { (short(&text(&f["ar_hash"]))) } }
            div.verdict {
                span #decision class={ "badge big " (decision) } data-decision=(decision) { (decision) }
                (validity("verified", verified, "verified", "NOT VERIFIED"))
                @if let Some(event) = f["exchange"]["event"].as_str() { span.badge { (event) } }
            }
            @if let Some(problems) = f["problems"].as_array().filter(|a| !a.is_empty()) {
                ul #problems.error { @for x in problems { li { (text(x)) } } }
            }
            @if let Some(warnings) = f["warnings"].as_array().filter(|a| !a.is_empty()) {
                ul #warnings.warn { @for x in warnings { li { (text(x)) } } }
            }
            h2 { "Why" }
            @if p.summary.reasons.is_empty() {
                p #no-reasons { @if decision == "deny" { "Denied without a named reason." } @else { "Every phase allowed." } }
            }
            ul #reasons { @for r in &p.summary.reasons { li { code { (r) } } } }

            h2 { "Phases" }
            table #phases {
                thead { tr { th { "Phase" } th { "Decision" } th { "Determining policies" } th { "Errors" } th { "Masked by" } } }
                tbody {
                    @for ph in f["phases"].as_array().into_iter().flatten() {
                        tr data-phase=(text(&ph["phase"])) {
                            td { (text(&ph["phase"])) }
                            td { (decision_badge(&text(&ph["decision"]))) }
                            td { @for r in ph["reasons"].as_array().into_iter().flatten() { code { (text(r)) } " " } }
                            td { @for r in ph["errors"].as_array().into_iter().flatten() { span.error { (text(r)) } br; } }
                            td { @for r in ph["redact"].as_array().into_iter().flatten() { code { (text(r)) } " " } }
                        }
                    }
                }
            }

            h2 { "Claims" }
            table #claims {
                thead { tr { th { "Phase" } th { "Auditor" } th { "Claim" } th { "Type" } th { "Value" } th { "Confidence" } } }
                tbody {
                    @for ph in f["phases"].as_array().into_iter().flatten() {
                        @for c in ph["claims"].as_array().into_iter().flatten() {
                            tr.claim data-phase=(text(&ph["phase"])) data-auditor=(text(&c["auditor"])) data-name=(text(&c["name"])) {
                                td { (text(&ph["phase"])) }
                                td { (text(&c["auditor"])) }
                                td { code { (text(&c["name"])) } }
                                td { (text(&c["type"])) }
                                td.value { (text(&c["value"])) @if c["truncated"] == true { " " small { "(shortened)" } } }
                                td.num { (text(&c["confidence"])) }
                            }
                        }
                    }
                }
            }

            h2 { "Redactions" }
            @let redactions = f["redactions"].as_array().cloned().unwrap_or_default();
            @if redactions.is_empty() {
                p #redactions.empty { "Nothing was masked." }
            } @else {
                table #redactions {
                    thead { tr { th { "Phase" } th { "Where" } th { "Bytes" } th { "What" } th { "Found by" } th { "Masked under" } th { "Written as" } } }
                    tbody {
                        @for r in &redactions {
                            @for sp in r["spans"].as_array().into_iter().flatten() {
                                tr.redaction data-phase=(text(&r["phase"])) {
                                    td { (text(&r["phase"])) }
                                    td { code { (text(&sp["field"])) } }
                                    td.num { (text(&sp["start"])) "–" (text(&sp["end"])) }
                                    td { (list(&sp["kinds"])) }
                                    td { (list(&sp["auditors"])) " " small { (list(&sp["claims"])) } }
                                    td { code { (list(&sp["policies"])) } }
                                    td { (text(&sp["style"])) }
                                }
                            }
                        }
                    }
                }
                p.meta { "The receipt commits to the text after masking (and, for a request, before), never stores what was masked." }
            }

            h2 { "Receipt" }
            table.facts {
                (row("ar_hash", hash_cell(&f["ar_hash"])))
                (row("Request", html! { code { (text(&f["exchange"]["request_id"])) } }))
                (row("Time", html! { (text(&f["exchange"]["timestamp"])) }))
                (row("Scope", html! { (p.summary.scope) }))
                (row("Model", html! { (p.summary.model.as_deref().unwrap_or("—")) }))
                (row("Stream mode", html! { (p.summary.stream_mode.as_deref().unwrap_or("—")) }))
                (row("Lucid latency", html! { @if let Some(ms) = p.summary.latency_ms { (format!("{ms:.2} ms")) } @else { "—" } }))
                (row("Signature", html! {
                    (validity("signature", signature_ok, "valid", "invalid"))
                    @if let Some(e) = f["signature"]["error"].as_str() { " " span.error { (e) } }
                    br; "key " code.hash { (text(&f["signature"]["public_key"])) }
                }))
                (row("Chain", html! {
                    (validity("chain-validity", chain_ok, "valid", "invalid"))
                    " depth " (text(&f["chain"]["chain_depth"]))
                    @if p.partial { " · checked over the last " (text(&f["chain"]["length"])) " receipts" }
                    @else { " · checked from the genesis (" (text(&f["chain"]["length"])) " receipts)" }
                    @for e in f["chain"]["errors"].as_array().into_iter().flatten() {
                        br; span.error { (text(&e["reason"])) }
                    }
                }))
                (row("Previous", html! {
                    @if let Some(prev) = previous { a href={ "/ui/exchange/" (prev) } { code.hash { (prev) } } } @else { "none (genesis)" }
                }))
                (row("Splices", html! { (f["chain"]["splices"].as_array().map_or(0, Vec::len)) " key change(s) up to here" }))
                (row("Content", html! {
                    @if f["content"]["present"] == true { "salted commitments to the request and response bytes" }
                    @else { "not bound (older receipt)" }
                }))
            }

            h2 { "Attestation" }
            table.facts {
                (row("Mode", html! { (text(&att["mode"])) " · " (text(&att["tee"])) }))
                (row("binding_hash", hash_cell(&att["binding_hash"])))
                (row("Binding recomputes", html! { (text(&att["binding_recomputes"])) }))
                (row("Report", html! { (text(&att["report_status"])) }))
                (row("Report matches binding", html! { (text(&att["report_binding_matches"])) }))
                (row("Report verifies", html! { (text(&att["ok"])) }))
                (row("AMD root verified", html! { (text(&att["amd_root_verified"])) }))
            }

            h2 { "What judged it" }
            table.facts {
                (row("Plugin set", hash_cell(&f["measurements"]["plugin_set_hash"])))
                (row("Policy", hash_cell(&f["measurements"]["policy_hash"])))
                (row("Config", hash_cell(&f["measurements"]["config_hash"])))
                (row("Settings", hash_cell(&f["measurements"]["settings_hash"])))
                (row("Host binary", hash_cell(&f["measurements"]["host_sha256"])))
                (row("Auditors", html! {
                    @for a in f["measurements"]["auditors"].as_array().into_iter().flatten() {
                        code { (text(&a["id"])) } " " code.hash { (short(&text(&a["sha256"]))) } br;
                    }
                }))
            }
            details {
                summary { "The AR as stored" }
                pre.json { (serde_json::to_string_pretty(p.ar).unwrap_or_default()) }
            }
        }
    };
    layout("Passport", "passport", &p.status, body)
}

pub struct ChainPage<'a> {
    pub window: &'a ChainWindow,
    /// The whole chain, verified on request, and how long that took.
    pub full: Option<(&'a ChainWindow, std::time::Duration)>,
    /// Signing keys of the window (`attestation::keys_of`).
    pub keys: &'a [Value],
    pub status: Status,
}

pub fn chain(p: &ChainPage) -> Markup {
    let w = p.window;
    let splices: Vec<&str> = w
        .report
        .splices
        .iter()
        .map(|s| s.ar_hash.as_str())
        .collect();
    let forks: Vec<&str> = p
        .full
        .map(|(f, _)| {
            f.report
                .forks
                .iter()
                .flat_map(|f| f.ar_hashes.iter().map(String::as_str))
                .collect()
        })
        .unwrap_or_default();
    let valid = w.broken.is_none()
        && w.report.valid
        && p.full
            .is_none_or(|(f, _)| f.broken.is_none() && f.report.valid);
    let errors: Vec<String> = w
        .broken
        .iter()
        .cloned()
        .chain(
            w.report
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.ar_hash.as_deref().map_or("-", short), e.reason)),
        )
        .collect();
    let oldest = w.ars.first().and_then(|a| a["ar_hash"].as_str());
    // Keys none of whose bindings has a kept report (a key change nothing attests).
    let unattested: Vec<&Value> = p
        .keys
        .iter()
        .filter(|k| {
            k["bindings"]
                .as_array()
                .is_none_or(|b| b.iter().all(|b| b["report"]["status"] != "attested"))
        })
        .collect();
    let body = html! {
        h1 { "Chain" }
        div.verdict {
            (validity("chain-status", valid, "valid", "invalid"))
            " "
            @if w.ars.is_empty() && w.broken.is_none() { "No receipts yet." }
            @else {
                (w.ars.len()) " receipts shown"
                @if w.partial { ", from depth " (text(&w.ars[0]["chain_depth"])) " (the window starts after the genesis)" }
                @else { ", from the genesis" }
            }
        }
        @if !errors.is_empty() {
            ul #chain-errors.error { @for e in &errors { li { (e) } } }
        }
        @if !unattested.is_empty() {
            ul #chain-warnings.warn {
                @for k in &unattested {
                    li { "Receipts from depth " (text(&k["first_depth"])) " are signed by key " code { (short(&text(&k["public_key"]))) }
                        " with no kept attestation report: nothing shows that key was born in a measured signer." }
                }
            }
        }
        form #verify-form method="get" action="/ui/chain" {
            button #verify type="submit" name="verify" value="all" { "Verify the whole chain" }
            " signatures, hashes, links, key changes and forks, from the genesis, in the gateway"
        }
        @if let Some((full, took)) = p.full {
            @let ok = full.broken.is_none() && full.report.valid;
            p #verify-result data-valid=(ok) class={ "badge-line " (if ok { "allow" } else { "deny" }) } {
                @if ok { "The whole chain verifies: " } @else { "The chain does NOT verify: " }
                (full.report.length) " receipts, " (full.report.splices.len()) " key change(s), "
                (full.report.forks.len()) " fork(s), " (full.report.errors.len()) " error(s) · " (format!("{:.0} ms", took.as_secs_f64() * 1e3))
            }
            @if let Some(why) = &full.broken { p.error { (why) } }
            @if !full.report.errors.is_empty() {
                ul #verify-errors.error {
                    @for e in full.report.errors.iter().take(50) {
                        li { code { (e.ar_hash.as_deref().map_or("-", short)) } " " (e.reason) }
                    }
                }
            }
        }
        @if !p.keys.is_empty() {
            h2 { "Signing keys" }
            table #keys {
                thead { tr { th { "Key" } th { "Depths" } th { "Receipts" } th { "Attestation per binding" } } }
                tbody {
                    @for k in p.keys {
                        tr {
                            td { code.hash title=(text(&k["public_key"])) { (short(&text(&k["public_key"]))) } }
                            td { (text(&k["first_depth"])) "–" (text(&k["last_depth"])) }
                            td.num { (text(&k["ars"])) }
                            td {
                                @for b in k["bindings"].as_array().into_iter().flatten() {
                                    code.hash { (short(&text(&b["binding_hash"]))) } " " (text(&b["report"]["status"]))
                                    @if let Some(m) = b["report"]["mode"].as_str() { " (" (m) ")" }
                                    br;
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Timeline" }
        p.legend { span.dot.allow {} " allow " span.dot.deny {} " deny " span.dot.splice {} " key change (restart, new signer) " span.dot.fork {} " fork " span.dot.bad {} " does not verify" }
        ol #timeline reversed {
            @for ar in w.ars.iter().rev() {
                @let hash = ar["ar_hash"].as_str().unwrap_or_default();
                @let decision = text(&ar["decision"]);
                @let splice = splices.contains(&hash);
                @let fork = forks.contains(&hash);
                @let bad = w.report.errors.iter().any(|e| e.ar_hash.as_deref() == Some(hash));
                li class={ "ar " (decision) (if splice { " splice" } else { "" }) (if fork { " fork" } else { "" }) (if bad { " bad" } else { "" }) }
                    data-ar-hash=(hash) data-depth=(text(&ar["chain_depth"])) {
                    span.depth { (text(&ar["chain_depth"])) }
                    span.time { (text(&ar["timestamp"])) }
                    (decision_badge(&decision))
                    @if let Some(e) = ar["event"].as_str() { em { (e) } }
                    @if splice { span.badge.warn { "new key" } }
                    @if fork { span.badge.deny { "fork" } }
                    @if bad { span.badge.deny { "does not verify" } }
                    a href={ "/ui/exchange/" (hash) } { code.hash { (short(hash)) } }
                }
            }
        }
        @if w.partial && let Some(oldest) = oldest {
            p { a href={ "/ui/chain?end=" (text(&w.ars[0]["ar_references"][0])) } { "Older receipts" } " (before " code { (short(oldest)) } ")" }
        }
    };
    layout("Chain", "chain", &p.status, body)
}

pub struct AuditorsPage<'a> {
    pub view: &'a RuntimeView,
    pub metrics: &'a MetricsView,
    pub enforcements: &'a [(Option<String>, lucid_policy::overrides::Enforcements)],
    pub status: Status,
}

pub fn auditors(p: &AuditorsPage) -> Markup {
    let set = &p.view.set;
    let signed_required = !set.plugins.is_empty()
        && set
            .entries
            .iter()
            .filter(|e| e.reason.is_none() && e.id.is_some())
            .all(|e| e.signer.is_some());
    let body = html! {
        h1 { "Auditors" }
        p { "Plugin set " code.hash { (set.hash) } " · "
            @if signed_required { "signatures required: every loaded auditor is signed by a trusted key" }
            @else { "signatures not required: unsigned auditors are admitted" } }
        table #plugins {
            thead { tr { th { "File" } th { "Status" } th { "Auditor" } th { "Version" } th { "SHA-256" } th { "Size" } th { "Signer" } th { "Calls" } th { "p50 / p99" } th { "Errors" } } }
            tbody {
                @for e in &set.entries {
                    @let id = e.id.clone().unwrap_or_default();
                    @let lat = p.metrics.auditors.get(&id);
                    @let errors = p.metrics.errors.get(&id);
                    @let loaded = matches!(e.status, crate::runtime::plugin_dir::EntryStatus::Loaded);
                    tr class={ "plugin " (if loaded { "loaded" } else { "refused" }) } data-auditor=(id) {
                        td { code { (e.file) } }
                        td { @if loaded { span.badge.allow { "loaded" } } @else { span.badge.deny { "refused" } }
                             @if let Some(r) = &e.reason { br; small.reason { (r) } } }
                        td { (id) }
                        td { (e.version.as_deref().unwrap_or("—")) }
                        td { @if let Some(h) = &e.sha256 { code.hash title=(h) { (short(h)) } } @else { "—" } }
                        td.num { @if let Some(s) = e.size { (format!("{:.1} KiB", s as f64 / 1024.0)) } }
                        td { (e.signer.as_deref().unwrap_or(if loaded { "unsigned" } else { "—" })) }
                        td.num { (lat.map_or(0, |l| l.count)) }
                        td.num { @if let Some(l) = lat { (plot::duration(l.p50)) " / " (plot::duration(l.p99)) } @else { "—" } }
                        td.num {
                            @if let Some(errors) = errors {
                                @for (kind, n) in errors { span.error { (kind) " " (n) } " " }
                            } @else { "0" }
                        }
                    }
                }
            }
        }
        h2 { "Latency per phase" }
        (plot::latencies("phases", &p.metrics.phases))
        h2 { "Latency per auditor" }
        (plot::latencies("auditor calls", &p.metrics.auditors))
        h2 { "Vocabularies and settings" }
        @for plugin in &set.plugins {
            @let v = &plugin.auditor.vocabulary;
            @let run = p.view.run_configs.get(&v.id);
            section.auditor id={ "auditor-" (v.id) } {
                h3 { (v.id) " " small { (v.version) } }
                p { (v.description) }
                p.meta { "phases: " @for ph in &v.phases { code { (ph.as_str()) } " " }
                    @match run {
                        Some(Ok(r)) => { " · " (if r.enabled { "enabled" } else { "disabled" }) (if r.fail_open { " · fail open" } else { " · fail closed" }) }
                        Some(Err(e)) => { " · " span.error { "misconfigured: " (e) } }
                        None => {}
                    }
                }
                table.vocabulary {
                    thead { tr { th { "Claim" } th { "Type" } th { "Phases" } th { "Meaning" } } }
                    tbody { @for c in &v.claims {
                        tr { td { code { (c.name) } } td { (c.ty.as_str()) } td { @for ph in &c.phases { (ph.as_str()) " " } } td { (c.description) } }
                    } }
                }
                @if !v.settings.is_empty() {
                    table.settings {
                        thead { tr { th { "Setting" } th { "Type" } th { "Default" } th { "Configured" } th { "Enforcement" } th { "Meaning" } } }
                        tbody { @for s in &v.settings {
                            tr {
                                td { code { (s.name) } }
                                td { (format!("{:?}", s.ty).to_lowercase()) }
                                td.value { (s.default.to_json().to_string()) }
                                td.value { @if let Some(Ok(r)) = run { @if let Some(val) = r.settings.0.get(&s.name) { (val.to_json().to_string()) } } }
                                td {
                                    @for (org, e) in p.enforcements {
                                        @if let Some(rule) = e.get(&v.id).and_then(|m| m.get(&s.name)) {
                                            span.enf { (org.as_deref().unwrap_or("every org (bundle)")) ": " (serde_json::to_value(rule.mode).ok().as_ref().map(text).unwrap_or_default())
                                                @if let Some(val) = &rule.value { " " (val.to_string()) } } br;
                                        }
                                    }
                                }
                                td { (s.description) }
                            }
                        } }
                    }
                }
            }
        }
    };
    layout("Auditors", "auditors", &p.status, body)
}

pub struct Tried<'a> {
    pub prompt: &'a str,
    pub model: &'a str,
    pub scope: &'a lucid_contract::Scope,
    pub claims: &'a [AttributedClaim],
    pub decision: &'a PhaseDecision,
}

pub struct PolicyPage<'a> {
    pub state: &'a PolicyState,
    pub dir: &'a str,
    pub problem: Option<String>,
    /// Each policy file and its text, as on disk now.
    pub sources: Vec<(String, String)>,
    pub tried: Option<Tried<'a>>,
    pub status: Status,
}

pub fn policy(p: &PolicyPage) -> Markup {
    let state = p.state;
    let prompt = p.tried.as_ref().map_or("", |t| t.prompt);
    let model = p.tried.as_ref().map_or("gpt-4o-mini", |t| t.model);
    let scope = p
        .tried
        .as_ref()
        .map_or("default/default/default".to_string(), |t| {
            format!("{}/{}/{}", t.scope.org, t.scope.workspace, t.scope.agent)
        });
    let body = html! {
        h1 { "Policy" }
        table.facts {
            (row("Directory", html! { code { (p.dir) } }))
            (row("Hash", html! { code.hash { (state.hash) } }))
            (row("State", html! {
                @if let Some(problem) = &p.problem { span #policy-state.badge.deny data-valid="false" { "refused" } " " span.error { (problem) } }
                @else { span #policy-state.badge.allow data-valid="true" { "validated" } " against the schema of the loaded auditors" }
            }))
            (row("Files", html! { @for f in &state.files { code { (f) } br; } }))
        }
        @for (name, source) in &p.sources {
            details.policy-file {
                summary { code { (name) } " (as on disk now)" }
                pre { (source) }
            }
        }
        section #try-it {
            h2 { "Try it" }
            p { "Runs the request phase — every request auditor, then the policy — over a typed prompt, as a chat request would. The model is not called and no receipt is issued." }
            form #try method="post" action="/ui/try" {
                label for="prompt" { "Prompt" }
                textarea #prompt name="prompt" rows="4" required maxlength="65536" { (prompt) }
                div.row {
                    label { "Model " input name="model" value=(model) size="16"; }
                    label { "Scope " input name="scope" value=(scope) size="28"; }
                    button #try-submit type="submit" { "Run the request phase" }
                }
            }
            @if let Some(t) = &p.tried {
                @let d = t.decision.effect.as_str();
                div.verdict {
                    span #try-decision class={ "badge big " (d) } data-decision=(d) { (d) }
                    @for r in &t.decision.reasons { " " code { (r) } }
                }
                @if !t.decision.errors.is_empty() { ul.error { @for e in &t.decision.errors { li { (e) } } } }
                table #try-claims {
                    thead { tr { th { "Auditor" } th { "Claim" } th { "Type" } th { "Value" } th { "Confidence" } } }
                    tbody { @for c in t.claims {
                        @let j = c.to_json();
                        tr.claim data-auditor=(text(&j["auditor"])) data-name=(text(&j["name"])) {
                            td { (text(&j["auditor"])) } td { code { (text(&j["name"])) } } td { (text(&j["type"])) }
                            td.value { (text(&j["value"])) } td.num { (text(&j["confidence"])) }
                        }
                    } }
                }
            }
        }
        h2 { "Generated schema" }
        p { "Cedar schema generated from the loaded auditors' vocabularies; the policy is validated against it." }
        pre.schema { (state.schema_text().unwrap_or("(no schema: nothing is loaded)")) }
    };
    layout("Policy", "policy", &p.status, body)
}
