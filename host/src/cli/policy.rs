//! `lucid policy schema | validate | test`.

use std::path::Path;
use std::process::ExitCode;

use super::emit;
use lucid::runtime::plugin_dir::{Admission, PluginLoader};
use lucid::runtime::sandbox::{EngineOptions, Sandbox};

/// The vocabularies of the auditors a plugin directory loads.
fn plugin_vocabularies(dir: &Path) -> anyhow::Result<Vec<lucid_policy::AuditorVocabulary>> {
    let sandbox = std::sync::Arc::new(Sandbox::new(EngineOptions::default())?);
    let set = PluginLoader::new(sandbox, None, Admission::default()).scan(dir, None)?;
    set.log_refusals(None);
    Ok(lucid::policy::vocabularies(&set))
}

pub fn schema(plugins: &Path) -> anyhow::Result<ExitCode> {
    let schema = lucid_policy::Schema::from_vocabularies(&plugin_vocabularies(plugins)?)?;
    emit(schema.text().trim_end());
    Ok(ExitCode::SUCCESS)
}

pub fn validate(dir: &Path, plugins: &Path) -> anyhow::Result<ExitCode> {
    let schema = lucid_policy::Schema::from_vocabularies(&plugin_vocabularies(plugins)?)?;
    let policies = lucid_policy::PolicySet::load_dir(dir)?;
    match lucid_policy::validate(&policies, &schema) {
        Ok(()) => {
            emit(&format!(
                "{}: {} policies valid (policy hash {})",
                dir.display(),
                policies.len(),
                policies.hash()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            for d in &diagnostics {
                eprintln!("{}/{d}", dir.display());
            }
            eprintln!(
                "error: {} problem(s) in {}",
                diagnostics.len(),
                dir.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn test(dir: &Path, plugins: Option<&Path>) -> anyhow::Result<ExitCode> {
    let vocabularies = match plugins {
        Some(p) => plugin_vocabularies(p)?,
        None => lucid_policy::shipped_vocabularies(),
    };
    let schema = lucid_policy::Schema::from_vocabularies(&vocabularies)?;
    let report = lucid_policy::run_tests(dir, &schema)?;
    emit(report.to_string().trim_end());
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
