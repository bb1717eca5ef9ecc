//! The whole shipped catalogue in one gateway (balanced preset): every auditor loads beside the
//! others and speaks in its phase — artifact (integrity, model_card), request (pii, injection,
//! token_budget, geo_fence, toxicity, model_card), execution on tool calls and multi-turn agent
//! loops (injection, loop_breaker, mcp_firewall, token_economist), response (pii, toxicity,
//! grounding, token_economist) — and the presets' new policies deny through the real binary.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{Gw, Reply};

/// Every shipped auditor, the balanced preset and `config`.
fn start_catalogue(config: &str) -> Gw {
    super::start_with(Some(config), &[])
}

const CONFIG: &str = r#"
[auditors.geo_fence.settings]
allowed_regions = ["eu"]

[auditors.mcp_firewall.settings]
denied_tools = ["delete_*"]
"#;

fn ar_of(gw: &Gw, reply: &Reply) -> Value {
    let evidence = gw
        .get(
            &format!("/v1/evidence/{}", reply.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    assert_eq!(evidence["valid"], true, "{evidence:#}");
    evidence["ar"].clone()
}

/// Per phase of an AR: the auditors that made claims, and every claim name.
fn speakers(ar: &Value) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for phase in ar["phases"].as_array().unwrap() {
        let entry = out
            .entry(phase["phase"].as_str().unwrap().to_string())
            .or_default();
        for claim in phase["claims"].as_array().unwrap() {
            entry
                .0
                .insert(claim["auditor"].as_str().unwrap().to_string());
            entry.1.insert(claim["name"].as_str().unwrap().to_string());
        }
    }
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn denial_reasons(ar: &Value) -> Vec<String> {
    ar["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["decision"]["reasons"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect()
}

/// A chat completion; without headers it declares an allowed region (geo_fence allows only
/// `eu` here, and an undeclared region is not allowed).
fn chat(gw: &Gw, body: Value, headers: &[(&str, &str)]) -> Reply {
    let eu = [("x-lucid-region", "eu-west-1")];
    let headers = if headers.is_empty() { &eu[..] } else { headers };
    gw.post("/v1/chat/completions", &body.to_string(), headers)
}

#[test]
fn every_shipped_auditor_speaks_in_its_phase_through_the_gateway() {
    let gw = start_catalogue(CONFIG);
    let listing = gw.get("/v1/auditors", &[]).json();
    let ids: BTreeSet<String> = listing["plugins"]
        .as_array()
        .unwrap_or_else(|| panic!("{listing:#}"))
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect();
    let all = set(&lucid_e2e::SHIPPED);
    assert!(ids.is_superset(&all), "loaded: {ids:?}");

    // A plain exchange: artifact, request and response phases.
    let reply = chat(
        &gw,
        json!({"model": "mock-1", "messages": [
            {"role": "system", "content": "Paris is the capital of France."},
            {"role": "user", "content": "echo: Paris is the capital of France."}]}),
        &[("x-lucid-region", "eu-west-1")],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let ar = ar_of(&gw, &reply);
    let by_phase = speakers(&ar);
    assert_eq!(by_phase["artifact"].0, set(&["integrity", "model_card"]));
    assert_eq!(
        by_phase["request"].0,
        set(&[
            "pii",
            "injection",
            "token_budget",
            "geo_fence",
            "toxicity",
            "model_card"
        ])
    );
    assert_eq!(
        by_phase["response"].0,
        set(&["pii", "toxicity", "grounding", "token_economist"])
    );
    assert!(by_phase["request"].1.contains("region_allowed"));
    let region = ar["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["claims"].as_array().unwrap())
        .find(|c| c["name"] == "region")
        .unwrap();
    assert_eq!(region["value"], "eu-west-1", "the header reached geo_fence");

    // Tool calls: the execution phase.
    let reply = chat(
        &gw,
        json!({"model": "mock-1",
               "messages": [{"role": "user", "content": "weather in Paris?"}],
               "tools": [{"type": "function", "function": {"name": "get_weather",
                          "parameters": {"type": "object"}}}]}),
        &[],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let by_phase = speakers(&ar_of(&gw, &reply));
    assert_eq!(
        by_phase["execution"].0,
        set(&[
            "injection",
            "loop_breaker",
            "mcp_firewall",
            "token_economist"
        ])
    );
}

#[test]
fn the_catalogue_policies_deny_through_the_gateway() {
    let gw = start_catalogue(CONFIG);

    // geo_fence: the declared region is outside the allowed ones.
    let plain = json!({"model": "mock-1", "messages": [{"role": "user", "content": "hello"}]});
    for region in ["us-east-1", "europe-west1"] {
        let reply = chat(&gw, plain.clone(), &[("x-lucid-region", region)]);
        assert_eq!(reply.status, 403, "{region}: {}", reply.body);
        let reasons = denial_reasons(&ar_of(&gw, &reply));
        assert!(
            reasons.contains(&"balanced.deny-region".to_string()),
            "{reasons:?}"
        );
    }
    // No declared region at all is not an allowed one either.
    let reply = chat(&gw, plain.clone(), &[("x-lucid-org", "acme")]);
    assert_eq!(reply.status, 403, "{}", reply.body);

    // mcp_firewall: the model calls a denied tool; the call never reaches the client.
    let reply = chat(
        &gw,
        json!({"model": "mock-1",
               "messages": [{"role": "user", "content": "clean up"}],
               "tools": [{"type": "function", "function": {"name": "delete_everything",
                          "parameters": {"type": "object"}}}]}),
        &[],
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(!reply.body.contains("tool_calls"), "{}", reply.body);
    let ar = ar_of(&gw, &reply);
    assert!(
        denial_reasons(&ar).contains(&"balanced.deny-blocked-tool".to_string()),
        "{ar:#}"
    );

    // loop_breaker: a multi-turn agent loop calling the same tool with the same arguments.
    let mut messages = vec![json!({"role": "user", "content": "what is the weather in Paris?"})];
    for i in 0..5 {
        let id = format!("call_{i}");
        messages.push(
            json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": id, "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}),
        );
        messages.push(json!({"role": "tool", "tool_call_id": id, "content": "timeout, try again"}));
    }
    let looping = json!({"model": "mock-1", "messages": messages,
        "tools": [{"type": "function", "function": {"name": "get_weather",
                   "parameters": {"type": "object"}}}]});
    let reply = chat(&gw, looping, &[]);
    assert_eq!(reply.status, 403, "{}", reply.body);
    let ar = ar_of(&gw, &reply);
    assert!(
        denial_reasons(&ar).contains(&"balanced.deny-agent-loop".to_string()),
        "{ar:#}"
    );

    // The same agent with two different calls is fine.
    let fine = json!({"model": "mock-1", "messages": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "a", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "18 C"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "b", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "b", "content": "24 C"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
                   "parameters": {"type": "object"}}}]});
    let reply = chat(&gw, fine, &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);

    // toxicity: a toxic prompt is recorded (balanced), the same text as an answer is withheld.
    let toxic = "You are a worthless idiot and I will find you and kill you.";
    let reply = chat(
        &gw,
        json!({"model": "mock-1", "messages": [{"role": "user", "content": format!("echo: {toxic}")}]}),
        &[],
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(!reply.body.contains("worthless"), "{}", reply.body);
    let ar = ar_of(&gw, &reply);
    let phases = ar["phases"].as_array().unwrap();
    let request = phases.iter().find(|p| p["phase"] == "request").unwrap();
    assert_eq!(request["decision"]["effect"], "allow", "{ar:#}");
    assert!(denial_reasons(&ar).contains(&"balanced.deny-toxic-answer".to_string()));
}

#[test]
fn an_integrity_manifest_that_does_not_match_denies_every_exchange() {
    let pinned = "0".repeat(64);
    let gw = start_catalogue(&format!(
        "{CONFIG}\n[auditors.integrity.settings]\nexpected = [\"pii={pinned}\"]\n"
    ));
    let reply = chat(
        &gw,
        json!({"model": "mock-1", "messages": [{"role": "user", "content": "hello"}]}),
        &[],
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    let ar = ar_of(&gw, &reply);
    assert!(
        denial_reasons(&ar).contains(&"balanced.deny-unexpected-artifacts".to_string()),
        "{ar:#}"
    );
}
