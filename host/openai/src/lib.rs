//! The OpenAI chat-completions wire format, in one place: what a request must look like, where
//! tool calls are, how SSE events are framed, and the shape of error bodies; [`chunks`]: how
//! streamed chunks (per choice `index`) assemble into a completion; [`sse`]: how the upstream's
//! event stream is parsed. Nothing else in the host reads or writes these shapes by hand.

pub mod chunks;
pub mod sse;

pub use chunks::{
    Assembly, ChunkError, Growth, LEGACY_FUNCTION_CALL, MAX_CHOICES, MAX_TOOL_CALLS, Part, Text,
};
pub use sse::{MAX_EVENT_BYTES, SseError, SseParser};

use serde_json::{Value, json};

/// Why a request body is not a chat request Lucid can audit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the request body must be a JSON object")]
    NotObject,
    #[error("'messages' must be an array of chat messages")]
    NoMessages,
    #[error("'model' must be a string")]
    ModelNotString,
}

/// A chat request, checked: the parsed body, its model (or `default_model`) and whether it asks
/// for a stream.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub body: Value,
    pub model: String,
    pub stream: bool,
}

/// Check the body is a chat request we can audit.
pub fn parse_request(body: &[u8], default_model: &str) -> Result<ChatRequest, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::NotJson(e.to_string()))?;
    let Some(obj) = value.as_object() else {
        return Err(RequestError::NotObject);
    };
    if !obj.get("messages").is_some_and(Value::is_array) {
        return Err(RequestError::NoMessages);
    }
    if obj.get("model").is_some_and(|m| !m.is_string()) {
        return Err(RequestError::ModelNotString);
    }
    let model = obj
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(default_model)
        .to_string();
    let stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(ChatRequest {
        body: value,
        model,
        stream,
    })
}

/// An OpenAI-style error body: `{"error": {"message", "type", "code"}}`.
pub fn error_body(message: &str, kind: &str, code: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "code": code}})
}

/// `text` when it is an OpenAI-style error body (a JSON object with an `error` object).
pub fn parse_error_body(text: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(text).ok()?;
    value
        .get("error")
        .is_some_and(Value::is_object)
        .then_some(value)
}

/// Whether an exchange carries tool definitions or tool calls (then the execution phase runs).
pub fn has_tool_calls(request: &Value, response: Option<&Value>) -> bool {
    let calls_in = |messages: Option<&Value>| {
        messages.and_then(Value::as_array).is_some_and(|ms| {
            ms.iter()
                .any(|m| m.get("tool_calls").is_some_and(|t| !t.is_null()))
        })
    };
    let declares_tools = request
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let request_calls = declares_tools || calls_in(request.get("messages"));
    let response_calls = response
        .and_then(|r| r.get("choices"))
        .and_then(Value::as_array)
        .is_some_and(|choices| {
            choices.iter().any(|c| {
                c.get("message")
                    .and_then(|m| m.get("tool_calls"))
                    .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty()))
            })
        });
    request_calls || response_calls
}

/// One SSE `data:` event carrying `v`.
pub fn sse_data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// The SSE comment carrying an exchange's AR, sent before `data: [DONE]`.
pub fn sse_receipt(ar_text: &str) -> String {
    format!(": lucid-receipt {ar_text}\n\n")
}

/// The SSE comment carrying an exchange's content salt (hex), sent right after the receipt
/// comment.
pub fn sse_salt(salt_hex: &str) -> String {
    format!(": lucid-content-salt {salt_hex}\n\n")
}

/// The event that ends a stream.
pub const SSE_DONE: &str = "data: [DONE]\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_are_found_in_requests_and_responses() {
        let plain = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert!(!has_tool_calls(&plain, None));
        let tools = json!({"messages": [], "tools": [{"type": "function"}]});
        assert!(has_tool_calls(&tools, None));
        let with_call = json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "1"}]}]});
        assert!(has_tool_calls(&with_call, None));
        let response = json!({"choices": [{"message": {"tool_calls": [{"id": "c"}]}}]});
        assert!(has_tool_calls(&plain, Some(&response)));
        let empty = json!({"choices": [{"message": {"tool_calls": []}}]});
        assert!(!has_tool_calls(&plain, Some(&empty)));
    }

    #[test]
    fn error_bodies_are_recognised() {
        let body = error_body("slow down", "requests", "rate_limit_exceeded").to_string();
        assert_eq!(
            parse_error_body(&body).unwrap()["error"]["code"],
            "rate_limit_exceeded"
        );
        assert_eq!(parse_error_body("rate limited"), None);
        assert_eq!(parse_error_body(r#"{"detail": "no"}"#), None);
        assert_eq!(parse_error_body(r#"{"error": "a string"}"#), None);
    }

    #[test]
    fn requests_are_checked() {
        let ok = parse_request(br#"{"messages":[],"stream":true}"#, "m").unwrap();
        assert_eq!(ok.model, "m");
        assert!(ok.stream);
        assert_eq!(
            parse_request(b"[]", "m").unwrap_err(),
            RequestError::NotObject
        );
        assert_eq!(
            parse_request(b"{}", "m").unwrap_err(),
            RequestError::NoMessages
        );
        assert!(matches!(
            parse_request(b"{", "m"),
            Err(RequestError::NotJson(_))
        ));
        assert_eq!(
            parse_request(br#"{"messages":[],"model":1}"#, "m").unwrap_err(),
            RequestError::ModelNotString
        );
    }
}
