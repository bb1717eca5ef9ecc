//! The model behind the gateway, as a trait: the built-in mock, or an OpenAI-compatible API over
//! pooled HTTP(S) connections (rustls) with the key from an environment variable and timeouts.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::{mock, openai};

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

/// The model behind the gateway. The exchange only sees this trait: the built-in mock, the HTTP
/// client, and the scripted upstreams of the tests are interchangeable.
pub trait Upstream: Send + Sync {
    /// A non-streaming chat completion.
    fn complete<'a>(
        &'a self,
        request: &'a Value,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Value, UpstreamError>>;

    /// A streaming chat completion: the chunks (`chat.completion.chunk` objects) in order.
    fn stream<'a>(
        &'a self,
        request: &'a Value,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ChunkStream, UpstreamError>>;

    /// `GET /v1/models`, passed through (status and body).
    fn models(&self) -> BoxFuture<'_, Result<(StatusCode, Bytes), UpstreamError>>;
}

/// `mock`, or the base URL of an OpenAI-compatible API (`https://api.openai.com`); the `/v1/...`
/// paths are appended.
pub fn from_url(
    url: &str,
    key: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<Arc<dyn Upstream>, String> {
    if url == "mock" {
        return Ok(Arc::new(MockUpstream));
    }
    Ok(Arc::new(HttpUpstream::new(
        url,
        key,
        timeout,
        connect_timeout,
    )?))
}

/// The built-in deterministic model ([`mock`]).
pub struct MockUpstream;

impl Upstream for MockUpstream {
    fn complete<'a>(
        &'a self,
        request: &'a Value,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Value, UpstreamError>> {
        Box::pin(async move {
            mock_ready(request).await?;
            Ok(mock::completion(request, id, now()))
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Value,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ChunkStream, UpstreamError>> {
        Box::pin(async move {
            mock_ready(request).await?;
            let chunks = mock::chunks(request, id, now());
            let stream: ChunkStream =
                Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)));
            Ok(stream)
        })
    }

    fn models(&self) -> BoxFuture<'_, Result<(StatusCode, Bytes), UpstreamError>> {
        Box::pin(async { Ok((StatusCode::OK, Bytes::from(mock::models().to_string()))) })
    }
}

/// An OpenAI-compatible API over pooled HTTP(S) connections (rustls).
pub struct HttpUpstream {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    key: Option<String>,
    timeout: Duration,
}

impl Upstream for HttpUpstream {
    fn complete<'a>(
        &'a self,
        request: &'a Value,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<Value, UpstreamError>> {
        Box::pin(async move {
            let body = self.post("/v1/chat/completions", request).await?;
            serde_json::from_slice(&body).map_err(|e| UpstreamError::Invalid(e.to_string()))
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Value,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<ChunkStream, UpstreamError>> {
        Box::pin(self.open_stream(request))
    }

    fn models(&self) -> BoxFuture<'_, Result<(StatusCode, Bytes), UpstreamError>> {
        Box::pin(self.get("/v1/models"))
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
    /// A client for the API at `url` (`http(s)://host[:port]`).
    pub fn new(
        url: &str,
        key: Option<String>,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<HttpUpstream, String> {
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
        Ok(HttpUpstream {
            client,
            base: url
                .trim_end_matches('/')
                .trim_end_matches("/v1")
                .to_string(),
            key,
            timeout,
        })
    }

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

    async fn open_stream(&self, request: &Value) -> Result<ChunkStream, UpstreamError> {
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
                if let Some(pos) = openai::find_event_end(&buf) {
                    let event: Vec<u8> = buf.drain(..pos).collect();
                    let Some(data) = openai::event_data(&event) else {
                        continue;
                    };
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
