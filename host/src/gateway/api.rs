//! Routes: the OpenAI-compatible surface and the admin and inspection API.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Gateway};
use crate::evidence::{chain_ending_at, parse, verify_stored};

type Shared = State<Arc<Gateway>>;

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/auditors", get(auditors))
        .route("/v1/auditors/{id}/vocabulary", get(vocabulary))
        .route("/v1/auditors/{id}/claims", post(claims))
        .route("/v1/evidence", get(evidence_by_request))
        .route("/v1/evidence/{ar_hash}", get(evidence))
        .route("/v1/attestation-chain/{ar_hash}", get(attestation_chain))
        .route("/v1/attestation", get(attestation))
        .route("/v1/policy", get(policy))
        .route("/v1/config", get(config))
        .route(
            "/v1/scopes/{org}/{workspace}/{agent}/overrides",
            put(put_overrides),
        )
        .route(
            "/v1/scopes/{org}/{workspace}/{agent}/settings",
            get(scope_settings),
        )
        .merge(super::ui::router())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .with_state(gateway)
}

/// Read a request body within the size limit (413) and the body timeout (408).
async fn read_body(gateway: &Gateway, body: Body) -> Result<Bytes, ApiError> {
    let limit = gateway.config.gateway.max_body_bytes;
    let timeout = Duration::from_millis(gateway.config.gateway.body_timeout_ms);
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "request_timeout",
            format!(
                "the request body did not arrive within {} ms",
                timeout.as_millis()
            ),
        )),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "request_too_large",
                    format!("the request body is larger than {limit} bytes"),
                ))
            } else {
                Err(ApiError::bad_request(format!(
                    "cannot read the request body: {e}"
                )))
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

async fn chat(State(gateway): Shared, headers: HeaderMap, body: Body) -> Response {
    match read_body(&gateway, body).await {
        Ok(bytes) => super::chat::completions(gateway, headers, bytes).await,
        Err(e) => e.into_response(),
    }
}

async fn models(State(gateway): Shared, headers: HeaderMap) -> Response {
    if let Err(e) = gateway.scope(&headers) {
        return e.into_response();
    }
    match gateway.exchange.upstream.models().await {
        Ok((status, body)) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => ApiError::new(
            super::chat::upstream_status(&e),
            "upstream_error",
            "lucid_upstream_error",
            e.to_string(),
        )
        .into_response(),
    }
}

async fn health(State(gateway): Shared) -> Response {
    let mut reasons: Vec<String> = Vec::new();
    if let Some(p) = gateway.exchange.policy.problem() {
        reasons.push(p);
    }
    if gateway.exchange.receipts.is_broken() {
        reasons.push(
            "the receipt service stopped after a failure it cannot recover from (see the log)"
                .into(),
        );
    }
    let view = gateway.exchange.auditing.view();
    for (id, policy) in view.run_configs.iter() {
        if let Err(e) = policy {
            reasons.push(format!("auditor '{id}' is misconfigured: {e}"));
        }
    }
    let status = if reasons.is_empty() { "ok" } else { "degraded" };
    let code = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "status": status,
            "reasons": reasons,
            "plugin_set_hash": view.set.hash,
            "policy_hash": gateway.exchange.policy.current().hash,
            "chain_depth": gateway.exchange.receipts.chain_depth(),
            "signer_public_key": gateway.exchange.receipts.public_key(),
        })),
    )
        .into_response()
}

async fn metrics(State(gateway): Shared, headers: HeaderMap) -> Response {
    if let Err(e) = gateway.require_admin(&headers) {
        return e.into_response();
    }
    let mut response = Response::new(Body::from(gateway.exchange.metrics.render()));
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn auditors(State(gateway): Shared, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    let view = gateway.exchange.auditing.view();
    Ok(Json(json!({
        "plugin_set_hash": view.set.hash,
        "plugins": view.set.entries,
    })))
}

async fn vocabulary(
    State(gateway): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    let view = gateway.exchange.auditing.view();
    let plugin = view
        .set
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no auditor '{id}' is loaded")))?;
    Ok(Json(json!({
        "id": id,
        "sha256": plugin.auditor.sha256,
        "contract": format!("lucid:auditor@{}", plugin.auditor.contract_version()),
        "vocabulary": plugin.auditor.vocabulary,
    })))
}

/// The seed's `/claims`: run one auditor on a posted exchange
/// `{"phase", "request", "response"?, "settings"?}` and return its claims.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsRequest {
    phase: crate::runtime::claim::Phase,
    request: Value,
    response: Option<Value>,
    #[serde(default)]
    settings: serde_json::Map<String, Value>,
}

async fn claims(
    State(gateway): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    let bytes = read_body(&gateway, body).await?;
    let req: ClaimsRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    let view = gateway.exchange.auditing.view();
    let plugin = view
        .set
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no auditor '{id}' is loaded")))?
        .clone();
    let mut settings = plugin.auditor.vocabulary.default_settings();
    let mut limits = crate::runtime::sandbox::Limits::default();
    if let Some(Ok(policy)) = view.run_configs.get(&id) {
        settings = policy.settings.clone();
        limits = policy.limits;
    }
    for (name, value) in &req.settings {
        let spec = plugin.auditor.vocabulary.setting(name).ok_or_else(|| {
            ApiError::bad_request(plugin.auditor.vocabulary.unknown_setting(name))
        })?;
        let typed = crate::runtime::vocabulary::SettingValue::from_json_as(spec.ty, value)
            .map_err(|e| ApiError::bad_request(format!("setting '{name}': {e}")))?;
        settings.0.insert(name.clone(), typed);
    }
    let input = crate::runtime::plugin::ObservationInput {
        phase: req.phase,
        request_id: "claims-endpoint".into(),
        org: "default".into(),
        workspace: "default".into(),
        agent: "default".into(),
        request: req.request.to_string(),
        response: req.response.map(|r| r.to_string()),
        artifacts: None,
    };
    let sandbox = gateway.exchange.auditing.runner().sandbox().clone();
    let observed = tokio::task::spawn_blocking(move || {
        plugin.auditor.observe(&sandbox, &input, &settings, &limits)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "auditor_error",
            "lucid_auditor_error",
            format!("auditor '{id}' failed ({}): {}", e.kind, e.message),
        )
    })?;
    Ok(Json(json!({
        "auditor": id,
        "sha256": view.set.get(&id).map(|p| p.auditor.sha256.clone()),
        "claims": observed.claims,
        "duration_us": observed.duration.as_micros() as u64,
    })))
}

/// Run a query against the evidence store off the async workers.
pub(super) async fn with_store<T: Send + 'static>(
    gateway: &Arc<Gateway>,
    f: impl FnOnce(&mut dyn crate::evidence::EvidenceStore) -> Result<T, crate::evidence::StoreError>
    + Send
    + 'static,
) -> Result<T, ApiError> {
    let store = gateway.evidence.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
        f(store.as_mut())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(e.to_string()))
}

fn check_hash(h: &str) -> Result<(), ApiError> {
    if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ApiError::bad_request("an ar_hash is 64 hex characters"))
    }
}

async fn evidence(
    State(gateway): Shared,
    headers: HeaderMap,
    Path(ar_hash): Path<String>,
) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    check_hash(&ar_hash)?;
    let key = ar_hash.clone();
    let text = with_store(&gateway, move |s| s.get(&key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no AR {ar_hash}")))?;
    let ar = parse(&ar_hash, &text).map_err(|e| ApiError::internal(e.to_string()))?;
    let report = lucid_ar::verify_segment(std::slice::from_ref(&ar));
    let mut out = serde_json::to_value(&report).map_err(|e| ApiError::internal(e.to_string()))?;
    out["ar"] = ar;
    Ok(Json(out))
}

#[derive(Deserialize)]
struct ByRequest {
    request_id: String,
}

async fn evidence_by_request(
    State(gateway): Shared,
    headers: HeaderMap,
    Query(q): Query<ByRequest>,
) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    let id = q.request_id.clone();
    let texts = with_store(&gateway, move |s| s.by_request_id(&id)).await?;
    let ars: Vec<Value> = texts
        .iter()
        .filter_map(|t| serde_json::from_str(t).ok())
        .collect();
    if ars.is_empty() {
        return Err(ApiError::not_found(format!(
            "no AR for request {}",
            q.request_id
        )));
    }
    Ok(Json(json!({"request_id": q.request_id, "ars": ars})))
}

async fn attestation_chain(
    State(gateway): Shared,
    headers: HeaderMap,
    Path(ar_hash): Path<String>,
) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    check_hash(&ar_hash)?;
    let key = ar_hash.clone();
    let chain = with_store(&gateway, move |s| chain_ending_at(s, &key, usize::MAX))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no AR {ar_hash}")))?;
    let attestor = gateway.attestor.clone();
    let report = tokio::task::spawn_blocking(move || {
        let report = verify_stored(&chain);
        let hashes: Vec<Value> = chain
            .iter()
            .map(|a| a.get("ar_hash").cloned().unwrap_or(Value::Null))
            .collect();
        let keys = crate::attestation::keys_of(&chain, |binding| {
            report_status(binding, attestor.as_deref())
        });
        (report, hashes, keys)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut out = serde_json::to_value(&report.0).map_err(|e| ApiError::internal(e.to_string()))?;
    out["ar_hashes"] = Value::from(report.1);
    out["keys"] = Value::from(report.2);
    Ok(Json(out))
}

/// The report status of one binding of a chain (see [`crate::attestation::keys_of`]): whether
/// a report for it is kept (`attested`).
pub(super) fn report_status(
    binding: Option<&str>,
    attestor: Option<&crate::attestation::Attestor>,
) -> Value {
    match (binding, attestor) {
        (None, _) => json!({"status": "none", "reason": "signed before bindings"}),
        (Some(_), None) => json!({"status": "unavailable"}),
        (Some(hash), Some(a)) => match a.kept(hash) {
            Some(kept) => json!({
                "status": "attested",
                "mode": kept.mode,
                "generated_at": kept.generated_at,
            }),
            None => json!({"status": "missing"}),
        },
    }
}

#[derive(Deserialize)]
struct AttestationQuery {
    nonce: Option<String>,
    binding_hash: Option<String>,
}

/// `GET /v1/attestation[?nonce=HEX64]`: the report of the binding in force — with the
/// verifier's nonce a fresh one, without it the one kept for the binding (nonce zeros).
/// `?binding_hash=HEX64`: the report kept for that binding (an AR's `binding_hash`), 404 when
/// there is none. Open to anyone (it is what clients verify); fresh reports are made a few at a
/// time.
async fn attestation(
    State(gateway): Shared,
    Query(query): Query<AttestationQuery>,
) -> Result<Json<Value>, ApiError> {
    let Some(attestor) = gateway.attestor.clone() else {
        return Err(ApiError::unavailable(
            "this gateway has no attestation provider",
        ));
    };
    if let Some(hash) = query.binding_hash.as_deref() {
        if query.nonce.is_some() {
            return Err(ApiError::bad_request(
                "binding_hash and nonce do not go together: a kept report has no nonce",
            ));
        }
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::bad_request(
                "binding_hash must be 64 hex characters",
            ));
        }
        let hash = hash.to_ascii_lowercase();
        let kept = tokio::task::spawn_blocking(move || attestor.kept(&hash))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .ok_or_else(|| ApiError::not_found("no report is kept for this binding"))?;
        let out = serde_json::to_value(&*kept).map_err(|e| ApiError::internal(e.to_string()))?;
        return Ok(Json(out));
    }
    let nonce = match query.nonce.as_deref() {
        None => None,
        Some(text) => {
            let mut nonce = [0u8; 32];
            hex::decode_to_slice(text, &mut nonce)
                .map_err(|_| ApiError::bad_request("nonce must be 64 hex characters (32 bytes)"))?;
            Some(nonce)
        }
    };
    let binding = gateway.exchange.binding();
    let _permit = tokio::time::timeout(Duration::from_secs(5), gateway.attest_permits.acquire())
        .await
        .map_err(|_| ApiError::unavailable("too many attestation requests at once; retry shortly"))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let made = tokio::task::spawn_blocking(move || match nonce {
        Some(nonce) => attestor.fresh(&binding, nonce).map(Arc::new),
        None => attestor.for_binding(&binding),
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::unavailable(format!("no attestation report: {e}")))?;
    let out = serde_json::to_value(&*made).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(out))
}

/// `GET /v1/config` (admin): the configuration in force, its text and `config_hash` (SHA-256
/// of the file's bytes; of no bytes for the built-in defaults), as receipts bind it.
async fn config(State(gateway): Shared, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    Ok(Json(json!({
        "config_hash": gateway.exchange.auditing.config_hash(),
        "path": gateway.config_source.as_ref().map(|(p, _)| p.display().to_string()),
        "text": gateway.config_source.as_ref().map_or("", |(_, t)| t.as_str()),
    })))
}

/// `GET /v1/scopes/{org}/{workspace}/{agent}/settings` (admin): the effective auditor settings
/// of a scope now, and their `settings_hash`, as its next exchange's receipt binds them.
async fn scope_settings(
    State(gateway): Shared,
    headers: HeaderMap,
    Path((org, workspace, agent)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    let scope = lucid_contract::Scope {
        org,
        workspace,
        agent,
    };
    let view = gateway.exchange.auditing.view();
    let (settings, settings_hash) = gateway.exchange.settings(&scope, &view);
    Ok(Json(json!({
        "scope": scope,
        "settings": settings,
        "settings_hash": settings_hash,
    })))
}

async fn policy(State(gateway): Shared, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    gateway.require_admin(&headers)?;
    let state = gateway.exchange.policy.current();
    Ok(Json(json!({
        "hash": state.hash,
        "dir": gateway.exchange.policy.dir().display().to_string(),
        "files": state.files,
        "schema": state.schema_text(),
        "problem": gateway.exchange.policy.problem(),
    })))
}

async fn put_overrides(
    State(gateway): Shared,
    headers: HeaderMap,
    Path((org, workspace, agent)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    gateway.require_admin(&headers)?;
    let bytes = read_body(&gateway, body).await?;
    let overrides: lucid_policy::overrides::Settings =
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "invalid overrides (expected {{\"<auditor>\": {{\"<setting>\": value}}}}): {e}"
            ))
        })?;
    let scope = lucid_contract::Scope {
        org,
        workspace,
        agent,
    };
    // One change at a time: checked, receipted in the chain, and only then applied — on a
    // tracked task of its own, so that a client that goes away (or a shutdown) cannot leave a
    // receipted change unapplied.
    let task = gateway.clone();
    let (scope, effective, core, issued) = gateway
        .exchange
        .lifecycle
        .spawn(async move { change_overrides(&task, scope, overrides).await })
        .await
        .map_err(|e| ApiError::internal(format!("the change failed: {e}")))??;
    tracing::info!(
        org = %scope.org,
        workspace = %scope.workspace,
        agent = %scope.agent,
        ar_hash = %issued.ar_hash,
        "overrides changed"
    );
    let mut response = Json(json!({
        "scope": scope,
        "effective": effective,
        "settings_hash": core["settings_hash"],
        "ar_hash": issued.ar_hash,
        "chain_depth": issued.chain_depth,
    }))
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&issued.ar_hash) {
        response.headers_mut().insert("x-lucid-ar-hash", v);
    }
    Ok(response)
}

/// Check, receipt, then apply one change of a scope's overrides (serialized).
async fn change_overrides(
    gateway: &Gateway,
    scope: lucid_contract::Scope,
    overrides: lucid_policy::overrides::Settings,
) -> Result<
    (
        lucid_contract::Scope,
        Value,
        Value,
        crate::evidence::service::Issued,
    ),
    ApiError,
> {
    let _serial = gateway.admin_changes.lock().await;
    let view = gateway.exchange.auditing.view();
    let submitted = serde_json::to_value(&overrides).unwrap_or(Value::Null);
    let change = gateway
        .exchange
        .overrides
        .prepare(&scope, overrides, &view)
        .map_err(|errors| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request_error",
                "override_violation",
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
    let effective = serde_json::to_value(&change.effective).unwrap_or(Value::Null);
    let mut measurements = gateway.exchange.auditing.measurements(&view);
    measurements.settings_hash = Some(lucid_ar::sha256_hex(&lucid_ar::canonical_bytes(&effective)));
    let core = crate::exchange::receipt_core::settings_change(
        &crate::exchange::receipt_core::new_id("chg"),
        std::time::SystemTime::now(),
        &scope,
        &gateway.exchange.policy.current().hash,
        &measurements,
        submitted,
        effective.clone(),
    );
    let issued = gateway
        .exchange
        .receipts
        .issue(&core)
        .await
        .map_err(|e| ApiError::unavailable(format!("the change was not applied: {e}")))?;
    gateway.exchange.overrides.commit(change);
    gateway.exchange.feed.publish(
        crate::exchange::feed::FeedItem {
            ar_hash: issued.ar_hash.as_str().into(),
            model: None,
            own_us: None,
        },
        &issued.text,
    );
    if let Some(binding_hash) = &issued.binding_hash {
        gateway
            .exchange
            .attest_signed(binding_hash, &issued.text)
            .await;
    }
    Ok((scope, effective, core, issued))
}
