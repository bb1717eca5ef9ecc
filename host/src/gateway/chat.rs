//! `POST /v1/chat/completions`: request-phase claims → Cedar → (deny: the model is never called)
//! → upstream → execution claims on tool calls → response-phase claims → Cedar → one AR signed
//! and durably stored → response. Every answer, allowed or denied, carries the `x-lucid-*`
//! headers; a stream carries its AR as an SSE comment before `data: [DONE]`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::upstream::{UpstreamError, assemble};
use super::{ApiError, Gateway};
use crate::ar::{self, Effect, Measurements, PhaseDecision, PhaseEvidence, Scope};
use crate::claim::Phase;
use crate::config::StreamMode;
use crate::plugin::ObservationInput;
use crate::policy::PolicyState;
use crate::receipts::Issued;
use crate::runtime::{PhaseReport, RuntimeView, has_tool_calls};

/// One exchange in flight: what it was judged with (taken once, at its start) and what it found.
struct Exchange {
    gateway: Arc<Gateway>,
    request_id: String,
    scope: Scope,
    model: String,
    request: Value,
    request_text: String,
    view: Arc<RuntimeView>,
    policy: Arc<PolicyState>,
    settings: Option<Arc<crate::scopes::ScopeOverrides>>,
    started: Instant,
    at: SystemTime,
    phases: Vec<PhaseEvidence>,
    extra: Map<String, Value>,
    /// Time spent waiting for the upstream, subtracted from Lucid's own latency.
    upstream_time: std::time::Duration,
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    format!("req_{}", hex::encode(bytes))
}

impl Exchange {
    fn input(&self, phase: Phase, response: Option<String>) -> ObservationInput {
        ObservationInput {
            phase,
            request_id: self.request_id.clone(),
            org: self.scope.org.clone(),
            workspace: self.scope.workspace.clone(),
            agent: self.scope.agent.clone(),
            request: self.request_text.clone(),
            response,
            artifacts: None,
        }
    }

    /// Run a phase's auditors (off the async workers) and decide it; record both.
    async fn phase(
        &mut self,
        phase: Phase,
        response: Option<String>,
    ) -> Result<PhaseDecision, ApiError> {
        let input = self.input(phase, response);
        let gateway = self.gateway.clone();
        let view = self.view.clone();
        let settings = self.settings.clone();
        let report = tokio::task::spawn_blocking(move || {
            gateway
                .auditing
                .runner()
                .run_scoped(&view, &input, settings.as_deref())
        })
        .await
        .map_err(|e| ApiError::internal(format!("auditor worker failed: {e}")))?;
        Ok(self.record(report))
    }

    fn record(&mut self, report: PhaseReport) -> PhaseDecision {
        self.gateway.metrics.record_phase(&report);
        let artifact = self.view.artifact.as_deref();
        let decision =
            crate::policy::decide(&self.policy, &self.scope, &self.model, &report, artifact);
        self.phases.push(PhaseEvidence {
            phase: report.phase,
            claims: report.claims,
            decision: decision.clone(),
        });
        decision
    }

    /// The artifact phase's evidence is attached to every exchange (decided for this scope).
    fn attach_artifact(&mut self) {
        if let Some(artifact) = self.view.artifact.clone() {
            let decision =
                crate::policy::decide(&self.policy, &self.scope, &self.model, &artifact, None);
            self.phases.push(PhaseEvidence {
                phase: Phase::Artifact,
                claims: artifact.claims.clone(),
                decision,
            });
        }
    }

    fn denied(&self) -> bool {
        self.phases
            .iter()
            .any(|p| p.decision.effect == Effect::Deny)
    }

    /// Sign and durably store the AR of this exchange.
    async fn receipt(&mut self) -> Result<(Issued, Value), ApiError> {
        let measurements = Measurements {
            auditors: self.view.set.measurements(),
            plugin_set_hash: self.view.set.hash.clone(),
        };
        let core = ar::core(
            &self.request_id,
            self.at,
            &self.scope,
            &self.phases,
            &self.policy.hash,
            &measurements,
            std::mem::take(&mut self.extra),
        );
        let issued = self.gateway.receipts.issue(&core).await.map_err(|e| {
            tracing::error!(request_id = %self.request_id, "no receipt: {e}");
            ApiError::unavailable(format!("the exchange could not be receipted: {e}"))
        })?;
        let parsed: Value = serde_json::from_str(&issued.text).unwrap_or(Value::Null);
        let decision = if self.denied() { "deny" } else { "allow" };
        self.gateway
            .metrics
            .requests
            .get_or_create(&super::metrics::DecisionLabels {
                decision: decision.into(),
            })
            .inc();
        self.gateway
            .metrics
            .chain_depth
            .set(issued.chain_depth as i64);
        self.gateway.metrics.request_seconds.observe(
            self.started
                .elapsed()
                .saturating_sub(self.upstream_time)
                .as_secs_f64(),
        );
        Ok((issued, parsed))
    }

    fn base_headers(&self, headers: &mut HeaderMap) {
        set(headers, "x-lucid-request-id", &self.request_id);
        set(headers, "x-lucid-cedar-policy-hash", &self.policy.hash);
    }

    fn receipt_headers(&self, headers: &mut HeaderMap, issued: &Issued, ar: &Value) {
        self.base_headers(headers);
        set(headers, "x-lucid-ar-hash", &issued.ar_hash);
        set(
            headers,
            "x-lucid-chain-depth",
            &issued.chain_depth.to_string(),
        );
        if let Some(h) = ar.get("claims_hash").and_then(Value::as_str) {
            set(headers, "x-lucid-claims-hash", h);
        }
        set(
            headers,
            "x-lucid-cedar-decision",
            if self.denied() { "deny" } else { "allow" },
        );
    }

    /// The 403 body: the reasons of the denying phases.
    fn denial(&self) -> ApiError {
        let mut reasons: Vec<String> = Vec::new();
        for p in self
            .phases
            .iter()
            .filter(|p| p.decision.effect == Effect::Deny)
        {
            let mut why: Vec<String> = p.decision.reasons.clone();
            why.extend(p.decision.errors.iter().cloned());
            if why.is_empty() {
                why.push("no policy permits it".into());
            }
            reasons.push(format!("{} phase: {}", p.phase, why.join("; ")));
        }
        ApiError::new(
            StatusCode::FORBIDDEN,
            "policy_denied",
            "lucid_policy_denied",
            format!("denied by Lucid policy ({})", reasons.join(" | ")),
        )
    }

    /// A denial answered with its receipt.
    async fn deny(mut self) -> Response {
        match self.receipt().await {
            Ok((issued, ar)) => {
                let mut response = self.denial().into_response();
                self.receipt_headers(response.headers_mut(), &issued, &ar);
                response
            }
            Err(e) => self.error_response(e),
        }
    }

    fn error_response(&self, e: ApiError) -> Response {
        let mut response = e.into_response();
        self.base_headers(response.headers_mut());
        response
    }

    /// The upstream failed: 502, with an AR recording `upstream_error`.
    async fn upstream_failed(mut self, error: UpstreamError) -> Response {
        self.gateway.metrics.upstream_errors.inc();
        self.extra
            .insert("upstream_error".into(), Value::from(error.to_string()));
        let e = ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "lucid_upstream_error",
            error.to_string(),
        );
        match self.receipt().await {
            Ok((issued, ar)) => {
                let mut response = e.into_response();
                self.receipt_headers(response.headers_mut(), &issued, &ar);
                // The exchange did not complete: say so, whatever the phases decided.
                set(
                    response.headers_mut(),
                    "x-lucid-cedar-decision",
                    if self.denied() { "deny" } else { "allow" },
                );
                response
            }
            Err(err) => self.error_response(err),
        }
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Check the body is a chat request we can audit.
fn parse_request(body: &Bytes) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    if !obj.get("messages").is_some_and(Value::is_array) {
        return Err(ApiError::bad_request(
            "'messages' must be an array of chat messages",
        ));
    }
    if obj.get("model").is_some_and(|m| !m.is_string()) {
        return Err(ApiError::bad_request("'model' must be a string"));
    }
    Ok(value)
}

pub async fn completions(gateway: Arc<Gateway>, headers: HeaderMap, body: Bytes) -> Response {
    let scope = match gateway.scope(&headers) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let request = match parse_request(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let request_id = new_request_id();
    let span = tracing::info_span!("chat", request_id = %request_id);
    let _enter = span.enter();
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(super::mock::MODEL)
        .to_string();
    let stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let view = gateway.auditing.view();
    let settings = gateway.overrides.for_scope(&scope, &view);
    let mut ex = Exchange {
        view,
        policy: gateway.policy.current(),
        gateway: gateway.clone(),
        request_id,
        scope,
        model,
        request_text: request.to_string(),
        request,
        settings,
        started: Instant::now(),
        at: SystemTime::now(),
        phases: Vec::new(),
        extra: Map::new(),
        upstream_time: std::time::Duration::ZERO,
    };
    drop(_enter);
    ex.attach_artifact();
    if let Err(e) = ex.phase(Phase::Request, None).await {
        return ex.error_response(e);
    }
    if ex.denied() {
        return ex.deny().await;
    }
    if stream {
        let mode =
            gateway
                .config
                .streaming
                .mode_for(&ex.scope.org, &ex.scope.workspace, &ex.scope.agent);
        ex.extra.insert("stream_mode".into(), json!(mode));
        return stream_completion(ex, mode).await;
    }
    let upstream_started = Instant::now();
    let result = gateway.upstream.complete(&ex.request, &ex.request_id).await;
    ex.upstream_time = upstream_started.elapsed();
    let response = match result {
        Ok(r) => r,
        Err(e) => return ex.upstream_failed(e).await,
    };
    let response_text = response.to_string();
    if has_tool_calls(&ex.request, Some(&response))
        && let Err(e) = ex
            .phase(Phase::Execution, Some(response_text.clone()))
            .await
    {
        return ex.error_response(e);
    }
    if !ex.denied()
        && let Err(e) = ex.phase(Phase::Response, Some(response_text.clone())).await
    {
        return ex.error_response(e);
    }
    if ex.denied() {
        // A response-phase denial withholds the model's answer.
        return ex.deny().await;
    }
    match ex.receipt().await {
        Ok((issued, ar)) => {
            let mut out = Response::new(Body::from(response_text));
            out.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            ex.receipt_headers(out.headers_mut(), &issued, &ar);
            out
        }
        Err(e) => ex.error_response(e),
    }
}

fn sse_data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn sse_receipt(ar_text: &str) -> Bytes {
    Bytes::from(format!(": lucid-receipt {ar_text}\n\n"))
}

const SSE_DONE: &[u8] = b"data: [DONE]\n\n";

fn sse_response(ex: &Exchange, body: Body, issued: Option<(&Issued, &Value)>) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    match issued {
        Some((issued, ar)) => ex.receipt_headers(h, issued, ar),
        None => ex.base_headers(h),
    }
    response
}

async fn stream_completion(mut ex: Exchange, mode: StreamMode) -> Response {
    let gateway = ex.gateway.clone();
    let upstream_started = Instant::now();
    let chunks = match gateway.upstream.stream(&ex.request, &ex.request_id).await {
        Ok(c) => c,
        Err(e) => {
            ex.upstream_time = upstream_started.elapsed();
            return ex.upstream_failed(e).await;
        }
    };
    match mode {
        StreamMode::Buffer => buffered(ex, chunks, upstream_started).await,
        StreamMode::Observe | StreamMode::Incremental => {
            forwarded(ex, chunks, mode, upstream_started)
        }
    }
}

/// Hold the whole stream; audit; then send it (allow) or a 403 (deny).
async fn buffered(
    mut ex: Exchange,
    mut chunks: super::upstream::ChunkStream,
    started: Instant,
) -> Response {
    use futures_util::StreamExt;
    let mut all: Vec<Value> = Vec::new();
    while let Some(item) = chunks.next().await {
        match item {
            Ok(chunk) => all.push(chunk),
            Err(e) => {
                ex.upstream_time = started.elapsed();
                return ex.upstream_failed(e).await;
            }
        }
    }
    ex.upstream_time = started.elapsed();
    let whole = assemble(&all).to_string();
    if let Err(e) = audit_response(&mut ex, &whole).await {
        return ex.error_response(e);
    }
    if ex.denied() {
        return ex.deny().await;
    }
    match ex.receipt().await {
        Ok((issued, ar)) => {
            let mut body: Vec<u8> = Vec::new();
            for chunk in &all {
                body.extend_from_slice(&sse_data(chunk));
            }
            body.extend_from_slice(&sse_receipt(&issued.text));
            body.extend_from_slice(SSE_DONE);
            sse_response(&ex, Body::from(body), Some((&issued, &ar)))
        }
        Err(e) => ex.error_response(e),
    }
}

/// Execution phase (if the exchange has tool calls) and response phase over `whole`.
async fn audit_response(ex: &mut Exchange, whole: &str) -> Result<(), ApiError> {
    let parsed: Value = serde_json::from_str(whole).unwrap_or(Value::Null);
    if has_tool_calls(&ex.request, Some(&parsed)) {
        ex.phase(Phase::Execution, Some(whole.to_string())).await?;
    }
    if !ex.denied() {
        ex.phase(Phase::Response, Some(whole.to_string())).await?;
    }
    Ok(())
}

/// Forward chunks as they come (`observe`), or while periodic audits of the growing text allow
/// (`incremental`); the AR follows as an SSE comment.
fn forwarded(
    ex: Exchange,
    chunks: super::upstream::ChunkStream,
    mode: StreamMode,
    started: Instant,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(64);
    let every = ex.gateway.config.streaming.incremental_chars.max(1);
    let response = sse_response(&ex, Body::from_stream(tokio_stream_from(rx)), None);
    tokio::spawn(drive_stream(ex, chunks, mode, every, tx, started));
    response
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, Infallible>>,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn drive_stream(
    mut ex: Exchange,
    mut chunks: super::upstream::ChunkStream,
    mode: StreamMode,
    every: usize,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, Infallible>>,
    started: Instant,
) {
    use futures_util::StreamExt;
    let mut all: Vec<Value> = Vec::new();
    let mut text_len = 0usize;
    let mut audited_at = 0usize;
    let mut cut = false;
    // A client that went away does not stop the audit: the exchange still gets its receipt.
    let send = |bytes: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Ok(bytes)).await;
        }
    };
    while let Some(item) = chunks.next().await {
        let chunk = match item {
            Ok(c) => c,
            Err(e) => {
                ex.extra
                    .insert("upstream_error".into(), Value::from(e.to_string()));
                ex.gateway.metrics.upstream_errors.inc();
                send(sse_data(&json!({"error": {"message": e.to_string(), "type": "upstream_error", "code": "lucid_upstream_error"}}))).await;
                break;
            }
        };
        text_len += chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            .map_or(0, str::len);
        send(sse_data(&chunk)).await;
        all.push(chunk);
        if mode == StreamMode::Incremental && text_len - audited_at >= every {
            audited_at = text_len;
            let partial = assemble(&all).to_string();
            match ex.phase(Phase::Response, Some(partial)).await {
                Ok(d) if d.effect == Effect::Deny => {
                    cut = true;
                    ex.extra
                        .insert("stream_cut_at_chars".into(), Value::from(text_len as u64));
                    break;
                }
                Ok(_) => {
                    // Keep only the final audit's evidence for the response phase.
                    ex.phases.pop();
                }
                Err(e) => {
                    ex.extra
                        .insert("audit_error".into(), Value::from(e.message.clone()));
                    cut = true;
                    break;
                }
            }
        }
    }
    ex.upstream_time = started.elapsed();
    if !cut {
        let whole = assemble(&all).to_string();
        if let Err(e) = audit_response(&mut ex, &whole).await {
            ex.extra
                .insert("audit_error".into(), Value::from(e.message));
        }
    }
    if ex.denied() {
        let denial = ex.denial();
        send(sse_data(&denial.body())).await;
    }
    match ex.receipt().await {
        Ok((issued, _)) => send(sse_receipt(&issued.text)).await,
        Err(e) => send(sse_data(&e.body())).await,
    }
    send(Bytes::from_static(SSE_DONE)).await;
}
