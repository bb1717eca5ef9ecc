//! Loading a directory of `*.cedar` files into one policy set, hashing it, and validating it
//! strictly against a generated schema with every problem mapped back to a file and line.
//!
//! Org, workspace and agent policies all live in this one set (they differ only by their
//! principal scope), so an org-level `forbid` can never be overridden further down.
//!
//! A `forbid` annotated `@redact("CLAIM")` (optionally `@redact_kinds("email, phone")`) is a
//! mask rule: when it holds, the exchange is denied unless the spans the auditors attached to
//! `CLAIM` (of those kinds; every kind without `@redact_kinds`) are masked. Its annotations are
//! checked when the set is loaded, and its claim against the schema in [`validate`]; the engine
//! decides with it (see `engine.rs`).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::str::FromStr;

use cedar_policy as cedar;
use sha2::{Digest, Sha256};

use crate::claims::Phase;
use crate::error::{Diagnostic, PolicyError};
use crate::schema::Schema;

/// The annotation that makes a `forbid` a mask rule; its value names the claim whose spans to mask.
const REDACT: &str = "redact";
/// The annotation that narrows a mask rule to some entity kinds.
const REDACT_KINDS: &str = "redact_kinds";
/// The phases in which the host can mask anything: the request before the model sees it, the
/// answer before the client does.
const MASKABLE: [Phase; 2] = [Phase::Request, Phase::Response];

/// A parsed (not yet validated) policy set and where each policy came from.
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub(crate) cedar: cedar::PolicySet,
    /// The files, in load order: (path relative to the directory, text).
    files: Vec<(String, String)>,
    /// Per policy: the file index and the 1-based line where it starts.
    origins: HashMap<cedar::PolicyId, (usize, usize)>,
    /// Per policy: what a decision names it by, its `@id` or else its policy id.
    pub(crate) labels: HashMap<cedar::PolicyId, String>,
    /// The mask rules (`@redact` forbids), by policy id.
    pub(crate) redactions: HashMap<cedar::PolicyId, RedactRule>,
    /// The set without its mask rules: what must still allow an exchange for masking to be
    /// enough. Built once here, next to `cedar`, so the engine never assembles it per decision.
    pub(crate) unmasked: cedar::PolicySet,
    hash: String,
}

/// What one `@redact` forbid asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedactRule {
    /// The claim whose spans are masked.
    pub(crate) claim: String,
    /// The kinds of spans masked, sorted and distinct; empty: every kind.
    pub(crate) kinds: Vec<String>,
    /// The phases among [`MASKABLE`] that the policy's action scope includes (never empty).
    phases: Vec<Phase>,
}

/// What [`PolicySet::load_dir`] returns; the name the issue uses for a loaded set.
pub type LoadedPolicies = PolicySet;

impl PolicySet {
    /// Load every `*.cedar` file directly inside `dir` (subdirectories and other files, such as
    /// `tests.json`, are ignored), in order of file name. Parse errors carry file and line.
    pub fn load_dir(dir: &Path) -> Result<LoadedPolicies, PolicyError> {
        let io = |source| PolicyError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "cedar") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut sources = Vec::with_capacity(files.len());
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| PolicyError::Io {
                path: path.clone(),
                source,
            })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| PolicyError::NotUtf8 { path: path.clone() })?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| PolicyError::NotUtf8 { path: path.clone() })?
                .to_string();
            sources.push((name, text));
        }
        PolicySet::from_sources(sources)
    }

    /// Build a set from in-memory files `(path, text)`; they are sorted by path, as
    /// [`load_dir`](Self::load_dir) would.
    pub fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<PolicySet, PolicyError> {
        let mut files: Vec<(String, String)> = sources.into_iter().collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));

        let mut hasher = Sha256::new();
        for (path, text) in &files {
            hasher.update(path.as_bytes());
            hasher.update(b"\n");
            hasher.update(text.as_bytes());
            hasher.update(b"\n");
        }
        let hash = hex::encode(hasher.finalize());

        let mut cedar_set = cedar::PolicySet::new();
        let mut unmasked = cedar::PolicySet::new();
        let mut origins = HashMap::new();
        let mut labels = HashMap::new();
        let mut redactions = HashMap::new();
        let mut seen_ids: HashMap<String, (usize, usize)> = HashMap::new();
        let mut diagnostics = Vec::new();
        for (index, (path, text)) in files.iter().enumerate() {
            let parsed = match cedar::PolicySet::from_str(text) {
                Ok(parsed) => parsed,
                Err(errors) => {
                    for error in errors.iter() {
                        diagnostics.push(Diagnostic {
                            file: path.clone(),
                            line: first_label_line(error, text).unwrap_or(1),
                            message: message_of(error),
                        });
                    }
                    continue;
                }
            };
            if let Some(template) = parsed.templates().next() {
                diagnostics.push(Diagnostic {
                    file: path.clone(),
                    line: text
                        .find(template.to_cedar().as_str())
                        .map_or(1, |offset| line_of(text, offset)),
                    message: "templates (policies with ?principal or ?resource slots) are not \
                              supported; write a static policy"
                        .into(),
                });
                continue;
            }
            // `from_str` names the policies policy0, policy1, … in source order; find each one's
            // text in the file (after the previous one) to learn the line it starts on.
            let count = parsed.policies().count();
            let mut cursor = 0;
            for n in 0..count {
                let Some(policy) = parsed.policy(&cedar::PolicyId::new(format!("policy{n}")))
                else {
                    continue;
                };
                let line = match policy.to_cedar().and_then(|t| {
                    text[cursor..]
                        .find(&t)
                        .map(|offset| (cursor + offset, t.len()))
                }) {
                    Some((offset, len)) => {
                        cursor = offset + len;
                        line_of(text, offset)
                    }
                    None => 1,
                };
                let mut id = format!("{path}:{line}");
                let mut k = 1;
                while origins.contains_key(&cedar::PolicyId::new(&id)) {
                    k += 1;
                    id = format!("{path}:{line}.{k}");
                }
                let id = cedar::PolicyId::new(id);
                let policy = policy.new_id(id.clone());
                let label = match policy.annotation("id") {
                    Some(annotated) => {
                        if let Some((other_file, other_line)) =
                            seen_ids.insert(annotated.to_string(), (index, line))
                        {
                            diagnostics.push(Diagnostic {
                                file: path.clone(),
                                line,
                                message: format!(
                                    "@id(\"{annotated}\") is already used at {}:{other_line}; \
                                     each policy needs its own @id",
                                    files[other_file].0
                                ),
                            });
                        }
                        annotated.to_string()
                    }
                    None => id.to_string(),
                };
                let rule = match redact_rule(&policy) {
                    Ok(rule) => rule,
                    Err(messages) => {
                        diagnostics.extend(messages.into_iter().map(|message| Diagnostic {
                            file: path.clone(),
                            line,
                            message,
                        }));
                        None
                    }
                };
                if rule.is_none()
                    && let Err(e) = unmasked.add(policy.clone())
                {
                    diagnostics.push(Diagnostic {
                        file: path.clone(),
                        line,
                        message: e.to_string(),
                    });
                    continue;
                }
                if let Err(e) = cedar_set.add(policy) {
                    diagnostics.push(Diagnostic {
                        file: path.clone(),
                        line,
                        message: e.to_string(),
                    });
                    continue;
                }
                if let Some(rule) = rule {
                    redactions.insert(id.clone(), rule);
                }
                origins.insert(id.clone(), (index, line));
                labels.insert(id, label);
            }
        }
        if !diagnostics.is_empty() {
            return Err(PolicyError::Invalid(diagnostics));
        }
        Ok(PolicySet {
            cedar: cedar_set,
            files,
            origins,
            labels,
            redactions,
            unmasked,
            hash,
        })
    }

    /// SHA-256 (lowercase hex) of the set's canonical text: files sorted by path, each
    /// contributing `path\n<bytes>\n`.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The number of policies.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// The files the set was loaded from, in load order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(path, _)| path.as_str())
    }

    /// What decisions call each policy (its `@id`, else its id `file:line`), sorted.
    pub fn labels(&self) -> BTreeSet<&str> {
        self.labels.values().map(String::as_str).collect()
    }

    /// Whether some mask rule (`@redact` forbid) may ask for masking in `phase`: its action
    /// scope includes the phase, and the phase is one where the host masks (request or
    /// response; elsewhere a mask rule that holds simply denies). The host holds back what it
    /// might have to mask, a streamed answer for instance, only when this is true.
    pub fn redacts_in(&self, phase: Phase) -> bool {
        self.redactions
            .values()
            .any(|rule| rule.phases.contains(&phase))
    }

    fn locate(&self, id: &cedar::PolicyId, offset: Option<usize>) -> (String, usize) {
        match self.origins.get(id) {
            Some(&(file, line)) => {
                let (path, text) = &self.files[file];
                let line = offset
                    .filter(|&o| o <= text.len())
                    .map_or(line, |o| line_of(text, o));
                (path.clone(), line)
            }
            None => (id.to_string(), 1),
        }
    }
}

/// Validate `policies` strictly against `schema`. Besides Cedar's own type errors this rejects
/// validator warnings (an impossible policy is a typo, not an intent) and any read or `has` test
/// of a claim the schema does not declare: strict mode accepts `context.claims has typo` as
/// always false, which would turn a misspelt `forbid` into one that never fires.
pub fn validate(policies: &PolicySet, schema: &Schema) -> Result<(), Vec<Diagnostic>> {
    let validator = cedar::Validator::new(schema.cedar.clone());
    let result = validator.validate(&policies.cedar, cedar::ValidationMode::Strict);
    let mut diagnostics = BTreeSet::new();
    for error in result.validation_errors() {
        let (file, line) = policies.locate(error.policy_id(), first_label_offset(error));
        diagnostics.insert(Diagnostic {
            file,
            line,
            message: message_of(error),
        });
    }
    for warning in result.validation_warnings() {
        let (file, line) = policies.locate(warning.policy_id(), first_label_offset(warning));
        diagnostics.insert(Diagnostic {
            file,
            line,
            message: message_of(warning),
        });
    }
    for policy in policies.cedar.policies() {
        let Ok(est) = policy.to_json() else { continue };
        let mut unknown = BTreeSet::new();
        undeclared_claims(&est, schema, &mut unknown);
        let (file, line) = policies.locate(policy.id(), None);
        for claim in unknown {
            diagnostics.insert(Diagnostic {
                file: file.clone(),
                line,
                message: format!(
                    "policy reads claim '{claim}', which no loaded auditor declares (or which is \
                     an object claim, not exposed to policies)"
                ),
            });
        }
    }
    for (id, rule) in &policies.redactions {
        if schema.claim_type(&rule.claim).is_none() {
            let (file, line) = policies.locate(id, None);
            diagnostics.insert(Diagnostic {
                file,
                line,
                message: format!(
                    "@redact(\"{}\") names a claim that no loaded auditor declares; name the \
                     claim whose spans to mask, as in context.claims.NAME",
                    rule.claim
                ),
            });
        }
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(diagnostics.into_iter().collect())
    }
}

/// The mask rule a policy's annotations make of it (`None`: a plain policy), or every problem
/// with them. Only the claim's existence waits for the schema, in [`validate`].
fn redact_rule(policy: &cedar::Policy) -> Result<Option<RedactRule>, Vec<String>> {
    let Some(claim) = policy.annotation(REDACT) else {
        return match policy.annotation(REDACT_KINDS) {
            None => Ok(None),
            Some(_) => Err(vec![
                "@redact_kinds without @redact: add @redact(\"CLAIM\") to say whose spans of \
                 these kinds to mask"
                    .into(),
            ]),
        };
    };
    let mut errors = Vec::new();
    if policy.effect() != cedar::Effect::Forbid {
        errors.push(
            "@redact belongs on a forbid (deny unless the spans are masked), not on a permit"
                .to_string(),
        );
    }
    if claim.is_empty() {
        errors.push("@redact needs a claim name, e.g. @redact(\"pii_entities\")".to_string());
    }
    let kinds = match policy.annotation(REDACT_KINDS) {
        None => Vec::new(),
        Some(text) => match redact_kinds(text) {
            Ok(kinds) => kinds,
            Err(message) => {
                errors.push(message);
                Vec::new()
            }
        },
    };
    let phases: Vec<Phase> = MASKABLE
        .into_iter()
        .filter(|phase| action_scope_includes(&policy.action_constraint(), *phase))
        .collect();
    if phases.is_empty() {
        errors.push(
            "masking applies to the request and response phases; this @redact forbid's action \
             scope includes neither"
                .to_string(),
        );
    }
    if errors.is_empty() {
        Ok(Some(RedactRule {
            claim: claim.to_string(),
            kinds,
            phases,
        }))
    } else {
        Err(errors)
    }
}

/// The kinds of `@redact_kinds("email, phone")`: separated by commas and/or white space, each a
/// kind name (`[a-z0-9_]`, as spans name their kind), at least one; sorted and distinct.
fn redact_kinds(text: &str) -> Result<Vec<String>, String> {
    let tokens: BTreeSet<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|token| !token.is_empty())
        .collect();
    if tokens.is_empty() {
        return Err(
            "@redact_kinds lists no kind; name some (\"email, phone\") or leave it out to mask \
             every kind"
                .into(),
        );
    }
    let bad: Vec<&str> = tokens
        .iter()
        .copied()
        .filter(|token| !lucid_contract::is_kind_name(token))
        .collect();
    if !bad.is_empty() {
        return Err(format!(
            "@redact_kinds has {} that {} not a kind name: '{}' (expected lowercase letters, \
             digits or '_', separated by commas or spaces)",
            if bad.len() == 1 {
                "an entry"
            } else {
                "entries"
            },
            if bad.len() == 1 { "is" } else { "are" },
            bad.join("', '")
        ));
    }
    Ok(tokens.into_iter().map(String::from).collect())
}

/// Whether a policy's action scope (`action`, `action == A`, `action in [A, B]`) includes the
/// action of `phase`. The schema has no action groups, so `in` is membership of the list.
fn action_scope_includes(scope: &cedar::ActionConstraint, phase: Phase) -> bool {
    let is_phase = |uid: &cedar::EntityUid| {
        uid.type_name().to_string() == "Action" && uid.id().unescaped() == phase.as_str()
    };
    match scope {
        cedar::ActionConstraint::Any => true,
        cedar::ActionConstraint::Eq(uid) => is_phase(uid),
        cedar::ActionConstraint::In(uids) => uids.iter().any(is_phase),
    }
}

/// Collect the attributes of `context.claims` that `expr` (a policy's JSON form) reads or tests
/// with `has` and that the schema does not expose.
fn undeclared_claims(expr: &serde_json::Value, schema: &Schema, out: &mut BTreeSet<String>) {
    match expr {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                if (key == "." || key == "has")
                    && let (Some(left), Some(attr)) = (
                        value.get("left"),
                        value.get("attr").and_then(|a| a.as_str()),
                    )
                    && is_context_claims(left)
                    && schema.claim_type(attr).is_none()
                {
                    out.insert(attr.to_string());
                }
                undeclared_claims(value, schema, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                undeclared_claims(item, schema, out);
            }
        }
        _ => {}
    }
}

fn is_context_claims(expr: &serde_json::Value) -> bool {
    expr.get(".").is_some_and(|access| {
        access.get("attr").and_then(|a| a.as_str()) == Some("claims")
            && access
                .get("left")
                .and_then(|l| l.get("Var"))
                .and_then(|v| v.as_str())
                == Some("context")
    })
}

fn first_label_offset(diagnostic: &dyn miette::Diagnostic) -> Option<usize> {
    diagnostic.labels()?.next().map(|label| label.offset())
}

fn first_label_line(diagnostic: &dyn miette::Diagnostic, text: &str) -> Option<usize> {
    first_label_offset(diagnostic)
        .filter(|&o| o <= text.len())
        .map(|o| line_of(text, o))
}

/// Cedar's message, with its help text when it has one.
fn message_of(diagnostic: &dyn miette::Diagnostic) -> String {
    match diagnostic.help() {
        Some(help) => format!("{diagnostic} (help: {help})"),
        None => diagnostic.to_string(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
