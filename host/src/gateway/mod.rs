//! The OpenAI-compatible gateway: `POST /v1/chat/completions` audited, decided and receipted,
//! plus the admin and inspection API. hyper 1 + tokio underneath axum's router; connections are
//! served by hyper-util with header-read timeouts, and shut down gracefully on SIGTERM.

pub mod api;
pub mod chat;
pub mod mock_server;
pub mod passthrough;
pub mod ui;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::config::{Config, GatewayConfig};
use crate::evidence::EvidenceStore;
use crate::exchange::ExchangeService;
use lucid_contract::Scope;

/// Everything the handlers share.
pub struct Gateway {
    /// What exchanges run with: auditing, policy, overrides, receipts, upstream, metrics.
    pub exchange: Arc<ExchangeService>,
    /// A reading connection to the evidence store (the receipt thread has the writer).
    pub evidence: Arc<Mutex<Box<dyn EvidenceStore>>>,
    pub config: Config,
    /// Admission control: one permit per exchange in flight (`gateway.max_in_flight`).
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Serializes admin changes of the overrides (each is checked, receipted, then applied).
    pub(crate) admin_changes: tokio::sync::Mutex<()>,
    /// Attestation reports of the binding in force; `None`: not attested.
    pub attestor: Option<Arc<crate::attestation::Attestor>>,
    /// Fresh attestation reports made at once.
    pub(crate) attest_permits: tokio::sync::Semaphore,
    /// The config file in force and its text (`None`: the built-in defaults).
    pub config_source: Option<(std::path::PathBuf, String)>,
    /// The Observer's login sessions.
    pub(crate) ui: ui::UiState,
    /// Cancelled when the gateway stops accepting: long-lived responses (the Observer's live
    /// feed) end then, so that a graceful shutdown does not wait for them.
    pub(crate) closing: tokio_util::sync::CancellationToken,
}

impl Gateway {
    pub fn new(
        exchange: Arc<ExchangeService>,
        evidence: Arc<Mutex<Box<dyn EvidenceStore>>>,
        config: Config,
    ) -> Gateway {
        let permits = config.gateway.max_in_flight.max(1);
        Gateway {
            exchange,
            evidence,
            config,
            in_flight: Arc::new(tokio::sync::Semaphore::new(permits)),
            admin_changes: tokio::sync::Mutex::new(()),
            attestor: None,
            attest_permits: tokio::sync::Semaphore::new(2),
            config_source: None,
            ui: ui::UiState::default(),
            closing: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Where the evidence is read from (`sqlite:PATH`, a PostgreSQL URL without its password).
    pub fn evidence_location(&self) -> String {
        self.evidence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .location()
    }

    /// Serve attestation reports from `attestor`.
    pub fn with_attestor(mut self, attestor: Arc<crate::attestation::Attestor>) -> Gateway {
        self.attestor = Some(attestor);
        self
    }

    /// The config file in force, served (admin) by `GET /v1/config`.
    pub fn with_config_source(mut self, path: std::path::PathBuf, text: String) -> Gateway {
        self.config_source = Some((path, text));
        self
    }

    /// A slot for one exchange, waiting up to `gateway.queue_timeout_ms`; `None` when the
    /// gateway is saturated.
    pub async fn admit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let wait = Duration::from_millis(self.config.gateway.queue_timeout_ms);
        match tokio::time::timeout(wait, self.in_flight.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Some(permit),
            _ => None,
        }
    }
}

/// An error at the HTTP edge, rendered OpenAI-style: `{"error": {"message", "type", "code"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            kind,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "not_found",
            message,
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            message,
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "unavailable",
            message,
        )
    }

    /// The gateway is saturated: 503 with `Retry-After`, OpenAI style.
    pub fn overloaded() -> Response {
        let mut response = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "lucid_overloaded",
            "the gateway is at its limit of exchanges in flight; retry shortly",
        )
        .into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        response
    }

    pub fn body(&self) -> serde_json::Value {
        crate::exchange::openai::error_body(&self.message, self.kind, self.code)
    }
}

impl From<crate::exchange::ExchangeError> for ApiError {
    fn from(e: crate::exchange::ExchangeError) -> Self {
        use crate::exchange::ExchangeError;
        match e {
            ExchangeError::Worker(_) => ApiError::internal(e.to_string()),
            ExchangeError::Unreceipted(_) => ApiError::unavailable(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

impl Gateway {
    /// The scope of a chat request: from its API key, or (dev mode, no keys configured) from the
    /// `x-lucid-org` / `x-lucid-workspace` / `x-lucid-agent` headers.
    pub fn scope(&self, headers: &HeaderMap) -> Result<Scope, ApiError> {
        if self.config.keys.is_empty() {
            let pick = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .unwrap_or("default")
                    .to_string()
            };
            return Ok(Scope {
                org: pick("x-lucid-org"),
                workspace: pick("x-lucid-workspace"),
                agent: pick("x-lucid-agent"),
            });
        }
        let unauthorized = |m: &str| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                m,
            )
        };
        let token = bearer(headers)
            .ok_or_else(|| unauthorized("missing API key: send Authorization: Bearer <key>"))?;
        let digest = sha256_hex(token);
        self.config
            .keys
            .iter()
            .find(|k| k.sha256.eq_ignore_ascii_case(&digest))
            .map(|k| Scope {
                org: k.org.clone(),
                workspace: k.workspace.clone(),
                agent: k.agent.clone(),
            })
            .ok_or_else(|| unauthorized("unknown API key"))
    }

    /// Admin and inspection endpoints need the admin token when one is configured.
    pub fn require_admin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.config.gateway.admin_token_sha256 else {
            return Ok(());
        };
        match bearer(headers) {
            Some(token) if sha256_hex(token).eq_ignore_ascii_case(expected) => Ok(()),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_admin_token",
                "this endpoint needs the admin token: send Authorization: Bearer <admin token>",
            )),
        }
    }
}

/// Check the gateway section before serving: production mode needs keys and an admin token.
/// `insecure_admin` (the `--insecure-admin` flag) allows API keys without an admin token.
pub fn check_config(config: &Config, insecure_admin: bool) -> Result<(), String> {
    let g: &GatewayConfig = &config.gateway;
    // With API keys, every key holder could otherwise read all evidence and change any org's
    // detection settings through the admin API.
    if !config.keys.is_empty() && g.admin_token_sha256.is_none() && !insecure_admin {
        return Err(
            "[[keys]] are configured but gateway.admin_token_sha256 is not: any key holder could use the admin API (set an admin token, or pass --insecure-admin to accept that)"
                .into(),
        );
    }
    if g.production {
        if config.keys.is_empty() {
            return Err("production mode needs at least one [[keys]] entry".into());
        }
        if g.admin_token_sha256.is_none() {
            return Err("production mode needs gateway.admin_token_sha256".into());
        }
    }
    for (i, key) in config.keys.iter().enumerate() {
        if key.sha256.len() != 64 || !key.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "keys[{i}].sha256 must be 64 hex characters (the SHA-256 of the key)"
            ));
        }
    }
    if g.max_body_bytes == 0 {
        return Err("gateway.max_body_bytes must be positive".into());
    }
    if g.max_in_flight == 0 {
        return Err("gateway.max_in_flight must be positive".into());
    }
    Ok(())
}

/// Serve until `shutdown` resolves; then stop accepting, let in-flight requests finish (up to
/// `grace`), and return.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let app = api::router(gateway.clone());
    let header_timeout = Duration::from_millis(gateway.config.gateway.header_timeout_ms);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // Connections open at once: as many as file descriptors allow, less a reserve for plugins,
    // the store and logs. At the cap the gateway stops accepting (new connections wait in the
    // kernel's backlog) instead of failing on descriptors it no longer has.
    let cap = connection_cap();
    tracing::debug!(connections = cap, "connection cap");
    let connections = Arc::new(tokio::sync::Semaphore::new(cap));
    loop {
        let slot = tokio::select! {
            slot = connections.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The client's address, for what is counted per client (failed Observer logins).
        let with_peer = tower::ServiceBuilder::new()
            .map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            })
            .service(app.clone());
        let service = TowerToHyperService::new(with_peer);
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    gateway.closing.cancel();
    let lifecycle = &gateway.exchange.lifecycle;
    tracing::info!(
        exchanges = lifecycle.in_flight(),
        "shutting down: finishing in-flight requests"
    );
    // Connections, and exchanges whose client already left, get the grace period to finish.
    let finished = async {
        graceful.shutdown().await;
        lifecycle.finished().await;
    };
    if tokio::time::timeout(grace, finished).await.is_err() {
        tracing::warn!(
            exchanges = lifecycle.in_flight(),
            "in-flight exchanges did not finish within {grace:?}: cutting them off, each receipted with what it has"
        );
        lifecycle.cut_off();
        // What is left is bounded: auditor deadlines, and one receipt each.
        if tokio::time::timeout(CUTOFF_WAIT, lifecycle.finished())
            .await
            .is_err()
        {
            tracing::error!(
                exchanges = lifecycle.in_flight(),
                "exchanges still running {CUTOFF_WAIT:?} after the cut-off; stopping without their receipts"
            );
        }
    }
    Ok(())
}

/// File descriptors kept for everything but client connections.
const RESERVED_FDS: u64 = 512;

/// The most client connections open at once: the soft limit of open files (raised to the hard
/// limit first), less [`RESERVED_FDS`]; between 64 and 2^20.
fn connection_cap() -> usize {
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!("cannot read or raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    };
    // An unlimited soft limit still gets a cap a semaphore can hold.
    soft.saturating_sub(RESERVED_FDS).clamp(64, 1 << 20) as usize
}

/// How long cut-off exchanges get to audit what they have and be receipted.
const CUTOFF_WAIT: Duration = Duration::from_secs(30);
