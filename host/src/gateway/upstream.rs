//! The model behind the gateway: the built-in mock, or an OpenAI-compatible API over pooled
//! HTTP(S) connections (rustls) with the key from an environment variable and timeouts.

use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::Stream;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::mock;

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("the upstream did not answer within {0} ms")]
    Timeout(u64),
    #[error("cannot reach the upstream: {0}")]
    Connect(String),
    #[error("the upstream answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the upstream's answer is not valid: {0}")]
    Invalid(String),
}

pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Value, UpstreamError>> + Send>>;

pub enum Upstream {
    Mock,
    Http(Box<HttpUpstream>),
}

pub struct HttpUpstream {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    key: Option<String>,
    timeout: Duration,
}

impl Upstream {
    /// `mock`, or the base URL of an OpenAI-compatible API (`https://api.openai.com`); the
    /// `/v1/...` paths are appended.
    pub fn new(
        url: &str,
        key: Option<String>,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Upstream, String> {
        if url == "mock" {
            return Ok(Upstream::Mock);
        }
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("invalid upstream URL '{url}': {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!(
                "invalid upstream URL '{url}': expected http(s)://host[:port] or mock"
            ));
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Ok(Upstream::Http(Box::new(HttpUpstream {
            client,
            base: url
                .trim_end_matches('/')
                .trim_end_matches("/v1")
                .to_string(),
            key,
            timeout,
        })))
    }

    pub fn is_mock(&self) -> bool {
        matches!(self, Upstream::Mock)
    }

    /// A non-streaming chat completion.
    pub async fn complete(&self, request: &Value, id: &str) -> Result<Value, UpstreamError> {
        match self {
            Upstream::Mock => {
                mock_ready(request).await?;
                Ok(mock::completion(request, id, now()))
            }
            Upstream::Http(h) => {
                let body = h.post("/v1/chat/completions", request).await?;
                serde_json::from_slice(&body).map_err(|e| UpstreamError::Invalid(e.to_string()))
            }
        }
    }

    /// A streaming chat completion: the chunks (`chat.completion.chunk` objects) in order.
    pub async fn stream(&self, request: &Value, id: &str) -> Result<ChunkStream, UpstreamError> {
        match self {
            Upstream::Mock => {
                mock_ready(request).await?;
                let chunks = mock::chunks(request, id, now());
                Ok(Box::pin(futures_util::stream::iter(
                    chunks.into_iter().map(Ok),
                )))
            }
            Upstream::Http(h) => h.stream(request).await,
        }
    }

    /// `GET /v1/models`, passed through (status and body).
    pub async fn models(&self) -> Result<(StatusCode, Bytes), UpstreamError> {
        match self {
            Upstream::Mock => Ok((StatusCode::OK, Bytes::from(mock::models().to_string()))),
            Upstream::Http(h) => h.get("/v1/models").await,
        }
    }
}

/// The mock's requested delay and failure, as an upstream error.
async fn mock_ready(request: &Value) -> Result<(), UpstreamError> {
    mock::preflight(request)
        .await
        .map_err(|status| UpstreamError::Status {
            status,
            body: "mock failure requested".into(),
        })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl HttpUpstream {
    fn request(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, UpstreamError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(key) = &self.key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        req.body(Full::new(body))
            .map_err(|e| UpstreamError::Connect(e.to_string()))
    }

    async fn send(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, UpstreamError> {
        let ms = self.timeout.as_millis() as u64;
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Err(_) => Err(UpstreamError::Timeout(ms)),
            Ok(Err(e)) => Err(UpstreamError::Connect(format!("{e:#}"))),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    async fn read_all(
        &self,
        resp: hyper::Response<hyper::body::Incoming>,
    ) -> Result<(StatusCode, Bytes), UpstreamError> {
        let status = resp.status();
        let ms = self.timeout.as_millis() as u64;
        let body = tokio::time::timeout(self.timeout, resp.into_body().collect())
            .await
            .map_err(|_| UpstreamError::Timeout(ms))?
            .map_err(|e| UpstreamError::Connect(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Bytes, UpstreamError> {
        let req = self.request(Method::POST, path, Bytes::from(body.to_string()))?;
        let resp = self.send(req).await?;
        let (status, body) = self.read_all(resp).await?;
        if !status.is_success() {
            return Err(UpstreamError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(500).collect(),
            });
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> Result<(StatusCode, Bytes), UpstreamError> {
        let req = self.request(Method::GET, path, Bytes::new())?;
        let resp = self.send(req).await?;
        self.read_all(resp).await
    }

    async fn stream(&self, request: &Value) -> Result<ChunkStream, UpstreamError> {
        let req = self.request(
            Method::POST,
            "/v1/chat/completions",
            Bytes::from(request.to_string()),
        )?;
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            let (status, body) = self.read_all(resp).await?;
            return Err(UpstreamError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(500).collect(),
            });
        }
        let timeout = self.timeout;
        let body = resp.into_body();
        Ok(Box::pin(sse_chunks(body, timeout)))
    }
}

/// Parse an SSE body into its `data:` JSON objects, ending at `data: [DONE]`.
fn sse_chunks(
    body: hyper::body::Incoming,
    timeout: Duration,
) -> impl Stream<Item = Result<Value, UpstreamError>> + Send {
    let deadline = tokio::time::Instant::now() + timeout;
    futures_util::stream::unfold(
        (body, Vec::<u8>::new(), false),
        move |(mut body, mut buf, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(pos) = find_event_end(&buf) {
                    let event: Vec<u8> = buf.drain(..pos).collect();
                    let data: String = String::from_utf8_lossy(&event)
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(str::trim_start)
                        .collect::<Vec<_>>()
                        .join("\n");
                    if data.is_empty() {
                        continue;
                    }
                    if data.trim() == "[DONE]" {
                        return None;
                    }
                    let item = serde_json::from_str(&data)
                        .map_err(|e| UpstreamError::Invalid(format!("stream event: {e}")));
                    return Some((item, (body, buf, false)));
                }
                match tokio::time::timeout_at(deadline, body.frame()).await {
                    Err(_) => {
                        return Some((
                            Err(UpstreamError::Timeout(timeout.as_millis() as u64)),
                            (body, buf, true),
                        ));
                    }
                    Ok(None) => return None,
                    Ok(Some(Err(e))) => {
                        return Some((
                            Err(UpstreamError::Connect(e.to_string())),
                            (body, buf, true),
                        ));
                    }
                    Ok(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            buf.extend_from_slice(&data);
                        }
                    }
                }
            }
        },
    )
}

/// Index just past the blank line ending the first event in `buf`.
fn find_event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Put streamed chunks back together into one `chat.completion` object (content concatenated,
/// tool-call fragments merged by index), for the execution and response phases.
pub fn assemble(chunks: &[Value]) -> Value {
    let mut content = String::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    let mut finish = Value::Null;
    let mut id = Value::Null;
    let mut model = Value::Null;
    let mut created = Value::Null;
    for chunk in chunks {
        if id.is_null() {
            id = chunk.get("id").cloned().unwrap_or(Value::Null);
            model = chunk.get("model").cloned().unwrap_or(Value::Null);
            created = chunk.get("created").cloned().unwrap_or(Value::Null);
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            continue;
        };
        if let Some(f) = choice.get("finish_reason").filter(|f| !f.is_null()) {
            finish = f.clone();
        }
        let Some(delta) = choice.get("delta") else {
            continue;
        };
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            content.push_str(text);
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            while tool_calls.len() <= index {
                tool_calls.push(serde_json::json!({"type": "function", "function": {"name": "", "arguments": ""}}));
            }
            let slot = &mut tool_calls[index];
            if let Some(v) = call.get("id") {
                slot["id"] = v.clone();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                let joined = format!("{}{name}", slot["function"]["name"].as_str().unwrap_or(""));
                slot["function"]["name"] = Value::from(joined);
            }
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                let joined = format!(
                    "{}{args}",
                    slot["function"]["arguments"].as_str().unwrap_or("")
                );
                slot["function"]["arguments"] = Value::from(joined);
            }
        }
    }
    let mut message = serde_json::json!({"role": "assistant", "content": content});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::from(tool_calls);
    }
    serde_json::json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_assemble_into_a_completion() {
        let req = serde_json::json!({"messages": [{"role": "user", "content": "echo: hello there, world"}]});
        let chunks = mock::chunks(&req, "x", 1);
        let whole = assemble(&chunks);
        assert_eq!(
            whole["choices"][0]["message"]["content"],
            "hello there, world"
        );
        assert_eq!(whole["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn event_boundaries_are_found() {
        assert_eq!(find_event_end(b"data: 1\n\ndata: 2"), Some(9));
        assert_eq!(find_event_end(b"data: 1\r\n\r\n"), Some(11));
        assert_eq!(find_event_end(b"data: 1\n"), None);
    }
}
