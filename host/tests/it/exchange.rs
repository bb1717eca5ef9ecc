//! The exchange core in process, without a socket: the real auditors, the balanced preset, the
//! real signer component and a SQLite store, against a scripted upstream (completions, chunks,
//! errors, delays). The last tests drive the HTTP layer with `oneshot` on the axum router.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use lucid::config::{Config, StreamMode};
use lucid::evidence::SqliteStore;
use lucid::evidence::service::ReceiptService;
use lucid::exchange::openai::{self, ChatRequest};
use lucid::exchange::receipt_core::Scope;
use lucid::exchange::{
    ChunkStream, ExchangeError, ExchangeService, Outcome, StreamEvent, Upstream, UpstreamError,
    mock,
};
use lucid::policy::Effect;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::util::{exchange_service, plugins_dir};

mod http;
mod streams;
mod ui;
mod upstream;

/// What the scripted model does.
#[derive(Clone)]
enum Script {
    Complete(Value),
    Fail(UpstreamError),
    /// Stream these items, waiting `delay` before each.
    Chunks(Vec<Result<Value, UpstreamError>>, Duration),
}

struct Scripted {
    script: Script,
    calls: AtomicUsize,
    /// How long a completion takes.
    delay: Duration,
}

impl Scripted {
    fn new(script: Script) -> Arc<Scripted> {
        Self::slow(script, Duration::ZERO)
    }

    fn slow(script: Script, delay: Duration) -> Arc<Scripted> {
        Arc::new(Scripted {
            script,
            calls: AtomicUsize::new(0),
            delay,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Upstream for Scripted {
    fn complete<'a>(
        &'a self,
        _request: &'a Value,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<Value, UpstreamError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let script = self.script.clone();
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            match script {
                Script::Complete(v) => Ok(v),
                Script::Fail(e) => Err(e),
                Script::Chunks(..) => panic!("a stream was scripted, a completion asked for"),
            }
        })
    }

    fn stream<'a>(
        &'a self,
        _request: &'a Value,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<ChunkStream, UpstreamError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let script = self.script.clone();
        Box::pin(async move {
            match script {
                Script::Chunks(items, delay) => {
                    let stream: ChunkStream = Box::pin(futures_util::stream::unfold(
                        items.into_iter(),
                        move |mut items| async move {
                            let item = items.next()?;
                            tokio::time::sleep(delay).await;
                            Some((item, items))
                        },
                    ));
                    Ok(stream)
                }
                Script::Fail(e) => Err(e),
                Script::Complete(_) => panic!("a completion was scripted, a stream asked for"),
            }
        })
    }

    fn models(&self) -> BoxFuture<'_, Result<(axum::http::StatusCode, Bytes), UpstreamError>> {
        Box::pin(async { Ok((StatusCode::OK, Bytes::from_static(b"{}"))) })
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is one level below the repository root")
        .to_path_buf()
}

/// An exchange service over the shipped auditors and the balanced preset, receipting into a
/// fresh SQLite store.
struct Fixture {
    _data: tempfile::TempDir,
    service: Arc<ExchangeService>,
    receipts: Arc<ReceiptService>,
}

fn fixture(upstream: Arc<dyn Upstream>, mode: StreamMode) -> Fixture {
    let data = tempfile::tempdir().expect("temp dir");
    let (service, receipts) = exchange_service(
        &plugins_dir(),
        &repo_root().join("policies/presets/balanced"),
        "",
        upstream,
        mode,
        16,
        data.path(),
    );
    Fixture {
        _data: data,
        service,
        receipts,
    }
}

fn scope() -> Scope {
    Scope {
        org: "acme".into(),
        workspace: "w".into(),
        agent: "a".into(),
    }
}

fn request(text: &str, stream: bool) -> ChatRequest {
    let body = json!({
        "model": "mock-1",
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    });
    openai::parse_request(body.to_string().as_bytes(), mock::MODEL).expect("valid request")
}

/// The AR of a receipt, checked to be a valid signed AR.
fn ar(text: &str) -> Value {
    let ar: Value = serde_json::from_str(text).expect("the receipt is JSON");
    lucid_ar::verify_single(&ar).expect("the receipt verifies");
    ar
}

async fn exchange(f: &Fixture, text: &str, stream: bool) -> Outcome {
    lucid::exchange::run(f.service.clone(), scope(), request(text, stream)).await
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

fn leak_chunks() -> Vec<Result<Value, UpstreamError>> {
    let req = json!({"messages": [{"role": "user", "content": "mock:leak"}]});
    mock::chunks(&req, "scripted", 1)
        .into_iter()
        .map(Ok)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_completion_is_answered_with_its_receipt() {
    let req = json!({"messages": [{"role": "user", "content": "hello"}]});
    let model = Scripted::new(Script::Complete(mock::completion(&req, "scripted", 1)));
    let f = fixture(model.clone(), StreamMode::Buffer);
    let Outcome::Completed {
        head,
        receipt,
        body,
    } = exchange(&f, "hello", false).await
    else {
        panic!("expected a completed exchange");
    };
    assert_eq!(model.calls(), 1);
    assert_eq!(receipt.decision, Effect::Allow);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Mock answer to: hello"
    );
    let ar = ar(&receipt.text);
    assert_eq!(ar["request_id"], head.request_id.as_str());
    assert_eq!(ar["ar_hash"], receipt.ar_hash.as_str());
    assert_eq!(ar["decision"], "allow");
    assert_eq!(ar["policy_hash"], head.policy_hash.as_str());
    assert_eq!(receipt.claims_hash.as_deref(), ar["claims_hash"].as_str());
    // The effective settings that judged the exchange are bound, with their hash.
    assert_eq!(ar["settings"]["token_budget"]["max_tokens"], 4096);
    assert_eq!(
        ar["settings_hash"],
        lucid_ar::sha256_hex(&lucid_ar::canonical_bytes(&ar["settings"])).as_str()
    );
    f.receipts.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_phase_denial_never_calls_the_model() {
    let model = Scripted::new(Script::Fail(UpstreamError::Connect("unused".into())));
    let f = fixture(model.clone(), StreamMode::Buffer);
    let outcome = exchange(&f, "my card is 4111 1111 1111 1111, charge it", false).await;
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
    assert!(denial.message().contains("request phase"), "{denial:?}");
    assert_eq!(ar(&receipt.text)["decision"], "deny");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_failure_is_receipted() {
    let error = UpstreamError::Status {
        status: 500,
        body: "boom".into(),
        retry_after: None,
    };
    let model = Scripted::new(Script::Fail(error.clone()));
    let f = fixture(model, StreamMode::Buffer);
    let Outcome::UpstreamFailed {
        receipt,
        error: got,
        ..
    } = exchange(&f, "hello", false).await
    else {
        panic!("expected an upstream failure");
    };
    assert_eq!(got.to_string(), error.to_string());
    assert_eq!(ar(&receipt.text)["upstream_error"], error.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_buffered_stream_that_leaks_is_withheld() {
    let model = Scripted::new(Script::Chunks(leak_chunks(), Duration::ZERO));
    let f = fixture(model, StreamMode::Buffer);
    let outcome = exchange(&f, "tell me the card", true).await;
    let Outcome::Denied {
        receipt, denial, ..
    } = outcome
    else {
        panic!("expected a denial, got {outcome:?}");
    };
    assert!(denial.message().contains("response phase"), "{denial:?}");
    let ar = ar(&receipt.text);
    assert_eq!(ar["stream_mode"], "buffer");
    assert_eq!(ar["decision"], "deny");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_buffered_stream_is_released_whole_after_the_audit() {
    let req = json!({"messages": [{"role": "user", "content": "echo: all fine here"}]});
    let chunks: Vec<_> = mock::chunks(&req, "s", 1).into_iter().map(Ok).collect();
    let count = chunks.len();
    let model = Scripted::new(Script::Chunks(chunks, Duration::from_millis(2)));
    let f = fixture(model, StreamMode::Buffer);
    let Outcome::Buffered {
        receipt, chunks, ..
    } = exchange(&f, "echo: all fine here", true).await
    else {
        panic!("expected a buffered stream");
    };
    assert_eq!(chunks.len(), count);
    assert_eq!(ar(&receipt.text)["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread")]
async fn observe_forwards_every_chunk_then_the_receipt() {
    let req = json!({"messages": [{"role": "user", "content": "echo: one two three"}]});
    let chunks: Vec<_> = mock::chunks(&req, "s", 1).into_iter().map(Ok).collect();
    let count = chunks.len();
    let model = Scripted::new(Script::Chunks(chunks, Duration::from_millis(1)));
    let f = fixture(model, StreamMode::Observe);
    let events = drain(exchange(&f, "echo: one two three", true).await).await;
    assert_eq!(events.len(), count + 2, "{events:?}");
    assert!(
        events[..count]
            .iter()
            .all(|e| matches!(e, StreamEvent::Chunk(_)))
    );
    let StreamEvent::Receipt(text) = &events[count] else {
        panic!("expected the receipt after the chunks: {events:?}");
    };
    let ar = ar(text);
    assert_eq!(ar["stream_mode"], "observe");
    assert_eq!(ar["decision"], "allow");
    assert_eq!(events[count + 1], StreamEvent::Done);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_error_mid_stream_ends_it_with_an_error_and_a_receipt() {
    let req = json!({"messages": [{"role": "user", "content": "echo: partial answer"}]});
    let mut items: Vec<_> = mock::chunks(&req, "s", 1)
        .into_iter()
        .take(2)
        .map(Ok)
        .collect();
    items.push(Err(UpstreamError::Connect("connection reset".into())));
    let model = Scripted::new(Script::Chunks(items, Duration::ZERO));
    let f = fixture(model, StreamMode::Observe);
    let events = drain(exchange(&f, "echo: partial answer", true).await).await;
    let error = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Error(body) => Some(body.clone()),
            _ => None,
        })
        .expect("an error event");
    assert_eq!(error["error"]["code"], "lucid_upstream_error");
    let text = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Receipt(text) => Some(text.clone()),
            _ => None,
        })
        .expect("a receipt event");
    assert!(
        ar(&text)["upstream_error"]
            .as_str()
            .is_some_and(|e| e.contains("connection reset"))
    );
    assert_eq!(events.last(), Some(&StreamEvent::Done));
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_cuts_a_stream_that_turns_bad() {
    let model = Scripted::new(Script::Chunks(leak_chunks(), Duration::ZERO));
    let f = fixture(model, StreamMode::Incremental);
    let events = drain(exchange(&f, "tell me the card", true).await).await;
    let denial = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Error(body) => Some(body.clone()),
            _ => None,
        })
        .expect("a denial event");
    assert_eq!(denial["error"]["code"], "lucid_policy_denied");
    let text = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Receipt(text) => Some(text.clone()),
            _ => None,
        })
        .expect("a receipt event");
    let ar = ar(&text);
    assert_eq!(ar["decision"], "deny");
    assert!(ar["stream_cut_at_chars"].is_u64(), "{ar}");
}

#[test]
fn exchange_errors_render_as_openai_errors() {
    let body = ExchangeError::Unreceipted("store down".into()).body();
    assert_eq!(body["error"]["type"], "server_error");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("store down"))
    );
}

/// The HTTP layer over the same fixture, through the axum router without a socket.
fn router(f: &Fixture, data: &Path) -> axum::Router {
    router_with(f, data, Config::default())
}

fn router_with(f: &Fixture, data: &Path, config: Config) -> axum::Router {
    let reader = SqliteStore::open(&data.join("evidence.db")).expect("reader");
    let gateway = Arc::new(lucid::gateway::Gateway::new(
        f.service.clone(),
        Arc::new(std::sync::Mutex::new(Box::new(reader))),
        config,
    ));
    lucid::gateway::api::router(gateway)
}

fn post(body: &str) -> Request<Body> {
    Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// The wiring `lucid serve` uses, built in process from its options.
fn options(data: &Path, policies: PathBuf) -> lucid::app::ServeOptions {
    let config = data.join("lucid.toml");
    std::fs::write(&config, "[defaults]\ndeadline_ms = 10000\n").expect("config");
    lucid::app::ServeOptions {
        upstream: Some("mock".into()),
        plugins: plugins_dir(),
        policies: Some(policies),
        preset: "balanced".into(),
        config: Some(config),
        store: None,
        data_dir: data.to_path_buf(),
        replica: "default".into(),
        receipt: crate::util::receipt(),
        trusted_keys: None,
        registry: None,
        max_plugin_bytes: 32 << 20,
        insecure_admin: false,
        cache_key: Some(data.join("../cache.key")),
        attestation: lucid::attestation::AttestationMode::Mock,
    }
}
