//! Loading one auditor plugin: recognise the file, measure it, compile it, check that it exports
//! a compatible `lucid:auditor` interface, link it against the sandbox and read its vocabulary.

use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, types::ComponentItem};

use crate::runtime::bindings::{
    self, AUDITOR_INTERFACE, AUDITOR_INTERFACE_V01, AUDITOR_PACKAGE, AuditorPluginPre, v01, wit,
};
use crate::runtime::claim::{Claim, Phase, check_claim};
use crate::runtime::sandbox::{ErrorKind, GuestError, Limits, Sandbox, classify};
use crate::runtime::vocabulary::{Settings, Vocabulary, VocabularyError};

/// Why a file could not be loaded as an auditor.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("not a WebAssembly file (it does not start with the \\0asm magic number)")]
    NotWasm,
    #[error(
        "is a core WebAssembly module, not a component: build it with `cargo build --target wasm32-wasip2` or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    #[error("is not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error(
        "does not export the {AUDITOR_PACKAGE} interface (expected an export named {AUDITOR_INTERFACE}; it exports: {found})"
    )]
    WrongWorld { found: String },
    #[error(
        "exports {found}, which is not compatible with this host's {AUDITOR_INTERFACE} (or {AUDITOR_INTERFACE_V01}): rebuild it against lucid:auditor@0.2.x"
    )]
    WrongVersion { found: String },
    #[error(
        "imports {import}, which auditors may not use (allowed: the WASI interfaces of {allowed}; no sockets, no HTTP, nothing else)"
    )]
    ForbiddenImport {
        import: String,
        allowed: &'static str,
    },
    #[error("cannot be linked: {0}")]
    Link(String),
    #[error("failed in describe: {0}")]
    Describe(GuestError),
    #[error("returned an invalid vocabulary: {0}")]
    Vocabulary(#[from] VocabularyError),
}

/// SHA-256 of the exact bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What kind of file the bytes are, from the WebAssembly header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmKind {
    Component,
    CoreModule,
    NotWasm,
}

pub fn wasm_kind(bytes: &[u8]) -> WasmKind {
    if wasmparser::Parser::is_component(bytes) {
        WasmKind::Component
    } else if wasmparser::Parser::is_core_wasm(bytes) {
        WasmKind::CoreModule
    } else {
        WasmKind::NotWasm
    }
}

/// A plugin that loaded: measured, compiled, linked and described. Cheap to instantiate.
#[derive(Clone)]
pub struct Auditor {
    pub sha256: String,
    pub size: u64,
    pub vocabulary: Vocabulary,
    pre: Pre,
}

/// A linked component, by the version of the contract it was built against.
#[derive(Clone)]
enum Pre {
    Current(AuditorPluginPre<crate::runtime::sandbox::GuestState>),
    V01(v01::AuditorPluginPre<crate::runtime::sandbox::GuestState>),
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("id", &self.vocabulary.id)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// One observation to run.
#[derive(Debug, Clone)]
pub struct ObservationInput {
    pub phase: Phase,
    pub request_id: String,
    pub org: String,
    pub workspace: String,
    pub agent: String,
    /// The chat request body, JSON text.
    pub request: String,
    /// The chat response body, JSON text.
    pub response: Option<String>,
    /// The artifact descriptor, JSON text (artifact phase).
    pub artifacts: Option<String>,
}

/// Claims of one call and how long it took.
#[derive(Debug, Clone)]
pub struct Observed {
    pub claims: Vec<Claim>,
    pub duration: std::time::Duration,
}

impl Auditor {
    pub fn id(&self) -> &str {
        &self.vocabulary.id
    }

    /// The version of `lucid:auditor` the component was built against (`0.2` or `0.1`).
    pub fn contract_version(&self) -> &'static str {
        match self.pre {
            Pre::Current(_) => "0.2",
            Pre::V01(_) => "0.1",
        }
    }

    /// Compile `bytes` (or take them from `compile`), check the exported interface, link and
    /// read the vocabulary in the sandbox.
    pub fn load(sandbox: &Sandbox, bytes: &[u8], limits: &Limits) -> Result<Auditor, PluginError> {
        let sha256 = sha256_hex(bytes);
        let component = compile(sandbox, bytes)?;
        Self::from_component(sandbox, component, sha256, bytes.len() as u64, limits)
    }

    /// Like `load`, for a component already compiled (e.g. from the compile cache).
    pub fn from_component(
        sandbox: &Sandbox,
        component: Component,
        sha256: String,
        size: u64,
        limits: &Limits,
    ) -> Result<Auditor, PluginError> {
        let version = check_exports(sandbox, &component)?;
        check_imports(sandbox, &component)?;
        let instance_pre = sandbox
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Link(format!("{e:#}")))?;
        let link = |e: wasmtime::Error| PluginError::Link(format!("{e:#}"));
        let pre = match version {
            Version::Current => Pre::Current(AuditorPluginPre::new(instance_pre).map_err(link)?),
            Version::V01 => Pre::V01(v01::AuditorPluginPre::new(instance_pre).map_err(link)?),
        };
        let (mut store, output) = sandbox.store(limits);
        let described = match &pre {
            Pre::Current(pre) => pre
                .instantiate(&mut store)
                .and_then(|plugin| plugin.lucid_auditor_auditor().call_describe(&mut store)),
            Pre::V01(pre) => pre
                .instantiate(&mut store)
                .and_then(|plugin| plugin.lucid_auditor_auditor().call_describe(&mut store))
                .map(bindings::vocabulary_from_v01),
        };
        let raw = match described {
            Ok(v) => v,
            Err(e) => {
                return Err(PluginError::Describe(classify(&e, &store, &output, limits)));
            }
        };
        let vocabulary = Vocabulary::from_guest(raw)?;
        Ok(Auditor {
            sha256,
            size,
            vocabulary,
            pre,
        })
    }

    /// Run `observe` in a fresh instance and check the returned claims against the vocabulary.
    pub fn observe(
        &self,
        sandbox: &Sandbox,
        input: &ObservationInput,
        settings: &Settings,
        limits: &Limits,
    ) -> Result<Observed, GuestError> {
        let started = Instant::now();
        let observation = wit::Observation {
            phase: input.phase.into(),
            request_id: input.request_id.clone(),
            scope: wit::Scope {
                org: input.org.clone(),
                workspace: input.workspace.clone(),
                agent: input.agent.clone(),
            },
            request: input.request.clone(),
            response: input.response.clone(),
            artifacts: input.artifacts.clone(),
            settings: settings.to_wit(),
        };
        let (mut store, output) = sandbox.store(limits);
        let result = match &self.pre {
            Pre::Current(pre) => pre.instantiate(&mut store).and_then(|plugin| {
                plugin
                    .lucid_auditor_auditor()
                    .call_observe(&mut store, &observation)
            }),
            Pre::V01(pre) => {
                let observation = bindings::observation_to_v01(&observation);
                pre.instantiate(&mut store)
                    .and_then(|plugin| {
                        plugin
                            .lucid_auditor_auditor()
                            .call_observe(&mut store, &observation)
                    })
                    .map(|result| {
                        result
                            .map(|claims| {
                                claims.into_iter().map(bindings::claim_from_v01).collect()
                            })
                            .map_err(bindings::error_from_v01)
                    })
            }
        };
        let duration = started.elapsed();
        let stdout = output.stdout();
        if !stdout.trim().is_empty() {
            tracing::info!(auditor = %self.id(), "guest stdout: {}", stdout.trim_end().escape_debug());
        }
        let raw = match result {
            Ok(Ok(claims)) => claims,
            Ok(Err(e)) => {
                let message = match e {
                    wit::AuditorError::InvalidInput(m) => format!("invalid input: {m}"),
                    wit::AuditorError::Failed(m) => m,
                };
                return Err(GuestError::new(ErrorKind::Error, message));
            }
            Err(e) => return Err(classify(&e, &store, &output, limits)),
        };
        let stderr = output.stderr();
        if !stderr.trim().is_empty() {
            tracing::info!(auditor = %self.id(), "guest stderr: {}", stderr.trim_end().escape_debug());
        }
        let mut claims: Vec<Claim> = Vec::with_capacity(raw.len());
        let mut size = 0usize;
        for claim in raw {
            let claim = check_claim(claim, input.phase, |name| {
                self.vocabulary
                    .claim(name)
                    .map(|c| (c.ty, c.phases.clone()))
            })
            .map_err(|e| GuestError::new(ErrorKind::Contract, e.to_string()))?;
            if claims.iter().any(|c| c.name == claim.name) {
                return Err(GuestError::new(
                    ErrorKind::Contract,
                    crate::runtime::claim::ClaimError::Duplicate(claim.name).to_string(),
                ));
            }
            size += crate::runtime::claim::approx_size(&claim);
            if size > limits.max_claims_bytes {
                return Err(GuestError::new(
                    ErrorKind::Contract,
                    format!(
                        "returned more than {} bytes of claims",
                        limits.max_claims_bytes
                    ),
                ));
            }
            claims.push(claim);
        }
        Ok(Observed { claims, duration })
    }
}

/// Compile a component after checking what kind of file it is.
pub fn compile(sandbox: &Sandbox, bytes: &[u8]) -> Result<Component, PluginError> {
    match wasm_kind(bytes) {
        WasmKind::NotWasm => return Err(PluginError::NotWasm),
        WasmKind::CoreModule => return Err(PluginError::CoreModule),
        WasmKind::Component => {}
    }
    Component::new(sandbox.engine(), bytes).map_err(|e| PluginError::Invalid(format!("{e:#}")))
}

/// Check that the component exports a semver-compatible `lucid:auditor/auditor` instance.
/// The interfaces an auditor may import: what the Rust, Python and JavaScript toolchains link
/// for their standard libraries. Each is served by the sandbox with nothing behind it (no
/// preopened directory, no environment, no socket address), and the calls that could block
/// (`poll`, `pollable.block`, clock subscriptions) trap instead ([`crate::runtime::sandbox`]).
/// Anything else — `wasi:sockets`, `wasi:http`, a custom import — is refused at load.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/preopens",
    "wasi:filesystem/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:random/random",
];

const ALLOWED_SUMMARY: &str =
    "cli, clocks, filesystem, io and random, with no file, variable or network behind them";

/// Refuse a component importing anything outside [`ALLOWED_IMPORTS`] (any 0.2.x version) and
/// the contract's own `lucid:auditor/types` (0.2.x or 0.1.x); every forbidden import is named.
fn check_imports(sandbox: &Sandbox, component: &Component) -> Result<(), PluginError> {
    let ty = component.component_type();
    let forbidden: Vec<String> = ty
        .imports(sandbox.engine())
        .map(|(name, _)| name)
        .filter(|name| {
            let (interface, version) = name.split_once('@').unwrap_or((name, ""));
            let wasi = ALLOWED_IMPORTS.contains(&interface) && version.starts_with("0.2.");
            let contract = interface == AUDITOR_TYPES
                && (version.starts_with("0.2.") || version.starts_with("0.1."));
            !(wasi || contract)
        })
        .map(String::from)
        .collect();
    if forbidden.is_empty() {
        Ok(())
    } else {
        Err(PluginError::ForbiddenImport {
            import: forbidden.join(", "),
            allowed: ALLOWED_SUMMARY,
        })
    }
}

/// The contract's types interface, which every auditor imports.
const AUDITOR_TYPES: &str = "lucid:auditor/types";

/// The version of the contract a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `lucid:auditor@0.2.x`.
    Current,
    /// `lucid:auditor@0.1.x`: no spans.
    V01,
}

/// Which compatible `lucid:auditor/auditor` instance the component exports (the current
/// version first).
fn check_exports(sandbox: &Sandbox, component: &Component) -> Result<Version, PluginError> {
    let ty = component.component_type();
    let mut names: Vec<String> = Vec::new();
    let mut auditor_exports: Vec<String> = Vec::new();
    for (name, item) in ty.exports(sandbox.engine()) {
        if matches!(item.ty, ComponentItem::ComponentInstance(_))
            && name.starts_with(&format!("{AUDITOR_PACKAGE}/auditor"))
        {
            auditor_exports.push(name.to_string());
        }
        names.push(name.to_string());
    }
    if component
        .get_export_index(None, AUDITOR_INTERFACE)
        .is_some()
    {
        return Ok(Version::Current);
    }
    if component
        .get_export_index(None, AUDITOR_INTERFACE_V01)
        .is_some()
    {
        return Ok(Version::V01);
    }
    if let Some(found) = auditor_exports.into_iter().next() {
        return Err(PluginError::WrongVersion { found });
    }
    let found = if names.is_empty() {
        "nothing".to_string()
    } else {
        names.join(", ")
    };
    Err(PluginError::WrongWorld { found })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_file_kinds() {
        assert_eq!(wasm_kind(b"\0asm\x01\0\0\0"), WasmKind::CoreModule);
        assert_eq!(wasm_kind(b"\0asm\x0d\0\x01\0"), WasmKind::Component);
        assert_eq!(wasm_kind(b"hello world"), WasmKind::NotWasm);
        assert_eq!(wasm_kind(b""), WasmKind::NotWasm);
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
