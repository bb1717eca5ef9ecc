//! The model behind the gateway, as a trait: the built-in mock, or an OpenAI-compatible API over
//! pooled HTTP(S) connections (rustls) with the key from an environment variable. What an HTTP
//! upstream can cost is bounded: its whole answer (head, body or every event of a stream) must
//! arrive within the timeout and [`MAX_BODY_BYTES`], and one stream event within
//! [`openai::MAX_EVENT_BYTES`].

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
    /// A non-2xx answer: its status, its body (at most [`MAX_ERROR_BODY_BYTES`]) and its
    /// `Retry-After` header, if any.
    #[error("the upstream answered HTTP {status}: {}", excerpt(.body))]
    Status {
        status: u16,
        body: String,
        retry_after: Option<String>,
    },
    #[error("the upstream's answer is not valid: {0}")]
    Invalid(String),
    /// The gateway stopped (past its grace period) before the upstream finished.
    #[error("the gateway shut down before the upstream finished")]
    ShutDown,
}

impl UpstreamError {
    /// The OpenAI-style error body a client gets for this failure: the upstream's own error body
    /// when it refused the request (4xx) with one, else Lucid's `upstream_error`.
    pub fn body(&self) -> Value {
        if let UpstreamError::Status {
            status: 400..=499,
            body,
            ..
        } = self
            && let Some(error) = openai::parse_error_body(body)
        {
            return error;
        }
        openai::error_body(&self.to_string(), "upstream_error", "lucid_upstream_error")
    }

    /// The upstream's `Retry-After`, to pass on to the client.
    pub fn retry_after(&self) -> Option<&str> {
        match self {
            UpstreamError::Status { retry_after, .. } => retry_after.as_deref(),
            _ => None,
        }
    }
}

/// The start of an upstream's error body, for messages and receipts.
fn excerpt(body: &str) -> String {
    body.chars().take(500).collect()
}

/// The largest answer taken from an HTTP upstream, in bytes: a whole completion, or all the
/// events of a stream together.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// The most of a non-2xx answer's body kept (and passed on to the client), in bytes.
pub const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

const COMPLETIONS: &str = "/v1/chat/completions";

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
            let deadline = self.deadline();
            let req = self.request(Method::POST, COMPLETIONS, Bytes::from(request.to_string()))?;
            let resp = self.send(req, deadline).await?;
            if !resp.status().is_success() {
                return Err(self.failure(resp, deadline).await);
            }
            let (_, body) = self.read_all(resp, deadline).await?;
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
        Box::pin(async move {
            let deadline = self.deadline();
            let req = self.request(Method::GET, "/v1/models", Bytes::new())?;
            let resp = self.send(req, deadline).await?;
            self.read_all(resp, deadline).await
        })
    }
}

/// The mock's requested delay and failure, as an upstream error.
async fn mock_ready(request: &Value) -> Result<(), UpstreamError> {
    mock::preflight(request)
        .await
        .map_err(|status| UpstreamError::Status {
            status,
            body: "mock failure requested".into(),
            retry_after: None,
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

    /// When the answer to a request starting now must be complete.
    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.timeout
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

    /// Send a request; its response head must arrive by `deadline`.
    async fn send(
        &self,
        req: Request<Full<Bytes>>,
        deadline: tokio::time::Instant,
    ) -> Result<hyper::Response<hyper::body::Incoming>, UpstreamError> {
        match tokio::time::timeout_at(deadline, self.client.request(req)).await {
            Err(_) => Err(UpstreamError::Timeout(millis(self.timeout))),
            Ok(Err(e)) => Err(UpstreamError::Connect(format!("{e:#}"))),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    /// The whole body, by `deadline` and within [`MAX_BODY_BYTES`].
    async fn read_all(
        &self,
        resp: hyper::Response<hyper::body::Incoming>,
        deadline: tokio::time::Instant,
    ) -> Result<(StatusCode, Bytes), UpstreamError> {
        let status = resp.status();
        let limited = http_body_util::Limited::new(resp.into_body(), MAX_BODY_BYTES);
        let body = tokio::time::timeout_at(deadline, limited.collect())
            .await
            .map_err(|_| UpstreamError::Timeout(millis(self.timeout)))?
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    UpstreamError::Invalid(format!(
                        "the answer is larger than {MAX_BODY_BYTES} bytes"
                    ))
                } else {
                    UpstreamError::Connect(e.to_string())
                }
            })?
            .to_bytes();
        Ok((status, body))
    }

    /// The upstream's refusal or failure (a non-2xx answer) as an error.
    async fn failure(
        &self,
        resp: hyper::Response<hyper::body::Incoming>,
        deadline: tokio::time::Instant,
    ) -> UpstreamError {
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 64)
            .map(String::from);
        match self.read_all(resp, deadline).await {
            Ok((status, body)) => {
                let mut end = body.len().min(MAX_ERROR_BODY_BYTES);
                let body = loop {
                    // Cut on a character boundary (at most 3 bytes back).
                    match std::str::from_utf8(&body[..end]) {
                        Ok(text) => break text.to_string(),
                        Err(e) if e.error_len().is_none() => end = e.valid_up_to(),
                        Err(_) => break String::from_utf8_lossy(&body[..end]).into_owned(),
                    }
                };
                UpstreamError::Status {
                    status: status.as_u16(),
                    body,
                    retry_after,
                }
            }
            Err(e) => e,
        }
    }

    async fn open_stream(&self, request: &Value) -> Result<ChunkStream, UpstreamError> {
        let deadline = self.deadline();
        let req = self.request(Method::POST, COMPLETIONS, Bytes::from(request.to_string()))?;
        let resp = self.send(req, deadline).await?;
        if !resp.status().is_success() {
            return Err(self.failure(resp, deadline).await);
        }
        let body = resp.into_body();
        Ok(Box::pin(sse_chunks(
            body,
            deadline,
            self.timeout,
            MAX_BODY_BYTES,
        )))
    }
}

/// Parse an SSE body into its `data:` JSON objects, ending at `data: [DONE]`: every event within
/// [`openai::MAX_EVENT_BYTES`], the whole body within `max_bytes`, all of it by `deadline`.
fn sse_chunks<B>(
    body: B,
    deadline: tokio::time::Instant,
    timeout: Duration,
    max_bytes: usize,
) -> impl Stream<Item = Result<Value, UpstreamError>> + Send
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    struct Read<B> {
        body: B,
        parser: openai::SseParser,
        received: usize,
        done: bool,
    }
    let start = Read {
        body,
        parser: openai::SseParser::default(),
        received: 0,
        done: false,
    };
    futures_util::stream::unfold(start, move |mut read| async move {
        if read.done {
            return None;
        }
        // Every error ends the stream.
        let fail = |mut read: Read<B>, error: UpstreamError| {
            read.done = true;
            Some((Err(error), read))
        };
        loop {
            match read.parser.next_event() {
                Err(e) => return fail(read, UpstreamError::Invalid(e.to_string())),
                Ok(Some(data)) if data.trim_ascii() == b"[DONE]" => return None,
                Ok(Some(data)) => match serde_json::from_slice(&data) {
                    Ok(chunk) => return Some((Ok(chunk), read)),
                    Err(e) => {
                        let error = UpstreamError::Invalid(format!("stream event: {e}"));
                        return fail(read, error);
                    }
                },
                Ok(None) => {}
            }
            match tokio::time::timeout_at(deadline, read.body.frame()).await {
                Err(_) => return fail(read, UpstreamError::Timeout(millis(timeout))),
                Ok(None) => return None,
                Ok(Some(Err(e))) => return fail(read, UpstreamError::Connect(e.to_string())),
                Ok(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    read.received += data.len();
                    if read.received > max_bytes {
                        let error = UpstreamError::Invalid(format!(
                            "the streamed answer is larger than {max_bytes} bytes"
                        ));
                        return fail(read, error);
                    }
                    read.parser.push(&data);
                }
            }
        }
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::StreamExt;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    use super::*;

    fn body(
        pieces: Vec<Vec<u8>>,
    ) -> StreamBody<impl Stream<Item = Result<Frame<Bytes>, Infallible>>> {
        StreamBody::new(futures_util::stream::iter(
            pieces
                .into_iter()
                .map(|p| Ok::<_, Infallible>(Frame::data(Bytes::from(p)))),
        ))
    }

    async fn parse<B>(body: B, max_bytes: usize) -> Vec<Result<Value, UpstreamError>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        sse_chunks(body, deadline, Duration::from_secs(10), max_bytes)
            .collect()
            .await
    }

    #[tokio::test]
    async fn events_split_across_frames_are_parsed_until_done() {
        let stream = "data: {\"n\":1}\r\n\r\n: ping\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\ndata: {\"n\":3}\n\n";
        let pieces: Vec<Vec<u8>> = stream.as_bytes().chunks(3).map(<[u8]>::to_vec).collect();
        let items = parse(body(pieces), MAX_BODY_BYTES).await;
        let items: Vec<Value> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            items,
            vec![serde_json::json!({"n": 1}), serde_json::json!({"n": 2})]
        );
    }

    #[tokio::test]
    async fn a_bad_event_ends_the_stream_with_an_error() {
        let items = parse(
            body(vec![b"data: {not json\n\ndata: {}\n\n".to_vec()]),
            1024,
        )
        .await;
        assert_eq!(items.len(), 1);
        assert!(
            matches!(&items[0], Err(UpstreamError::Invalid(m)) if m.starts_with("stream event"))
        );
    }

    #[tokio::test]
    async fn an_oversized_event_is_invalid() {
        let mut event = b"data: \"".to_vec();
        event.extend(std::iter::repeat_n(b'x', openai::MAX_EVENT_BYTES));
        let pieces: Vec<Vec<u8>> = event.chunks(64 << 10).map(<[u8]>::to_vec).collect();
        let items = parse(body(pieces), MAX_BODY_BYTES).await;
        assert_eq!(items.len(), 1);
        assert!(
            matches!(&items[0], Err(UpstreamError::Invalid(m)) if m.contains("larger than 1048576 bytes")),
            "{items:?}"
        );
    }

    #[tokio::test]
    async fn a_stream_past_its_byte_limit_is_invalid() {
        let event = b"data: {\"choices\":[]}\n\n".to_vec();
        let items = parse(body(vec![event; 1000]), 4096).await;
        let (ok, err): (Vec<_>, Vec<_>) = items.iter().partition(|i| i.is_ok());
        assert!(ok.len() < 1000 / 4, "{} events read", ok.len());
        assert_eq!(err.len(), 1);
        assert!(
            matches!(err[0], Err(UpstreamError::Invalid(m)) if m == "the streamed answer is larger than 4096 bytes")
        );
    }

    #[tokio::test]
    async fn a_stalled_stream_times_out() {
        let first = futures_util::stream::iter(vec![Ok::<_, Infallible>(Frame::data(
            Bytes::from_static(b"data: {}\n\n"),
        ))]);
        let stalled = StreamBody::new(first.chain(futures_util::stream::pending()));
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        let started = std::time::Instant::now();
        let items: Vec<_> = sse_chunks(stalled, deadline, Duration::from_millis(50), 1024)
            .collect()
            .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(items[0].is_ok());
        assert!(
            matches!(items[1], Err(UpstreamError::Timeout(50))),
            "{items:?}"
        );
        assert_eq!(items.len(), 2);
    }
}
