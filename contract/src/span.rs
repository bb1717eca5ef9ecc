//! Redaction proposals: a claim may carry the spans of the observed text it is about, which a
//! policy may ask the host to mask (`span` in `wit/auditor/auditor.wit`, from `lucid:auditor`
//! 0.2.0). The auditor only proposes; the policy decides, and the host re-checks every span
//! against the exact text before it masks anything.

use serde::{Deserialize, Serialize};

/// At most this many spans per claim.
pub const MAX_SPANS_PER_CLAIM: usize = 4096;
/// The longest `field` pointer, `kind` and `label` a span may have, in bytes.
pub const MAX_SPAN_FIELD_BYTES: usize = 256;
pub const MAX_SPAN_KIND_BYTES: usize = 32;
pub const MAX_SPAN_LABEL_BYTES: usize = 64;

/// A piece of a string of the observed document that a claim is about.
///
/// ```
/// use lucid_contract::{Claim, Span};
///
/// let claim = Claim::string_list("pii_entities", ["email"])
///     .with_span(Span::new("/messages/0/content", 12, 27, "email").with_label("[EMAIL]"));
/// assert_eq!(claim.spans()[0].kind, "email");
/// assert!(claim.spans()[0].check().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// An RFC 6901 JSON pointer to a string of the observed request (request phase) or
    /// response (response phase), e.g. `/messages/1/content`, `/choices/0/message/content`.
    pub field: String,
    /// UTF-8 byte offsets into that string, `start < end`.
    pub start: u32,
    pub end: u32,
    /// The entity kind: lowercase ASCII letters, digits and `_`.
    pub kind: String,
    /// The replacement the auditor suggests; `None`: the host's default for the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Why a span is malformed (before it is checked against any text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error(
        "span field '{0}' is not a JSON pointer (expected '/…', at most {MAX_SPAN_FIELD_BYTES} bytes)"
    )]
    Field(String),
    #[error("span {start}..{end} is empty or reversed (expected start < end)")]
    Range { start: u32, end: u32 },
    #[error(
        "span kind '{0}' is not a kind name (expected 1 to {MAX_SPAN_KIND_BYTES} lowercase letters, digits or '_')"
    )]
    Kind(String),
    #[error(
        "span label {0:?} is not a label (expected '[' then capital letters, digits, '_', '-' or spaces, then ']', at most {MAX_SPAN_LABEL_BYTES} bytes, e.g. [EMAIL])"
    )]
    Label(String),
    #[error("more than {MAX_SPANS_PER_CLAIM} spans on one claim")]
    TooMany,
}

impl Span {
    /// A span of `field` from byte `start` to byte `end`, of entity `kind`, with no label.
    pub fn new(field: impl Into<String>, start: u32, end: u32, kind: impl Into<String>) -> Span {
        Span {
            field: field.into(),
            start,
            end,
            kind: kind.into(),
            label: None,
        }
    }

    /// The replacement the auditor suggests (say, `[EMAIL]`).
    pub fn with_label(mut self, label: impl Into<String>) -> Span {
        self.label = Some(label.into());
        self
    }

    /// Checks the span's form: a pointer, a non-empty range, a kind name, a label that can be
    /// written into any JSON string (a tool call's arguments included) without breaking it.
    pub fn check(&self) -> Result<(), SpanError> {
        if !self.field.starts_with('/')
            || self.field.len() > MAX_SPAN_FIELD_BYTES
            || self.field.chars().any(char::is_control)
        {
            return Err(SpanError::Field(truncated(&self.field)));
        }
        if self.start >= self.end {
            return Err(SpanError::Range {
                start: self.start,
                end: self.end,
            });
        }
        if !is_kind_name(&self.kind) {
            return Err(SpanError::Kind(truncated(&self.kind)));
        }
        if let Some(label) = &self.label
            && !is_label(label)
        {
            return Err(SpanError::Label(truncated(label)));
        }
        Ok(())
    }
}

/// Whether `kind` is a kind name: 1 to [`MAX_SPAN_KIND_BYTES`] of `[a-z0-9_]`.
pub fn is_kind_name(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= MAX_SPAN_KIND_BYTES
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `label` is a label an auditor may suggest: `[`, 1 to 62 capital ASCII letters,
/// digits, `_`, `-` or spaces, `]` — `[EMAIL]`, `[CREDIT_CARD]`. A label names what was there;
/// it cannot make an auditor a writer of the prompt or the answer, nor break the JSON of a tool
/// call's arguments it replaces a value in.
pub fn is_label(label: &str) -> bool {
    label.len() <= MAX_SPAN_LABEL_BYTES
        && label
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .is_some_and(|inner| {
                !inner.is_empty()
                    && inner.bytes().all(|b| {
                        b.is_ascii_uppercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'_' | b'-' | b' ')
                    })
            })
}

/// Whether `text` may be written over a masked value by the gateway's own configuration
/// (`fixed:TEXT`): non-empty, printable, no `"` or `\`, at most [`MAX_SPAN_LABEL_BYTES`] bytes.
pub fn is_replacement_text(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_SPAN_LABEL_BYTES
        && !text
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
}

fn truncated(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_spans_are_refused() {
        let ok = Span::new("/messages/0/content", 0, 3, "email");
        assert_eq!(ok.check(), Ok(()));
        let bad = |s: Span| s.check().unwrap_err().to_string();
        assert!(bad(Span::new("messages/0", 0, 3, "email")).contains("JSON pointer"));
        assert!(bad(Span::new("/m", 3, 3, "email")).contains("empty or reversed"));
        assert!(bad(Span::new("/m", 0, 3, "E-mail")).contains("kind name"));
        assert!(bad(Span::new("/m", 0, 3, "")).contains("kind name"));
        let quote = Span::new("/m", 0, 3, "email").with_label("\"}");
        assert!(bad(quote).contains("label"));
        let long = Span::new("/m", 0, 3, "email").with_label(format!("[{}]", "X".repeat(63)));
        assert!(bad(long).contains("label"));
        for free in ["", "[]", "hello", "[email]", "[A]B", "[A\"]"] {
            let text = Span::new("/m", 0, 3, "email").with_label(free);
            assert!(bad(text).contains("not a label"), "{free:?}");
        }
        assert!(
            is_replacement_text("***") && !is_replacement_text("") && !is_replacement_text("a\\b")
        );
        assert_eq!(
            Span::new("/m", 0, 3, "email").with_label("[EMAIL]").check(),
            Ok(())
        );
    }

    #[test]
    fn json_form_leaves_out_a_missing_label() {
        let span = Span::new("/messages/0/content", 1, 4, "phone");
        let json = serde_json::to_value(&span).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"field": "/messages/0/content", "start": 1, "end": 4, "kind": "phone"})
        );
        assert_eq!(serde_json::from_value::<Span>(json).unwrap(), span);
    }
}
