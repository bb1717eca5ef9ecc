use std::path::PathBuf;

use crate::claims::ClaimType;

/// A problem found in a policy file, located by file (relative to the policy directory, with
/// `/` separators) and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Everything that can go wrong building a schema, loading policies or running policy tests.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read '{}': {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("'{}' is not valid utf-8", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("{}", join_lines(.0))]
    Invalid(Vec<Diagnostic>),
    #[error(
        "claim '{claim}' is declared as {first_type} by auditor '{first}' and as {second_type} by \
         auditor '{second}'; a claim name must have one type"
    )]
    ClaimConflict {
        claim: String,
        first: String,
        first_type: ClaimType,
        second: String,
        second_type: ClaimType,
    },
    #[error("the generated schema was rejected by cedar: {0}")]
    Schema(String),
    #[error("invalid bundle '{}': {message}", path.display())]
    Bundle { path: PathBuf, message: String },
    #[error("invalid policy tests '{}': {message}", path.display())]
    Tests { path: PathBuf, message: String },
}

fn join_lines(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
