//! The OpenAI chat-completions wire format, in one place: what a request must look like, where
//! tool calls are, how streamed chunks (per choice `index`) assemble into a completion, how SSE
//! events are framed, and the shape of error bodies. Nothing else in the host reads or writes
//! these shapes by hand.

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

/// The text a streamed chunk adds to its first choice (for `incremental` audit windows).
pub fn chunk_text_len(chunk: &Value) -> usize {
    chunk
        .pointer("/choices/0/delta/content")
        .and_then(Value::as_str)
        .map_or(0, str::len)
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

/// Put streamed chunks back together into one `chat.completion` object (content concatenated,
/// tool-call fragments merged by index), for the execution and response phases.
pub fn assemble(chunks: &[Value]) -> Value {
    let mut content = String::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    let mut finish = Value::Null;
    let mut id = Value::Null;
    let mut model = Value::Null;
    let mut created = Value::Null;
    for chunk in chunks {
        if id.is_null() {
            id = chunk.get("id").cloned().unwrap_or(Value::Null);
            model = chunk.get("model").cloned().unwrap_or(Value::Null);
            created = chunk.get("created").cloned().unwrap_or(Value::Null);
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            continue;
        };
        if let Some(f) = choice.get("finish_reason").filter(|f| !f.is_null()) {
            finish = f.clone();
        }
        let Some(delta) = choice.get("delta") else {
            continue;
        };
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            content.push_str(text);
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            while tool_calls.len() <= index {
                tool_calls.push(serde_json::json!({"type": "function", "function": {"name": "", "arguments": ""}}));
            }
            let slot = &mut tool_calls[index];
            if let Some(v) = call.get("id") {
                slot["id"] = v.clone();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                let joined = format!("{}{name}", slot["function"]["name"].as_str().unwrap_or(""));
                slot["function"]["name"] = Value::from(joined);
            }
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                let joined = format!(
                    "{}{args}",
                    slot["function"]["arguments"].as_str().unwrap_or("")
                );
                slot["function"]["arguments"] = Value::from(joined);
            }
        }
    }
    let mut message = serde_json::json!({"role": "assistant", "content": content});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::from(tool_calls);
    }
    serde_json::json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    })
}

/// One SSE `data:` event carrying `v`.
pub fn sse_data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// The SSE comment carrying an exchange's AR, sent before `data: [DONE]`.
pub fn sse_receipt(ar_text: &str) -> String {
    format!(": lucid-receipt {ar_text}\n\n")
}

/// The event that ends a stream.
pub const SSE_DONE: &str = "data: [DONE]\n\n";

/// Index just past the blank line ending the first event in `buf`.
pub fn find_event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `data:` payload of one SSE event (its `data:` lines joined), `None` when it has none.
pub fn event_data(event: &[u8]) -> Option<String> {
    let data: String = String::from_utf8_lossy(event)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n");
    (!data.is_empty()).then_some(data)
}

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
    fn chunks_assemble_into_a_completion() {
        let req = json!({"messages": [{"role": "user", "content": "echo: hello there, world"}]});
        let chunks = crate::exchange::mock::chunks(&req, "x", 1);
        let whole = assemble(&chunks);
        assert_eq!(
            whole["choices"][0]["message"]["content"],
            "hello there, world"
        );
        assert_eq!(whole["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn event_boundaries_are_found() {
        assert_eq!(find_event_end(b"data: 1\n\ndata: 2"), Some(9));
        assert_eq!(find_event_end(b"data: 1\r\n\r\n"), Some(11));
        assert_eq!(find_event_end(b"data: 1\n"), None);
        assert_eq!(event_data(b"data: {}\n\n").as_deref(), Some("{}"));
        assert_eq!(event_data(b": comment\n\n"), None);
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
