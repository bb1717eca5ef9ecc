//! Streamed `chat.completion.chunk`s put back together into a `chat.completion`: one choice per
//! `index` (an upstream interleaves them when `n` > 1), its content concatenated, its tool-call
//! fragments merged by their own `index`, its last `finish_reason`. Indices are bounded, so an
//! upstream cannot make the host allocate without limit.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Choices one completion may have: a choice `index` must be below this.
pub const MAX_CHOICES: u64 = 128;

/// Tool calls one choice may make: a tool call `index` must be below this.
pub const MAX_TOOL_CALLS: u64 = 128;

/// Where a streamed legacy `delta.function_call` is assembled: as the tool call of this index
/// (above every real one), so that the auditors of tool calls see it like any other.
pub const LEGACY_FUNCTION_CALL: usize = MAX_TOOL_CALLS as usize;

/// Why a chunk cannot be part of a completion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("a chunk has choice index {0}; expected an integer below {MAX_CHOICES}")]
    ChoiceIndex(String),
    #[error("a chunk has tool call index {0}; expected an integer below {MAX_TOOL_CALLS}")]
    ToolCallIndex(String),
    #[error("a chunk adds text to choice {0} after its finish_reason; expected no more text")]
    AfterFinish(usize),
}

/// One text of the answer: a choice's content, or the name or arguments of one of its tool calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text {
    pub choice: usize,
    pub part: Part,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Content,
    ToolName(usize),
    ToolArguments(usize),
}

/// What one chunk added: the bytes of text, and the new end (in bytes) of every text it grew.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Growth {
    pub added: usize,
    pub ends: Vec<(Text, usize)>,
}

/// The chunks of a stream so far, assembled.
#[derive(Debug, Default)]
pub struct Assembly {
    /// `id`, `model`, `created` of the first chunk.
    head: Option<[Value; 3]>,
    choices: BTreeMap<usize, Choice>,
    text_len: usize,
}

#[derive(Debug, Default)]
struct Choice {
    content: String,
    tool_calls: BTreeMap<usize, ToolCall>,
    finish: Value,
}

#[derive(Debug, Default)]
struct ToolCall {
    id: Option<Value>,
    name: String,
    arguments: String,
}

/// One choice of a chunk, its indices checked.
struct ChoiceDelta<'a> {
    index: usize,
    content: Option<&'a str>,
    finish: Option<&'a Value>,
    /// Per call: its index, the object holding it, and the pointers of its name and arguments
    /// in that object.
    calls: Vec<(usize, &'a Value, [&'static str; 2])>,
}

impl Assembly {
    pub fn new() -> Assembly {
        Assembly::default()
    }

    /// Add one chunk. A chunk with an index out of bounds is refused whole (the assembly is
    /// unchanged): the upstream's answer is not valid.
    pub fn push(&mut self, chunk: &Value) -> Result<Growth, ChunkError> {
        let deltas = deltas(chunk)?;
        // A finished choice's text is complete (the incremental mode releases it whole).
        if let Some(late) = deltas
            .iter()
            .find(|d| d.has_text() && self.finished(d.index))
        {
            return Err(ChunkError::AfterFinish(late.index));
        }
        if self.head.is_none() {
            let field = |name: &str| chunk.get(name).cloned().unwrap_or(Value::Null);
            self.head = Some([field("id"), field("model"), field("created")]);
        }
        let mut growth = Growth::default();
        for delta in deltas {
            let choice = self.choices.entry(delta.index).or_default();
            if let Some(finish) = delta.finish {
                choice.finish = finish.clone();
            }
            let mut grow = |part: Part, target: &mut String, text: Option<&str>| {
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    target.push_str(text);
                    growth.added += text.len();
                    let at = Text {
                        choice: delta.index,
                        part,
                    };
                    growth.ends.push((at, target.len()));
                }
            };
            grow(Part::Content, &mut choice.content, delta.content);
            for (index, call, [name_at, arguments_at]) in delta.calls {
                let slot = choice.tool_calls.entry(index).or_default();
                if let Some(id) = call.get("id") {
                    slot.id = Some(id.clone());
                }
                let name = call.pointer(name_at).and_then(Value::as_str);
                grow(Part::ToolName(index), &mut slot.name, name);
                let arguments = call.pointer(arguments_at).and_then(Value::as_str);
                grow(Part::ToolArguments(index), &mut slot.arguments, arguments);
            }
        }
        self.text_len += growth.added;
        Ok(growth)
    }

    /// Bytes of text (contents, tool-call names and arguments of every choice) so far.
    pub fn text_len(&self) -> usize {
        self.text_len
    }

    /// Whether the choice got its `finish_reason`: no more text may come for it.
    pub fn finished(&self, choice: usize) -> bool {
        self.choices
            .get(&choice)
            .is_some_and(|c| !c.finish.is_null())
    }

    /// One text of the answer so far (empty when there is none).
    pub fn text(&self, at: Text) -> &str {
        let Some(choice) = self.choices.get(&at.choice) else {
            return "";
        };
        match at.part {
            Part::Content => &choice.content,
            Part::ToolName(i) => choice.tool_calls.get(&i).map_or("", |c| &c.name),
            Part::ToolArguments(i) => choice.tool_calls.get(&i).map_or("", |c| &c.arguments),
        }
    }

    /// The whole answer so far as a `chat.completion` (one choice per index; an answer with no
    /// choice at all has an empty choice 0).
    pub fn completion(&self) -> Value {
        let mut choices: Vec<Value> = self
            .choices
            .iter()
            .map(|(index, c)| {
                let calls = c
                    .tool_calls
                    .values()
                    .map(|call| tool_call(call.id.as_ref(), &call.name, &call.arguments));
                choice(*index, &c.content, calls.collect(), &c.finish)
            })
            .collect();
        if choices.is_empty() {
            choices.push(choice(0, "", Vec::new(), &Value::Null));
        }
        self.wrap(choices)
    }

    /// A `chat.completion` holding only the given texts, each from its start offset (bytes, on a
    /// character boundary) to its end: what an audit of part of the answer sees. Choices and
    /// tool calls with no text in `from` are left out.
    pub fn excerpt(&self, from: &BTreeMap<Text, usize>) -> Value {
        let slice = |at: Text| {
            from.get(&at).map_or("", |start| {
                let text = self.text(at);
                text.get(*start..).unwrap_or(text)
            })
        };
        let mut choices = Vec::new();
        for (index, c) in &self.choices {
            let content = Text {
                choice: *index,
                part: Part::Content,
            };
            let mut calls = Vec::new();
            for (i, call) in &c.tool_calls {
                let name = Text {
                    choice: *index,
                    part: Part::ToolName(*i),
                };
                let arguments = Text {
                    choice: *index,
                    part: Part::ToolArguments(*i),
                };
                if from.contains_key(&name) || from.contains_key(&arguments) {
                    calls.push(tool_call(call.id.as_ref(), slice(name), slice(arguments)));
                }
            }
            if from.contains_key(&content) || !calls.is_empty() {
                choices.push(choice(*index, slice(content), calls, &c.finish));
            }
        }
        self.wrap(choices)
    }

    /// The `index` of the tool call at `position` in `tool_calls` of choice `choice`, as
    /// [`completion`](Self::completion) (`from` is `None`) or [`excerpt`](Self::excerpt)
    /// (`Some(from)`) renders them: in index order, an excerpt leaving out calls without text in
    /// `from`.
    pub fn tool_call_index(
        &self,
        from: Option<&BTreeMap<Text, usize>>,
        choice: usize,
        position: usize,
    ) -> Option<usize> {
        let calls = &self.choices.get(&choice)?.tool_calls;
        let shown = |i: usize| {
            from.is_none_or(|from| {
                [Part::ToolName(i), Part::ToolArguments(i)]
                    .iter()
                    .any(|part| {
                        from.contains_key(&Text {
                            choice,
                            part: *part,
                        })
                    })
            })
        };
        calls.keys().copied().filter(|i| shown(*i)).nth(position)
    }

    fn wrap(&self, choices: Vec<Value>) -> Value {
        let [id, model, created] = self.head.clone().unwrap_or_default();
        json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": choices,
        })
    }
}

fn choice(index: usize, content: &str, tool_calls: Vec<Value>, finish: &Value) -> Value {
    let mut message = json!({"role": "assistant", "content": content});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::from(tool_calls);
    }
    json!({"index": index, "message": message, "finish_reason": finish})
}

fn tool_call(id: Option<&Value>, name: &str, arguments: &str) -> Value {
    let mut call = json!({"type": "function", "function": {"name": name, "arguments": arguments}});
    if let Some(id) = id {
        call["id"] = id.clone();
    }
    call
}

impl ChoiceDelta<'_> {
    fn has_text(&self) -> bool {
        let some = |t: Option<&str>| t.is_some_and(|t| !t.is_empty());
        let in_call = |call: &Value, field: &str| some(call.pointer(field).and_then(Value::as_str));
        some(self.content)
            || self
                .calls
                .iter()
                .any(|(_, call, [name, arguments])| in_call(call, name) || in_call(call, arguments))
    }
}

/// The choices of a chunk with their indices checked (a missing index is 0).
fn deltas(chunk: &Value) -> Result<Vec<ChoiceDelta<'_>>, ChunkError> {
    let mut out = Vec::new();
    for choice in chunk
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let index =
            bounded_index(choice.get("index"), MAX_CHOICES).map_err(ChunkError::ChoiceIndex)?;
        let delta = choice.get("delta");
        let mut calls = Vec::new();
        for call in delta
            .and_then(|d| d.get("tool_calls"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let i = bounded_index(call.get("index"), MAX_TOOL_CALLS)
                .map_err(ChunkError::ToolCallIndex)?;
            calls.push((i, call, ["/function/name", "/function/arguments"]));
        }
        // The deprecated single function call: without this, a stream could carry a call that
        // no auditor of tool calls ever sees.
        if let Some(legacy) = delta
            .and_then(|d| d.get("function_call"))
            .filter(|f| f.is_object())
        {
            calls.push((LEGACY_FUNCTION_CALL, legacy, ["/name", "/arguments"]));
        }
        out.push(ChoiceDelta {
            index,
            content: delta.and_then(|d| d.get("content")).and_then(Value::as_str),
            // A choice finishes with a reason: null or "" is none.
            finish: choice
                .get("finish_reason")
                .filter(|f| !f.is_null() && f.as_str() != Some("")),
            calls,
        });
    }
    Ok(out)
}

/// An index below `max`; `Err` holds (the start of) what was there instead.
fn bounded_index(value: Option<&Value>, max: u64) -> Result<usize, String> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(v) => match v.as_u64() {
            Some(i) if i < max => usize::try_from(i).map_err(|_| i.to_string()),
            _ => Err(v.to_string().chars().take(40).collect()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(choices: Value) -> Value {
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices})
    }

    #[test]
    fn a_streamed_legacy_function_call_is_assembled_as_a_tool_call() {
        let mut a = Assembly::new();
        let f = |delta: Value| chunk(json!([{"index": 0, "delta": delta}]));
        a.push(&f(
            json!({"function_call": {"name": "send", "arguments": ""}}),
        ))
        .unwrap();
        let growth = a
            .push(&f(
                json!({"function_call": {"arguments": "{\"to\":\"x\"}"}}),
            ))
            .unwrap();
        assert_eq!(growth.added, 10);
        let whole = a.completion();
        let call = &whole["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "send");
        assert_eq!(call["function"]["arguments"], "{\"to\":\"x\"}");
        assert_eq!(a.tool_call_index(None, 0, 0), Some(LEGACY_FUNCTION_CALL));
    }

    #[test]
    fn tool_calls_are_found_by_position_as_rendered() {
        let mut a = Assembly::new();
        let call = |i: u64, args: &str| {
            chunk(json!([{"index": 0, "delta": {"tool_calls": [
                {"index": i, "function": {"name": "f", "arguments": args}}
            ]}}]))
        };
        a.push(&call(5, "{}")).unwrap();
        a.push(&call(2, "{}")).unwrap();
        // The completion renders calls in index order: 2, then 5.
        assert_eq!(a.tool_call_index(None, 0, 0), Some(2));
        assert_eq!(a.tool_call_index(None, 0, 1), Some(5));
        assert_eq!(a.tool_call_index(None, 0, 2), None);
        assert_eq!(a.tool_call_index(None, 1, 0), None);
        // An excerpt holding only call 5's arguments renders it first.
        let from = BTreeMap::from([(
            Text {
                choice: 0,
                part: Part::ToolArguments(5),
            },
            0,
        )]);
        assert_eq!(a.tool_call_index(Some(&from), 0, 0), Some(5));
        let excerpt = a.excerpt(&from);
        assert_eq!(
            excerpt["choices"][0]["message"]["tool_calls"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    fn text(index: usize, content: &str) -> Value {
        chunk(json!([{"index": index, "delta": {"content": content}, "finish_reason": null}]))
    }

    fn assemble(chunks: &[Value]) -> Value {
        let mut a = Assembly::new();
        for c in chunks {
            a.push(c).expect("a valid chunk");
        }
        a.completion()
    }

    #[test]
    fn interleaved_choices_assemble_apart() {
        let chunks = [
            text(0, "card 4111 "),
            text(1, "nothing "),
            text(0, "1111 1111 1111"),
            text(1, "to see"),
            chunk(json!([{"index": 1, "delta": {}, "finish_reason": "stop"}])),
            chunk(json!([{"index": 0, "delta": {}, "finish_reason": "length"}])),
        ];
        let whole = assemble(&chunks);
        let choices = whole["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 2);
        assert_eq!(choices[0]["index"], 0);
        assert_eq!(choices[0]["message"]["content"], "card 4111 1111 1111 1111");
        assert_eq!(choices[0]["finish_reason"], "length");
        assert_eq!(choices[1]["index"], 1);
        assert_eq!(choices[1]["message"]["content"], "nothing to see");
        assert_eq!(choices[1]["finish_reason"], "stop");
    }

    #[test]
    fn tool_calls_merge_by_their_own_index_within_their_choice() {
        let call = |choice: usize, index: usize, f: Value| {
            chunk(
                json!([{"index": choice, "delta": {"tool_calls": [{"index": index, "function": f}]}}]),
            )
        };
        let mut first = call(0, 0, json!({"name": "get_", "arguments": "{\"a\":"}));
        first["choices"][0]["delta"]["tool_calls"][0]["id"] = json!("call_1");
        let chunks = [
            first,
            call(1, 0, json!({"name": "other", "arguments": "{}"})),
            call(0, 1, json!({"name": "second", "arguments": "[]"})),
            call(0, 0, json!({"name": "weather", "arguments": "1}"})),
        ];
        let mut a = Assembly::new();
        let mut added = 0;
        for c in &chunks {
            added += a.push(c).unwrap().added;
        }
        assert_eq!(added, a.text_len());
        let whole = a.completion();
        let calls = &whole["choices"][0]["message"]["tool_calls"];
        assert_eq!(calls[0]["id"], "call_1");
        assert_eq!(calls[0]["function"]["name"], "get_weather");
        assert_eq!(calls[0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(calls[1]["function"]["name"], "second");
        let other = &whole["choices"][1]["message"]["tool_calls"];
        assert_eq!(other[0]["function"]["name"], "other");
        assert_eq!(other.as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn growth_counts_every_choice() {
        let mut a = Assembly::new();
        let both = chunk(json!([
            {"index": 0, "delta": {"content": "abc"}},
            {"index": 1, "delta": {"content": "de"}},
        ]));
        let growth = a.push(&both).unwrap();
        assert_eq!(growth.added, 5);
        let content = |choice| Text {
            choice,
            part: Part::Content,
        };
        assert_eq!(growth.ends, vec![(content(0), 3), (content(1), 2)]);
        assert_eq!(a.text(content(1)), "de");
        assert_eq!(a.text(content(7)), "");
    }

    #[test]
    fn indices_out_of_bounds_are_refused_without_allocating() {
        let mut a = Assembly::new();
        let huge_call = chunk(json!([{"index": 0, "delta": {"tool_calls": [
            {"index": 10_000_000_000u64, "function": {"arguments": "x"}}
        ]}}]));
        assert!(matches!(
            a.push(&huge_call),
            Err(ChunkError::ToolCallIndex(i)) if i == "10000000000"
        ));
        let at_cap = chunk(json!([{"index": 0, "delta": {"tool_calls": [
            {"index": MAX_TOOL_CALLS, "function": {"arguments": "x"}}
        ]}}]));
        assert!(a.push(&at_cap).is_err());
        assert!(a.push(&text(MAX_CHOICES as usize, "x")).is_err());
        let negative = chunk(json!([{"index": -1, "delta": {"content": "x"}}]));
        assert!(matches!(
            a.push(&negative),
            Err(ChunkError::ChoiceIndex(i)) if i == "-1"
        ));
        // Refused chunks change nothing; the largest indices allowed are fine.
        assert_eq!(a.text_len(), 0);
        let last = chunk(json!([{"index": MAX_CHOICES - 1, "delta": {"tool_calls": [
            {"index": MAX_TOOL_CALLS - 1, "function": {"arguments": "x"}}
        ]}}]));
        assert_eq!(a.push(&last).unwrap().added, 1);
        let message = ChunkError::ToolCallIndex("10000000000".into()).to_string();
        assert!(message.starts_with("a chunk has tool call index 10000000000"));
    }

    #[test]
    fn text_after_a_choice_finished_is_refused() {
        let mut a = Assembly::new();
        let last =
            chunk(json!([{"index": 0, "delta": {"content": "done"}, "finish_reason": "stop"}]));
        a.push(&last).unwrap();
        assert!(a.finished(0));
        assert!(!a.finished(1));
        assert_eq!(a.push(&text(0, "more")), Err(ChunkError::AfterFinish(0)));
        let blank = chunk(json!([{"index": 1, "delta": {"content": "a"}, "finish_reason": ""}]));
        a.push(&blank).unwrap();
        assert!(!a.finished(1), "an empty finish_reason is no finish");
        let empty = chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]));
        assert!(a.push(&empty).is_ok(), "nothing added");
        a.push(&text(1, "the other choice goes on")).unwrap();
        assert_eq!(a.text_len(), 29);
    }

    #[test]
    fn an_excerpt_holds_only_the_texts_asked_for() {
        let mut a = Assembly::new();
        for c in [text(0, "hello world"), text(1, "untouched"), text(2, "abc")] {
            a.push(&c).unwrap();
        }
        let from = BTreeMap::from([
            (
                Text {
                    choice: 0,
                    part: Part::Content,
                },
                6,
            ),
            (
                Text {
                    choice: 2,
                    part: Part::Content,
                },
                0,
            ),
        ]);
        let part = a.excerpt(&from);
        let choices = part["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 2);
        assert_eq!(choices[0]["message"]["content"], "world");
        assert_eq!(choices[1]["index"], 2);
        assert_eq!(choices[1]["message"]["content"], "abc");
    }

    #[test]
    fn an_empty_stream_is_an_empty_answer() {
        let whole = Assembly::new().completion();
        assert_eq!(whole["choices"][0]["message"]["content"], "");
        assert_eq!(whole["object"], "chat.completion");
    }
}
