use std::time::Instant;

use lucid_auditor_sdk::serde_json::{Value, json};

use super::*;

fn exchange(phase: Phase, request: Value, response: Value) -> Input {
    Input::new(phase, &request.to_string())
        .unwrap()
        .with_response(&response.to_string())
        .unwrap()
}

fn chat(model: &str, usage: Option<(u64, u64)>) -> Input {
    let request = json!({ "model": model, "messages": [{ "role": "user", "content": "Hello there, how are you?" }] });
    let mut response = json!({ "model": model, "choices": [{ "index": 0,
        "message": { "role": "assistant", "content": "Fine, thanks." } }] });
    if let Some((prompt, completion)) = usage {
        response["usage"] = json!({ "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt.saturating_add(completion) });
    }
    exchange(Phase::Response, request, response)
}

/// (cost, latency, over_budget, all claims), checked against the vocabulary.
fn observe(input: &Input) -> (u64, u64, bool, Vec<Claim>) {
    let claims = TokenEconomist::observe(input).unwrap();
    TokenEconomist::describe()
        .check_claims(input.phase(), &claims)
        .unwrap();
    let latency = match claims[1].value() {
        lucid_auditor_sdk::ClaimValue::DurationMs(ms) => *ms,
        other => panic!("estimated_latency_ms is {other:?}"),
    };
    (
        claims[0].as_count().unwrap(),
        latency,
        claims[2].as_boolean().unwrap(),
        claims,
    )
}

#[test]
fn vocabulary_is_valid() {
    TokenEconomist::describe().validate().unwrap();
}

#[test]
fn reported_usage_is_priced_by_the_table() {
    // gpt-4o: 1,000 × 2.50 + 500 × 10 = 7,500 micro-USD.
    let (cost, latency, over, claims) = observe(&chat("gpt-4o-2024-08-06", Some((1_000, 500))));
    assert_eq!(cost, 7_500);
    // 1,000 / 5,000 s + 500 / 50 s = 200 + 10,000 ms.
    assert_eq!(latency, 10_200);
    assert!(!over);
    assert_eq!(claims[0].confidence(), 1.0);
    let meta = claims[0].metadata().unwrap();
    assert_eq!(meta["priced_as"], "gpt-4o");
    assert_eq!(meta["tokens"], "usage");
    assert_eq!(meta["prices_as_of"], PRICES_AS_OF);
    // Cheap models round to the nearest micro-dollar.
    assert_eq!(observe(&chat("gpt-4.1-nano", Some((3, 1)))).0, 1);
    assert_eq!(
        observe(&chat("claude-3-5-sonnet-20241022", Some((1_000_000, 0)))).0,
        3_000_000
    );
}

#[test]
fn missing_usage_is_estimated() {
    let (cost, _, _, claims) = observe(&chat("gpt-4o-mini", None));
    let meta = claims[0].metadata().unwrap();
    assert_eq!(meta["tokens"], "estimate");
    let prompt = meta["prompt_tokens"].as_u64().unwrap();
    let completion = meta["completion_tokens"].as_u64().unwrap();
    assert_eq!((prompt, completion), (3 + 7 + 3, 4));
    assert_eq!(
        cost,
        ((prompt as f64) * 0.15 + (completion as f64) * 0.60).round() as u64
    );
    assert_eq!(claims[0].confidence(), 0.8);
}

#[test]
fn budgets_flag_cost_and_latency_separately() {
    let big = chat("claude-opus-4-1", Some((20_000, 2_000)));
    // 20,000 × 15 + 2,000 × 75 = 450,000 micro-USD > 100,000; 4 s + 40 s < 60 s.
    let (cost, latency, over, claims) = observe(&big);
    assert_eq!((cost, latency, over), (450_000, 44_000, true));
    assert_eq!(claims[3].as_boolean(), Some(false), "latency within budget");
    assert_eq!(claims[2].metadata().unwrap()["budget_micro_usd"], 100_000);
    assert!(
        !observe(&big.clone().with_setting("budget_micro_usd", 0u64)).2,
        "0 is no budget"
    );
    let slow = big
        .clone()
        .with_setting("budget_micro_usd", 1_000_000u64)
        .with_setting("tokens_per_second", 20u64);
    let (_, latency, over, claims) = observe(&slow);
    // A slow estimate is not a cost overrun.
    assert_eq!((latency, over), (104_000, false));
    assert_eq!(claims[3].as_boolean(), Some(true));
    assert_eq!(claims[3].metadata().unwrap()["latency_budget_ms"], 60_000);
    let patient = slow.clone().with_setting("latency_budget_ms", 200_000u64);
    assert_eq!(observe(&patient).3[3].as_boolean(), Some(false));
    let no_estimate = slow.with_setting("tokens_per_second", 0u64);
    assert_eq!(observe(&no_estimate).1, 0);
    assert_eq!(observe(&no_estimate).3[3].as_boolean(), Some(false));
}

#[test]
fn a_long_paid_for_answer_is_not_over_budget() {
    // 3,100 completion tokens at 50/s is 62 s of generation, over the 60 s latency budget, but
    // gpt-4o-mini prices it at well under the cost budget: only latency_over_budget is set.
    let long = chat("gpt-4o-mini", Some((500, 3_100)));
    for phase in [Phase::Execution, Phase::Response] {
        let input = exchange(
            phase,
            long.request_json().clone(),
            long.response_json().cloned().unwrap(),
        );
        let (cost, latency, over, claims) = observe(&input);
        assert!(cost < DEFAULT_BUDGET_MICRO_USD, "{cost}");
        assert!(latency > DEFAULT_LATENCY_BUDGET_MS, "{latency}");
        assert!(!over);
        assert_eq!(claims[3].name(), "latency_over_budget");
        assert_eq!(claims[3].as_boolean(), Some(true));
    }
}

#[test]
fn prices_setting_overrides_and_extends_the_table() {
    let prices = vec!["gpt-4o=1/1".to_owned(), "acme-llm=2/4".to_owned()];
    let input = chat("gpt-4o", Some((100, 100))).with_setting("prices", prices.clone());
    assert_eq!(observe(&input).0, 200);
    let acme = chat("acme-llm-v2", Some((100, 100))).with_setting("prices", prices);
    assert_eq!(observe(&acme).0, 600);
    // The setting's default is the built-in table itself.
    let defaults = chat("gpt-4o", Some((1_000, 500))).with_setting("prices", built_in_entries());
    assert_eq!(observe(&defaults).0, 7_500);
    let bad = chat("gpt-4o", None).with_setting("prices", vec!["gpt-4o: cheap".to_owned()]);
    assert!(matches!(
        TokenEconomist::observe(&bad),
        Err(Error::Failed(_))
    ));
}

#[test]
fn unknown_models_cost_nothing_with_no_confidence() {
    let (cost, _, over, claims) = observe(&chat("my-local-llama", Some((10_000, 10))));
    assert_eq!((cost, over), (0, false));
    assert_eq!(claims[0].confidence(), 0.0);
    assert!(claims[0].metadata().unwrap().get("priced_as").is_none());
    let fallback =
        chat("my-local-llama", Some((1_000, 0))).with_setting("prices", vec!["*=1/1".to_owned()]);
    assert_eq!(observe(&fallback).0, 1_000);
}

#[test]
fn the_requested_model_is_used_when_the_response_names_none() {
    let request = json!({ "model": "o3-mini", "messages": [] });
    let response =
        json!({ "choices": [], "usage": { "prompt_tokens": 1_000, "completion_tokens": 0 } });
    let (cost, _, _, _) = observe(&exchange(Phase::Response, request, response));
    assert_eq!(cost, 1_100);
}

#[test]
fn agent_steps_are_priced_in_the_execution_phase() {
    let request = json!({
        "model": "gpt-4.1",
        "messages": [
            { "role": "user", "content": "weather?" },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "a", "type": "function",
                "function": { "name": "weather", "arguments": "{\"city\":\"Paris\"}" } }] },
            { "role": "tool", "tool_call_id": "a", "content": "sunny" }
        ],
        "tools": [{ "type": "function", "function": { "name": "weather" } }]
    });
    let response = json!({ "model": "gpt-4.1-2025-04-14", "choices": [{ "message": { "role": "assistant",
        "content": null, "tool_calls": [{ "id": "b", "type": "function",
        "function": { "name": "weather", "arguments": "{\"city\":\"Lyon\"}" } }] } }] });
    let input = exchange(Phase::Execution, request, response);
    let (cost, _, over, claims) = observe(&input);
    assert!(cost > 0 && !over);
    assert_eq!(claims[0].metadata().unwrap()["priced_as"], "gpt-4.1");
}

#[test]
fn hostile_inputs_stay_bounded_and_fast() {
    // Absurd usage saturates at the contract's largest safe integer instead of overflowing.
    let (cost, latency, over, _) = observe(&chat("gpt-4", Some((u64::MAX, u64::MAX))));
    assert_eq!(
        (cost, latency, over),
        (MAX_SAFE_INTEGER, MAX_SAFE_INTEGER, true)
    );
    // A huge unicode history without usage, a huge model name.
    let messages: Vec<Value> = (0..5_000)
        .map(|i| json!({ "role": if i % 2 == 0 { "user" } else { "assistant" }, "content": "日本語のテキスト 🎌 ".repeat(20) }))
        .collect();
    let name = format!("gpt-4o-{}", "x".repeat(100_000));
    let request = json!({ "model": name, "messages": messages });
    let response = json!({ "model": name, "choices": [{ "message": { "content": "短い" } }] });
    let input = exchange(Phase::Response, request, response);
    let started = Instant::now();
    let (cost, _, _, claims) = observe(&input);
    assert!(cost > 0);
    let meta = claims[0].metadata().unwrap();
    assert_eq!(meta["model"].as_str().unwrap().chars().count(), 128);
    assert_eq!(meta["priced_as"], "gpt-4o");
    assert!(
        started.elapsed().as_millis() < 2_000,
        "took {:?}",
        started.elapsed()
    );
}
