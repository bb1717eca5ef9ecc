//! Streaming under many slow clients: a mock upstream that streams its answer slowly (SSE, one
//! chunk every interval), and a client that keeps N streams open at once and times each one's
//! first event and end.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Channel, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Serialize;

use super::targets::FIXED_COMPLETION;

/// `xtask bench sse-upstream`: answer `"stream": true` requests with `chunks` SSE chunks, one
/// every `interval_ms`, then `[DONE]`; any other request with the fixed completion. Prints
/// `sse upstream listening on http://ADDR` once bound.
pub fn serve_upstream(listen: &str, chunks: u32, interval_ms: u64) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        println!(
            "sse upstream listening on http://{}",
            listener.local_addr()?
        );
        let interval = Duration::from_millis(interval_ms);
        loop {
            let (socket, _) = listener.accept().await?;
            let _ = socket.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(req, chunks, interval));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    })
}

async fn answer(
    req: Request<Incoming>,
    chunks: u32,
    interval: Duration,
) -> Result<Response<Channel<Bytes>>, Infallible> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let stream = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("stream").and_then(serde_json::Value::as_bool))
        == Some(true);
    let (mut tx, channel) = Channel::new(4);
    let mut response = Response::new(channel);
    if stream {
        response.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        tokio::spawn(async move {
            for i in 0..chunks {
                tokio::time::sleep(interval).await;
                let delta = if i == 0 {
                    serde_json::json!({"role": "assistant", "content": "Streamed "})
                } else {
                    serde_json::json!({"content": format!("word{i:03} of the answer ")})
                };
                if tx.send_data(event(&delta, None)).await.is_err() {
                    return;
                }
            }
            let _ = tx
                .send_data(event(&serde_json::json!({}), Some("stop")))
                .await;
            let _ = tx.send_data(Bytes::from_static(b"data: [DONE]\n\n")).await;
        });
    } else {
        response.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/json"),
        );
        let _ = tx.try_send(hyper::body::Frame::data(Bytes::from_static(
            FIXED_COMPLETION.as_bytes(),
        )));
    }
    Ok(response)
}

fn event(delta: &serde_json::Value, finish: Option<&str>) -> Bytes {
    let chunk = serde_json::json!({
        "id": "chatcmpl-sse",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "mock-1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    Bytes::from(format!("data: {chunk}\n\n"))
}

/// What the streaming clients saw.
#[derive(Debug, Clone, Serialize)]
pub struct StreamStats {
    pub clients: u32,
    /// Streams that ended with `[DONE]`.
    pub completed: u64,
    /// Non-200 answers, cut streams and transport errors.
    pub failed: u64,
    pub first_event_p50_ms: f64,
    pub first_event_p99_ms: f64,
    pub total_p50_ms: f64,
    pub total_p99_ms: f64,
    pub seconds: f64,
    /// A few of the failures, for the report.
    pub failures: Vec<String>,
}

/// Keep `clients` streams open against `url` (each client on its own connection, one stream
/// after another) until `seconds` have passed; client starts are spread over `stagger` so the
/// streams are not in lockstep.
pub fn run_clients(
    url: &str,
    body: &str,
    clients: u32,
    seconds: f64,
    stagger: Duration,
) -> anyhow::Result<StreamStats> {
    let (addr, path) = split_url(url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let body = Bytes::from(body.to_string());
    runtime.block_on(async move {
        let started = Instant::now();
        let deadline = started + Duration::from_secs_f64(seconds);
        let mut tasks = Vec::new();
        for i in 0..clients {
            let body = body.clone();
            let path = path.clone();
            let delay = stagger.mul_f64(f64::from(i) / f64::from(clients.max(1)));
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                client(addr, &path, body, deadline).await
            }));
        }
        let mut first = Vec::new();
        let mut total = Vec::new();
        let mut failed = 0u64;
        let mut failures = Vec::new();
        for task in tasks {
            let outcome = task.await.context("a streaming client panicked")?;
            first.extend(outcome.first);
            total.extend(outcome.total);
            failed += outcome.failed;
            for f in outcome.failures {
                if failures.len() < 5 && !failures.contains(&f) {
                    failures.push(f);
                }
            }
        }
        let pct = |v: &mut Vec<f64>, p: f64| {
            if v.is_empty() {
                return f64::NAN;
            }
            v.sort_by(f64::total_cmp);
            let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
            v[i]
        };
        Ok(StreamStats {
            clients,
            completed: total.len() as u64,
            failed,
            first_event_p50_ms: pct(&mut first, 0.50),
            first_event_p99_ms: pct(&mut first, 0.99),
            total_p50_ms: pct(&mut total, 0.50),
            total_p99_ms: pct(&mut total, 0.99),
            seconds: started.elapsed().as_secs_f64(),
            failures,
        })
    })
}

#[derive(Default)]
struct Outcome {
    first: Vec<f64>,
    total: Vec<f64>,
    failed: u64,
    failures: Vec<String>,
}

impl Outcome {
    fn fail(&mut self, why: String) {
        self.failed += 1;
        if self.failures.len() < 2 {
            self.failures.push(why);
        }
    }
}

/// One client: a connection, then streams one after another until the deadline (a stream
/// started before it runs to its end).
async fn client(addr: SocketAddr, path: &str, body: Bytes, deadline: Instant) -> Outcome {
    let mut outcome = Outcome::default();
    let mut sender = None;
    while Instant::now() < deadline {
        if sender.is_none() {
            match connect(addr).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    outcome.fail(format!("connect: {e:#}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        match one_stream(s, addr, path, body.clone()).await {
            Ok((first, total)) => {
                outcome.first.push(first);
                outcome.total.push(total);
            }
            Err(e) => {
                outcome.fail(format!("{e:#}"));
                // The connection may be unusable after an error: open a new one.
                sender = None;
            }
        }
    }
    outcome
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let socket = tokio::net::TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(socket)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One streamed answer: (ms to its first non-empty body bytes, ms to its end).
async fn one_stream(
    sender: &mut Sender,
    addr: SocketAddr,
    path: &str,
    body: Bytes,
) -> anyhow::Result<(f64, f64)> {
    sender.ready().await?;
    let request = Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(body))?;
    let started = Instant::now();
    let response = sender.send_request(request).await?;
    let status = response.status();
    let mut body = response.into_body();
    let mut first = None;
    let mut tail: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Some(data) = frame.data_ref()
            && !data.is_empty()
        {
            first.get_or_insert_with(|| started.elapsed());
            // Keep the end only: enough to see `[DONE]`.
            tail.extend_from_slice(data);
            if tail.len() > 64 {
                tail.drain(..tail.len() - 64);
            }
        }
    }
    let total = started.elapsed();
    if status != 200 {
        bail!("HTTP {status}");
    }
    if !tail.windows(6).any(|w| w == b"[DONE]") {
        bail!("stream ended without [DONE]");
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok((ms(first.unwrap_or(total)), ms(total)))
}

/// `http://HOST:PORT/PATH` → (address, path).
fn split_url(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("not an http:// URL: {url}"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = authority
        .parse()
        .with_context(|| format!("not an IP:PORT address: {authority}"))?;
    Ok((addr, format!("/{path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let (addr, path) = split_url("http://127.0.0.1:8080/v1/chat/completions").unwrap();
        assert_eq!(addr.port(), 8080);
        assert_eq!(path, "/v1/chat/completions");
    }

    #[test]
    fn events_are_sse_data_lines() {
        let e = event(&serde_json::json!({"content": "x"}), None);
        let text = std::str::from_utf8(&e).unwrap();
        assert!(text.starts_with("data: {") && text.ends_with("\n\n"));
    }
}
