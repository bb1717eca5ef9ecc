//! The built-in mock upstream: a deterministic OpenAI-compatible model (`mock-1`), with streaming
//! and tool calls, so the gateway works out of the box with no network.
//!
//! Its behaviour is a function of the request:
//! - the last user message `echo: TEXT` → answers `TEXT` verbatim;
//! - a request with `tools` and no `tool` message yet → a call of the first tool, with
//!   `{"query": <last user message>}` as arguments;
//! - `mock:leak` → an answer containing a (test) payment card number, for response-phase tests;
//! - `mock:leak-contact` → an answer containing a (test) e-mail address and phone number, for
//!   masking tests;
//! - `mock:fail` → an HTTP 500 from the "upstream"; `mock:sleep MS` → waits MS ms (at most 60 s)
//!   before answering (for timeout tests);
//! - anything else → `Mock answer to: <the message>`.

use std::time::Duration;

use serde_json::{Value, json};

pub const MODEL: &str = "mock-1";

/// What the mock does for a request.
pub enum MockReply {
    Text(String),
    ToolCall { name: String, arguments: String },
    Fail,
}

fn last_user_text(request: &Value) -> String {
    request
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|ms| {
            ms.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|m| m.get("content"))
        .map(|c| match c {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        })
        .unwrap_or_default()
}

/// What the mock does before answering: wait if asked to, and fail if asked to (`Err` holds
/// the HTTP status of the failure).
pub async fn preflight(request: &Value) -> Result<(), u16> {
    if let Some(d) = delay(request) {
        tokio::time::sleep(d).await;
    }
    if matches!(reply(request), MockReply::Fail) {
        return Err(500);
    }
    Ok(())
}

/// Delay the mock was asked for (`mock:sleep MS`).
pub fn delay(request: &Value) -> Option<Duration> {
    let text = last_user_text(request);
    let ms = text
        .trim()
        .strip_prefix("mock:sleep ")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_millis(ms.min(60_000)))
}

pub fn reply(request: &Value) -> MockReply {
    let text = last_user_text(request);
    if text.trim() == "mock:fail" {
        return MockReply::Fail;
    }
    if text.trim() == "mock:leak" {
        return MockReply::Text(
            "Sure. The card on file is 4111 1111 1111 1111, expiring next year. Anything else I can help with today?".into(),
        );
    }
    if text.trim() == "mock:leak-contact" {
        return MockReply::Text(
            "You can reach Jane Doe at jane.doe@example.com or on +1 415 555 0100 about the report."
                .into(),
        );
    }
    if let Some(echo) = text.strip_prefix("echo:") {
        return MockReply::Text(echo.trim_start().to_string());
    }
    let tools = request.get("tools").and_then(Value::as_array);
    let answered = request
        .get("messages")
        .and_then(Value::as_array)
        .is_some_and(|ms| {
            ms.iter()
                .any(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
        });
    if let Some(first) = tools.and_then(|t| t.first())
        && !answered
    {
        let name = first
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("tool")
            .to_string();
        return MockReply::ToolCall {
            name,
            arguments: json!({ "query": text }).to_string(),
        };
    }
    let shown: String = text.chars().take(200).collect();
    MockReply::Text(format!("Mock answer to: {shown}"))
}

fn usage(request: &Value, completion: &str) -> Value {
    let prompt_tokens = request.to_string().len() / 4;
    let completion_tokens = completion.len().div_ceil(4);
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

fn model_of(request: &Value) -> &str {
    request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(MODEL)
}

/// A complete (non-streaming) chat completion.
pub fn completion(request: &Value, id: &str, created: u64) -> Value {
    let (message, finish, text) = match reply(request) {
        MockReply::Text(t) => (
            json!({"role": "assistant", "content": t}),
            "stop",
            t.clone(),
        ),
        MockReply::ToolCall { name, arguments } => (
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": format!("call_{id}"),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }],
            }),
            "tool_calls",
            arguments.clone(),
        ),
        MockReply::Fail => (json!({}), "stop", String::new()),
    };
    json!({
        "id": format!("chatcmpl-{id}"),
        "object": "chat.completion",
        "created": created,
        "model": model_of(request),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage(request, &text),
    })
}

/// The same answer as a list of `chat.completion.chunk` objects.
pub fn chunks(request: &Value, id: &str, created: u64) -> Vec<Value> {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({
            "id": format!("chatcmpl-{id}"),
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_of(request),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    match reply(request) {
        MockReply::Text(t) => {
            let chars: Vec<char> = t.chars().collect();
            for piece in chars.chunks(16) {
                out.push(chunk(
                    json!({"content": piece.iter().collect::<String>()}),
                    None,
                ));
            }
            out.push(chunk(json!({}), Some("stop")));
        }
        MockReply::ToolCall { name, arguments } => {
            out.push(chunk(
                json!({"tool_calls": [{
                    "index": 0,
                    "id": format!("call_{id}"),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }]}),
                None,
            ));
            out.push(chunk(json!({}), Some("tool_calls")));
        }
        MockReply::Fail => {}
    }
    out
}

pub fn models() -> Value {
    json!({
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "lucid"}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Value {
        json!({"model": "mock-1", "messages": [{"role": "user", "content": text}]})
    }

    #[test]
    fn the_mock_is_deterministic_and_echoes_on_request() {
        let a = completion(&req("hello"), "x", 1);
        assert_eq!(a, completion(&req("hello"), "x", 1));
        assert_eq!(
            a["choices"][0]["message"]["content"],
            "Mock answer to: hello"
        );
        let echo = completion(&req("echo: card 4111"), "x", 1);
        assert_eq!(echo["choices"][0]["message"]["content"], "card 4111");
    }

    #[test]
    fn streaming_chunks_reassemble_to_the_completion() {
        let text: String = chunks(&req("echo: a fairly long answer that spans chunks"), "x", 1)
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(String::from)
            })
            .collect();
        assert_eq!(text, "a fairly long answer that spans chunks");
    }

    #[test]
    fn the_mock_stream_assembles_into_its_completion() {
        let mut assembly = crate::exchange::openai::Assembly::new();
        for chunk in chunks(&req("echo: hello there, world"), "x", 1) {
            assembly.push(&chunk).expect("a valid chunk");
        }
        let whole = assembly.completion();
        assert_eq!(
            whole["choices"][0]["message"]["content"],
            "hello there, world"
        );
        assert_eq!(whole["choices"][0]["finish_reason"], "stop");
        assert_eq!(whole["id"], "chatcmpl-x");
        assert_eq!(whole["choices"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn tools_make_a_tool_call_until_answered() {
        let mut r = req("weather in Paris?");
        r["tools"] = json!([{"type": "function", "function": {"name": "get_weather"}}]);
        let c = completion(&r, "x", 1);
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            c["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
    }
}
