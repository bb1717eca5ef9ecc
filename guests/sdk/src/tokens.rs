//! Token estimates without a tokenizer, shared by the auditors that budget tokens
//! (`token_budget`, `token_economist`).
//!
//! The estimate follows OpenAI's published accounting for chat messages, with text measured by
//! character class instead of a real vocabulary:
//!
//! - text: 1 token per 4 ASCII characters, per 2 characters of other alphabetic scripts
//!   (accented Latin, Cyrillic, Greek, Arabic...), and 1 per CJK ideograph, kana or hangul
//!   syllable, rounded up per text;
//! - every message: 3 tokens of framing, plus 1 when it has a `name`;
//! - tool calls: 3 tokens each plus their name and arguments;
//! - tool definitions (`tools`, or the legacy `functions`): their JSON text;
//! - 3 tokens priming the reply.
//!
//! It is within ~10–20% of real tokenizers for English prose and code, and errs on the high
//! side for other scripts, which is the safe side for a budget.

use serde_json::Value;

use crate::{Input, ToolCallOrigin};

const TOKENS_PER_MESSAGE: u64 = 3;
const TOKENS_PER_NAME: u64 = 1;
const TOKENS_PER_TOOL_CALL: u64 = 3;
const TOKENS_REPLY_PRIMING: u64 = 3;

/// The estimated prompt tokens of the request in `input`: its messages, the tool calls in its
/// history, its tool definitions and the reply's priming.
pub fn estimate_prompt(input: &Input) -> u64 {
    let messages: u64 = input
        .messages()
        .iter()
        .map(|message| {
            TOKENS_PER_MESSAGE
                + estimate_text(message.content())
                + message
                    .name()
                    .map_or(0, |name| TOKENS_PER_NAME + estimate_text(name))
        })
        .sum();
    let tool_calls = estimate_tool_calls(input, |origin| {
        matches!(origin, ToolCallOrigin::Request { .. })
    });
    let request = input.request_json();
    let definitions: u64 = ["tools", "functions"]
        .iter()
        .filter_map(|field| request.get(field))
        .filter(|value| !value.is_null())
        .map(|value: &Value| estimate_text(&value.to_string()))
        .sum();
    let priming = if input.messages().is_empty() {
        0
    } else {
        TOKENS_REPLY_PRIMING
    };
    messages + tool_calls + definitions + priming
}

/// The estimated tokens of the tool calls whose origin `keep` accepts.
pub fn estimate_tool_calls(input: &Input, keep: impl Fn(ToolCallOrigin) -> bool) -> u64 {
    input
        .tool_calls()
        .iter()
        .filter(|call| keep(call.origin()))
        .map(|call| {
            TOKENS_PER_TOOL_CALL + estimate_text(call.name()) + estimate_text(call.arguments())
        })
        .sum()
}

/// Estimated tokens of one text, by character class.
pub fn estimate_text(text: &str) -> u64 {
    // Counted in quarter tokens so the classes mix without rounding each character.
    let quarters: u64 = text
        .chars()
        .map(|c| match c {
            _ if c.is_ascii() => 1,
            _ if is_cjk(c) => 4,
            _ => 2,
        })
        .sum();
    quarters.div_ceil(4)
}

fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF     // hiragana, katakana
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xAC00..=0xD7AF   // hangul syllables
        | 0xF900..=0xFAFF   // CJK compatibility ideographs
        | 0x20000..=0x2FFFF // CJK extensions B and later
    )
}
