//! The `integrity` auditor: checks what the gateway loaded — auditors, plugin set, policy,
//! configuration, its own binary — against an expected manifest, by SHA-256.
//!
//! It observes the artifact phase, which the gateway runs at start and whenever the plugin set
//! or the policy changes; its claims are attached to every exchange's evidence, so a policy can
//! refuse to serve while anything is off-manifest.
//!
//! The manifest is the `expected` setting, a list of `name=sha256` entries:
//!
//! - `plugin_set`, `policy`, `config`, `host`: the descriptor's `plugin_set_hash`,
//!   `policy_hash`, `config_hash` and `host_sha256`;
//! - any other name is an auditor id (`pii=…`); `auditor:<id>=…` names an auditor whose id is
//!   one of the four words above.
//!
//! Hashes are 64 hex digits, in any case, optionally written `sha256:…`. An artifact is
//! *unexpected* when it is pinned and its hash differs, pinned but absent (an auditor not
//! loaded, or a hash the gateway did not supply, e.g. no policy), or — once the manifest pins
//! any auditor — an auditor loaded but not pinned, unless `allow_extra_auditors`. Only what is
//! pinned is checked: an empty manifest matches, and the metadata says nothing was pinned.
//!
//! The auditor never judges itself: a tampered copy could lie about its own hash anyway, so
//! `integrity` may be pinned but is never an unexpected extra. And `config` can only be pinned
//! when this auditor's settings do not live in the very file that is hashed (writing the pin
//! would change the hash).
//!
//! A malformed entry or a duplicate pin with another hash fails the call (`invalid-input`,
//! naming the entry): a manifest that cannot be read must not pass for one that matched.

use std::collections::BTreeMap;

use lucid_auditor_sdk::serde_json::{Map, Value, json};
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, SettingSpec, Vocabulary,
};

/// This auditor's id as the gateway knows it (benchmark copies carry a suffix; see the SDK).
const SELF_ID: &str = "integrity";

/// At most this many names are listed in `unexpected_artifacts` (and its metadata); the total
/// is always given. Keeps the claim far below the gateway's claims-size cap whatever the manifest.
pub const MAX_LISTED: usize = 256;

pub struct Integrity;

impl Auditor for Integrity {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "integrity",
            env!("CARGO_PKG_VERSION"),
            "Checks the loaded auditors, plugin set, policy, config and host binary against an \
             expected manifest of SHA-256 hashes (setting 'expected')",
        )
        .phases([Phase::Artifact])
        .claim(ClaimSpec::new(
            "artifacts_match",
            ClaimType::Boolean,
            "every pinned artifact is loaded with its pinned hash, and no unpinned auditor is \
             loaded (when the manifest pins auditors); true when nothing is pinned",
        ))
        .claim(ClaimSpec::new(
            "unexpected_artifacts",
            ClaimType::StringList,
            "names (auditor ids, 'plugin_set', 'policy', 'config', 'host') whose hash differs, \
             that are pinned but missing, or auditors loaded but not pinned; sorted, at most 256",
        ))
        .setting(SettingSpec::string_list(
            "expected",
            Vec::<String>::new(),
            "the manifest: 'name=sha256' entries; name is an auditor id, or plugin_set, policy, \
             config or host ('auditor:<id>' for an auditor with one of those ids)",
        ))
        .setting(SettingSpec::boolean(
            "allow_extra_auditors",
            false,
            "when the manifest pins auditors, also accept loaded auditors it does not name",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        if input.phase() != Phase::Artifact {
            return Err(Error::invalid_input(format!(
                "integrity observes the artifact phase only, not the {} phase",
                input.phase().as_str()
            )));
        }
        let settings = input.settings();
        let manifest = Manifest::parse(settings.string_list("expected").unwrap_or_default())?;
        let allow_extra = settings.boolean("allow_extra_auditors").unwrap_or(false);
        let descriptor = Descriptor::parse(input.artifacts_json().ok_or_else(|| {
            Error::invalid_input(
                "no artifact descriptor; expected {plugin_set_hash, auditors, policy_hash, \
                 config_hash, host_sha256}",
            )
        })?)?;

        let findings = compare(&manifest, &descriptor, allow_extra);
        let names: Vec<String> = findings.keys().take(MAX_LISTED).cloned().collect();
        let kinds: Map<String, Value> = findings
            .iter()
            .take(MAX_LISTED)
            .map(|(name, finding)| (name.clone(), finding.as_str().into()))
            .collect();

        let mut evidence = json!({
            "pinned": manifest.len(),
            "loaded_auditors": descriptor.auditors.len(),
            "unexpected": kinds,
        });
        if manifest.is_empty() {
            evidence["note"] = "nothing pinned: set 'expected' to name=sha256 entries".into();
        }
        Ok(vec![
            Claim::boolean("artifacts_match", findings.is_empty()).with_metadata(evidence),
            Claim::string_list("unexpected_artifacts", names).with_metadata(json!({
                "total": findings.len(),
                "truncated": findings.len() > MAX_LISTED,
            })),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(Integrity);

/// Why an artifact is unexpected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Pinned, present, with another hash.
    Differs,
    /// Pinned, but not loaded (or its hash not supplied).
    Missing,
    /// An auditor loaded but not pinned.
    Extra,
}

impl Finding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Differs => "differs",
            Self::Missing => "missing",
            Self::Extra => "extra",
        }
    }
}

/// What an entry pins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Artifact {
    PluginSet,
    Policy,
    Config,
    Host,
    Auditor(String),
}

impl Artifact {
    const GLOBAL: [(&str, Artifact); 4] = [
        ("plugin_set", Artifact::PluginSet),
        ("policy", Artifact::Policy),
        ("config", Artifact::Config),
        ("host", Artifact::Host),
    ];

    /// The name in claims: the manifest's own spelling.
    fn name(&self) -> String {
        match self {
            Self::PluginSet => "plugin_set".into(),
            Self::Policy => "policy".into(),
            Self::Config => "config".into(),
            Self::Host => "host".into(),
            Self::Auditor(id) if Self::GLOBAL.iter().any(|(word, _)| word == id) => {
                format!("auditor:{id}")
            }
            Self::Auditor(id) => id.clone(),
        }
    }
}

/// The expected manifest: each artifact with its hash (lowercase hex).
#[derive(Debug, Default)]
struct Manifest {
    pins: BTreeMap<Artifact, String>,
}

impl Manifest {
    fn parse(entries: &[String]) -> Result<Self, Error> {
        let mut pins = BTreeMap::new();
        for (index, entry) in entries.iter().enumerate() {
            let invalid = |what: &str| {
                Error::invalid_input(format!(
                    "setting 'expected' entry {index} ('{}') {what}",
                    excerpt(entry)
                ))
            };
            let (name, hash) = entry
                .split_once('=')
                .ok_or_else(|| invalid("has no '=': expected name=sha256"))?;
            let artifact = parse_name(name.trim()).ok_or_else(|| {
                invalid(
                    "does not name an artifact: expected an auditor id (lowercase letters, \
                     digits, '-', '_'), plugin_set, policy, config, host or auditor:<id>",
                )
            })?;
            let hash = parse_hash(hash.trim())
                .ok_or_else(|| invalid("has no sha256: expected 64 hex digits after '='"))?;
            if let Some(earlier) = pins.insert(artifact.clone(), hash.clone())
                && earlier != hash
            {
                return Err(invalid(&format!(
                    "pins '{}' a second time with another hash",
                    artifact.name()
                )));
            }
        }
        Ok(Self { pins })
    }

    fn len(&self) -> usize {
        self.pins.len()
    }

    fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    fn pins_auditors(&self) -> bool {
        self.pins.keys().any(|a| matches!(a, Artifact::Auditor(_)))
    }
}

fn parse_name(name: &str) -> Option<Artifact> {
    if let Some((_, global)) = Artifact::GLOBAL.iter().find(|(word, _)| *word == name) {
        return Some(global.clone());
    }
    let id = name.strip_prefix("auditor:").unwrap_or(name);
    let valid = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    valid.then(|| Artifact::Auditor(id.to_owned()))
}

fn parse_hash(hash: &str) -> Option<String> {
    let hex = hash
        .strip_prefix("sha256:")
        .or_else(|| hash.strip_prefix("SHA256:"))
        .unwrap_or(hash);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// What the gateway reports as loaded: `{plugin_set_hash, auditors: {id: sha256}, policy_hash,
/// config_hash, host_sha256}`; absent and `null` hashes are `None`.
#[derive(Debug)]
struct Descriptor<'a> {
    plugin_set: Option<&'a str>,
    policy: Option<&'a str>,
    config: Option<&'a str>,
    host: Option<&'a str>,
    auditors: BTreeMap<&'a str, &'a str>,
}

impl<'a> Descriptor<'a> {
    fn parse(value: &'a Value) -> Result<Self, Error> {
        let fields = value
            .as_object()
            .ok_or_else(|| Error::invalid_input("the artifact descriptor is not a JSON object"))?;
        let hash = |field: &str| -> Result<Option<&'a str>, Error> {
            match fields.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(hash)) => Ok(Some(hash.as_str())),
                Some(_) => Err(Error::invalid_input(format!(
                    "artifact descriptor field '{field}' is not a string or null"
                ))),
            }
        };
        let auditors = match fields.get("auditors") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(auditors)) => auditors
                .iter()
                .map(|(id, hash)| {
                    hash.as_str()
                        .map(|hash| (id.as_str(), hash))
                        .ok_or_else(|| {
                            Error::invalid_input(format!(
                                "artifact descriptor entry auditors.{} is not a string",
                                excerpt(id)
                            ))
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(Error::invalid_input(
                    "artifact descriptor field 'auditors' is not an object of id: sha256",
                ));
            }
        };
        Ok(Self {
            plugin_set: hash("plugin_set_hash")?,
            policy: hash("policy_hash")?,
            config: hash("config_hash")?,
            host: hash("host_sha256")?,
            auditors,
        })
    }

    fn hash_of(&self, artifact: &Artifact) -> Option<&'a str> {
        match artifact {
            Artifact::PluginSet => self.plugin_set,
            Artifact::Policy => self.policy,
            Artifact::Config => self.config,
            Artifact::Host => self.host,
            Artifact::Auditor(id) => self.auditors.get(id.as_str()).copied(),
        }
    }
}

/// The unexpected artifacts, by claim name (so sorted and unique).
fn compare(
    manifest: &Manifest,
    descriptor: &Descriptor<'_>,
    allow_extra: bool,
) -> BTreeMap<String, Finding> {
    let mut findings = BTreeMap::new();
    for (artifact, expected) in &manifest.pins {
        let finding = match descriptor.hash_of(artifact) {
            None => Some(Finding::Missing),
            Some(actual) if !actual.eq_ignore_ascii_case(expected) => Some(Finding::Differs),
            Some(_) => None,
        };
        if let Some(finding) = finding {
            findings.insert(artifact.name(), finding);
        }
    }
    if manifest.pins_auditors() && !allow_extra {
        let own_id = format!(
            "{SELF_ID}{}",
            option_env!("LUCID_AUDITOR_ID_SUFFIX").unwrap_or("")
        );
        for id in descriptor.auditors.keys() {
            let artifact = Artifact::Auditor((*id).to_owned());
            if *id != own_id && !manifest.pins.contains_key(&artifact) {
                findings.insert(artifact.name(), Finding::Extra);
            }
        }
    }
    findings
}

/// At most 64 characters of a setting value, for error messages.
fn excerpt(raw: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut chars = raw.chars();
    let mut shown: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    shown.escape_debug().to_string()
}

#[cfg(test)]
mod tests;
