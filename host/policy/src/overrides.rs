//! Detection overrides: the crate `lucid-overrides` (`host/overrides/`, pure logic over JSON
//! values, without Cedar, so the config crate and its fuzz target can use it), re-exported here;
//! and the bundles of `policies/bundles/`, which load with this crate's errors.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use lucid_overrides::*;

use crate::error::PolicyError;

/// A bundle: a preset plus the enforcement an org starts with (`policies/bundles/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub description: String,
    /// The preset directory name under `policies/presets/`.
    pub preset: String,
    /// The auditors the bundle runs (by id); loaded auditors not listed stay idle unless the
    /// configuration enables them by name. `None`: every loaded auditor runs.
    #[serde(default)]
    pub auditors: Option<Vec<String>>,
    #[serde(default)]
    pub enforcement: Enforcements,
}

impl Bundle {
    pub fn load(path: &Path) -> Result<Bundle, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| PolicyError::Bundle {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}
