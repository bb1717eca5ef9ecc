//! `lucid.toml`: per-auditor switches, limits and settings. Unknown fields are errors (a typo must
//! not silently leave a default in force); settings are checked against each auditor's vocabulary.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config field 'auditors.{auditor}.settings.{setting}': {message}")]
    Setting {
        auditor: String,
        setting: String,
        message: String,
    },
    #[error("config field 'auditors.{auditor}.{field}': {message}")]
    Field {
        auditor: String,
        field: &'static str,
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for every auditor; `[auditors.<id>]` overrides them.
    #[serde(default)]
    pub defaults: AuditorConfig,
    /// Per-auditor configuration by auditor id.
    #[serde(default)]
    pub auditors: BTreeMap<String, AuditorConfig>,
    /// The HTTP gateway.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// The upstream model API.
    #[serde(default)]
    pub upstream: UpstreamConfig,
    /// API keys (`[[keys]]`): the SHA-256 of each key and the scope it stands for. With none,
    /// the gateway runs in dev mode and takes the scope from `x-lucid-*` headers.
    #[serde(default)]
    pub keys: Vec<ApiKey>,
    /// Streaming modes.
    #[serde(default)]
    pub streaming: StreamingConfig,
    /// How masked spans are written, per entity kind (`[redaction]`).
    #[serde(default)]
    pub redaction: RedactionConfig,
    /// Per-org enforcement of auditor settings and the overrides of its workspaces and agents
    /// (`[orgs.<org>.enforcement.<auditor>]`, `[orgs.<org>.workspaces.<ws>.overrides.<auditor>]`).
    #[serde(default)]
    pub orgs: std::collections::BTreeMap<String, lucid_overrides::OrgSettings>,
    /// Set from a bundle (`--preset <bundle>` with an `auditors` list), never from the file:
    /// only these auditors run unless their own `[auditors.<id>]` section says `enabled`.
    #[serde(skip)]
    pub bundle_auditors: Option<std::collections::BTreeSet<String>>,
}

/// `[gateway]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Largest request body, in bytes (default 4 MiB); larger is HTTP 413.
    pub max_body_bytes: usize,
    /// Time allowed to receive a request's headers, in ms (default 10000).
    pub header_timeout_ms: u64,
    /// Time allowed to receive a request's body, in ms (default 30000).
    pub body_timeout_ms: u64,
    /// SHA-256 (hex) of the admin token guarding the admin and inspection API.
    pub admin_token_sha256: Option<String>,
    /// Production mode: refuses to start without API keys and an admin token.
    pub production: bool,
    /// Chat exchanges in flight at once (default 64); more wait up to `queue_timeout_ms`, then
    /// get HTTP 503 with `Retry-After` — overload is never a policy denial.
    pub max_in_flight: usize,
    /// How long an exchange may wait for a free slot, in ms (default 2000).
    pub queue_timeout_ms: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_body_bytes: 4 << 20,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            admin_token_sha256: None,
            production: false,
            max_in_flight: 64,
            queue_timeout_ms: 2_000,
        }
    }
}

/// `[upstream]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Base URL of an OpenAI-compatible API (e.g. `https://api.openai.com`), or `mock`.
    /// `--upstream` overrides it.
    pub url: Option<String>,
    /// Name of the environment variable holding the upstream API key.
    pub api_key_env: Option<String>,
    /// Time allowed for the upstream's whole answer, in ms (default 120000).
    pub timeout_ms: u64,
    /// Time allowed to connect, in ms (default 5000).
    pub connect_timeout_ms: u64,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            url: None,
            api_key_env: None,
            timeout_ms: 120_000,
            connect_timeout_ms: 5_000,
        }
    }
}

/// One `[[keys]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Lowercase hex SHA-256 of the bearer token.
    pub sha256: String,
    pub org: String,
    pub workspace: String,
    pub agent: String,
}

/// How a stream is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    /// Hold the stream until the response auditors pass (full enforcement).
    Buffer,
    /// Release the stream window by window (`incremental_chars`), each once an audit of it (plus
    /// an overlap) allows; cut on deny — the violating text is never delivered.
    Incremental,
    /// Forward at once, audit afterwards.
    Observe,
}

/// `[streaming]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamingConfig {
    /// Mode for scopes without a rule (default `buffer`).
    pub mode: StreamMode,
    /// Audit interval of `incremental`, in characters (default 200).
    pub incremental_chars: usize,
    /// Per-scope modes; the most specific matching rule wins.
    pub scopes: Vec<StreamRule>,
}

impl Default for StreamingConfig {
    fn default() -> Self {
        StreamingConfig {
            mode: StreamMode::Buffer,
            incremental_chars: 200,
            scopes: Vec::new(),
        }
    }
}

/// `[[streaming.scopes]]`: `org` and optionally `workspace` and `agent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRule {
    pub org: String,
    pub workspace: Option<String>,
    pub agent: Option<String>,
    pub mode: StreamMode,
}

impl StreamingConfig {
    /// The mode for a scope: the matching rule naming the most levels, else the default.
    pub fn mode_for(&self, org: &str, workspace: &str, agent: &str) -> StreamMode {
        self.scopes
            .iter()
            .filter(|r| {
                r.org == org
                    && r.workspace.as_deref().is_none_or(|w| w == workspace)
                    && r.agent.as_deref().is_none_or(|a| a == agent)
            })
            .max_by_key(|r| r.workspace.is_some() as u8 + r.agent.is_some() as u8)
            .map_or(self.mode, |r| r.mode)
    }
}

/// `[redaction]`: how the gateway writes a span a policy asked it to mask.
///
/// ```toml
/// [redaction]
/// default = "label"            # the auditor's label, e.g. [EMAIL] (else [KIND])
/// [redaction.kinds]
/// credit_card = "keep_last:4"  # ****-****-****-1111
/// phone = "mask"               # every letter and digit a '*', separators kept
/// secret = "fixed:[REDACTED]"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    /// The style of kinds without one of their own (default `label`).
    pub default: MaskStyle,
    /// Per entity kind; merged over the built-in ones (`credit_card = "keep_last:4"`).
    pub kinds: BTreeMap<String, MaskStyle>,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        RedactionConfig {
            default: MaskStyle::Label,
            kinds: BTreeMap::new(),
        }
    }
}

impl RedactionConfig {
    /// The style for `kind`: its own, else the built-in one, else the default.
    pub fn style(&self, kind: &str) -> &MaskStyle {
        const CARD: MaskStyle = MaskStyle::KeepLast(4);
        match self.kinds.get(kind) {
            Some(style) => style,
            None if kind == "credit_card" => &CARD,
            None => &self.default,
        }
    }
}

/// How a masked span is written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum MaskStyle {
    /// The auditor's label (`[EMAIL]`), else `[KIND]` in capitals.
    Label,
    /// Every letter and digit becomes `*`; everything else (dashes, spaces, `@`, dots) stays,
    /// so the text keeps its shape.
    Mask,
    /// As `Mask`, but the last N letters and digits stay (`keep_last:4`: `****-****-****-1111`).
    KeepLast(u8),
    /// This text (printable, no `"` or `\`, at most 64 bytes).
    Fixed(String),
}

/// The most characters `keep_last` may keep.
pub const MAX_KEEP_LAST: u8 = 8;

impl TryFrom<String> for MaskStyle {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let bad = || {
            format!(
                "unknown mask style '{text}' (expected label, mask, keep_last:N with N at most {MAX_KEEP_LAST}, or fixed:TEXT)"
            )
        };
        match text.split_once(':') {
            None if text == "label" => Ok(MaskStyle::Label),
            None if text == "mask" => Ok(MaskStyle::Mask),
            Some(("keep_last", n)) => match n.parse::<u8>() {
                Ok(n) if n <= MAX_KEEP_LAST => Ok(MaskStyle::KeepLast(n)),
                _ => Err(bad()),
            },
            Some(("fixed", fixed)) if lucid_contract::is_replacement_text(fixed) => {
                Ok(MaskStyle::Fixed(fixed.to_string()))
            }
            Some(("fixed", _)) => Err(format!(
                "mask style '{text}': the fixed text must be printable, without '\"' or '\\', at most {} bytes",
                lucid_contract::MAX_SPAN_LABEL_BYTES
            )),
            _ => Err(bad()),
        }
    }
}

impl From<MaskStyle> for String {
    fn from(style: MaskStyle) -> String {
        match style {
            MaskStyle::Label => "label".into(),
            MaskStyle::Mask => "mask".into(),
            MaskStyle::KeepLast(n) => format!("keep_last:{n}"),
            MaskStyle::Fixed(text) => format!("fixed:{text}"),
        }
    }
}

/// Configuration of one auditor (or the defaults). Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditorConfig {
    /// Run the auditor (default true).
    pub enabled: Option<bool>,
    /// Deadline of one call in ms (default 50).
    pub deadline_ms: Option<u64>,
    /// Memory cap in MiB (default 64).
    pub memory_mib: Option<u64>,
    /// Instruction budget of one call (default: none).
    pub fuel: Option<u64>,
    /// Let requests proceed when this auditor fails (default false: fail closed).
    pub fail_open: Option<bool>,
    /// Setting values, checked against the auditor's vocabulary.
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Load and return the SHA-256 of the file's bytes too (the `config_hash` of the artifact
    /// descriptor).
    pub fn load_with_hash(path: &Path) -> Result<(Config, String), ConfigError> {
        Self::load_source(path).map(|(config, hash, _)| (config, hash))
    }

    /// Load, and return the SHA-256 of the file's bytes and its text too (what was read, once).
    pub fn load_source(path: &Path) -> Result<(Config, String, String), ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| ConfigError::Parse {
            path: path.display().to_string(),
            message: "the file is not UTF-8".into(),
        })?;
        let config = Self::parse(&text, &path.display().to_string())?;
        Ok((config, hex::encode(Sha256::digest(&bytes)), text))
    }

    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        if !config.defaults.settings.is_empty() {
            return Err(ConfigError::Parse {
                path: origin.to_string(),
                message: "settings belong to one auditor: use [auditors.<id>.settings], not [defaults.settings]".into(),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_styles_parse_and_bad_ones_are_named() {
        let config = Config::parse(
            "[redaction]\ndefault = \"mask\"\n[redaction.kinds]\nphone = \"keep_last:2\"\nsecret = \"fixed:[X]\"\n",
            "t.toml",
        )
        .unwrap();
        let r = &config.redaction;
        assert_eq!(r.style("phone"), &MaskStyle::KeepLast(2));
        assert_eq!(r.style("secret"), &MaskStyle::Fixed("[X]".into()));
        assert_eq!(r.style("email"), &MaskStyle::Mask);
        assert_eq!(r.style("credit_card"), &MaskStyle::KeepLast(4), "built in");
        assert_eq!(RedactionConfig::default().style("email"), &MaskStyle::Label);
        for bad in ["keep_last:99", "blank", "fixed:a\\\"b", "keep_last:x"] {
            let text = format!("[redaction]\ndefault = \"{bad}\"\n");
            let err = Config::parse(&text, "t.toml").unwrap_err().to_string();
            assert!(err.contains("mask style"), "{bad}: {err}");
        }
    }

    #[test]
    fn unknown_fields_are_errors() {
        let err = Config::parse("[auditors.pii]\nfail_opn = true\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("fail_opn"), "{err}");
    }
}
