//! Upstream failures as the client sees them: refusals (4xx) keep their status, body and
//! `Retry-After`; failures are 502, timeouts 504; every one carries its receipt. The last tests run
//! the real HTTP client against tiny local servers that answer badly or not at all.

use std::time::Instant;

use lucid::exchange::upstream::{HttpUpstream, MAX_BODY_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// What the router answers to `body` when the upstream is `upstream`: status, headers, body.
async fn answer(
    upstream: Arc<dyn Upstream>,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let f = fixture(upstream, StreamMode::Buffer);
    let response = router(&f, f._data.path())
        .oneshot(post(body))
        .await
        .expect("a response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).expect("a JSON body");
    f.receipts.shutdown();
    (status, headers, body)
}

fn status(status: u16, body: &str, retry_after: Option<&str>) -> UpstreamError {
    UpstreamError::Status {
        status,
        body: body.into(),
        retry_after: retry_after.map(String::from),
    }
}

fn chat(stream: bool) -> String {
    json!({"model": "mock-1", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
}

fn assert_receipted(headers: &axum::http::HeaderMap) {
    for name in [
        "x-lucid-ar-hash",
        "x-lucid-chain-depth",
        "x-lucid-request-id",
    ] {
        assert!(headers.contains_key(name), "missing {name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_keeps_its_status_body_and_retry_after() {
    let limited = openai::error_body("slow down", "requests", "rate_limit_exceeded");
    for stream in [false, true] {
        let error = status(429, &limited.to_string(), Some("7"));
        let upstream = Scripted::new(Script::Fail(error));
        let (code, headers, body) = answer(upstream, &chat(stream)).await;
        assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "stream: {stream}");
        assert_eq!(headers["retry-after"], "7");
        assert_eq!(body, limited, "the upstream's own error body");
        assert_receipted(&headers);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_request_keeps_its_status_and_a_plain_body_is_wrapped() {
    let upstream = Scripted::new(Script::Fail(status(400, "model not found", None)));
    let (code, headers, body) = answer(upstream, &chat(false)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(!headers.contains_key("retry-after"));
    assert_eq!(body["error"]["code"], "lucid_upstream_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("HTTP 400: model not found")),
        "{body}"
    );
    assert_receipted(&headers);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_502_and_timeouts_504() {
    let cases = [
        (
            status(500, "{\"error\": {\"message\": \"boom\"}}", None),
            502,
        ),
        (status(503, "overloaded", Some("30")), 502),
        (UpstreamError::Connect("connection refused".into()), 502),
        (UpstreamError::Invalid("not JSON".into()), 502),
        (UpstreamError::Timeout(300), 504),
    ];
    for (error, expected) in cases {
        let message = error.to_string();
        let (code, headers, body) = answer(Scripted::new(Script::Fail(error)), &chat(false)).await;
        assert_eq!(code.as_u16(), expected, "{message}");
        // A server failure is Lucid's upstream_error, whatever the upstream's body.
        assert_eq!(body["error"]["type"], "upstream_error", "{message}");
        assert_eq!(body["error"]["message"], message.as_str());
        assert_receipted(&headers);
    }
}

/// A local HTTP/1.1 server: every connection gets `response` (raw bytes; none at all when it is
/// empty), and is then kept open without another byte.
async fn raw_server(response: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                // The request's head and body fit in one read for these tests.
                let mut request = vec![0u8; 64 << 10];
                let _ = socket.read(&mut request).await;
                if !response.is_empty() {
                    let _ = socket.write_all(&response).await;
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(socket);
            });
        }
    });
    url
}

fn http(url: &str, timeout: Duration) -> Arc<dyn Upstream> {
    Arc::new(HttpUpstream::new(url, None, timeout, Duration::from_secs(2)).expect("a valid URL"))
}

fn receipt_of(headers: &axum::http::HeaderMap, f: &Fixture) -> Value {
    let hash = headers["x-lucid-ar-hash"].to_str().unwrap();
    let mut store = SqliteStore::open(&f._data.path().join("evidence.db")).expect("reader");
    let stored = lucid::evidence::EvidenceStore::get(&mut store, hash)
        .expect("the store reads")
        .expect("the AR is stored");
    ar(&stored)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_never_answers_times_out_with_a_receipt() {
    let url = raw_server(Vec::new()).await;
    let f = fixture(http(&url, Duration::from_millis(300)), StreamMode::Buffer);
    let router = router(&f, f._data.path());
    for stream in [false, true] {
        let started = Instant::now();
        let response = router.clone().oneshot(post(&chat(stream))).await.unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert_receipted(response.headers());
        let ar = receipt_of(response.headers(), &f);
        assert_eq!(
            ar["upstream_error"],
            "the upstream did not answer within 300 ms"
        );
    }
    f.receipts.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_stalls_ends_at_the_deadline_with_a_receipt() {
    let chunk = json!({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": null}]});
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{}\r\n",
        openai::sse_data(&chunk).len(),
        openai::sse_data(&chunk)
    );
    let url = raw_server(response.into_bytes()).await;
    let f = fixture(http(&url, Duration::from_millis(400)), StreamMode::Observe);
    let started = Instant::now();
    let events =
        drain(lucid::exchange::run(f.service.clone(), scope(), request("hi", true)).await).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&events[0], StreamEvent::Chunk(c) if *c == chunk),
        "{events:?}"
    );
    let receipt = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Receipt(text) => Some(ar(text)),
            _ => None,
        })
        .expect("a receipt");
    assert_eq!(
        receipt["upstream_error"],
        "the upstream did not answer within 400 ms"
    );
    assert_eq!(events.last(), Some(&StreamEvent::Done));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_over_the_wire_keeps_its_retry_after() {
    let body = openai::error_body("slow down", "requests", "rate_limit_exceeded").to_string();
    let response = format!(
        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 12\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let url = raw_server(response.into_bytes()).await;
    let (code, headers, got) = answer(http(&url, Duration::from_secs(5)), &chat(false)).await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "12");
    assert_eq!(got.to_string(), body);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_past_the_size_limit_is_invalid() {
    let size = MAX_BODY_BYTES + 1024;
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
    )
    .into_bytes();
    response.resize(response.len() + size, b' ');
    let url = raw_server(response).await;
    let (code, _, body) = answer(http(&url, Duration::from_secs(20)), &chat(false)).await;
    assert_eq!(code, StatusCode::BAD_GATEWAY);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("larger than {MAX_BODY_BYTES} bytes")),
        "{body}"
    );
}
