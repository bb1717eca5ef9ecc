//! Running auditors over one phase of an exchange: every enabled auditor that observes the phase
//! runs concurrently (bounded by the number of cores), each in a fresh sandboxed instance. A failed
//! auditor yields a `lucid.auditor_error` claim and, unless it is configured `fail_open`, makes the
//! phase fail closed. Coverage says which auditors ran, failed or were skipped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::runtime::RuntimeView;
use crate::runtime::claim::{Claim, ClaimValue, Phase};
use crate::runtime::plugin::{ObservationInput, Observed};
use crate::runtime::plugin_dir::LoadedPlugin;
use crate::runtime::run_config::RunConfig;
use crate::runtime::sandbox::{ErrorKind, GuestError, Sandbox};

/// Settings that replace the configured ones for one exchange (a scope's overrides, already
/// checked against its org's enforcement): auditor id → setting name → value.
pub type SettingOverrides =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, Value>>;

/// The claim the host emits when an auditor fails.
pub const AUDITOR_ERROR_CLAIM: &str = "lucid.auditor_error";

/// A claim together with the auditor (and its measurement) that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributedClaim {
    pub auditor: String,
    pub auditor_sha256: String,
    pub claim: Claim,
}

/// Claim bytes one exchange may put in its receipt, over all its phases. Guests are bounded one
/// call at a time (`Limits::max_claims_bytes`); this bounds their sum, so that the receipt core
/// stays under the signer's limit ([`lucid_ar::MAX_CORE_BYTES`]) with room for the rest.
pub const MAX_EXCHANGE_EVIDENCE_BYTES: usize = 2 << 20;

impl AttributedClaim {
    /// Bytes this claim takes in a receipt (an estimate, on the high side).
    pub fn approx_size(&self) -> usize {
        // Spans are not written into receipts (`to_json` leaves them out).
        crate::runtime::claim::approx_size(&self.claim)
            - crate::runtime::claim::spans_size(&self.claim)
            + self.auditor.len()
            + 160
    }

    /// `{"auditor", "auditor_sha256", "name", "type", "value", "confidence"[, "metadata"]}`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "auditor": self.auditor,
            "auditor_sha256": self.auditor_sha256,
            "name": self.claim.name,
            "type": self.claim.value.claim_type(),
            "value": self.claim.value.to_json(),
            "confidence": self.claim.confidence,
        });
        if let Some(m) = &self.claim.metadata {
            v["metadata"] = m.clone();
        }
        v
    }
}

/// The same object as [`AttributedClaim::to_json`], written without building it.
impl Serialize for AttributedClaim {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let claim = &self.claim;
        let mut map = serializer.serialize_map(Some(6 + usize::from(claim.metadata.is_some())))?;
        map.serialize_entry("auditor", &self.auditor)?;
        map.serialize_entry("auditor_sha256", &self.auditor_sha256)?;
        map.serialize_entry("name", &claim.name)?;
        map.serialize_entry("type", &claim.value.claim_type())?;
        map.serialize_entry("value", &ValueRef(&claim.value))?;
        map.serialize_entry("confidence", &claim.confidence)?;
        if let Some(m) = &claim.metadata {
            map.serialize_entry("metadata", m)?;
        }
        map.end()
    }
}

/// A claim's value as JSON ([`ClaimValue::to_json`]), by reference.
struct ValueRef<'a>(&'a ClaimValue);

impl Serialize for ValueRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            // Scores are checked to be in [0, 1] (finite) when the guest returns them.
            ClaimValue::ScoreNormalized(v) => Value::from(*v).serialize(serializer),
            ClaimValue::Boolean(v) => serializer.serialize_bool(*v),
            ClaimValue::String(v) => serializer.serialize_str(v),
            ClaimValue::StringList(v) => v.serialize(serializer),
            ClaimValue::Count(v) | ClaimValue::DurationMs(v) => serializer.serialize_u64(*v),
            ClaimValue::Object(v) => v.serialize(serializer),
        }
    }
}

/// What happened to one loaded auditor in one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunOutcome {
    Ran,
    Failed {
        kind: ErrorKind,
        message: String,
        fail_open: bool,
    },
    /// Disabled in the configuration.
    Disabled,
    /// The auditor does not observe this phase.
    NotSubscribed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditorRun {
    pub auditor: String,
    #[serde(flatten)]
    pub outcome: RunOutcome,
    pub duration_us: u64,
}

/// Which auditors ran, failed, or were not evaluated in a phase (sorted ids).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    pub ran: Vec<String>,
    pub failed: Vec<String>,
    pub skipped: Vec<String>,
}

/// The result of one phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseReport {
    pub phase: Phase,
    pub claims: Vec<AttributedClaim>,
    pub runs: Vec<AuditorRun>,
    /// Some auditor failed and is not `fail_open`: the exchange must be denied.
    pub fail_closed: bool,
    pub duration: Duration,
}

impl PhaseReport {
    /// Bytes this phase's claims take in a receipt (an estimate, on the high side for the
    /// fields the host adds).
    pub fn evidence_bytes(&self) -> usize {
        self.claims.iter().map(AttributedClaim::approx_size).sum()
    }

    /// Keep this phase's claims within `budget` bytes (what is left of the exchange's evidence
    /// budget): the claims of each auditor that do not fit what is left, in auditor order, are
    /// replaced by its `lucid.auditor_error` claim (kind `contract`), and
    /// the phase fails closed, whatever the auditor's `fail_open`: evidence the receipt cannot
    /// hold cannot judge an exchange. Returns the bytes the phase's claims now take.
    pub fn limit_evidence(&mut self, budget: usize) -> usize {
        let total = self.evidence_bytes();
        if total <= budget {
            return total;
        }
        let mut kept: Vec<AttributedClaim> = Vec::with_capacity(self.claims.len());
        let mut used = 0usize;
        let claims = std::mem::take(&mut self.claims);
        for group in claims.chunk_by(|a, b| a.auditor == b.auditor) {
            let bytes: usize = group.iter().map(AttributedClaim::approx_size).sum();
            if used + bytes <= budget {
                used += bytes;
                kept.extend_from_slice(group);
                continue;
            }
            let first = &group[0];
            let error = GuestError::new(
                ErrorKind::Contract,
                format!(
                    "its {bytes} bytes of claims exceed what is left of the exchange's evidence \
                     budget ({} of {MAX_EXCHANGE_EVIDENCE_BYTES} bytes)",
                    budget.saturating_sub(used)
                ),
            );
            tracing::warn!(auditor = %first.auditor, "auditor failed: {}", error.message);
            let claim = AttributedClaim {
                auditor: first.auditor.clone(),
                auditor_sha256: first.auditor_sha256.clone(),
                claim: error_claim(&first.auditor, &error),
            };
            used += claim.approx_size();
            kept.push(claim);
            if let Some(run) = self.runs.iter_mut().find(|r| r.auditor == first.auditor) {
                run.outcome = RunOutcome::Failed {
                    kind: error.kind,
                    message: error.message,
                    fail_open: false,
                };
            }
            self.fail_closed = true;
        }
        self.claims = kept;
        used
    }

    pub fn coverage(&self) -> Coverage {
        let mut c = Coverage::default();
        for run in &self.runs {
            let list = match run.outcome {
                RunOutcome::Ran => &mut c.ran,
                RunOutcome::Failed { .. } => &mut c.failed,
                RunOutcome::Disabled | RunOutcome::NotSubscribed => &mut c.skipped,
            };
            list.push(run.auditor.clone());
        }
        c
    }
}

/// Runs the auditors of a phase.
///
/// Guest calls are made by a pool of worker threads started once (as many as there are cores,
/// unless told otherwise): a phase hands each of its auditors' calls to the pool, so the calls
/// of one phase run in parallel when workers are free, and under load calls queue for a worker
/// *before* their deadline starts (waiting for a core must not turn load into timeouts and so
/// into policy denials). Every call still gets a fresh instance in a fresh store.
pub struct PhaseRunner {
    sandbox: Arc<Sandbox>,
    pool: Arc<Pool>,
}

type CallResult = Result<Observed, (GuestError, Duration)>;
type Task = Box<dyn FnOnce() + Send>;

/// The worker threads and their queue.
struct Pool {
    state: std::sync::Mutex<PoolState>,
    ready: std::sync::Condvar,
    /// Worker threads started.
    workers: std::sync::atomic::AtomicUsize,
}

struct PoolState {
    tasks: std::collections::VecDeque<Task>,
    closed: bool,
}

impl Pool {
    fn start(n: usize) -> Arc<Pool> {
        let pool = Arc::new(Pool {
            state: std::sync::Mutex::new(PoolState {
                tasks: std::collections::VecDeque::new(),
                closed: false,
            }),
            ready: std::sync::Condvar::new(),
            workers: std::sync::atomic::AtomicUsize::new(0),
        });
        for k in 0..n.max(1) {
            let worker = pool.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("lucid-auditor-{k}"))
                .spawn(move || worker.work());
            match spawned {
                Ok(_) => {
                    pool.workers
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                // The calls still run: on the workers that did start, or (none) on the caller.
                Err(e) => tracing::error!("cannot start auditor worker thread {k}: {e}"),
            }
        }
        pool
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn work(&self) {
        loop {
            let task = {
                let mut state = self.lock();
                loop {
                    if let Some(task) = state.tasks.pop_front() {
                        break task;
                    }
                    if state.closed {
                        return;
                    }
                    state = self.ready.wait(state).unwrap_or_else(|p| p.into_inner());
                }
            };
            // A panicking call is a host bug; its reply is dropped (the phase counts the call as
            // a trap) and the worker lives on.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
        }
    }

    fn submit(&self, task: Task) {
        let mut state = self.lock();
        if state.closed || self.workers.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            drop(state);
            task();
            return;
        }
        state.tasks.push_back(task);
        drop(state);
        self.ready.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// Where a worker sends the result of call `k` of a phase.
#[derive(Clone)]
enum Reply {
    Async(tokio::sync::mpsc::UnboundedSender<(usize, CallResult)>),
    Blocking(std::sync::mpsc::Sender<(usize, CallResult)>),
}

impl Reply {
    fn send(&self, k: usize, result: CallResult) {
        // The phase may be gone (its exchange was dropped): nobody wants the result then.
        let _ = match self {
            Reply::Async(tx) => tx.send((k, result)).map_err(drop),
            Reply::Blocking(tx) => tx.send((k, result)).map_err(drop),
        };
    }
}

/// One auditor call a phase makes: the plugin (by index in the view) and, when the scope
/// overrides them, its settings.
struct Job {
    index: usize,
    settings: Option<crate::runtime::vocabulary::Settings>,
    fail_open: bool,
}

/// A phase before its calls are made: the auditors skipped or failed by configuration, and the
/// calls to make.
struct Plan {
    runs: Vec<Option<AuditorRun>>,
    jobs: Vec<Job>,
    config_failures: Vec<(usize, String, bool)>,
}

impl PhaseRunner {
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get());
        PhaseRunner {
            sandbox,
            pool: Pool::start(parallelism),
        }
    }

    /// At most `n` guest calls at once (the number of worker threads).
    pub fn with_parallelism(mut self, n: usize) -> Self {
        self.pool.close();
        self.pool = Pool::start(n);
        self
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Run every enabled auditor of `view` that observes `input.phase`. Blocking: call it from a
    /// blocking-capable thread, never from an async worker (use [`PhaseRunner::run_phase`]).
    pub fn run(&self, view: &RuntimeView, input: &ObservationInput) -> PhaseReport {
        self.run_scoped(view, input, None)
    }

    /// Like `run`, with the effective settings of the exchange's scope (auditor → setting →
    /// value, already checked against the org's enforcement) replacing the configured ones.
    pub fn run_scoped(
        &self,
        view: &RuntimeView,
        input: &ObservationInput,
        overrides: Option<&SettingOverrides>,
    ) -> PhaseReport {
        let started = Instant::now();
        let plan = plan(view, input.phase, overrides);
        let (tx, rx) = std::sync::mpsc::channel();
        let view = Arc::new(view.clone());
        let input = Arc::new(input.clone());
        self.dispatch(&plan.jobs, &view, &input, &Reply::Blocking(tx));
        let mut results: Vec<Option<CallResult>> = (0..plan.jobs.len()).map(|_| None).collect();
        for (k, r) in rx.iter().take(plan.jobs.len()) {
            results[k] = Some(r);
        }
        assemble(&view, input.phase, plan, results, started)
    }

    /// The async form of [`PhaseRunner::run_scoped`]: the calls run on the worker pool while
    /// the caller awaits them.
    pub async fn run_phase(
        &self,
        view: Arc<RuntimeView>,
        input: Arc<ObservationInput>,
        overrides: Option<&SettingOverrides>,
    ) -> PhaseReport {
        let started = Instant::now();
        let plan = plan(&view, input.phase, overrides);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        self.dispatch(&plan.jobs, &view, &input, &Reply::Async(tx));
        let mut results: Vec<Option<CallResult>> = (0..plan.jobs.len()).map(|_| None).collect();
        for _ in 0..plan.jobs.len() {
            match rx.recv().await {
                Some((k, r)) => results[k] = Some(r),
                None => break,
            }
        }
        assemble(&view, input.phase, plan, results, started)
    }

    /// Hand each call to the pool; each replies with its index in `jobs`.
    fn dispatch(
        &self,
        jobs: &[Job],
        view: &Arc<RuntimeView>,
        input: &Arc<ObservationInput>,
        reply: &Reply,
    ) {
        for (k, job) in jobs.iter().enumerate() {
            let (view, input, reply) = (view.clone(), input.clone(), reply.clone());
            let sandbox = self.sandbox.clone();
            let index = job.index;
            let settings = job.settings.clone();
            self.pool.submit(Box::new(move || {
                let started = Instant::now();
                let plugin = &view.set.plugins[index];
                let result = match view.run_configs.get(plugin.auditor.id()) {
                    Some(Ok(policy)) => plugin
                        .auditor
                        .observe(
                            &sandbox,
                            &input,
                            settings.as_ref().unwrap_or(&policy.settings),
                            &policy.limits,
                        )
                        .map_err(|e| (e, started.elapsed())),
                    _ => Err((
                        GuestError::new(ErrorKind::Error, "no policy for this auditor"),
                        Duration::ZERO,
                    )),
                };
                reply.send(k, result);
            }));
        }
    }
}

impl Drop for PhaseRunner {
    fn drop(&mut self) {
        self.pool.close();
    }
}

/// Which auditors of `view` run in `phase`, with which settings; which are skipped or fail by
/// configuration.
fn plan(view: &RuntimeView, phase: Phase, overrides: Option<&SettingOverrides>) -> Plan {
    let mut plan = Plan {
        runs: vec![None; view.set.plugins.len()],
        jobs: Vec::new(),
        config_failures: Vec::new(),
    };
    for (i, plugin) in view.set.plugins.iter().enumerate() {
        let id = plugin.auditor.id();
        let skip = |outcome| {
            Some(AuditorRun {
                auditor: id.to_string(),
                outcome,
                duration_us: 0,
            })
        };
        match view.run_configs.get(id) {
            _ if !plugin.auditor.vocabulary.observes(phase) => {
                plan.runs[i] = skip(RunOutcome::NotSubscribed)
            }
            Some(Ok(policy)) if !policy.enabled => plan.runs[i] = skip(RunOutcome::Disabled),
            Some(Ok(policy)) => match scoped_settings(plugin, policy, overrides) {
                Ok(settings) => plan.jobs.push(Job {
                    index: i,
                    settings: match settings {
                        std::borrow::Cow::Borrowed(_) => None,
                        std::borrow::Cow::Owned(s) => Some(s),
                    },
                    fail_open: policy.fail_open,
                }),
                Err(e) => plan.config_failures.push((i, e, policy.fail_open)),
            },
            Some(Err(e)) => plan
                .config_failures
                .push((i, format!("configuration: {e}"), false)),
            None => plan
                .config_failures
                .push((i, "no policy for this auditor".into(), false)),
        }
    }
    plan
}

/// The phase's report from its plan and the results of its calls (in job order; a missing one
/// — its worker failed — counts as a trap).
fn assemble(
    view: &RuntimeView,
    phase: Phase,
    plan: Plan,
    results: Vec<Option<CallResult>>,
    started: Instant,
) -> PhaseReport {
    let Plan {
        mut runs,
        jobs,
        config_failures,
    } = plan;
    let mut claims_by_auditor: Vec<Vec<AttributedClaim>> = vec![Vec::new(); runs.len()];
    let mut fail_closed = false;
    for (job, result) in jobs.iter().zip(results) {
        let plugin = &view.set.plugins[job.index];
        let result = result.unwrap_or_else(|| {
            Err((
                GuestError::new(ErrorKind::Trap, "the host worker running it failed"),
                Duration::ZERO,
            ))
        });
        let (outcome, duration) = match result {
            Ok(Observed { claims, duration }) => {
                claims_by_auditor[job.index] = claims
                    .into_iter()
                    .map(|claim| attribute(plugin, claim))
                    .collect();
                (RunOutcome::Ran, duration)
            }
            Err((error, duration)) => {
                fail_closed |= !job.fail_open;
                (
                    failure(
                        plugin,
                        error,
                        job.fail_open,
                        &mut claims_by_auditor[job.index],
                    ),
                    duration,
                )
            }
        };
        runs[job.index] = Some(AuditorRun {
            auditor: plugin.auditor.id().to_string(),
            outcome,
            duration_us: duration.as_micros() as u64,
        });
    }
    for (i, message, fail_open) in config_failures {
        let plugin = &view.set.plugins[i];
        fail_closed |= !fail_open;
        let error = GuestError::new(ErrorKind::Error, message);
        let outcome = failure(plugin, error, fail_open, &mut claims_by_auditor[i]);
        runs[i] = Some(AuditorRun {
            auditor: plugin.auditor.id().to_string(),
            outcome,
            duration_us: 0,
        });
    }
    PhaseReport {
        phase,
        claims: claims_by_auditor.into_iter().flatten().collect(),
        runs: runs.into_iter().flatten().collect(),
        fail_closed,
        duration: started.elapsed(),
    }
}

/// The settings an auditor runs with for a scope: its configured ones, with the scope's
/// effective values (typed against the vocabulary) on top.
fn scoped_settings<'a>(
    plugin: &LoadedPlugin,
    policy: &'a RunConfig,
    overrides: Option<&SettingOverrides>,
) -> Result<std::borrow::Cow<'a, crate::runtime::vocabulary::Settings>, String> {
    let Some(values) = overrides.and_then(|o| o.get(plugin.auditor.id())) else {
        return Ok(std::borrow::Cow::Borrowed(&policy.settings));
    };
    let mut settings = policy.settings.clone();
    for (name, value) in values {
        let Some(spec) = plugin.auditor.vocabulary.setting(name) else {
            return Err(format!(
                "scope override: {}",
                plugin.auditor.vocabulary.unknown_setting(name)
            ));
        };
        let typed = crate::runtime::vocabulary::SettingValue::from_json_as(spec.ty, value)
            .map_err(|e| format!("scope override of setting '{name}': {e}"))?;
        settings.0.insert(name.clone(), typed);
    }
    Ok(std::borrow::Cow::Owned(settings))
}

fn attribute(plugin: &LoadedPlugin, claim: Claim) -> AttributedClaim {
    AttributedClaim {
        auditor: plugin.auditor.id().to_string(),
        auditor_sha256: plugin.auditor.sha256.clone(),
        claim,
    }
}

/// Record a failure: log it, add the `lucid.auditor_error` claim, return the outcome.
fn failure(
    plugin: &LoadedPlugin,
    error: GuestError,
    fail_open: bool,
    claims: &mut Vec<AttributedClaim>,
) -> RunOutcome {
    let id = plugin.auditor.id();
    tracing::warn!(auditor = id, kind = %error.kind, fail_open, "auditor failed: {}", error.message);
    claims.clear();
    claims.push(attribute(plugin, error_claim(id, &error)));
    RunOutcome::Failed {
        kind: error.kind,
        message: error.message,
        fail_open,
    }
}

/// The `lucid.auditor_error` claim for a failure.
pub fn error_claim(auditor: &str, error: &GuestError) -> Claim {
    Claim {
        name: AUDITOR_ERROR_CLAIM.to_string(),
        value: ClaimValue::Object(json!({
            "auditor": auditor,
            "kind": error.kind,
            "message": error.message,
        })),
        confidence: 1.0,
        metadata: None,
        spans: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_serializes_as_its_json() {
        let values = [
            ClaimValue::ScoreNormalized(0.25),
            ClaimValue::ScoreNormalized(1.0),
            ClaimValue::Boolean(true),
            ClaimValue::String("x\"y".into()),
            ClaimValue::StringList(vec!["a".into(), "b".into()]),
            ClaimValue::Count(7),
            ClaimValue::DurationMs(u64::from(u32::MAX) + 1),
            ClaimValue::Object(json!({"k": [1, {"z": null}]})),
        ];
        for (i, value) in values.into_iter().enumerate() {
            let claim = AttributedClaim {
                auditor: "a".into(),
                auditor_sha256: "0".repeat(64),
                claim: Claim {
                    name: format!("a.c{i}"),
                    value,
                    confidence: 0.5,
                    metadata: (i % 2 == 0).then(|| json!({"m": i})),
                    spans: Vec::new(),
                },
            };
            assert_eq!(serde_json::to_value(&claim).unwrap(), claim.to_json());
            assert_eq!(
                serde_json::to_string(&claim).unwrap(),
                claim.to_json().to_string()
            );
        }
    }

    #[test]
    fn error_claims_carry_auditor_kind_and_message() {
        let claim = error_claim("pii", &GuestError::new(ErrorKind::Timeout, "too slow"));
        assert_eq!(claim.name, AUDITOR_ERROR_CLAIM);
        assert_eq!(
            claim.value.to_json(),
            json!({"auditor": "pii", "kind": "timeout", "message": "too slow"})
        );
    }

    fn report(sizes: &[(&str, usize)]) -> PhaseReport {
        let claims = sizes
            .iter()
            .map(|(auditor, bytes)| AttributedClaim {
                auditor: auditor.to_string(),
                auditor_sha256: "0".repeat(64),
                claim: Claim {
                    name: "blob".into(),
                    value: ClaimValue::String("x".repeat(*bytes)),
                    confidence: 1.0,
                    metadata: None,
                    spans: Vec::new(),
                },
            })
            .collect();
        let mut ids: Vec<&str> = sizes.iter().map(|(a, _)| *a).collect();
        ids.dedup();
        PhaseReport {
            phase: Phase::Request,
            claims,
            runs: ids
                .iter()
                .map(|a| AuditorRun {
                    auditor: a.to_string(),
                    outcome: RunOutcome::Ran,
                    duration_us: 1,
                })
                .collect(),
            fail_closed: false,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn evidence_within_the_budget_is_kept_as_it_is() {
        let mut r = report(&[("a", 100), ("a", 100), ("b", 100)]);
        let before = r.clone();
        let used = r.limit_evidence(10_000);
        assert_eq!(used, r.evidence_bytes());
        assert_eq!(r, before);
    }

    #[test]
    fn auditors_past_the_budget_become_contract_errors_and_the_phase_fails_closed() {
        let mut r = report(&[("a", 1000), ("b", 5000), ("b", 10), ("c", 10), ("d", 5000)]);
        let budget = r.claims[0].approx_size() + 1500;
        let used = r.limit_evidence(budget);
        assert!(used <= budget + 1024, "{used}");
        assert!(r.fail_closed);
        let names: Vec<(&str, &str)> = r
            .claims
            .iter()
            .map(|c| (c.auditor.as_str(), c.claim.name.as_str()))
            .collect();
        // `a` fits; `b` does not; `c` still fits; `d` does not (auditor order is kept).
        assert_eq!(
            names,
            [
                ("a", "blob"),
                ("b", AUDITOR_ERROR_CLAIM),
                ("c", "blob"),
                ("d", AUDITOR_ERROR_CLAIM)
            ]
        );
        let message = r.claims[1].claim.value.to_json()["message"].clone();
        assert!(
            message.as_str().unwrap().contains("evidence budget"),
            "{message}"
        );
        assert_eq!(r.claims[1].claim.value.to_json()["kind"], "contract");
        assert!(matches!(
            r.runs[1].outcome,
            RunOutcome::Failed {
                kind: ErrorKind::Contract,
                fail_open: false,
                ..
            }
        ));
        assert_eq!(r.runs[0].outcome, RunOutcome::Ran);
    }

    #[test]
    fn escapes_count_at_their_json_size() {
        let plain = report(&[("a", 0)]).evidence_bytes();
        let mut r = report(&[("a", 0)]);
        r.claims[0].claim.value = ClaimValue::String("\u{1}".repeat(1000));
        assert!(r.evidence_bytes() >= plain + 6000);
        let json = serde_json::to_string(&r.claims[0]).unwrap();
        assert!(
            r.evidence_bytes() >= json.len(),
            "{} < {}",
            r.evidence_bytes(),
            json.len()
        );
    }
}
