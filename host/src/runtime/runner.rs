//! Running auditors over one phase of an exchange: every enabled auditor that observes the phase
//! runs concurrently (bounded by the number of cores), each in a fresh sandboxed instance. A failed
//! auditor yields a `lucid.auditor_error` claim and, unless it is configured `fail_open`, makes the
//! phase fail closed. Coverage says which auditors ran, failed or were skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
        crate::runtime::claim::approx_size(&self.claim) + self.auditor.len() + 160
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

impl Serialize for AttributedClaim {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
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
pub struct PhaseRunner {
    sandbox: Arc<Sandbox>,
    parallelism: usize,
    /// Guest calls running at once, across every exchange: a call waits for a slot *before* its
    /// deadline starts, so under load calls queue instead of timing out while they wait for a
    /// core (which would turn load into policy denials).
    slots: Arc<Slots>,
}

/// A counting semaphore for blocking threads.
struct Slots {
    free: std::sync::Mutex<usize>,
    released: std::sync::Condvar,
}

impl Slots {
    fn new(n: usize) -> Arc<Slots> {
        Arc::new(Slots {
            free: std::sync::Mutex::new(n.max(1)),
            released: std::sync::Condvar::new(),
        })
    }

    fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.released.notify_one();
    }
}

struct Job<'a> {
    plugin: &'a LoadedPlugin,
    policy: &'a RunConfig,
    settings: std::borrow::Cow<'a, crate::runtime::vocabulary::Settings>,
}

impl PhaseRunner {
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get());
        PhaseRunner {
            sandbox,
            parallelism,
            slots: Slots::new(parallelism),
        }
    }

    pub fn with_parallelism(mut self, n: usize) -> Self {
        self.parallelism = n.max(1);
        self.slots = Slots::new(self.parallelism);
        self
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Run every enabled auditor of `view` that observes `input.phase`. Blocking: call it from a
    /// blocking-capable thread (e.g. `tokio::task::spawn_blocking`), never from an async worker.
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
        let phase = input.phase;
        let mut runs: Vec<Option<AuditorRun>> = vec![None; view.set.plugins.len()];
        let mut jobs: Vec<(usize, Job<'_>)> = Vec::new();
        let mut config_failures: Vec<(usize, String, bool)> = Vec::new();
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
                    runs[i] = skip(RunOutcome::NotSubscribed)
                }
                Some(Ok(policy)) if !policy.enabled => runs[i] = skip(RunOutcome::Disabled),
                Some(Ok(policy)) => match scoped_settings(plugin, policy, overrides) {
                    Ok(settings) => jobs.push((
                        i,
                        Job {
                            plugin,
                            policy,
                            settings,
                        },
                    )),
                    Err(e) => config_failures.push((i, e, policy.fail_open)),
                },
                Some(Err(e)) => config_failures.push((i, format!("configuration: {e}"), false)),
                None => config_failures.push((i, "no policy for this auditor".into(), false)),
            }
        }
        let results = self.execute(&jobs, input);
        let mut claims_by_auditor: Vec<Vec<AttributedClaim>> = vec![Vec::new(); runs.len()];
        let mut fail_closed = false;
        for ((i, job), result) in jobs.iter().zip(results) {
            let plugin = job.plugin;
            let (outcome, duration) = match result {
                Ok(Observed { claims, duration }) => {
                    claims_by_auditor[*i] = claims
                        .into_iter()
                        .map(|claim| attribute(plugin, claim))
                        .collect();
                    (RunOutcome::Ran, duration)
                }
                Err((error, duration)) => {
                    fail_closed |= !job.policy.fail_open;
                    (
                        failure(
                            plugin,
                            error,
                            job.policy.fail_open,
                            &mut claims_by_auditor[*i],
                        ),
                        duration,
                    )
                }
            };
            runs[*i] = Some(AuditorRun {
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

    /// Run the jobs on up to `parallelism` threads (this one included); results in job order.
    fn execute(
        &self,
        jobs: &[(usize, Job<'_>)],
        input: &ObservationInput,
    ) -> Vec<Result<Observed, (GuestError, Duration)>> {
        let run_one = |job: &Job<'_>| {
            let _slot = self.slots.acquire();
            let started = Instant::now();
            job.plugin
                .auditor
                .observe(&self.sandbox, input, &job.settings, &job.policy.limits)
                .map_err(|e| (e, started.elapsed()))
        };
        let workers = self.parallelism.min(jobs.len());
        if workers <= 1 {
            return jobs.iter().map(|(_, job)| run_one(job)).collect();
        }
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, job)) = jobs.get(k) else {
                    return done;
                };
                done.push((k, run_one(job)));
            }
        };
        let mut results: Vec<Option<Result<Observed, (GuestError, Duration)>>> =
            (0..jobs.len()).map(|_| None).collect();
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
            for (k, r) in work() {
                results[k] = Some(r);
            }
            for helper in helpers {
                // A worker only panics if the host itself has a bug; its jobs count as traps.
                if let Ok(done) = helper.join() {
                    for (k, r) in done {
                        results[k] = Some(r);
                    }
                }
            }
        });
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err((
                        GuestError::new(ErrorKind::Trap, "the host worker running it failed"),
                        Duration::ZERO,
                    ))
                })
            })
            .collect()
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
