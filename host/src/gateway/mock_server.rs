//! `lucid mock-upstream`: the built-in mock model ([`crate::exchange::mock`]) served over HTTP on
//! its own.

use serde_json::Value;

use crate::exchange::{mock, openai};

/// The mock model on its own (`lucid mock-upstream`): a deterministic OpenAI-compatible server,
/// for trying clients and as the upstream of benchmarks.
pub fn router() -> axum::Router {
    use axum::body::Bytes;
    use axum::http::{HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};

    async fn chat(body: Bytes) -> Response {
        let Ok(request) = serde_json::from_slice::<Value>(&body) else {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(openai::error_body(
                    "invalid JSON",
                    "invalid_request_error",
                    "invalid_request",
                )),
            )
                .into_response();
        };
        if let Err(status) = mock::preflight(&request).await {
            return (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(openai::error_body(
                    "mock failure requested",
                    "server_error",
                    "mock_failure",
                )),
            )
                .into_response();
        }
        let id = "mock";
        let created = 0;
        if request.get("stream").and_then(Value::as_bool) == Some(true) {
            let mut body = String::new();
            for chunk in mock::chunks(&request, id, created) {
                body.push_str(&openai::sse_data(&chunk));
            }
            body.push_str(openai::SSE_DONE);
            let mut response = Response::new(axum::body::Body::from(body));
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/event-stream"),
            );
            return response;
        }
        axum::Json(mock::completion(&request, id, created)).into_response()
    }

    axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(|| async { axum::Json(mock::models()) }))
}
