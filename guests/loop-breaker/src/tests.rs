use std::time::Instant;

use lucid_auditor_sdk::serde_json::{Value, json};

use super::*;

fn call(id: &str, name: &str, arguments: &str) -> Value {
    json!({ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } })
}

/// One agent step: the assistant calls `name(arguments)` and the tool answers `result`.
fn step(messages: &mut Vec<Value>, name: &str, arguments: &str, result: &str) {
    let id = format!("call_{}", messages.len());
    messages.push(
        json!({ "role": "assistant", "content": null, "tool_calls": [call(&id, name, arguments)] }),
    );
    messages.push(json!({ "role": "tool", "tool_call_id": id, "content": result }));
}

fn conversation() -> Vec<Value> {
    vec![
        json!({ "role": "system", "content": "You are an agent." }),
        json!({ "role": "user", "content": "Find the weather in Paris." }),
    ]
}

fn response_calling(name: &str, arguments: &str) -> Value {
    json!({ "choices": [{ "index": 0, "message": {
        "role": "assistant", "content": null, "tool_calls": [call("call_new", name, arguments)] } }] })
}

fn input(messages: Vec<Value>, response: Option<Value>) -> Input {
    let request = json!({ "model": "gpt-4o", "messages": messages }).to_string();
    let input = Input::new(Phase::Execution, &request).unwrap();
    match response {
        Some(response) => input.with_response(&response.to_string()).unwrap(),
        None => input,
    }
}

/// (loop_detected, repeat_count, metadata of loop_detected), checked against the vocabulary.
fn observe(input: &Input) -> (bool, u64, Value) {
    let claims = LoopBreaker::observe(input).unwrap();
    LoopBreaker::describe()
        .check_claims(Phase::Execution, &claims)
        .unwrap();
    assert_eq!(claims.len(), 2);
    (
        claims[0].as_boolean().unwrap(),
        claims[1].as_count().unwrap(),
        claims[0].metadata().cloned().unwrap_or_default(),
    )
}

#[test]
fn vocabulary_is_valid() {
    LoopBreaker::describe().validate().unwrap();
}

#[test]
fn a_normal_agent_run_is_not_a_loop() {
    let mut messages = conversation();
    step(
        &mut messages,
        "geocode",
        r#"{"city":"Paris"}"#,
        "48.85,2.35",
    );
    step(
        &mut messages,
        "weather",
        r#"{"lat":48.85,"lon":2.35}"#,
        "sunny",
    );
    let response = json!({ "choices": [{ "message": { "role": "assistant", "content": "Sunny in Paris." } }] });
    let (detected, count, meta) = observe(&input(messages, Some(response)));
    assert!(!detected);
    assert_eq!(count, 1);
    assert_eq!(meta["cycle_length"], 0);
    assert_eq!(meta["examined_calls"], 2);
}

#[test]
fn the_same_call_over_and_over_is_a_loop() {
    let mut messages = conversation();
    for _ in 0..3 {
        step(
            &mut messages,
            "weather",
            r#"{"city":"Paris"}"#,
            "error: timeout",
        );
    }
    // Three identical calls are still within the default of 3...
    let (detected, count, _) = observe(&input(messages.clone(), None));
    assert_eq!((detected, count), (false, 3));
    // ...and the response making it a fourth time (keys reordered, spaced) is a loop.
    let response = response_calling("weather", r#"{ "city" : "Paris" }"#);
    let (detected, count, meta) = observe(&input(messages, Some(response)));
    assert!(detected);
    assert_eq!(count, 4);
    assert_eq!(meta["tool"], "weather");
    assert_eq!(meta["identical_calls"], 4);
    assert!(
        !meta.to_string().contains("Paris"),
        "no argument values in evidence"
    );
}

#[test]
fn polling_whose_results_change_is_not_a_loop() {
    let mut messages = conversation();
    for percent in [0, 10, 20, 30] {
        step(
            &mut messages,
            "get_status",
            r#"{"job":7}"#,
            &format!("running {percent}%"),
        );
    }
    let (detected, count, meta) = observe(&input(messages.clone(), None));
    assert_eq!((detected, count), (false, 1));
    assert_eq!(meta["cycle_length"], 0, "steps with different results");
    // The response polls again: not answered yet, it is expected to get "30%" like the last one.
    let response = response_calling("get_status", r#"{"job":7}"#);
    let (detected, count, _) = observe(&input(messages.clone(), Some(response.clone())));
    assert_eq!((detected, count), (false, 2));
    // Once the status stops changing, polling it is a loop again.
    for _ in 0..2 {
        step(&mut messages, "get_status", r#"{"job":7}"#, "running 30% ");
    }
    let (detected, count, meta) = observe(&input(messages, Some(response)));
    assert_eq!((detected, count), (true, 4));
    assert_eq!(meta["tool"], "get_status");
}

#[test]
fn attempt_counters_do_not_make_calls_different() {
    let mut messages = conversation();
    for attempt in 1..=11 {
        step(
            &mut messages,
            "search",
            &format!(r#"{{"q":"rust","attempt":{attempt}}}"#),
            "no results",
        );
    }
    let (detected, count, meta) = observe(&input(messages, None));
    assert_eq!((detected, count), (true, 11));
    assert_eq!(meta["tool"], "search");
    // The same retries with changing results are not a loop.
    let mut messages = conversation();
    for attempt in 1..=11 {
        step(
            &mut messages,
            "search",
            &format!(r#"{{"q":"rust","attempt":{attempt}}}"#),
            &format!("{attempt} results"),
        );
    }
    assert_eq!(observe(&input(messages, None)).1, 1);
}

#[test]
fn unanswered_calls_inherit_the_last_result() {
    // Calls without a matching tool message (no id, or never answered) take the result of the
    // previous identical call; a later answer starts a new run.
    let mut messages = conversation();
    step(&mut messages, "ping", "{}", "pong");
    let bare = json!({ "role": "assistant", "content": null,
        "tool_calls": [{ "type": "function", "function": { "name": "ping", "arguments": "{}" } }] });
    messages.push(bare.clone());
    messages.push(bare);
    assert_eq!(observe(&input(messages.clone(), None)).1, 3);
    step(&mut messages, "ping", "{}", "timeout");
    let (_, count, _) = observe(&input(messages, Some(response_calling("ping", "{}"))));
    assert_eq!(
        count, 3,
        "the three pongs; the timeout and the new call are two"
    );
}

#[test]
fn different_arguments_are_different_calls() {
    let mut messages = conversation();
    for page in 1..=6 {
        step(
            &mut messages,
            "list_files",
            &format!(r#"{{"page":{page}}}"#),
            "...",
        );
    }
    let (detected, count, _) = observe(&input(messages, None));
    assert!(!detected);
    assert_eq!(count, 1);
}

#[test]
fn a_cycle_of_two_calls_is_a_loop() {
    let mut messages = conversation();
    for _ in 0..4 {
        step(&mut messages, "open", r#"{"path":"a.txt"}"#, "not found");
        step(&mut messages, "list", r#"{"dir":"."}"#, "b.txt");
    }
    let (detected, count, meta) = observe(&input(
        messages,
        Some(response_calling("open", r#"{"path":"a.txt"}"#)),
    ));
    assert!(detected);
    assert_eq!(count, 5, "open is called a fifth time");
    assert_eq!(meta["cycle_length"], 2);
    // 4 × (open, list) then open: the last two-step block (list, open) repeats 4 times.
    assert_eq!(meta["cycle_repeats"], 4);
}

#[test]
fn text_only_cycles_are_loops() {
    let mut messages = conversation();
    for _ in 0..4 {
        messages
            .push(json!({ "role": "assistant", "content": "I could not find it. Shall I retry?" }));
        messages.push(json!({ "role": "user", "content": "continue" }));
    }
    let response = json!({ "choices": [{ "message": { "role": "assistant",
        "content": [{ "type": "text", "text": "I could not find it. Shall I retry?" }] } }] });
    let (detected, count, meta) = observe(&input(messages, Some(response)));
    assert!(detected);
    // (continue, same answer) four times back to back; the first answer has no "continue" before it.
    assert_eq!(count, 4);
    assert_eq!(meta["cycle_length"], 2);
    assert!(meta.get("tool").is_none());
}

#[test]
fn parallel_calls_with_equal_results_are_not_a_cycle() {
    // One assistant step fanning out to four tools that all answer "ok": tool results are
    // observations, so four equal results in a row are not four repeated steps.
    let mut messages = conversation();
    let calls: Vec<Value> = ["a", "b", "c", "d"]
        .iter()
        .map(|name| call(&format!("call_{name}"), name, "{}"))
        .collect();
    messages.push(json!({ "role": "assistant", "content": null, "tool_calls": calls }));
    for name in ["a", "b", "c", "d"] {
        messages.push(
            json!({ "role": "tool", "tool_call_id": format!("call_{name}"), "content": "ok" }),
        );
    }
    let (detected, count, _) = observe(&input(messages, None));
    assert!(!detected);
    assert_eq!(count, 1);
}

#[test]
fn settings_tune_the_threshold_and_the_window() {
    let mut messages = conversation();
    step(&mut messages, "ping", "{}", "pong");
    step(&mut messages, "ping", "", "pong");
    let strict = input(messages.clone(), None).with_setting("max_repeats", 1u64);
    assert!(observe(&strict).0, "two pings with max_repeats 1");
    // Ten different steps push the pings out of a 20-message window.
    for i in 0..10 {
        step(&mut messages, "read", &format!(r#"{{"n":{i}}}"#), "x");
    }
    let windowed = input(messages.clone(), None)
        .with_setting("max_repeats", 1u64)
        .with_setting("window", 20u64);
    let (detected, count, meta) = observe(&windowed);
    assert_eq!((detected, count), (false, 1));
    assert_eq!(meta["examined_messages"], 20);
    let zero = input(messages.clone(), None).with_setting("window", 0u64);
    assert_eq!(observe(&zero).1, 0);
    let huge = input(messages, None)
        .with_setting("window", u64::MAX)
        .with_setting("max_repeats", u64::MAX);
    assert_eq!(observe(&huge), (false, 2, observe(&huge).2));
}

#[test]
fn choices_are_alternatives_not_turns() {
    let mut messages = conversation();
    step(&mut messages, "search", r#"{"q":"x"}"#, "none");
    step(&mut messages, "search", r#"{"q":"x"}"#, "none");
    let c = |i: u64| {
        json!({ "index": i, "message": { "role": "assistant", "content": null,
        "tool_calls": [call("c", "search", r#"{"q":"x"}"#)] } })
    };
    let response = json!({ "choices": [c(0), c(1), c(2)] });
    // 2 in the history + 1 per choice: 3, not 5.
    let (detected, count, _) = observe(&input(messages, Some(response)));
    assert_eq!((detected, count), (false, 3));
}

#[test]
fn malformed_arguments_and_unicode_are_compared_as_text() {
    let mut messages = conversation();
    for _ in 0..4 {
        step(&mut messages, "shell", "ls -la /tmp ", "…");
        step(
            &mut messages,
            "翻訳",
            r#"{"text":"こんにちは 👋"}"#,
            "hello",
        );
    }
    let (detected, count, meta) = observe(&input(messages, None));
    assert!(detected);
    assert_eq!(count, 4);
    assert!(meta["tool"] == "shell" || meta["tool"] == "翻訳");
}

#[test]
fn hostile_names_are_cut_in_evidence() {
    let mut messages = conversation();
    let name = "x".repeat(10_000);
    for _ in 0..5 {
        step(&mut messages, &name, "{}", "");
    }
    let (detected, _, meta) = observe(&input(messages, None));
    assert!(detected);
    assert_eq!(meta["tool"].as_str().unwrap().len(), MAX_NAME_CHARS);
}

#[test]
fn empty_and_odd_exchanges() {
    assert_eq!(observe(&input(Vec::new(), None)).1, 0);
    let response = json!({ "choices": "not a list" });
    assert_eq!(observe(&input(conversation(), Some(response))).1, 0);
    // A call with no function at all still counts (empty name, no arguments).
    let messages =
        vec![json!({ "role": "assistant", "tool_calls": [{ "id": "x" }, { "id": "y" }] })];
    assert_eq!(observe(&input(messages, None)).1, 2);
}

#[test]
fn cycles_are_found_at_the_end_only() {
    let s = |v: &[u64]| longest_cycle(v);
    assert_eq!(s(&[]), Cycle::default());
    assert_eq!(
        s(&[1, 1, 1]),
        Cycle {
            length: 1,
            repeats: 3
        }
    );
    assert_eq!(
        s(&[9, 1, 2, 1, 2, 1, 2]),
        Cycle {
            length: 2,
            repeats: 3
        }
    );
    assert_eq!(s(&[1, 2, 1, 2, 3]), Cycle::default());
    assert_eq!(
        s(&[1, 2, 3, 1, 2, 3]),
        Cycle {
            length: 3,
            repeats: 2
        }
    );
    // A partial block before full ones does not count as a repetition.
    assert_eq!(
        s(&[2, 3, 1, 2, 3, 1, 2, 3]),
        Cycle {
            length: 3,
            repeats: 2
        }
    );
}

#[test]
fn huge_histories_stay_fast() {
    // 5,000 steps of 4 parallel calls each, plus a 1 MB argument: the whole history is parsed by
    // the SDK, but only the window is fingerprinted.
    let mut messages = conversation();
    for i in 0..5_000 {
        let calls: Vec<Value> = (0..4)
            .map(|j| {
                call(
                    &format!("c{i}_{j}"),
                    "fetch",
                    &format!(r#"{{"url":"https://e.com/{i}/{j}"}}"#),
                )
            })
            .collect();
        messages.push(json!({ "role": "assistant", "content": null, "tool_calls": calls }));
    }
    let big = json!({ "blob": "a".repeat(1 << 20) }).to_string();
    step(&mut messages, "upload", &big, "ok");
    let input = input(messages, Some(response_calling("upload", &big)));
    let started = Instant::now();
    let (detected, count, meta) = observe(&input);
    assert_eq!((detected, count), (false, 2));
    assert_eq!(meta["tool"], "upload");
    let all = input.clone().with_setting("window", 1_000_000u64);
    assert_eq!(observe(&all).1, 2);
    assert!(
        started.elapsed().as_millis() < 2_000,
        "took {:?}",
        started.elapsed()
    );
}
