//! Masking (`@redact` rules) attacked with hostile guests, in process: the real exchange flow
//! over a temp plugin dir holding only the test guests (`spanner` proposes spans, well-formed or
//! not; `legacy_v01` speaks the frozen 0.1 contract and cannot propose any), a temp policy dir
//! with one mask rule, and a scripted upstream that records what it was sent. Whatever a guest
//! proposes, a mask the policy asked for is applied exactly or the phase denies, and the model
//! never sees a request that should have been masked.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use futures_util::future::BoxFuture;
use lucid::config::{Config, StreamMode};
use lucid::evidence::SqliteStore;
use lucid::evidence::service::ReceiptService;
use lucid::exchange::openai::{self, ChatRequest};
use lucid::exchange::receipt_core::Scope;
use lucid::exchange::{
    ChunkStream, ExchangeService, Outcome, StreamEvent, Upstream, UpstreamError, mock,
};
use lucid::policy::Effect;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::util::{exchange_service, guest};

/// The permit and one mask rule on the request: mask what spanner found.
const MASK_REQUEST: &str = r#"
@id("p") permit (principal, action, resource);
@id("mask-word") @redact("spanned")
forbid (principal, action == Action::"request", resource)
when { context.claims has spanned && context.claims.spanned };
"#;

/// The permit and one mask rule on the answer.
const MASK_RESPONSE: &str = r#"
@id("p") permit (principal, action, resource);
@id("mask-answer") @redact("spanned")
forbid (principal, action == Action::"response", resource)
when { context.claims has spanned && context.claims.spanned };
"#;

/// What the scripted model answers.
#[derive(Clone)]
enum Reply {
    Complete(Value),
    Chunks(Vec<Value>),
}

/// A model that answers as scripted and keeps every request it was sent.
struct Recording {
    reply: Reply,
    calls: AtomicUsize,
    seen: Mutex<Vec<Value>>,
}

impl Recording {
    fn new(reply: Reply) -> Arc<Recording> {
        Arc::new(Recording {
            reply,
            calls: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn answering(text: &str) -> Arc<Recording> {
        Self::new(Reply::Complete(completion(text)))
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The one request the model was sent.
    fn request(&self) -> Value {
        let seen = self.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "expected one upstream call: {seen:?}");
        seen[0].clone()
    }

    fn record(&self, request: &Value) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(request.clone());
    }
}

impl Upstream for Recording {
    fn complete<'a>(
        &'a self,
        request: &'a Value,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<Value, UpstreamError>> {
        self.record(request);
        let reply = self.reply.clone();
        Box::pin(async move {
            match reply {
                Reply::Complete(v) => Ok(v),
                Reply::Chunks(_) => panic!("a stream was scripted, a completion asked for"),
            }
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Value,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<ChunkStream, UpstreamError>> {
        self.record(request);
        let reply = self.reply.clone();
        Box::pin(async move {
            match reply {
                Reply::Chunks(items) => {
                    let stream: ChunkStream =
                        Box::pin(futures_util::stream::iter(items.into_iter().map(Ok)));
                    Ok(stream)
                }
                Reply::Complete(_) => panic!("a completion was scripted, a stream asked for"),
            }
        })
    }

    fn models(&self) -> BoxFuture<'_, Result<(StatusCode, Bytes), UpstreamError>> {
        Box::pin(async { Ok((StatusCode::OK, Bytes::from_static(b"{}"))) })
    }
}

fn completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1,
        "model": mock::MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }],
    })
}

/// A streamed answer: a role chunk, `pieces` as content deltas, a finish chunk.
fn chunks(pieces: &[&str]) -> Vec<Value> {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": mock::MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    out.extend(pieces.iter().map(|p| chunk(json!({ "content": p }), None)));
    out.push(chunk(json!({}), Some("stop")));
    out
}

/// An exchange service over a temp plugin dir with only `guests`, a temp policy dir with
/// `policy`, and `config` (auditor settings, `[redaction]`) as `lucid.toml`.
struct Gate {
    data: tempfile::TempDir,
    _plugins: tempfile::TempDir,
    _policies: tempfile::TempDir,
    service: Arc<ExchangeService>,
    receipts: Arc<ReceiptService>,
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.receipts.shutdown();
    }
}

fn gate(
    guests: &[&str],
    policy: &str,
    config: &str,
    upstream: Arc<dyn Upstream>,
    mode: StreamMode,
) -> Gate {
    let plugins = tempfile::tempdir().expect("temp dir");
    for name in guests {
        std::fs::copy(guest(name), plugins.path().join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("copy {name}.wasm: {e}"));
    }
    let policies = tempfile::tempdir().expect("temp dir");
    std::fs::write(policies.path().join("policies.cedar"), policy).expect("write policy");
    let data = tempfile::tempdir().expect("temp dir");
    let (service, receipts) = exchange_service(
        plugins.path(),
        policies.path(),
        config,
        upstream,
        mode,
        8,
        data.path(),
    );
    let view = service.auditing.view();
    for name in guests {
        assert!(view.set.get(name).is_some(), "{name} was not loaded");
    }
    Gate {
        data,
        _plugins: plugins,
        _policies: policies,
        service,
        receipts,
    }
}

/// Spanner in `mode`, proposing spans of "secret".
fn spanner(mode: &str) -> String {
    format!("[auditors.spanner.settings]\nmode = \"{mode}\"\n")
}

fn scope() -> Scope {
    Scope {
        org: "acme".into(),
        workspace: "w".into(),
        agent: "a".into(),
    }
}

fn body(text: &str, stream: bool) -> Value {
    json!({
        "model": mock::MODEL,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    })
}

fn parse(body: &Value) -> ChatRequest {
    openai::parse_request(body.to_string().as_bytes(), mock::MODEL).expect("valid request")
}

async fn send(g: &Gate, body: &Value) -> Outcome {
    lucid::exchange::run(g.service.clone(), scope(), parse(body)).await
}

/// The AR of a receipt, checked to be a valid signed AR.
fn ar(text: &str) -> Value {
    let ar: Value = serde_json::from_str(text).expect("the receipt is JSON");
    lucid_ar::verify_single(&ar).expect("the receipt verifies");
    ar
}

/// The AR's entry for `phase`.
fn phase<'a>(ar: &'a Value, phase: &str) -> &'a Value {
    ar["phases"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["phase"] == phase))
        .unwrap_or_else(|| panic!("no {phase} phase in {ar}"))
}

/// The commitment the gateway makes to `bytes` under the exchange's salt (64 hex digits).
fn commit(salt_hex: &str, bytes: &[u8]) -> String {
    let mut all: Vec<u8> = (0..salt_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&salt_hex[i..i + 2], 16).expect("hex salt"))
        .collect();
    all.extend_from_slice(bytes);
    lucid_ar::sha256_hex(&all)
}

/// A denied exchange that never reached the model: its AR, and the denial's message.
fn denied_before_the_model(outcome: Outcome, model: &Recording) -> (Value, String) {
    let Outcome::Denied {
        receipt, denial, ..
    } = outcome
    else {
        panic!("expected a denial, got {outcome:?}");
    };
    assert_eq!(
        model.calls(),
        0,
        "the model was called for a denied request"
    );
    assert_eq!(receipt.decision, Effect::Deny);
    assert_eq!(receipt.redactions, 0);
    let ar = ar(&receipt.text);
    assert_eq!(ar["decision"], "deny");
    assert!(ar.get("redactions").is_none(), "nothing was masked: {ar}");
    (ar, denial.message())
}

/// The errors of the AR's request-phase decision, joined.
fn request_errors(ar: &Value) -> String {
    let decision = &phase(ar, "request")["decision"];
    assert_eq!(decision["effect"], "deny", "{decision}");
    decision["errors"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

/// The content deltas of stream chunks, in order.
fn deltas<'a>(chunks: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    chunks
        .into_iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .collect()
}

/// Every event of a forwarded stream.
async fn drain(outcome: Outcome) -> Vec<StreamEvent> {
    let Outcome::Forwarded { mut events, .. } = outcome else {
        panic!("expected a forwarded stream, got {outcome:?}");
    };
    let mut all = Vec::new();
    while let Some(event) = events.recv().await {
        all.push(event);
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_is_masked_before_the_model_sees_it_and_the_receipt_says_where() {
    let model = Recording::answering("ok");
    let g = gate(
        &["spanner"],
        MASK_REQUEST,
        &spanner("word"),
        model.clone(),
        StreamMode::Buffer,
    );
    let sent = body("my secret plan, secret!", false);
    let outcome = send(&g, &sent).await;
    let Outcome::Completed {
        head,
        receipt,
        body: answer,
    } = outcome
    else {
        panic!("expected an allowed exchange, got {outcome:?}");
    };
    let upstream = model.request();
    assert_eq!(
        upstream["messages"][0]["content"], "my [WORD] plan, [WORD]!",
        "{upstream}"
    );
    // Only the masked text changed.
    let mut expected = sent.clone();
    expected["messages"][0]["content"] = json!("my [WORD] plan, [WORD]!");
    assert_eq!(upstream, expected);
    assert_eq!(receipt.decision, Effect::Allow);
    assert_eq!(receipt.redactions, 2);
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap(),
        completion("ok")
    );

    let ar = ar(&receipt.text);
    assert_eq!(ar["decision"], "allow");
    let request = phase(&ar, "request");
    assert_eq!(request["decision"]["effect"], "allow");
    assert_eq!(
        request["decision"]["redact"][0]["policy"], "mask-word",
        "{request}"
    );
    assert_eq!(request["decision"]["redact"][0]["claim"], "spanned");
    let redactions = ar["redactions"].as_array().expect("a redactions array");
    assert_eq!(redactions.len(), 1, "{redactions:?}");
    let r = &redactions[0];
    assert_eq!(r["phase"], "request");
    assert_eq!(r["commitment"], "sha256(salt||bytes)");
    assert_ne!(r["before"], r["after"]);
    // Commitments to the request as received and as the model got it, under the client's salt.
    assert_eq!(
        r["before"],
        commit(&head.content_salt, sent.to_string().as_bytes())
    );
    assert_eq!(
        r["after"],
        commit(&head.content_salt, upstream.to_string().as_bytes())
    );
    assert_eq!(ar["content"]["request"], r["before"]);
    let spans = r["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 2, "{spans:?}");
    for (span, (start, end)) in spans.iter().zip([(3, 9), (16, 22)]) {
        assert_eq!(span["field"], "/messages/0/content", "{span}");
        assert_eq!(
            (span["start"].as_u64(), span["end"].as_u64()),
            (Some(start), Some(end))
        );
        assert_eq!(span["kinds"], json!(["word"]));
        assert_eq!(span["auditors"], json!(["spanner"]));
        assert_eq!(span["claims"], json!(["spanned"]));
        assert_eq!(span["policies"], json!(["mask-word"]));
        assert_eq!(span["style"], "label");
        assert_eq!(span["replacement_bytes"], 6);
    }
    // The claims record what was found, never the text (nor where it is).
    for p in ar["phases"].as_array().unwrap() {
        let claims = p["claims"].to_string();
        for raw in ["secret", "my ", "plan", "/messages/"] {
            assert!(
                !claims.contains(raw),
                "'{raw}' in the AR's claims: {claims}"
            );
        }
    }
    // The response phase's auditors saw the masked request: nothing to mask there.
    let response = phase(&ar, "response");
    assert_eq!(response["decision"]["effect"], "allow");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_router_says_how_many_stretches_were_masked() {
    let model = Recording::answering("ok");
    let g = gate(
        &["spanner"],
        MASK_REQUEST,
        &spanner("word"),
        model.clone(),
        StreamMode::Buffer,
    );
    let reader = SqliteStore::open(&g.data.path().join("evidence.db")).expect("reader");
    let gateway = Arc::new(lucid::gateway::Gateway::new(
        g.service.clone(),
        Arc::new(std::sync::Mutex::new(Box::new(reader))),
        Config::default(),
    ));
    let router = lucid::gateway::api::router(gateway);
    let response = router
        .oneshot(
            Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .body(Body::from(
                    body("my secret plan, secret!", false).to_string(),
                ))
                .unwrap(),
        )
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-lucid-redactions"], "2");
    assert_eq!(response.headers()["x-lucid-cedar-decision"], "allow");
    assert_eq!(
        model.request()["messages"][0]["content"],
        "my [WORD] plan, [WORD]!"
    );
}

/// A request with an assistant tool call whose arguments mention the word.
fn tool_call_body() -> Value {
    json!({
        "model": mock::MODEL,
        "messages": [
            {"role": "user", "content": "look it up"},
            {"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "search", "arguments": "{\"q\":\"secret\"}"},
            }]},
            {"role": "tool", "tool_call_id": "call_1", "content": "nothing found"},
        ],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_span_that_cannot_be_applied_exactly_denies_before_the_model() {
    // (mode, request, what the masking error says)
    let cases = [
        (
            "model",
            body("my secret plan", false),
            "'/model', which is not a text the gateway masks",
        ),
        (
            "past_end",
            body("abc", false),
            "span 0..8 of '/messages/0/content', which is not inside that text",
        ),
        (
            "mid_char",
            body("é is a letter", false),
            "span 0..1 of '/messages/0/content', which is not inside that text on character boundaries",
        ),
        (
            "quote",
            tool_call_body(),
            "masking '/messages/1/tool_calls/0/function/arguments' would leave the tool call's arguments invalid JSON",
        ),
    ];
    for (mode, request, expected) in cases {
        let model = Recording::answering("ok");
        let g = gate(
            &["spanner"],
            MASK_REQUEST,
            &spanner(mode),
            model.clone(),
            StreamMode::Buffer,
        );
        let (ar, message) = denied_before_the_model(send(&g, &request).await, &model);
        let errors = request_errors(&ar);
        assert!(errors.contains("masking failed"), "{mode}: {errors}");
        assert!(errors.contains(expected), "{mode}: {errors}");
        assert!(message.contains("request phase"), "{mode}: {message}");
        assert!(message.contains("masking failed"), "{mode}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hostile_modes_also_deny_a_stream_before_the_model() {
    let model = Recording::new(Reply::Chunks(chunks(&["ok"])));
    let g = gate(
        &["spanner"],
        MASK_REQUEST,
        &spanner("past_end"),
        model.clone(),
        StreamMode::Observe,
    );
    let (ar, _) = denied_before_the_model(send(&g, &body("abc", true)).await, &model);
    assert!(request_errors(&ar).contains("masking failed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_spans_are_masked_once_per_occurrence() {
    let model = Recording::answering("ok");
    let g = gate(
        &["spanner"],
        MASK_REQUEST,
        &spanner("overlap"),
        model.clone(),
        StreamMode::Buffer,
    );
    let outcome = send(&g, &body("a secret and a secret", false)).await;
    let Outcome::Completed { receipt, .. } = outcome else {
        panic!("expected an allowed exchange, got {outcome:?}");
    };
    assert_eq!(
        model.request()["messages"][0]["content"],
        "a [WORD] and a [WORD]"
    );
    assert_eq!(receipt.redactions, 2);
    let ar = ar(&receipt.text);
    let spans = ar["redactions"][0]["spans"].as_array().expect("spans");
    let got: Vec<(u64, u64)> = spans
        .iter()
        .map(|s| (s["start"].as_u64().unwrap(), s["end"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, [(2, 8), (15, 21)], "{spans:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mask_rule_that_holds_without_spans_denies_and_0_1_auditors_still_load() {
    // legacy_v01 (lucid:auditor 0.1) cannot propose spans; its count holds the rule anyway.
    let policy = r#"
@id("p") permit (principal, action, resource);
@id("mask-legacy") @redact("legacy_words")
forbid (principal, action == Action::"request", resource)
when { context.claims has legacy_words && context.claims.legacy_words > 0 };
"#;
    let model = Recording::answering("ok");
    let g = gate(
        &["legacy_v01"],
        policy,
        "",
        model.clone(),
        StreamMode::Buffer,
    );
    let (ar, message) =
        denied_before_the_model(send(&g, &body("three words here", false)).await, &model);
    // The 0.1 auditor ran: its claim is in the receipt.
    let claims = &phase(&ar, "request")["claims"];
    assert_eq!(claims[0]["auditor"], "legacy_v01", "{claims}");
    assert_eq!(claims[0]["name"], "legacy_words");
    assert_eq!(claims[0]["value"], 3);
    let errors = request_errors(&ar);
    assert!(errors.contains("masking failed"), "{errors}");
    assert!(
        errors.contains(
            "policy 'mask-legacy' asks to mask the spans of claim 'legacy_words', but no auditor proposed one"
        ),
        "{errors}"
    );
    assert!(message.contains("no auditor proposed one"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mask_rule_of_other_kinds_than_those_proposed_denies() {
    let policy = r#"
@id("p") permit (principal, action, resource);
@id("mask-other") @redact("spanned") @redact_kinds("other")
forbid (principal, action == Action::"request", resource)
when { context.claims has spanned && context.claims.spanned };
"#;
    let model = Recording::answering("ok");
    let g = gate(
        &["spanner"],
        policy,
        &spanner("word"),
        model.clone(),
        StreamMode::Buffer,
    );
    let (ar, _) = denied_before_the_model(send(&g, &body("my secret", false)).await, &model);
    let errors = request_errors(&ar);
    assert!(
        errors.contains("claim 'spanned' of kind other, but no auditor proposed one"),
        "{errors}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_json_answer_is_masked_before_the_client_sees_it() {
    let model = Recording::answering("the secret is out");
    let g = gate(
        &["spanner"],
        MASK_RESPONSE,
        &spanner("word"),
        model.clone(),
        StreamMode::Buffer,
    );
    let outcome = send(&g, &body("tell me", false)).await;
    let Outcome::Completed {
        head,
        receipt,
        body: answer,
    } = outcome
    else {
        panic!("expected an allowed exchange, got {outcome:?}");
    };
    let answer_json: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer_json["choices"][0]["message"]["content"],
        "the [WORD] is out"
    );
    assert_eq!(receipt.redactions, 1);
    let ar = ar(&receipt.text);
    let r = &ar["redactions"][0];
    assert_eq!(r["phase"], "response");
    assert_eq!(r["spans"][0]["field"], "/choices/0/message/content");
    assert_eq!(
        (
            r["spans"][0]["start"].as_u64(),
            r["spans"][0]["end"].as_u64()
        ),
        (Some(4), Some(10))
    );
    // `after` is the body the client got, which the content commitment covers too.
    assert_eq!(r["after"], commit(&head.content_salt, answer.as_bytes()));
    assert_eq!(ar["content"]["response"], r["after"]);
    // The answer before masking is not committed to under the client's salt: the client could
    // test guesses of the masked value against it.
    assert_eq!(r["before"], Value::Null);
    let guessed = commit(
        &head.content_salt,
        completion("the secret is out").to_string().as_bytes(),
    );
    assert!(!ar.to_string().contains(&guessed));
}

/// Pieces of "the secret is out" small enough that the word straddles audit windows.
const PIECES: [&str; 6] = ["the", " se", "cre", "t i", "s o", "ut"];

#[tokio::test(flavor = "multi_thread")]
async fn streamed_tool_call_arguments_are_masked_in_buffer_and_incremental() {
    let call = |delta: Value| {
        json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1,
               "model": mock::MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
    };
    let pieces = [r#"{"note":"the se"#, r#"cret plan","#, r#""n":1}"#];
    // Tool calls, and the deprecated single function call (which must not bypass auditing).
    for legacy in [false, true] {
        let (first, piece, at): (Value, fn(&str) -> Value, &str) = if legacy {
            (
                json!({"role": "assistant", "function_call": {"name": "save", "arguments": ""}}),
                |p| json!({"function_call": {"arguments": p}}),
                "/choices/0/delta/function_call/arguments",
            )
        } else {
            (
                json!({"role": "assistant", "tool_calls": [
                    {"index": 0, "id": "c1", "type": "function", "function": {"name": "save", "arguments": ""}}
                ]}),
                |p| json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
                "/choices/0/delta/tool_calls/0/function/arguments",
            )
        };
        let mut script = vec![call(first)];
        script.extend(pieces.iter().map(|p| call(piece(p))));
        let mut done = call(json!({}));
        done["choices"][0]["finish_reason"] = json!("tool_calls");
        script.push(done);
        for mode in [StreamMode::Buffer, StreamMode::Incremental] {
            let model = Recording::new(Reply::Chunks(script.clone()));
            let g = gate(&["spanner"], MASK_RESPONSE, &spanner("word"), model, mode);
            let (chunks, ar) = forwarded_or_buffered(&g).await;
            let args: String = chunks
                .iter()
                .filter_map(|c| c.pointer(at))
                .filter_map(Value::as_str)
                .collect();
            let case = format!("{mode:?}, legacy {legacy}");
            assert_eq!(args, r#"{"note":"the [WORD] plan","n":1}"#, "{case}");
            assert!(
                !chunks.iter().any(|c| c.to_string().contains("cret")),
                "{case}"
            );
            assert_eq!(ar["decision"], "allow", "{case}");
            let index = if legacy { 128 } else { 0 };
            assert_eq!(
                ar["redactions"][0]["spans"][0]["field"],
                format!("/choices/0/message/tool_calls/{index}/function/arguments"),
                "{case}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_buffered_stream_is_masked_chunk_by_chunk() {
    let model = Recording::new(Reply::Chunks(chunks(&PIECES)));
    let g = gate(
        &["spanner"],
        MASK_RESPONSE,
        &spanner("word"),
        model.clone(),
        StreamMode::Buffer,
    );
    let outcome = send(&g, &body("tell me", true)).await;
    let Outcome::Buffered {
        receipt,
        chunks,
        body: sse,
        ..
    } = outcome
    else {
        panic!("expected a buffered stream, got {outcome:?}");
    };
    let deltas = deltas(&chunks);
    assert_eq!(deltas.concat(), "the [WORD] is out", "{deltas:?}");
    assert!(
        deltas
            .iter()
            .all(|d| !d.contains("se") && !d.contains("cre")),
        "{deltas:?}"
    );
    assert!(!sse.contains("secret") && !sse.contains("\"cre\""), "{sse}");
    assert_eq!(receipt.redactions, 1);
    let ar = ar(&receipt.text);
    assert_eq!(ar["stream_mode"], "buffer");
    assert_eq!(ar["redactions"][0]["phase"], "response");
}

/// The chunks and AR of a stream, buffered or forwarded.
async fn forwarded_or_buffered(g: &Gate) -> (Vec<Value>, Value) {
    if g.service.streaming.mode != StreamMode::Buffer {
        return forwarded(g).await;
    }
    match send(g, &body("tell me", true)).await {
        Outcome::Buffered {
            receipt, chunks, ..
        } => (chunks, ar(&receipt.text)),
        other => panic!("expected a buffered stream, got {other:?}"),
    }
}

/// The chunks, receipt and AR of a forwarded stream.
async fn forwarded(g: &Gate) -> (Vec<Value>, Value) {
    let events = drain(send(g, &body("tell me", true)).await).await;
    let mut chunks = Vec::new();
    let mut receipt = None;
    for e in &events {
        match e {
            StreamEvent::Chunk(c) => chunks.push(c.clone()),
            StreamEvent::Error(body) => panic!("an error event: {body} in {events:?}"),
            StreamEvent::Receipt(text) => receipt = Some(ar(text)),
            StreamEvent::Done => {}
        }
    }
    assert_eq!(events.last(), Some(&StreamEvent::Done));
    (chunks, receipt.expect("a receipt event"))
}

/// A streamed answer in `mode`, under the response mask rule, with the word split across
/// chunks (and audit windows): it arrives masked, never a piece of the word in any delta; the AR.
async fn masked_stream(mode: StreamMode) -> Value {
    let model = Recording::new(Reply::Chunks(chunks(&PIECES)));
    let g = gate(&["spanner"], MASK_RESPONSE, &spanner("word"), model, mode);
    let (chunks, ar) = forwarded(&g).await;
    let deltas = deltas(&chunks);
    assert_eq!(deltas.concat(), "the [WORD] is out", "{deltas:?}");
    assert!(
        deltas
            .iter()
            .all(|d| !d.contains("se") && !d.contains("cre")),
        "{deltas:?}"
    );
    assert_eq!(ar["decision"], "allow");
    assert_eq!(ar["stream_mode"], "incremental");
    assert_eq!(ar["content"]["stream_mode"], "incremental");
    assert_eq!(ar["redactions"][0]["phase"], "response");
    assert_eq!(
        ar["redactions"][0]["spans"].as_array().map(Vec::len),
        Some(1),
        "one stretch, however many audits saw it: {}",
        ar["redactions"]
    );
    ar
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_stream_is_masked_across_windows() {
    let ar = masked_stream(StreamMode::Incremental).await;
    assert!(ar.get("stream_mode_requested").is_none(), "{ar}");
}

#[tokio::test(flavor = "multi_thread")]
async fn observe_is_held_as_incremental_when_answers_may_be_masked() {
    let ar = masked_stream(StreamMode::Observe).await;
    assert_eq!(ar["stream_mode_requested"], "observe");
}

#[tokio::test(flavor = "multi_thread")]
async fn observe_stays_observe_when_only_requests_may_be_masked() {
    let model = Recording::new(Reply::Chunks(chunks(&PIECES)));
    let g = gate(
        &["spanner"],
        MASK_REQUEST,
        &spanner("word"),
        model.clone(),
        StreamMode::Observe,
    );
    let (chunks, ar) = forwarded(&g).await;
    assert_eq!(deltas(&chunks).concat(), "the secret is out");
    assert_eq!(ar["stream_mode"], "observe");
    assert!(ar.get("stream_mode_requested").is_none(), "{ar}");
}

#[tokio::test(flavor = "multi_thread")]
async fn redaction_styles_write_each_kind_as_configured() {
    // ([redaction] style of kind `word`, the text the model gets, the style the AR names)
    let cases = [
        ("mask", "my ****** plan", "mask", 6),
        ("fixed:XX", "my XX plan", "fixed:XX", 2),
        ("keep_last:2", "my ****et plan", "keep_last:2", 6),
    ];
    for (style, expected, named, bytes) in cases {
        let model = Recording::answering("ok");
        let config = format!("{}[redaction.kinds]\nword = \"{style}\"\n", spanner("word"));
        let g = gate(
            &["spanner"],
            MASK_REQUEST,
            &config,
            model.clone(),
            StreamMode::Buffer,
        );
        let outcome = send(&g, &body("my secret plan", false)).await;
        let Outcome::Completed { receipt, .. } = outcome else {
            panic!("{style}: expected an allowed exchange, got {outcome:?}");
        };
        assert_eq!(
            model.request()["messages"][0]["content"],
            expected,
            "{style}"
        );
        let ar = ar(&receipt.text);
        let span = &ar["redactions"][0]["spans"][0];
        assert_eq!(span["style"], named, "{style}: {span}");
        assert_eq!(span["replacement_bytes"], bytes, "{style}: {span}");
    }
}

#[test]
fn the_guests_exist() {
    for name in ["spanner", "legacy_v01"] {
        assert!(Path::new(&guest(name)).is_file(), "{name}.wasm is missing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_whose_mask_cannot_be_applied_is_withheld() {
    // In the response phase spanner's `model` mode proposes the request's `/model`: not a text
    // of the answer. The JSON answer is withheld.
    let model = Recording::answering("the secret is out");
    let g = gate(
        &["spanner"],
        MASK_RESPONSE,
        &spanner("model"),
        model.clone(),
        StreamMode::Buffer,
    );
    let outcome = send(&g, &body("tell me", false)).await;
    let Outcome::Denied {
        receipt,
        denial,
        body: sent,
        ..
    } = outcome
    else {
        panic!("expected a denial, got {outcome:?}");
    };
    assert_eq!(model.calls(), 1);
    assert!(!sent.contains("secret"), "the answer was sent: {sent}");
    assert!(denial.message().contains("response phase"), "{denial:?}");
    let ar = ar(&receipt.text);
    let decision = &phase(&ar, "response")["decision"];
    assert_eq!(decision["effect"], "deny");
    assert!(
        decision["errors"].to_string().contains(
            "masking failed: auditor 'spanner' proposed a span of '/model', which is not a text the gateway masks in the response phase"
        ),
        "{decision}"
    );
    // The request phase allowed without masking (the rule is on answers only).
    assert_eq!(phase(&ar, "request")["decision"]["effect"], "allow");
    assert!(ar.get("redactions").is_none(), "{ar}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_stream_whose_mask_cannot_be_applied_sends_no_text() {
    let model = Recording::new(Reply::Chunks(chunks(&PIECES)));
    let g = gate(
        &["spanner"],
        MASK_RESPONSE,
        &spanner("model"),
        model.clone(),
        StreamMode::Observe,
    );
    let events = drain(send(&g, &body("tell me", true)).await).await;
    let sent: Vec<String> = deltas(events.iter().filter_map(|e| match e {
        StreamEvent::Chunk(c) => Some(c),
        _ => None,
    }));
    assert!(sent.concat().is_empty(), "text was sent: {sent:?}");
    let denial = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Error(body) => Some(body.clone()),
            _ => None,
        })
        .expect("a denial event");
    assert_eq!(denial["error"]["code"], "lucid_policy_denied");
    assert!(denial.to_string().contains("masking failed"), "{denial}");
    let text = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Receipt(text) => Some(text.clone()),
            _ => None,
        })
        .expect("a receipt event");
    let ar = ar(&text);
    assert_eq!(ar["decision"], "deny");
    assert_eq!(ar["stream_mode"], "incremental");
    assert_eq!(ar["content"]["cut"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mask_for_streamed_text_already_sent_denies_the_rest() {
    // A word longer than the incremental audit's overlap: no window sees it whole, so its start
    // goes out before the audit of the whole answer asks to mask it. That mask is too late: the
    // exchange is denied (the documented limit), never receipted as masked.
    let word = "x".repeat(100);
    let answer = format!("a {word} b");
    let pieces: Vec<&str> = answer
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let model = Recording::new(Reply::Chunks(chunks(&pieces)));
    let config = format!("{}word = \"{word}\"\n", spanner("word"));
    let g = gate(
        &["spanner"],
        MASK_RESPONSE,
        &config,
        model.clone(),
        StreamMode::Incremental,
    );
    let events = drain(send(&g, &body("tell me", true)).await).await;
    let sent: String = deltas(events.iter().filter_map(|e| match e {
        StreamEvent::Chunk(c) => Some(c),
        _ => None,
    }))
    .concat();
    assert!(
        sent.len() < answer.len(),
        "the whole answer was sent: {sent}"
    );
    assert!(!sent.contains(&word), "the whole word was sent: {sent}");
    let text = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Receipt(text) => Some(text.clone()),
            _ => None,
        })
        .expect("a receipt event");
    let ar = ar(&text);
    assert_eq!(ar["decision"], "deny", "{ar}");
    let decision = &phase(&ar, "response")["decision"];
    assert!(
        decision["errors"]
            .to_string()
            .contains("had already been sent to the client"),
        "{decision}"
    );
    assert!(
        events.iter().any(
            |e| matches!(e, StreamEvent::Error(b) if b["error"]["code"] == "lucid_policy_denied")
        ),
        "{events:?}"
    );
}
