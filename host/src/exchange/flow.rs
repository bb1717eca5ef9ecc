//! The exchange flow: request-phase claims → Cedar → (deny: the model is never called) →
//! upstream → execution claims on tool calls → response-phase claims → Cedar → one AR signed and
//! durably stored → an [`Outcome`]. Allowed or denied, every outcome but [`Outcome::Failed`]
//! carries its receipt.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};

use super::content::Content;
use super::lifecycle::Lifecycle;
use super::metrics::{DecisionLabels, Metrics};
use super::openai::{self, ChatRequest};
use super::receipt_core::{self, PhaseEvidence, Scope};
use super::redact::{self, Masked, Picked, RedactError};
use super::stream;
use super::upstream::{Upstream, UpstreamError};
use crate::config::{RedactionConfig, StreamMode, StreamingConfig};
use crate::evidence::service::ReceiptService;
use crate::policy::overrides::{Overrides, ScopeOverrides};
use crate::policy::{Effect, PhaseDecision, PolicyRuntime, PolicyState};
use crate::runtime::claim::Phase;
use crate::runtime::plugin::ObservationInput;
use crate::runtime::{AttributedClaim, MAX_EXCHANGE_EVIDENCE_BYTES};
use crate::runtime::{Auditing, PhaseReport, RuntimeView};

/// Everything an exchange needs, shared by all exchanges.
pub struct ExchangeService {
    pub auditing: Arc<Auditing>,
    pub policy: Arc<PolicyRuntime>,
    pub overrides: Overrides,
    pub receipts: Arc<ReceiptService>,
    pub upstream: Arc<dyn Upstream>,
    pub streaming: StreamingConfig,
    /// How masked spans are written (`[redaction]`).
    pub redaction: RedactionConfig,
    pub metrics: Metrics,
    /// The exchanges in flight, for a shutdown that receipts every one of them.
    pub lifecycle: Lifecycle,
    /// Reports kept per binding: every AR's binding gets one before its exchange is answered.
    pub attestor: Option<Arc<crate::attestation::Attestor>>,
    /// Every AR issued, for the live feed (the Observer UI).
    pub feed: super::feed::Feed,
}

impl ExchangeService {
    /// Make sure the binding `hash` that `ar` (its text) was signed under has a kept report,
    /// made now if it has none (the first AR of a new binding waits for it). A failure is
    /// logged: the AR is stored.
    pub async fn attest_signed(&self, hash: &str, ar: &str) {
        let Some(attestor) = &self.attestor else {
            return;
        };
        if attestor.has(hash) {
            return;
        }
        let Some(binding) = serde_json::from_str::<Value>(ar)
            .ok()
            .as_ref()
            .and_then(Value::as_object)
            .and_then(lucid_ar::binding_of)
        else {
            return;
        };
        let attestor = attestor.clone();
        match tokio::task::spawn_blocking(move || attestor.for_binding(&binding)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(binding_hash = %hash, "cannot attest a signed binding: {e}")
            }
            Err(e) => tracing::error!(binding_hash = %hash, "cannot attest a signed binding: {e}"),
        }
    }

    /// The effective auditor settings of `scope` under `view` (its overrides, else the
    /// configured settings), as bound into its ARs, and their hash (`settings_hash`: SHA-256 of
    /// their JCS bytes).
    pub fn settings(&self, scope: &Scope, view: &RuntimeView) -> (Value, String) {
        settings_of(self.overrides.for_scope(scope, view).as_deref(), view)
    }

    /// The request phase of a chat request for `scope`, run and decided as an exchange would
    /// run it — without calling the model, recording metrics or issuing a receipt (the
    /// Observer's "try it"). The artifact phase's claims are not attached.
    pub async fn probe_request(
        &self,
        scope: &Scope,
        request: &Value,
    ) -> (Vec<crate::runtime::AttributedClaim>, PhaseDecision) {
        let view = self.auditing.view();
        let policy = self.policy.current();
        let settings = self.overrides.for_scope(scope, &view);
        let model = request
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let input = Arc::new(ObservationInput {
            phase: Phase::Request,
            request_id: receipt_core::new_id("try"),
            org: scope.org.clone(),
            workspace: scope.workspace.clone(),
            agent: scope.agent.clone(),
            request: request.to_string(),
            response: None,
            artifacts: None,
        });
        let report = self
            .auditing
            .runner()
            .run_phase(view.clone(), input, settings.as_deref())
            .await;
        let decision =
            crate::policy::decide(&policy, scope, &model, &report, view.artifact.as_deref());
        (report.claims, decision)
    }

    /// The attestation binding in force (see `lucid_ar::binding_of`): the signing key and the
    /// signer component, the auditors and plugin set, the policy, the config and the host
    /// binary. An AR signed now carries its hash as `binding_hash`.
    pub fn binding(&self) -> Value {
        let view = self.auditing.view();
        let fields = json!({
            "policy_hash": self.policy.current().hash,
            "measurements": self.auditing.measurements(&view),
            "signer": {
                "public_key": &*self.receipts.public_key(),
                "receipt_sha256": self.receipts.receipt_sha256(),
            },
        });
        fields
            .as_object()
            .and_then(lucid_ar::binding_of)
            .unwrap_or(Value::Null)
    }
}

fn settings_of(scoped: Option<&ScopeOverrides>, view: &RuntimeView) -> (Value, String) {
    let settings = match scoped {
        Some(scoped) => serde_json::to_value(scoped),
        None => serde_json::to_value(crate::policy::overrides::defaults(view)),
    }
    .unwrap_or(Value::Null);
    let hash = lucid_ar::sha256_hex(&lucid_ar::canonical_bytes(&settings));
    (settings, hash)
}

/// What every outcome carries, receipted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub request_id: String,
    /// The hash of the policy set the exchange was judged with.
    pub policy_hash: String,
    /// The salt of the exchange's content commitments (64 hex digits), for the client only.
    pub content_salt: String,
}

/// The receipt of an exchange: its AR, signed and durably stored.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub ar_hash: String,
    pub chain_depth: u64,
    pub claims_hash: Option<String>,
    /// The AR exactly as signed and stored.
    pub text: Arc<str>,
    /// `deny` when any phase denied.
    pub decision: Effect,
    /// Stretches of text masked, over all phases.
    pub redactions: usize,
}

/// Why an exchange was denied: per denying phase, its determining policies and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub reasons: Vec<String>,
}

impl Denial {
    pub fn message(&self) -> String {
        format!("denied by Lucid policy ({})", self.reasons.join(" | "))
    }

    /// The OpenAI-style error body of a denial.
    pub fn body(&self) -> Value {
        openai::error_body(&self.message(), "policy_denied", "lucid_policy_denied")
    }
}

/// An exchange that could not be finished with a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("auditor worker failed: {0}")]
    Worker(String),
    #[error("the exchange could not be receipted: {0}")]
    Unreceipted(String),
}

impl ExchangeError {
    /// The OpenAI-style error body (type and code as the HTTP layer renders them).
    pub fn body(&self) -> Value {
        let code = match self {
            ExchangeError::Worker(_) => "internal_error",
            ExchangeError::Unreceipted(_) => "unavailable",
        };
        openai::error_body(&self.to_string(), "server_error", code)
    }
}

/// One event of a stream forwarded while it is audited (`observe`, `incremental`).
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A chunk of the model's answer, as the upstream sent it.
    Chunk(Value),
    /// An OpenAI-style error body (upstream failure, denial, no receipt).
    Error(Value),
    /// The exchange's AR, as signed and stored.
    Receipt(Arc<str>),
    /// The end of the stream.
    Done,
}

impl StreamEvent {
    /// The SSE bytes of a `data:` event (a chunk or an error): exactly what the client is sent
    /// and what the response commitment covers. `None` for the receipt and the end.
    pub fn data(&self) -> Option<String> {
        match self {
            StreamEvent::Chunk(v) | StreamEvent::Error(v) => Some(openai::sse_data(v)),
            StreamEvent::Receipt(_) | StreamEvent::Done => None,
        }
    }
}

/// How an exchange ended.
#[derive(Debug)]
pub enum Outcome {
    /// The model answered and every phase allowed; `body` is the completion as received.
    Completed {
        head: Head,
        receipt: Receipt,
        body: String,
    },
    /// A buffered stream that every phase allowed: its chunks, and `body`, their SSE events,
    /// to send followed by the receipt.
    Buffered {
        head: Head,
        receipt: Receipt,
        chunks: Vec<Value>,
        body: String,
    },
    /// A stream forwarded while it is audited; its events (ending with the receipt and
    /// [`StreamEvent::Done`]) arrive on `events`.
    Forwarded {
        head: Head,
        events: tokio::sync::mpsc::Receiver<StreamEvent>,
    },
    /// Some phase denied: the model's answer (if any) is withheld; `body` is the error body to
    /// send (the one the receipt's content commitment covers).
    Denied {
        head: Head,
        receipt: Receipt,
        denial: Denial,
        body: String,
    },
    /// The upstream failed; the receipt records `upstream_error`; `body` is the error body to
    /// send.
    UpstreamFailed {
        head: Head,
        receipt: Receipt,
        error: UpstreamError,
        body: String,
    },
    /// No receipt could be made.
    Failed { head: Head, error: ExchangeError },
}

/// What the client is to be sent, as far as the exchange knows it before its receipt.
#[derive(Debug, Default)]
pub(super) enum Answer {
    /// Nothing yet: a denial's body is made when the receipt is.
    #[default]
    Nothing,
    /// A JSON body: the completion, a denial or an error.
    Json(String),
    /// A buffered stream's chunks and their SSE events.
    Sse { chunks: Vec<Value>, body: String },
    /// A stream forwarded as it came: its bytes were committed as they were sent.
    Streamed,
}

/// One exchange in flight: what it was judged with (taken once, at its start) and what it found.
pub(super) struct Exchange {
    pub(super) service: Arc<ExchangeService>,
    pub(super) head: Head,
    scope: Scope,
    model: String,
    pub(super) request: Value,
    request_text: String,
    /// The exchange context auditors see outside the artifact phase (the `x-lucid-*` headers).
    context: Option<String>,
    view: Arc<RuntimeView>,
    policy: Arc<PolicyState>,
    settings: Option<Arc<ScopeOverrides>>,
    started: Instant,
    at: SystemTime,
    pub(super) phases: Vec<PhaseEvidence>,
    pub(super) extra: Map<String, Value>,
    /// Time spent waiting for the upstream, subtracted from Lucid's own latency.
    pub(super) upstream_time: Duration,
    /// Set when the exchange's evidence was too large for a receipt (its size in bytes): the
    /// receipt then binds the claims by hash only, and the exchange is denied.
    oversized: Option<usize>,
    /// The content commitments (request received, response sent).
    pub(super) content: Content,
    /// The streaming mode, for a stream.
    pub(super) stream_mode: Option<StreamMode>,
    /// The body to send, once known.
    pub(super) answer: Answer,
    /// What was masked, per phase, for the receipt (`redactions`).
    pub(super) redactions: Vec<Value>,
    /// Held until the exchange is completely done, a forwarded stream's audit and receipt
    /// included (the gateway's admission slot), then dropped.
    _hold: Option<Box<dyn Send + Sync>>,
}

/// At most this many `x-lucid-*` headers reach the auditors, each value at most
/// [`CONTEXT_VALUE_MAX`] bytes; others are left out (and logged), never cut.
pub const CONTEXT_HEADERS_MAX: usize = 16;
pub const CONTEXT_VALUE_MAX: usize = 256;

/// The exchange context given to auditors in the `artifacts` field of the request, execution
/// and response phases: `{"headers": {"x-lucid-region": "eu-west-1", ...}}` with the request's
/// `x-lucid-*` headers (names lowercase, values printable UTF-8), so that an auditor can read
/// what the client declared about the exchange (say, its data region). `None` when there are
/// none. Credentials never arrive in `x-lucid-*` headers (API keys use `Authorization`).
pub fn observation_context<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Option<String> {
    let mut picked = std::collections::BTreeMap::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if !name.starts_with("x-lucid-") {
            continue;
        }
        let usable = std::str::from_utf8(value)
            .ok()
            .filter(|v| v.len() <= CONTEXT_VALUE_MAX && !v.chars().any(char::is_control));
        match usable {
            Some(v) if picked.len() < CONTEXT_HEADERS_MAX || picked.contains_key(&name) => {
                // A repeated header keeps its first value, as the scope headers do.
                picked.entry(name).or_insert_with(|| v.trim().to_string());
            }
            _ => {
                tracing::debug!(header = %name, "header not passed to auditors (too long, not text, or too many)")
            }
        }
    }
    (!picked.is_empty()).then(|| json!({ "headers": picked }).to_string())
}

/// Run one exchange for `scope` to its outcome.
pub async fn run(service: Arc<ExchangeService>, scope: Scope, request: ChatRequest) -> Outcome {
    let content = Content::new(request.body.to_string().as_bytes());
    run_holding(service, scope, request, content, None, Box::new(())).await
}

/// Like [`run`], holding `hold` (say, an admission slot) until the exchange is completely done:
/// when its outcome is made, or for a forwarded stream when its audit and receipt are — not when
/// a client gets round to reading the end of it. `content` holds the commitment to the request's
/// bytes as received ([`Content::new`]). `context` is what auditors are given beside the body
/// in the request, execution and response phases (see [`observation_context`]).
pub async fn run_holding(
    service: Arc<ExchangeService>,
    scope: Scope,
    request: ChatRequest,
    content: Content,
    context: Option<String>,
    hold: Box<dyn Send + Sync>,
) -> Outcome {
    let request_id = receipt_core::new_id("req");
    let span = tracing::info_span!("chat", request_id = %request_id);
    let _enter = span.enter();
    let view = service.auditing.view();
    let settings = service.overrides.for_scope(&scope, &view);
    let policy = service.policy.current();
    let mut ex = Exchange {
        head: Head {
            request_id,
            policy_hash: policy.hash.clone(),
            content_salt: content.salt_hex(),
        },
        content,
        stream_mode: None,
        answer: Answer::Nothing,
        redactions: Vec::new(),
        view,
        policy,
        service: service.clone(),
        scope,
        model: request.model,
        request_text: request.body.to_string(),
        request: request.body,
        context,
        settings,
        started: Instant::now(),
        at: SystemTime::now(),
        phases: Vec::new(),
        extra: Map::new(),
        upstream_time: Duration::ZERO,
        oversized: None,
        _hold: Some(hold),
    };
    drop(_enter);
    ex.attach_artifact();
    if let Err(e) = ex.phase(Phase::Request, None).await {
        return ex.failed(e);
    }
    ex.mask_request();
    if ex.denied() {
        return ex.deny().await;
    }
    if request.stream {
        let scope = &ex.scope;
        let mut mode = service
            .streaming
            .mode_for(&scope.org, &scope.workspace, &scope.agent);
        // `observe` sends the answer before it is audited: under a policy that may ask to mask
        // answers it would send what it must not, so such a stream is held as `incremental`.
        let masks_answers = ex
            .policy
            .engine
            .as_ref()
            .is_some_and(|engine| engine.redacts_in(Phase::Response));
        if mode == StreamMode::Observe && masks_answers {
            ex.extra
                .insert("stream_mode_requested".into(), json!(StreamMode::Observe));
            mode = StreamMode::Incremental;
        }
        ex.extra.insert("stream_mode".into(), json!(mode));
        ex.stream_mode = Some(mode);
        return stream::run(ex, mode).await;
    }
    let upstream_started = Instant::now();
    let result = tokio::select! {
        result = service.upstream.complete(&ex.request, &ex.head.request_id) => result,
        () = service.lifecycle.cancelled() => Err(UpstreamError::ShutDown),
    };
    ex.upstream_time = upstream_started.elapsed();
    let response = match result {
        Ok(r) => r,
        Err(e) => return ex.upstream_failed(e).await,
    };
    let response_text = response.to_string();
    if let Err(e) = ex.audit_response(&response, &response_text).await {
        return ex.failed(e);
    }
    let response_text = ex.mask_answer(response, response_text);
    if ex.denied() {
        // A response-phase denial withholds the model's answer.
        return ex.deny().await;
    }
    ex.answer = Answer::Json(response_text);
    ex.release().await
}

impl Exchange {
    fn input(&self, phase: Phase, response: Option<String>) -> ObservationInput {
        ObservationInput {
            phase,
            request_id: self.head.request_id.clone(),
            org: self.scope.org.clone(),
            workspace: self.scope.workspace.clone(),
            agent: self.scope.agent.clone(),
            request: self.request_text.clone(),
            response,
            artifacts: self.context.clone(),
        }
    }

    /// Run a phase's auditors (off the async workers) and decide it; record both.
    pub(super) async fn phase(
        &mut self,
        phase: Phase,
        response: Option<String>,
    ) -> Result<PhaseDecision, ExchangeError> {
        let input = Arc::new(self.input(phase, response));
        let report = self
            .service
            .auditing
            .runner()
            .run_phase(self.view.clone(), input, self.settings.as_deref())
            .await;
        Ok(self.record(report))
    }

    fn record(&mut self, mut report: PhaseReport) -> PhaseDecision {
        let used: usize = self
            .phases
            .iter()
            .flat_map(|p| &p.claims)
            .map(AttributedClaim::approx_size)
            .sum();
        report.limit_evidence(MAX_EXCHANGE_EVIDENCE_BYTES.saturating_sub(used));
        self.service.metrics.record_phase(&report);
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
                crate::policy::decide_artifact(&self.policy, &self.scope, &self.model, &artifact);
            self.phases.push(PhaseEvidence {
                phase: Phase::Artifact,
                claims: artifact.claims.clone(),
                decision,
            });
        }
    }

    /// Execution phase (if the exchange has tool calls) and response phase over a completion.
    pub(super) async fn audit_response(
        &mut self,
        response: &Value,
        text: &str,
    ) -> Result<(), ExchangeError> {
        if openai::has_tool_calls(&self.request, Some(response)) {
            self.phase(Phase::Execution, Some(text.to_string())).await?;
        }
        if !self.denied() {
            self.phase(Phase::Response, Some(text.to_string())).await?;
        }
        Ok(())
    }

    /// The spans the last phase's decision asks to mask, if it allowed after masking.
    pub(super) fn picked(&self, phase: Phase) -> Option<Result<Vec<Picked>, RedactError>> {
        let last = self.phases.last().filter(|p| p.phase == phase)?;
        if last.decision.effect != Effect::Allow || last.decision.redact.is_empty() {
            return None;
        }
        Some(redact::pick(&last.decision.redact, &last.claims))
    }

    /// The masks the last phase asked for could not be applied: it denies, saying why.
    pub(super) fn masking_failed(&mut self, error: &RedactError) {
        tracing::warn!(request_id = %self.head.request_id, "masking failed, denying: {error}");
        if let Some(last) = self.phases.last_mut() {
            last.decision.effect = Effect::Deny;
            last.decision
                .errors
                .push(format!("masking failed: {error}"));
        }
    }

    /// Record what a phase masked: the stretches, and commitments (under the exchange's salt)
    /// to the document after masking and — for the request, which the client sent itself —
    /// before. The answer before masking is not committed to: the client holds the salt, and a
    /// commitment to the unmasked answer would let it test guesses of what was masked (an IP
    /// address, a phone number) against the receipt.
    pub(super) fn record_masks(
        &mut self,
        phase: Phase,
        before: Option<&str>,
        after: &str,
        masked: &[Masked],
    ) {
        self.service.metrics.record_redactions(phase, masked.len());
        self.redactions.push(json!({
            "phase": phase,
            "commitment": super::content::SCHEME,
            "before": before.map(|b| self.content.commit(b.as_bytes())),
            "after": self.content.commit(after.as_bytes()),
            "spans": masked,
        }));
    }

    /// Mask the request as its phase's decision asks, before the model sees it; the auditors of
    /// later phases see the masked request too.
    fn mask_request(&mut self) {
        let picked = match self.picked(Phase::Request) {
            None => return,
            Some(Ok(picked)) => picked,
            Some(Err(e)) => return self.masking_failed(&e),
        };
        let mut doc = self.request.clone();
        match redact::apply(&mut doc, &picked, Phase::Request, &self.service.redaction) {
            Ok(masked) => {
                let text = doc.to_string();
                let before = std::mem::replace(&mut self.request_text, text);
                self.request = doc;
                let after = self.request_text.clone();
                self.record_masks(Phase::Request, Some(&before), &after, &masked);
            }
            Err(e) => self.masking_failed(&e),
        }
    }

    /// A JSON answer masked as the response phase's decision asks (its text as sent).
    fn mask_answer(&mut self, response: Value, text: String) -> String {
        let picked = match self.picked(Phase::Response) {
            None => return text,
            Some(Ok(picked)) => picked,
            Some(Err(e)) => {
                self.masking_failed(&e);
                return text;
            }
        };
        let mut doc = response;
        match redact::apply(&mut doc, &picked, Phase::Response, &self.service.redaction) {
            Ok(masked) => {
                let after = doc.to_string();
                self.record_masks(Phase::Response, None, &after, &masked);
                after
            }
            Err(e) => {
                self.masking_failed(&e);
                text
            }
        }
    }

    pub(super) fn denied(&self) -> bool {
        self.oversized.is_some()
            || self
                .phases
                .iter()
                .any(|p| p.decision.effect == Effect::Deny)
    }

    /// The receipt of an exchange every phase allowed, and its outcome (the [`Answer`] it
    /// holds); a denial after all if its evidence could only be receipted by hash (see
    /// [`Exchange::receipt`]).
    pub(super) async fn release(mut self) -> Outcome {
        match self.receipt().await {
            Ok(receipt) if receipt.decision == Effect::Deny => self.denied_outcome(receipt),
            Ok(receipt) => match std::mem::take(&mut self.answer) {
                Answer::Json(body) => Outcome::Completed {
                    head: self.head,
                    receipt,
                    body,
                },
                Answer::Sse { chunks, body } => Outcome::Buffered {
                    head: self.head,
                    receipt,
                    chunks,
                    body,
                },
                Answer::Nothing | Answer::Streamed => self.failed(ExchangeError::Worker(
                    "an allowed exchange had no answer to send".into(),
                )),
            },
            Err(e) => self.failed(e),
        }
    }

    fn denied_outcome(mut self, receipt: Receipt) -> Outcome {
        let body = match std::mem::take(&mut self.answer) {
            Answer::Json(body) => body,
            _ => self.denial().body().to_string(),
        };
        Outcome::Denied {
            denial: self.denial(),
            head: self.head,
            receipt,
            body,
        }
    }

    /// The AR's `content`: the commitments to the request received and to the response as it
    /// will be sent. A JSON answer is settled here: a denied exchange's body becomes the
    /// denial's error body (the model's answer is withheld).
    fn content_json(&mut self) -> Value {
        let mut content = self.content.clone();
        match &self.answer {
            Answer::Streamed => {}
            Answer::Json(_) | Answer::Sse { .. } | Answer::Nothing if self.denied() => {
                let body = self.denial().body().to_string();
                content.sent(body.as_bytes());
                self.answer = Answer::Json(body);
            }
            Answer::Json(body) | Answer::Sse { body, .. } => content.sent(body.as_bytes()),
            Answer::Nothing => {}
        }
        content.to_json(self.stream_mode)
    }

    /// Sign and durably store the AR of this exchange. The effective auditor settings that judged
    /// it (the scope's overrides, else the configured settings) are bound into the AR, with
    /// their hash (`settings_hash`: SHA-256 of their JCS bytes).
    pub(super) async fn receipt(&mut self) -> Result<Receipt, ExchangeError> {
        let (settings, settings_hash) = settings_of(self.settings.as_deref(), &self.view);
        let mut measurements = self.service.auditing.measurements(&self.view);
        measurements.settings_hash = Some(settings_hash.clone());
        self.extra
            .insert("settings_hash".into(), Value::from(settings_hash));
        self.extra.insert("settings".into(), settings);
        let redactions = self.redactions_count();
        if !self.redactions.is_empty() {
            self.extra.insert(
                "redactions".into(),
                Value::from(std::mem::take(&mut self.redactions)),
            );
        }
        let content = self.content_json();
        self.extra.insert("content".into(), content);
        let extra = std::mem::take(&mut self.extra);
        let core = receipt_core::Core::new(
            &self.head.request_id,
            self.at,
            &self.scope,
            &self.phases,
            &self.policy.hash,
            &measurements,
            &extra,
        );
        let mut text = core.to_text();
        if text.len() > lucid_ar::MAX_CORE_BYTES {
            let core = core.to_value();
            text = self.oversized_core(core, text.len())?;
        }
        let issued = self.service.receipts.issue_text(text).await.map_err(|e| {
            tracing::error!(request_id = %self.head.request_id, "no receipt: {e}");
            ExchangeError::Unreceipted(e.to_string())
        })?;
        if let Some(binding_hash) = &issued.binding_hash {
            self.service.attest_signed(binding_hash, &issued.text).await;
        }
        let decision = if self.denied() {
            Effect::Deny
        } else {
            Effect::Allow
        };
        let metrics = &self.service.metrics;
        metrics
            .requests
            .get_or_create(&DecisionLabels {
                decision: decision.as_str().into(),
            })
            .inc();
        metrics.chain_depth.set(issued.chain_depth as i64);
        let own = self.started.elapsed().saturating_sub(self.upstream_time);
        metrics.request_seconds.observe(own.as_secs_f64());
        self.service.feed.publish(
            super::feed::FeedItem {
                ar_hash: issued.ar_hash.as_str().into(),
                model: Some(self.model.as_str().into()),
                own_us: Some(own.as_micros().min(u128::from(u64::MAX)) as u64),
            },
            &issued.text,
        );
        Ok(Receipt {
            ar_hash: issued.ar_hash,
            chain_depth: issued.chain_depth,
            claims_hash: issued.claims_hash,
            text: issued.text,
            decision,
            redactions,
        })
    }

    fn redactions_count(&self) -> usize {
        self.redactions
            .iter()
            .filter_map(|r| r.get("spans").and_then(Value::as_array))
            .map(Vec::len)
            .sum()
    }

    /// A core over the signer's limit: receipted by [`receipt_core::shrink`], and denied.
    fn oversized_core(&mut self, core: Value, bytes: usize) -> Result<String, ExchangeError> {
        tracing::error!(
            request_id = %self.head.request_id,
            bytes,
            "the exchange's evidence exceeds the receipt limit; receipting its claims by hash and denying"
        );
        self.oversized = Some(bytes);
        // Now denied: the body sent is the denial's.
        let mut core = core;
        core["content"] = self.content_json();
        let claims: Vec<Value> = self
            .phases
            .iter()
            .flat_map(|p| &p.claims)
            .map(AttributedClaim::to_json)
            .collect();
        receipt_core::shrink(core, &claims, bytes).map_err(ExchangeError::Unreceipted)
    }

    /// The reasons of the denying phases.
    pub(super) fn denial(&self) -> Denial {
        let mut reasons: Vec<String> = Vec::new();
        if let Some(bytes) = self.oversized {
            reasons.push(format!(
                "the exchange's evidence ({bytes} bytes) exceeds what a receipt may hold ({} bytes)",
                lucid_ar::MAX_CORE_BYTES
            ));
        }
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
        Denial { reasons }
    }

    /// A denial, with its receipt.
    pub(super) async fn deny(mut self) -> Outcome {
        match self.receipt().await {
            Ok(receipt) => self.denied_outcome(receipt),
            Err(e) => self.failed(e),
        }
    }

    pub(super) fn failed(self, error: ExchangeError) -> Outcome {
        Outcome::Failed {
            head: self.head,
            error,
        }
    }

    /// The upstream failed: an AR recording `upstream_error`.
    pub(super) async fn upstream_failed(mut self, error: UpstreamError) -> Outcome {
        self.service.metrics.upstream_errors.inc();
        self.extra
            .insert("upstream_error".into(), Value::from(error.to_string()));
        let body = error.body().to_string();
        self.answer = Answer::Json(body);
        match self.receipt().await {
            Ok(receipt) => Outcome::UpstreamFailed {
                body: match std::mem::take(&mut self.answer) {
                    Answer::Json(body) => body,
                    _ => error.body().to_string(),
                },
                head: self.head,
                receipt,
                error,
            },
            Err(e) => self.failed(e),
        }
    }
}

#[cfg(test)]
mod context_tests {
    use super::*;

    fn context(headers: &[(&'static str, &'static [u8])]) -> Option<Value> {
        observation_context(headers.iter().copied()).map(|t| serde_json::from_str(&t).unwrap())
    }

    #[test]
    fn only_printable_x_lucid_headers_reach_auditors() {
        assert_eq!(context(&[("authorization", b"Bearer k")]), None);
        let c = context(&[
            ("X-Lucid-Region", b" eu-west-1 "),
            ("x-lucid-region", b"us-east-1"),
            ("x-lucid-note", b"line\nbreak"),
            ("x-lucid-bin", b"\xff\xfe"),
            ("authorization", b"Bearer k"),
        ])
        .unwrap();
        assert_eq!(c, json!({"headers": {"x-lucid-region": "eu-west-1"}}));
    }

    #[test]
    fn context_is_bounded() {
        let long: &'static [u8] = Box::leak(vec![b'a'; CONTEXT_VALUE_MAX + 1].into_boxed_slice());
        assert_eq!(context(&[("x-lucid-region", long)]), None);
        let names: Vec<&'static str> = (0..40)
            .map(|i| &*Box::leak(format!("x-lucid-h{i:02}").into_boxed_str()))
            .collect();
        let headers: Vec<_> = names.iter().map(|n| (*n, &b"v"[..])).collect();
        let c = context(&headers).unwrap();
        assert_eq!(c["headers"].as_object().unwrap().len(), CONTEXT_HEADERS_MAX);
    }
}
