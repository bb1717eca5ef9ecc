//! `lucid auditor inspect | test | sign | verify | publish`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use super::{TestArgs, emit, read_file};
use lucid::runtime::notary::{self, Registry, RegistryRecord, TrustedKeys};
use lucid::runtime::plugin::{Auditor, ObservationInput};
use lucid::runtime::sandbox::{EngineOptions, Limits, Sandbox};

fn load_auditor(sandbox: &Sandbox, file: &Path, limits: &Limits) -> anyhow::Result<Auditor> {
    let bytes = read_file(file, "auditor")?;
    Auditor::load(sandbox, &bytes, limits).with_context(|| file.display().to_string())
}

pub fn inspect(file: &Path) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::new(EngineOptions::default())?;
    let auditor = load_auditor(&sandbox, file, &Limits::default())?;
    let out = json!({
        "file": file.display().to_string(),
        "sha256": auditor.sha256,
        "size": auditor.size,
        "contract": format!("lucid:auditor@{}", auditor.contract_version()),
        "vocabulary": auditor.vocabulary,
    });
    emit(&serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// Read a JSON document that must be an object; return it as compact text.
fn read_json_object(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = read_file(path, what)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{what} {} is not valid JSON", path.display()))?;
    if !value.is_object() {
        bail!("{what} {} must be a JSON object", path.display());
    }
    Ok(value.to_string())
}

pub fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    if args.contract {
        return super::contract::run(args);
    }
    // clap requires both without --contract; this only guards a change of the arguments.
    let (Some(phase), Some(input)) = (args.phase, args.input.as_deref()) else {
        bail!("--phase and --input are required (or --contract)");
    };
    let request = read_json_object(input, "request")?;
    let response = args
        .response
        .as_deref()
        .map(|p| read_json_object(p, "response"))
        .transpose()?;
    let artifacts = args
        .artifacts
        .as_deref()
        .map(|p| read_json_object(p, "artifact descriptor"))
        .transpose()?;
    let limits = args.limits.limits();
    let sandbox = Sandbox::new(EngineOptions {
        fuel: limits.fuel.is_some(),
        ..EngineOptions::default()
    })?;
    let auditor = load_auditor(&sandbox, &args.file, &limits)?;
    let vocabulary = &auditor.vocabulary;
    if !vocabulary.observes(phase) {
        let phases: Vec<&str> = vocabulary.phases.iter().map(|p| p.as_str()).collect();
        bail!(
            "auditor '{}' does not observe the {} phase (it observes: {})",
            vocabulary.id,
            phase,
            phases.join(", ")
        );
    }
    let mut settings = vocabulary.default_settings();
    for assignment in &args.settings {
        let (name, value) = vocabulary
            .parse_assignment(assignment)
            .map_err(anyhow::Error::msg)?;
        settings.0.insert(name, value);
    }
    let input = ObservationInput {
        phase,
        request_id: args.request_id.clone(),
        org: args.org.clone(),
        workspace: args.workspace.clone(),
        agent: args.agent.clone(),
        request,
        response,
        artifacts,
    };
    let observed = auditor
        .observe(&sandbox, &input, &settings, &limits)
        .with_context(|| format!("auditor '{}' failed", vocabulary.id))?;
    let out = json!({
        "auditor": vocabulary.id,
        "sha256": auditor.sha256,
        "claims": observed.claims,
        "duration_us": observed.duration.as_micros() as u64,
    });
    emit(&serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

pub fn sign(file: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let bytes = read_file(file, "auditor")?;
    let key = notary::read_secret_key(key)?;
    let doc = notary::sign_digest(&key, &lucid::runtime::plugin::sha256_hex(&bytes))?;
    let mut sig_path = file.as_os_str().to_owned();
    sig_path.push(".sig");
    let sig_path = PathBuf::from(sig_path);
    std::fs::write(&sig_path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("cannot write {}", sig_path.display()))?;
    emit(&json!({"file": file.display().to_string(), "signature": sig_path.display().to_string(), "sha256": doc.sha256, "key_id": doc.key_id}).to_string());
    Ok(ExitCode::SUCCESS)
}

pub fn verify(
    file: &Path,
    trusted: Option<&Path>,
    registry: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let bytes = read_file(file, "auditor")?;
    let sha256 = lucid::runtime::plugin::sha256_hex(&bytes);
    let mut problems = Vec::new();
    if let Some(trusted) = trusted {
        let keys = TrustedKeys::load_dir(trusted)?;
        let mut sig_path = file.as_os_str().to_owned();
        sig_path.push(".sig");
        let sig_path = PathBuf::from(sig_path);
        let sig = match std::fs::read(&sig_path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", sig_path.display())),
        };
        match keys.verify(&sig_path.display().to_string(), sig.as_deref(), &sha256) {
            Ok(key_id) => {
                emit(&json!({"file": file.display().to_string(), "valid": true, "sha256": sha256, "key_id": key_id, "by": "signature"}).to_string());
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => problems.push(format!("signature: {e}")),
        }
    }
    if let Some(root) = registry {
        let registry = Registry::new(root);
        let keys = registry.trusted_keys()?;
        let path = registry.record_path(&sha256);
        match std::fs::read(&path) {
            Ok(record) => match notary::verify_record(&keys, &record, &sha256) {
                Ok(key_id) => {
                    emit(&json!({"file": file.display().to_string(), "valid": true, "sha256": sha256, "key_id": key_id, "by": "registry", "record": path.display().to_string()}).to_string());
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => problems.push(format!("registry record {}: {e}", path.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => problems.push(format!(
                "registry {}: no record of sha256 {sha256} (not published there)",
                root.display()
            )),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        }
    }
    bail!("{}: rejected: {}", file.display(), problems.join("; "))
}

pub fn publish(
    file: &Path,
    key: &Path,
    registry: &Path,
    trust_key: bool,
) -> anyhow::Result<ExitCode> {
    let key = notary::read_secret_key(key)?;
    // Only an auditor the gateway would load is published: compile and describe it first.
    let sandbox = Sandbox::new(EngineOptions::default())?;
    let auditor = load_auditor(&sandbox, file, &Limits::default())?;
    let signature = notary::sign_digest(&key, &auditor.sha256)?;
    let record = RegistryRecord {
        registry: notary::REGISTRY_VERSION.to_string(),
        id: auditor.vocabulary.id.clone(),
        version: auditor.vocabulary.version.clone(),
        contract: format!("lucid:auditor@{}", auditor.contract_version()),
        file: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size: auditor.size,
        published_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        signature,
    };
    let registry = Registry::new(registry);
    let path = registry.publish(&key, &record, trust_key)?;
    emit(
        &json!({
            "file": file.display().to_string(),
            "id": record.id,
            "version": record.version,
            "sha256": record.signature.sha256,
            "key_id": record.signature.key_id,
            "record": path.display().to_string(),
        })
        .to_string(),
    );
    Ok(ExitCode::SUCCESS)
}
