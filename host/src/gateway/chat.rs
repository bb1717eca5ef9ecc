//! `POST /v1/chat/completions` at the HTTP edge: the scope from the credentials, the body
//! checked, the exchange run (see [`crate::exchange`]), and its outcome rendered — status, body,
//! the `x-lucid-*` headers on every answer, and SSE framing for streams (the AR as an SSE comment
//! before `data: [DONE]`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::{ApiError, Gateway};
use crate::exchange::openai::{self, SSE_DONE};
use crate::exchange::{Content, Head, Outcome, Receipt, StreamEvent, UpstreamError};

pub async fn completions(gateway: Arc<Gateway>, headers: HeaderMap, body: Bytes) -> Response {
    let scope = match gateway.scope(&headers) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let request = match openai::parse_request(&body, crate::exchange::mock::MODEL) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    };
    let Some(permit) = gateway.admit().await else {
        gateway.exchange.metrics.overloaded.inc();
        return ApiError::overloaded();
    };
    // The exchange runs on a task of its own: a client that disconnects drops this handler,
    // not the exchange, so a model call that happened still gets its receipt. The permit is
    // held until the exchange is done (for a forwarded stream: audited and receipted), not
    // until a client gets round to reading its answer.
    let service = gateway.exchange.clone();
    let content = Content::new(&body);
    let context = crate::exchange::observation_context(
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    );
    let exchange = gateway.exchange.lifecycle.spawn(async move {
        crate::exchange::run_holding(service, scope, request, content, context, Box::new(permit))
            .await
    });
    match exchange.await {
        Ok(outcome) => render(outcome),
        Err(e) => ApiError::internal(format!("the exchange failed: {e}")).into_response(),
    }
}

/// The HTTP answer of an exchange's outcome.
pub fn render(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Completed {
            head,
            receipt,
            body,
        } => {
            let mut out = json_response(StatusCode::OK, body);
            receipt_headers(out.headers_mut(), &head, &receipt);
            out
        }
        Outcome::Buffered {
            head,
            receipt,
            mut body,
            ..
        } => {
            body.push_str(&openai::sse_receipt(&receipt.text));
            body.push_str(&openai::sse_salt(&head.content_salt));
            body.push_str(SSE_DONE);
            let mut out = sse_response(Body::from(body));
            receipt_headers(out.headers_mut(), &head, &receipt);
            out
        }
        Outcome::Forwarded { head, events } => {
            let salt = head.content_salt.clone();
            let stream =
                tokio_stream_from(events).map(move |event| Ok::<_, Infallible>(sse(event, &salt)));
            let mut out = sse_response(Body::from_stream(stream));
            base_headers(out.headers_mut(), &head);
            out
        }
        Outcome::Denied {
            head,
            receipt,
            body,
            ..
        } => {
            let mut out = json_response(StatusCode::FORBIDDEN, body);
            receipt_headers(out.headers_mut(), &head, &receipt);
            out
        }
        Outcome::UpstreamFailed {
            head,
            receipt,
            error,
            body,
        } => {
            let mut out = json_response(upstream_status(&error), body);
            if let Some(after) = error.retry_after() {
                set(out.headers_mut(), "retry-after", after);
            }
            receipt_headers(out.headers_mut(), &head, &receipt);
            out
        }
        Outcome::Failed { head, error } => {
            let mut out = ApiError::from(error).into_response();
            base_headers(out.headers_mut(), &head);
            out
        }
    }
}

/// The status of an upstream failure: the upstream's own when it refused the request (4xx: a bad
/// request, a rate limit), 504 when it did not answer in time, 503 when the gateway was stopping,
/// else 502.
pub(super) fn upstream_status(error: &UpstreamError) -> StatusCode {
    match error {
        UpstreamError::Status { status, .. } if (400..500).contains(status) => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
        }
        UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        UpstreamError::ShutDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// The SSE bytes of one stream event (the receipt comment followed by the content salt's).
fn sse(event: StreamEvent, salt: &str) -> Bytes {
    if let Some(data) = event.data() {
        return Bytes::from(data);
    }
    match event {
        StreamEvent::Receipt(text) => {
            Bytes::from(openai::sse_receipt(&text) + &openai::sse_salt(salt))
        }
        _ => Bytes::from_static(SSE_DONE.as_bytes()),
    }
}

/// A JSON answer with exactly `body` (the bytes the receipt's content commitment covers).
fn json_response(status: StatusCode, body: String) -> Response {
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    out.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    out
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<StreamEvent>,
) -> impl futures_util::Stream<Item = StreamEvent> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    response
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn base_headers(headers: &mut HeaderMap, head: &Head) {
    set(headers, "x-lucid-request-id", &head.request_id);
    set(headers, "x-lucid-content-salt", &head.content_salt);
    set(headers, "x-lucid-cedar-policy-hash", &head.policy_hash);
}

fn receipt_headers(headers: &mut HeaderMap, head: &Head, receipt: &Receipt) {
    base_headers(headers, head);
    set(headers, "x-lucid-ar-hash", &receipt.ar_hash);
    set(
        headers,
        "x-lucid-chain-depth",
        &receipt.chain_depth.to_string(),
    );
    if let Some(h) = &receipt.claims_hash {
        set(headers, "x-lucid-claims-hash", h);
    }
    set(headers, "x-lucid-cedar-decision", receipt.decision.as_str());
    // Stretches of text the gateway masked (request and answer) because the policy asked it to.
    set(
        headers,
        "x-lucid-redactions",
        &receipt.redactions.to_string(),
    );
}
