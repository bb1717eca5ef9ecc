//! Streams as an upstream really sends them: several choices interleaved (`n` > 1), a leak in one
//! of them split across chunks, and chunks the host must refuse (indices without bound).

use super::*;

const LEAK: &str = "Sure. The card on file is 4111 1111 1111 1111, expiring next year.";

const CLEAN: &str = "Nothing to report here, all fine and well today, thank you.";

fn chunk(index: usize, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-n2",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "mock-1",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    })
}

/// Two choices streamed in 7-character pieces, one chunk of each in turn, with `texts[i]` the
/// answer of choice `i`.
fn interleaved(texts: [&str; 2]) -> Vec<Result<Value, UpstreamError>> {
    let pieces: Vec<Vec<String>> = texts
        .iter()
        .map(|t| {
            let chars: Vec<char> = t.chars().collect();
            chars.chunks(7).map(|c| c.iter().collect()).collect()
        })
        .collect();
    let mut out = vec![
        chunk(0, json!({"role": "assistant", "content": ""}), None),
        chunk(1, json!({"role": "assistant", "content": ""}), None),
    ];
    for i in 0..pieces[0].len().max(pieces[1].len()) {
        for (index, choice) in pieces.iter().enumerate() {
            if let Some(piece) = choice.get(i) {
                out.push(chunk(index, json!({"content": piece}), None));
            }
        }
    }
    out.push(chunk(0, json!({}), Some("stop")));
    out.push(chunk(1, json!({}), Some("stop")));
    out.into_iter().map(Ok).collect()
}

fn stream_of(items: Vec<Result<Value, UpstreamError>>) -> Arc<Scripted> {
    Scripted::new(Script::Chunks(items, Duration::ZERO))
}

/// The text of `choice` delivered in the stream's chunk events.
fn delivered(events: &[StreamEvent], choice: u64) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Chunk(c) => Some(c),
            _ => None,
        })
        .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["index"].as_u64() == Some(choice))
        .filter_map(|c| c["delta"]["content"].as_str().map(String::from))
        .collect()
}

fn error_event(events: &[StreamEvent]) -> Option<Value> {
    events.iter().find_map(|e| match e {
        StreamEvent::Error(body) => Some(body.clone()),
        _ => None,
    })
}

fn receipt_event(events: &[StreamEvent]) -> Value {
    let text = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Receipt(text) => Some(text.clone()),
            _ => None,
        })
        .expect("a receipt event");
    ar(&text)
}

#[tokio::test(flavor = "multi_thread")]
async fn buffer_audits_each_choice_of_an_interleaved_stream() {
    for texts in [[LEAK, CLEAN], [CLEAN, LEAK]] {
        let f = fixture(stream_of(interleaved(texts)), StreamMode::Buffer);
        let outcome = exchange(&f, "tell me twice", true).await;
        let Outcome::Denied {
            receipt, denial, ..
        } = outcome
        else {
            panic!("a leak in one of two choices was not denied: {outcome:?}");
        };
        assert!(denial.message().contains("response phase"), "{denial:?}");
        assert_eq!(ar(&receipt.text)["decision"], "deny");
        f.receipts.shutdown();
    }
    let clean = interleaved([CLEAN, "Also fine."]);
    let count = clean.len();
    let f = fixture(stream_of(clean), StreamMode::Buffer);
    let Outcome::Buffered {
        receipt, chunks, ..
    } = exchange(&f, "tell me twice", true).await
    else {
        panic!("expected a buffered stream");
    };
    assert_eq!(chunks.len(), count);
    assert_eq!(ar(&receipt.text)["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread")]
async fn observe_denies_a_leak_in_the_second_choice_in_its_receipt() {
    let f = fixture(stream_of(interleaved([CLEAN, LEAK])), StreamMode::Observe);
    let events = drain(exchange(&f, "tell me twice", true).await).await;
    // Observe forwards as it comes: the leak went out, but the exchange is judged and receipted.
    assert_eq!(delivered(&events, 1), LEAK);
    assert_eq!(delivered(&events, 0), CLEAN);
    let denial = error_event(&events).expect("a denial event");
    assert_eq!(denial["error"]["code"], "lucid_policy_denied");
    assert_eq!(receipt_event(&events)["decision"], "deny");
    assert_eq!(events.last(), Some(&StreamEvent::Done));
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_never_delivers_a_leak_in_either_choice() {
    for (leaky, texts) in [(0, [LEAK, CLEAN]), (1, [CLEAN, LEAK])] {
        let f = fixture(stream_of(interleaved(texts)), StreamMode::Incremental);
        let events = drain(exchange(&f, "tell me twice", true).await).await;
        let leaked = delivered(&events, leaky);
        assert!(!leaked.contains("4111"), "delivered: {leaked:?}");
        let denial = error_event(&events).expect("a denial event");
        assert_eq!(denial["error"]["code"], "lucid_policy_denied");
        let ar = receipt_event(&events);
        assert_eq!(ar["decision"], "deny");
        assert!(ar["stream_cut_at_chars"].is_u64(), "{ar}");
        assert_eq!(events.last(), Some(&StreamEvent::Done));
        f.receipts.shutdown();
    }
}

/// One choice answering `text` in 5-character chunks.
fn single(text: &str) -> Vec<Result<Value, UpstreamError>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = vec![chunk(0, json!({"role": "assistant", "content": ""}), None)];
    for piece in chars.chunks(5) {
        let piece: String = piece.iter().collect();
        out.push(chunk(0, json!({"content": piece}), None));
    }
    out.push(chunk(0, json!({}), Some("stop")));
    out.into_iter().map(Ok).collect()
}

fn long_answer(middle: &str) -> String {
    let filler = "Here is a long and perfectly harmless answer sentence. ".repeat(6);
    format!("{filler}{middle} {filler}")
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_holds_back_what_it_has_not_audited() {
    let answer = long_answer(LEAK);
    let f = fixture(stream_of(single(&answer)), StreamMode::Incremental);
    let events = drain(exchange(&f, "a long answer", true).await).await;
    let sent = delivered(&events, 0);
    // Released as audits allowed, before the leak arrived...
    assert!(sent.len() > 100, "nothing was released early: {sent:?}");
    assert!(answer.starts_with(&sent), "{sent:?}");
    // ...but never any of the card's digits, in any event.
    assert!(!sent.contains("4111"), "delivered: {sent:?}");
    for event in &events {
        let text = match event {
            StreamEvent::Chunk(v) | StreamEvent::Error(v) => v.to_string(),
            StreamEvent::Receipt(text) => text.to_string(),
            StreamEvent::Done => continue,
        };
        assert!(!text.contains("4111 1111"), "{text}");
    }
    let denial = error_event(&events).expect("a denial event");
    assert_eq!(denial["error"]["code"], "lucid_policy_denied");
    let ar = receipt_event(&events);
    assert_eq!(ar["decision"], "deny");
    let cut = ar["stream_cut_at_chars"]
        .as_u64()
        .expect("stream_cut_at_chars");
    assert!(
        (cut as usize) < answer.len(),
        "cut at {cut} of {}",
        answer.len()
    );
    assert_eq!(events.last(), Some(&StreamEvent::Done));
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_releases_a_clean_answer_whole_and_in_order() {
    let answer = long_answer("Nothing sensitive in the middle either.");
    let items = single(&answer);
    let sent_by_upstream: Vec<Value> = items.iter().cloned().map(Result::unwrap).collect();
    let f = fixture(stream_of(items), StreamMode::Incremental);
    let events = drain(exchange(&f, "a long answer", true).await).await;
    let chunks: Vec<Value> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Chunk(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(chunks, sent_by_upstream);
    assert_eq!(error_event(&events), None);
    let ar = receipt_event(&events);
    assert_eq!(ar["decision"], "allow");
    assert_eq!(ar["stream_mode"], "incremental");
    assert!(ar.get("stream_cut_at_chars").is_none(), "{ar}");
    assert_eq!(events.last(), Some(&StreamEvent::Done));
}

/// A chunk whose tool call (or choice) claims an index far beyond any real answer.
fn huge_index_chunks(tool_call: bool) -> Vec<Result<Value, UpstreamError>> {
    let bad = if tool_call {
        chunk(
            0,
            json!({"tool_calls": [{"index": 10_000_000_000u64, "id": "call_1", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]}),
            None,
        )
    } else {
        chunk(10_000_000_000, json!({"content": "x"}), None)
    };
    vec![
        Ok(chunk(
            0,
            json!({"role": "assistant", "content": "Hello"}),
            None,
        )),
        Ok(bad),
        Ok(chunk(0, json!({}), Some("stop"))),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn indices_without_bound_are_an_invalid_upstream_answer() {
    for tool_call in [true, false] {
        let f = fixture(stream_of(huge_index_chunks(tool_call)), StreamMode::Buffer);
        let outcome = exchange(&f, "hello", true).await;
        let Outcome::UpstreamFailed { receipt, error, .. } = outcome else {
            panic!("expected an upstream failure, got {outcome:?}");
        };
        assert!(
            matches!(&error, UpstreamError::Invalid(m) if m.contains("10000000000")),
            "{error}"
        );
        assert_eq!(ar(&receipt.text)["upstream_error"], error.to_string());
        f.receipts.shutdown();
    }
    for mode in [StreamMode::Observe, StreamMode::Incremental] {
        let f = fixture(stream_of(huge_index_chunks(true)), mode);
        let events = drain(exchange(&f, "hello", true).await).await;
        let error = error_event(&events).expect("an error event");
        assert_eq!(error["error"]["code"], "lucid_upstream_error");
        let ar = receipt_event(&events);
        assert!(
            ar["upstream_error"]
                .as_str()
                .is_some_and(|e| e.contains("tool call index 10000000000")),
            "{ar}"
        );
        // The refused chunk is never forwarded.
        assert!(!events.iter().any(|e| matches!(e, StreamEvent::Chunk(c)
            if c["choices"][0]["delta"]["tool_calls"].is_array())));
        assert_eq!(events.last(), Some(&StreamEvent::Done));
        f.receipts.shutdown();
    }
}
