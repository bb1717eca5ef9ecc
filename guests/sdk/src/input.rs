//! The observation an auditor receives, with the chat exchange already parsed.

use std::ops::Range;

use lucid_contract::{Phase, Scope, SettingValue, Span};
use serde_json::{Map, Value};

use crate::error::Error;

/// The author of a chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    /// The legacy `function` role.
    Function,
    /// Any other role, as written (empty when the message had none).
    Other(String),
}

impl Role {
    fn parse(role: &str) -> Self {
        match role {
            "system" => Self::System,
            "developer" => Self::Developer,
            "user" => Self::User,
            "assistant" => Self::Assistant,
            "tool" => Self::Tool,
            "function" => Self::Function,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Content written by someone other than the operator or the model: users and tool results.
    /// Prompt-injection attempts arrive through these.
    pub fn is_untrusted(&self) -> bool {
        matches!(self, Self::User | Self::Tool | Self::Function)
    }
}

/// One message of the request, with its text content flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    role: Role,
    content: String,
    name: Option<String>,
    /// Where each piece of `content` sits in the request (for spans).
    segments: Segments,
}

impl Message {
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// The message text. OpenAI allows `content` to be a string or an array of parts; the text
    /// parts are joined with `\n` (non-text parts such as images are skipped).
    pub fn content(&self) -> &str {
        &self.content
    }

    /// The optional participant `name`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// Where a tool call was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolCallOrigin {
    /// In `messages[index].tool_calls` (or `function_call`) of the request: calls the model made
    /// earlier in the conversation.
    Request { message: usize },
    /// In `choices[index].message.tool_calls` (or `function_call`) of the response: calls the
    /// model wants to make now.
    Response { choice: usize },
}

/// A function call requested by the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    id: Option<String>,
    name: String,
    arguments: String,
    origin: ToolCallOrigin,
    /// The JSON pointer of `arguments` when they are a string (only then can they be masked).
    pointer: Option<String>,
}

impl ToolCall {
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments as text (normally a JSON document; an object given inline is serialized).
    pub fn arguments(&self) -> &str {
        &self.arguments
    }

    pub fn origin(&self) -> ToolCallOrigin {
        self.origin
    }
}

/// The effective settings: every declared setting, with scope overrides applied by the host.
///
/// The typed getters return `None` when the setting is absent or has another type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    entries: Vec<(String, SettingValue)>,
}

impl Settings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) one setting.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<SettingValue>) -> Self {
        self.insert(name.into(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&SettingValue> {
        self.entries
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            SettingValue::Boolean(value) => Some(*value),
            _ => None,
        }
    }

    pub fn count(&self, name: &str) -> Option<u64> {
        match self.get(name)? {
            SettingValue::Count(value) => Some(*value),
            _ => None,
        }
    }

    pub fn number(&self, name: &str) -> Option<f64> {
        match self.get(name)? {
            SettingValue::Number(value) => Some(*value),
            _ => None,
        }
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            SettingValue::String(value) => Some(value),
            _ => None,
        }
    }

    pub fn string_list(&self, name: &str) -> Option<&[String]> {
        match self.get(name)? {
            SettingValue::StringList(values) => Some(values),
            _ => None,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &SettingValue)> {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    pub(crate) fn insert(&mut self, name: String, value: SettingValue) {
        match self.entries.iter_mut().find(|(key, _)| *key == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }
}

/// What an auditor observes in one phase of one exchange.
///
/// The host builds it from the WIT `observation`; tests build it with [`Input::new`]:
///
/// ```
/// use lucid_auditor_sdk::{Input, Phase};
///
/// let input = Input::new(Phase::Request, r#"{"messages":[{"role":"user","content":"hi"}]}"#)?
///     .with_setting("max_tokens", 10u64);
/// assert_eq!(input.messages()[0].content(), "hi");
/// assert_eq!(input.settings().count("max_tokens"), Some(10));
/// # Ok::<(), lucid_auditor_sdk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Input {
    phase: Phase,
    request_id: String,
    scope: Scope,
    request: Value,
    response: Option<Value>,
    artifacts: Option<Value>,
    settings: Settings,
    messages: Vec<Message>,
    tool_calls: Vec<ToolCall>,
    response_text: Option<String>,
    response_segments: Segments,
}

impl Input {
    /// Parses an OpenAI chat-completions request body for `phase`.
    ///
    /// Fails with [`Error::InvalidInput`] when the body is not JSON, is not an object, or has a
    /// `messages` field that is not an array of objects. In the artifact phase an empty body is
    /// allowed (there may be no request).
    pub fn new(phase: Phase, request: &str) -> Result<Self, Error> {
        let request = if phase == Phase::Artifact && request.trim().is_empty() {
            Value::Null
        } else {
            let value = parse_json("request", request)?;
            if !value.is_object() {
                return Err(Error::invalid_input(
                    "request is not a JSON object; expected a chat-completions request",
                ));
            }
            value
        };
        let (messages, tool_calls) = parse_messages(&request)?;
        Ok(Self {
            phase,
            request_id: String::new(),
            scope: Scope::default(),
            request,
            response: None,
            artifacts: None,
            settings: Settings::new(),
            messages,
            tool_calls,
            response_text: None,
            response_segments: Segments::default(),
        })
    }

    /// Adds the chat-completions response body. Fails with [`Error::InvalidInput`] when it is
    /// not a JSON object.
    pub fn with_response(mut self, response: &str) -> Result<Self, Error> {
        let response = parse_json("response", response)?;
        if !response.is_object() {
            return Err(Error::invalid_input(
                "response is not a JSON object; expected a chat completion",
            ));
        }
        let mut texts = Vec::new();
        let mut segments = Segments::default();
        let choices = response
            .get("choices")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (choice, entry) in choices.iter().enumerate() {
            let Some(message) = entry.get("message") else {
                continue;
            };
            let (text, pieces) = content_segments(
                message.get("content"),
                &format!("/choices/{choice}/message"),
            );
            if !text.is_empty() {
                segments.append(pieces, texts.iter().map(|t: &String| t.len() + 1).sum());
                texts.push(text);
            }
            collect_tool_calls(
                message,
                ToolCallOrigin::Response { choice },
                &mut self.tool_calls,
            );
        }
        self.response_text = Some(texts.join("\n"));
        self.response_segments = segments;
        self.response = Some(response);
        Ok(self)
    }

    /// Adds the observation's `artifacts` document: the artifact descriptor in the artifact
    /// phase, the exchange context (`{"headers": {...}}`) in the others.
    pub fn with_artifacts(mut self, artifacts: &str) -> Result<Self, Error> {
        self.artifacts = Some(parse_json("artifacts", artifacts)?);
        Ok(self)
    }

    /// Adds one request header to the exchange context, as the gateway passes it outside the
    /// artifact phase (`{"headers": {"x-lucid-region": "eu-west-1"}}`, names lowercase). For
    /// tests; read it back with [`Input::header`].
    ///
    /// ```
    /// use lucid_auditor_sdk::{Input, Phase};
    ///
    /// let input = Input::new(Phase::Request, "{}")?.with_header("X-Lucid-Region", "eu-west-1");
    /// assert_eq!(input.header("x-lucid-region"), Some("eu-west-1"));
    /// # Ok::<(), lucid_auditor_sdk::Error>(())
    /// ```
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        let context = self
            .artifacts
            .get_or_insert_with(|| Value::Object(Map::new()));
        if !context.is_object() {
            *context = Value::Object(Map::new());
        }
        if let Value::Object(fields) = context {
            let headers = fields
                .entry("headers")
                .or_insert_with(|| Value::Object(Map::new()));
            if !headers.is_object() {
                *headers = Value::Object(Map::new());
            }
            if let Value::Object(headers) = headers {
                headers.insert(name.to_ascii_lowercase(), Value::String(value.into()));
            }
        }
        self
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    pub fn with_setting(mut self, name: impl Into<String>, value: impl Into<SettingValue>) -> Self {
        self.settings.insert(name.into(), value.into());
        self
    }

    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The request's messages, in order.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The assistant text of the response (`choices[*].message.content`, joined with `\n`).
    /// `None` when there is no response (request and artifact phases).
    pub fn response_text(&self) -> Option<&str> {
        self.response_text.as_deref()
    }

    /// Tool calls found in the request's messages and, when present, in the response.
    pub fn tool_calls(&self) -> &[ToolCall] {
        &self.tool_calls
    }

    /// The whole request body, for fields the SDK does not lift out (`model`, `tools`...).
    /// `Null` only in the artifact phase when there was no request.
    pub fn request_json(&self) -> &Value {
        &self.request
    }

    pub fn response_json(&self) -> Option<&Value> {
        self.response.as_ref()
    }

    /// The observation's `artifacts` document as given: the artifact descriptor in the artifact
    /// phase, the exchange context in the others (see [`Input::header`]).
    pub fn artifacts_json(&self) -> Option<&Value> {
        self.artifacts.as_ref()
    }

    /// A request header the gateway passed as exchange context (only `x-lucid-*` headers reach
    /// auditors), by case-insensitive name. Always `None` in the artifact phase, whose
    /// `artifacts` document is the artifact descriptor, not a request's headers.
    pub fn header(&self, name: &str) -> Option<&str> {
        if self.phase == Phase::Artifact {
            return None;
        }
        let headers = self.artifacts.as_ref()?.get("headers")?.as_object()?;
        // The gateway lowercases names, so the exact lookup normally hits; the scan keeps the
        // accessor case-insensitive for contexts built some other way.
        headers
            .get(name)
            .or_else(|| {
                headers
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value)
            })?
            .as_str()
    }

    /// Spans (for [`Claim::with_spans`](lucid_contract::Claim::with_spans)) of bytes `range`
    /// of `messages()[index].content()`, addressed in the request the host will mask: one per
    /// text part the range touches. Empty when the message or range does not exist.
    ///
    /// ```
    /// use lucid_auditor_sdk::{Claim, Input, Phase};
    ///
    /// let input = Input::new(
    ///     Phase::Request,
    ///     r#"{"messages": [{"role": "user", "content": "mail bob@example.com"}]}"#,
    /// )?;
    /// let spans = input.message_spans(0, 5..20, "email");
    /// assert_eq!(spans[0].field, "/messages/0/content");
    /// let claim = Claim::boolean("has_email", true).with_spans(spans);
    /// # Ok::<(), lucid_auditor_sdk::Error>(())
    /// ```
    pub fn message_spans(&self, index: usize, range: Range<usize>, kind: &str) -> Vec<Span> {
        self.messages.get(index).map_or_else(Vec::new, |message| {
            message.segments.spans(&message.content, range, kind)
        })
    }

    /// Spans of bytes `range` of [`Input::response_text`], addressed in the response: one per
    /// choice (or text part) the range touches.
    pub fn response_spans(&self, range: Range<usize>, kind: &str) -> Vec<Span> {
        self.response_text.as_deref().map_or_else(Vec::new, |text| {
            self.response_segments.spans(text, range, kind)
        })
    }

    /// Spans of bytes `range` of `tool_calls()[index].arguments()`. Empty when the arguments
    /// were not given as a string (an inline object cannot be masked in place).
    pub fn tool_call_spans(&self, index: usize, range: Range<usize>, kind: &str) -> Vec<Span> {
        let Some(call) = self.tool_calls.get(index) else {
            return Vec::new();
        };
        let Some(pointer) = &call.pointer else {
            return Vec::new();
        };
        let segments = Segments(vec![(pointer.clone(), 0, call.arguments.len())]);
        segments.spans(&call.arguments, range, kind)
    }

    /// The text an auditor should scan in the current phase; see [`Input::texts_in`].
    pub fn texts(&self) -> Vec<&str> {
        self.texts_in(self.phase)
    }

    /// The non-empty texts belonging to `phase`: every message's content in the request phase,
    /// tool-call arguments in the execution phase, the response text in the response phase, and
    /// nothing in the artifact phase.
    pub fn texts_in(&self, phase: Phase) -> Vec<&str> {
        let texts: Vec<&str> = match phase {
            Phase::Artifact => Vec::new(),
            Phase::Request => self.messages.iter().map(Message::content).collect(),
            Phase::Execution => self.tool_calls.iter().map(ToolCall::arguments).collect(),
            Phase::Response => self.response_text().into_iter().collect(),
        };
        texts.into_iter().filter(|text| !text.is_empty()).collect()
    }
}

fn parse_json(what: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|err| Error::invalid_input(format!("{what} is not valid JSON: {err}")))
}

fn parse_messages(request: &Value) -> Result<(Vec<Message>, Vec<ToolCall>), Error> {
    let entries = match request.get("messages") {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            return Err(Error::invalid_input(
                "request field 'messages' is not an array",
            ));
        }
    };
    let mut messages = Vec::with_capacity(entries.len());
    let mut tool_calls = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if !entry.is_object() {
            return Err(Error::invalid_input(format!(
                "request message {index} is not a JSON object"
            )));
        }
        let (content, segments) =
            content_segments(entry.get("content"), &format!("/messages/{index}"));
        messages.push(Message {
            role: Role::parse(
                entry
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            content,
            name: entry.get("name").and_then(Value::as_str).map(str::to_owned),
            segments,
        });
        collect_tool_calls(
            entry,
            ToolCallOrigin::Request { message: index },
            &mut tool_calls,
        );
    }
    Ok((messages, tool_calls))
}

/// Where the pieces of a flattened text come from: per piece, the JSON pointer of its string,
/// its start in the flattened text and its length (bytes).
#[derive(Debug, Clone, Default, PartialEq)]
struct Segments(Vec<(String, usize, usize)>);

impl Segments {
    /// Add `other`'s pieces, shifted by `offset` bytes.
    fn append(&mut self, other: Segments, offset: usize) {
        self.0.extend(
            other
                .0
                .into_iter()
                .map(|(pointer, start, len)| (pointer, start + offset, len)),
        );
    }

    /// The spans covering `range` of the flattened text, one per piece it touches (the `\n`
    /// joining pieces is not part of any). Empty when the range is empty, reversed, outside
    /// the text or not on character boundaries of it.
    fn spans(&self, flat: &str, range: Range<usize>, kind: &str) -> Vec<Span> {
        if range.start >= range.end
            || !flat.is_char_boundary(range.start)
            || !flat.is_char_boundary(range.end)
            || range.end > flat.len()
        {
            return Vec::new();
        }
        let mut spans = Vec::new();
        for (pointer, start, len) in &self.0 {
            let (from, to) = (range.start.max(*start), range.end.min(start + len));
            if from >= to {
                continue;
            }
            let (Ok(a), Ok(b)) = (u32::try_from(from - start), u32::try_from(to - start)) else {
                return Vec::new();
            };
            spans.push(Span::new(pointer.clone(), a, b, kind));
        }
        spans
    }
}

/// [`content_text`], and where each of its pieces sits (`base` is the pointer of the object
/// holding `content`).
fn content_segments(content: Option<&Value>, base: &str) -> (String, Segments) {
    match content {
        Some(Value::String(text)) => (
            text.clone(),
            Segments(vec![(format!("{base}/content"), 0, text.len())]),
        ),
        Some(Value::Array(parts)) => {
            let mut flat = String::new();
            let mut segments = Vec::new();
            for (k, part) in parts.iter().enumerate() {
                let text = part.get("text").and_then(Value::as_str);
                let Some(text) = text.filter(|_| {
                    matches!(
                        part.get("type").and_then(Value::as_str),
                        Some("text" | "input_text" | "output_text")
                    )
                }) else {
                    continue;
                };
                if !segments.is_empty() {
                    flat.push('\n');
                }
                segments.push((format!("{base}/content/{k}/text"), flat.len(), text.len()));
                flat.push_str(text);
            }
            (flat, Segments(segments))
        }
        _ => (String::new(), Segments::default()),
    }
}

/// Flattens OpenAI `content` as [`Message::content`] and [`Input::response_text`] have it: a
/// string, or the text parts of an array joined with `\n`. For auditors that read other parts
/// of the bodies (say, each choice of a response) and must see text exactly as the SDK does.
pub fn content_text(content: Option<&Value>) -> String {
    content_segments(content, "").0
}

fn collect_tool_calls(message: &Value, origin: ToolCallOrigin, out: &mut Vec<ToolCall>) {
    let calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let base = match origin {
        ToolCallOrigin::Request { message } => format!("/messages/{message}"),
        ToolCallOrigin::Response { choice } => format!("/choices/{choice}/message"),
    };
    let string_arguments = |function: &Value, pointer: String| {
        function
            .get("arguments")
            .is_some_and(Value::is_string)
            .then_some(pointer)
    };
    for (i, call) in calls.iter().enumerate() {
        let function = call.get("function").unwrap_or(&Value::Null);
        out.push(ToolCall {
            pointer: string_arguments(
                function,
                format!("{base}/tool_calls/{i}/function/arguments"),
            ),
            id: call.get("id").and_then(Value::as_str).map(str::to_owned),
            name: function
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            arguments: arguments_text(function.get("arguments")),
            origin,
        });
    }
    // The deprecated single `function_call` field.
    if let Some(function) = message
        .get("function_call")
        .filter(|value| value.is_object())
    {
        out.push(ToolCall {
            pointer: string_arguments(function, format!("{base}/function_call/arguments")),
            id: None,
            name: function
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            arguments: arguments_text(function.get("arguments")),
            origin,
        });
    }
}

fn arguments_text(arguments: Option<&Value>) -> String {
    match arguments {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_the_strings_the_sdk_flattened() {
        let input = Input::new(Phase::Request, REQUEST)
            .unwrap()
            .with_response(RESPONSE)
            .unwrap();
        // Message 1 is "look at\nthis" from parts 0 and 2: a range over the join is split.
        assert_eq!(input.messages()[1].content(), "look at\nthis");
        let spans = input.message_spans(1, 5..12, "x");
        assert_eq!(
            spans,
            vec![
                Span::new("/messages/1/content/0/text", 5, 7, "x"),
                Span::new("/messages/1/content/2/text", 0, 4, "x"),
            ]
        );
        assert_eq!(
            input.message_spans(0, 0..2, "x"),
            vec![Span::new("/messages/0/content", 0, 2, "x")]
        );
        // Out of range, empty, missing message: nothing.
        assert!(input.message_spans(0, 0..99, "x").is_empty());
        assert!(input.message_spans(0, 2..2, "x").is_empty());
        assert!(input.message_spans(9, 0..1, "x").is_empty());
        // The response text joins the choices: "here you go\nsecond choice".
        assert_eq!(
            input.response_spans(12..18, "x"),
            vec![Span::new("/choices/1/message/content", 0, 6, "x")]
        );
        // Tool calls: string arguments only.
        assert_eq!(
            input.tool_call_spans(0, 2..3, "x"),
            vec![Span::new(
                "/messages/2/tool_calls/0/function/arguments",
                2,
                3,
                "x"
            )]
        );
        assert!(
            input.tool_call_spans(1, 0..2, "x").is_empty(),
            "inline object"
        );
    }

    #[test]
    fn spans_never_cut_a_character() {
        let input = Input::new(
            Phase::Request,
            r#"{"messages": [{"role": "user", "content": "é mail"}]}"#,
        )
        .unwrap();
        assert!(input.message_spans(0, 1..3, "x").is_empty());
        assert_eq!(input.message_spans(0, 0..2, "x").len(), 1);
    }

    const REQUEST: &str = r#"{
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "name": "ann", "content": [
                {"type": "text", "text": "look at"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                {"type": "text", "text": "this"}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "found x"}
        ]
    }"#;

    const RESPONSE: &str = r#"{
        "id": "chatcmpl-1",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "here you go", "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "send", "arguments": {"to": "bob"}}}
            ]}},
            {"index": 1, "message": {"role": "assistant", "content": "second choice"}}
        ]
    }"#;

    #[test]
    fn messages_are_flattened_to_text() {
        let input = Input::new(Phase::Request, REQUEST).unwrap();
        let messages = input.messages();
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[0].role(), &Role::System);
        assert_eq!(messages[1].content(), "look at\nthis");
        assert_eq!(messages[1].name(), Some("ann"));
        assert_eq!(messages[2].content(), "");
        assert_eq!(messages[3].role(), &Role::Tool);
        assert!(messages[3].role().is_untrusted());
        assert_eq!(input.texts(), ["be brief", "look at\nthis", "found x"]);
        assert_eq!(input.response_text(), None);
        assert_eq!(input.request_json()["model"], "gpt-4o");
    }

    #[test]
    fn tool_calls_come_from_request_and_response() {
        let input = Input::new(Phase::Execution, REQUEST)
            .unwrap()
            .with_response(RESPONSE)
            .unwrap();
        let calls = input.tool_calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name(), "lookup");
        assert_eq!(calls[0].id(), Some("call_1"));
        assert_eq!(calls[0].arguments(), r#"{"q":"x"}"#);
        assert_eq!(calls[0].origin(), ToolCallOrigin::Request { message: 2 });
        assert_eq!(calls[1].name(), "send");
        assert_eq!(calls[1].arguments(), r#"{"to":"bob"}"#);
        assert_eq!(calls[1].origin(), ToolCallOrigin::Response { choice: 0 });
        assert_eq!(input.texts(), [r#"{"q":"x"}"#, r#"{"to":"bob"}"#]);
    }

    #[test]
    fn response_text_joins_the_choices() {
        let input = Input::new(Phase::Response, REQUEST)
            .unwrap()
            .with_response(RESPONSE)
            .unwrap();
        assert_eq!(input.response_text(), Some("here you go\nsecond choice"));
        assert_eq!(input.texts(), ["here you go\nsecond choice"]);
        assert_eq!(input.response_json().unwrap()["id"], "chatcmpl-1");
    }

    #[test]
    fn legacy_function_call_is_a_tool_call() {
        let request =
            r#"{"messages":[{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}"#;
        let input = Input::new(Phase::Request, request).unwrap();
        assert_eq!(input.tool_calls()[0].name(), "f");
    }

    #[test]
    fn malformed_bodies_are_invalid_input() {
        for body in [
            "{not json",
            "[1, 2]",
            r#"{"messages": "hi"}"#,
            r#"{"messages": ["hi"]}"#,
            "",
        ] {
            let err = Input::new(Phase::Request, body).unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{body}: {err}");
        }
        let err = Input::new(Phase::Response, "{}")
            .unwrap()
            .with_response("nope")
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)));
        assert!(
            Input::new(Phase::Artifact, "")
                .unwrap()
                .messages()
                .is_empty()
        );
    }

    #[test]
    fn headers_come_from_the_exchange_context() {
        let context = r#"{"headers": {"x-lucid-region": "eu-west-1", "x-lucid-n": 3}}"#;
        let input = Input::new(Phase::Request, "{}")
            .unwrap()
            .with_artifacts(context)
            .unwrap();
        assert_eq!(input.header("x-lucid-region"), Some("eu-west-1"));
        assert_eq!(input.header("X-Lucid-Region"), Some("eu-west-1"));
        assert_eq!(input.header("x-lucid-n"), None, "not a string");
        assert_eq!(input.header("x-lucid-other"), None);
        assert_eq!(input.artifacts_json().unwrap()["headers"]["x-lucid-n"], 3);

        let built = Input::new(Phase::Response, "{}")
            .unwrap()
            .with_header("X-Lucid-Region", "us")
            .with_header("x-lucid-tier", "gold");
        assert_eq!(built.header("x-lucid-region"), Some("us"));
        assert_eq!(built.header("x-lucid-tier"), Some("gold"));
        assert_eq!(
            Input::new(Phase::Request, "{}")
                .unwrap()
                .header("x-lucid-region"),
            None
        );
        let odd = Input::new(Phase::Request, "{}")
            .unwrap()
            .with_artifacts(r#"{"headers": ["x-lucid-region"]}"#)
            .unwrap();
        assert_eq!(odd.header("x-lucid-region"), None);
        assert_eq!(
            odd.with_header("x-lucid-region", "eu")
                .header("x-lucid-region"),
            Some("eu")
        );
    }

    #[test]
    fn the_artifact_phase_has_no_headers() {
        let descriptor = r#"{"plugin_set_hash": "ab", "headers": {"x-lucid-region": "eu"}}"#;
        let input = Input::new(Phase::Artifact, "")
            .unwrap()
            .with_artifacts(descriptor)
            .unwrap();
        assert_eq!(input.header("x-lucid-region"), None);
        assert_eq!(input.artifacts_json().unwrap()["plugin_set_hash"], "ab");
    }

    #[test]
    fn settings_are_typed() {
        let input = Input::new(Phase::Request, "{}")
            .unwrap()
            .with_setting("max", 10u64)
            .with_setting("ratio", 0.5)
            .with_setting("on", true)
            .with_setting("mode", "strict")
            .with_setting("tags", vec!["a".to_owned()])
            .with_setting("max", 20u64);
        let settings = input.settings();
        assert_eq!(settings.count("max"), Some(20));
        assert_eq!(settings.number("ratio"), Some(0.5));
        assert_eq!(settings.boolean("on"), Some(true));
        assert_eq!(settings.string("mode"), Some("strict"));
        assert_eq!(settings.string_list("tags"), Some(&["a".to_owned()][..]));
        assert_eq!(settings.number("max"), None);
        assert_eq!(settings.count("missing"), None);
        assert_eq!(settings.iter().count(), 5);
    }
}
