//! A plain HTTP pass-through proxy (`lucid bench-proxy`): forwards requests to an upstream as they
//! are, with the same pooled hyper client the gateway uses. It exists to measure what Lucid adds
//! over the floor of any proxy, side by side in one run (`cargo xtask bench gateway`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

struct Proxy {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

pub fn router(upstream: &str) -> axum::Router {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let proxy = Arc::new(Proxy {
        client: Client::builder(TokioExecutor::new()).build(http),
        base: upstream.trim_end_matches('/').to_string(),
    });
    axum::Router::new().fallback(forward).with_state(proxy)
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    body: Body,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let request = match Request::builder()
        .method(method)
        .uri(format!("{}{path}", proxy.base))
        .header("content-type", "application/json")
        .body(Full::new(bytes))
    {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match proxy.client.request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            match body.collect().await {
                Ok(b) => Response::from_parts(parts, Body::from(b.to_bytes())),
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
