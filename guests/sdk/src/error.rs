//! The one error type an auditor returns.

use std::fmt;

/// Why an observation produced no claims. Maps one-to-one onto the WIT `auditor-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The observation could not be understood (e.g. a request body that is not valid JSON).
    InvalidInput(String),
    /// The auditor failed for another reason.
    Failed(String),
}

impl Error {
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidInput(message) => write!(f, "invalid input: {message}"),
            Self::Failed(message) => write!(f, "auditor failed: {message}"),
        }
    }
}

impl std::error::Error for Error {}
