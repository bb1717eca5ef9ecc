//! Token counts of an exchange: the upstream's `usage` when it reports one, otherwise an
//! estimate without a tokenizer.
//!
//! The estimate is `token_budget`'s, from the SDK ([`lucid_auditor_sdk::tokens`]): 1 token per 4
//! ASCII characters, per 2 characters of other alphabetic scripts and per CJK character; 3
//! tokens of framing per message and per tool call, tool definitions as their JSON text, 3
//! tokens priming the reply. Within ~10–20 % of real
//! tokenizers for English prose and code, on the high side for other scripts.

use lucid_auditor_sdk::serde_json::Value;
use lucid_auditor_sdk::tokens::estimate_tool_calls;
use lucid_auditor_sdk::{Input, MAX_SAFE_INTEGER, ToolCallOrigin};

pub use lucid_auditor_sdk::tokens::{estimate_prompt, estimate_text};

/// Where a count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Usage,
    Estimate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
    pub prompt_source: Source,
    pub completion_source: Source,
}

impl Tokens {
    /// `usage` when all of it is reported, `estimate` when none is, `mixed` otherwise.
    pub fn source(&self) -> &'static str {
        match (self.prompt_source, self.completion_source) {
            (Source::Usage, Source::Usage) => "usage",
            (Source::Estimate, Source::Estimate) => "estimate",
            _ => "mixed",
        }
    }
}

/// The exchange's tokens. Chat completions report `usage.prompt_tokens` and
/// `usage.completion_tokens`; the Responses and Anthropic APIs say `input_tokens` and
/// `output_tokens`. A count that is missing or not a non-negative integer is estimated; counts
/// are capped at [`MAX_SAFE_INTEGER`], the largest integer evidence may carry.
pub fn count(input: &Input) -> Tokens {
    let usage = input
        .response_json()
        .and_then(|response| response.get("usage"));
    let reported = |names: [&str; 2]| -> Option<u64> {
        let usage = usage?;
        names
            .iter()
            .find_map(|name| usage.get(name).and_then(Value::as_u64))
            .map(|n| n.min(MAX_SAFE_INTEGER))
    };
    let (prompt, prompt_source) = match reported(["prompt_tokens", "input_tokens"]) {
        Some(n) => (n, Source::Usage),
        None => (estimate_prompt(input), Source::Estimate),
    };
    let (completion, completion_source) = match reported(["completion_tokens", "output_tokens"]) {
        Some(n) => (n, Source::Usage),
        None => (estimate_completion(input), Source::Estimate),
    };
    Tokens {
        prompt,
        completion,
        prompt_source,
        completion_source,
    }
}

/// Estimated completion tokens of the response: its text and its tool calls.
pub fn estimate_completion(input: &Input) -> u64 {
    input.response_text().map_or(0, estimate_text)
        + estimate_tool_calls(input, |origin| {
            matches!(origin, ToolCallOrigin::Response { .. })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lucid_auditor_sdk::Phase;
    use lucid_auditor_sdk::serde_json::json;

    fn exchange(response: Value) -> Input {
        let request =
            json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": "abcdefgh" }] });
        Input::new(Phase::Response, &request.to_string())
            .unwrap()
            .with_response(&response.to_string())
            .unwrap()
    }

    #[test]
    fn usage_wins_over_the_estimate() {
        let tokens = count(&exchange(
            json!({ "choices": [], "usage": { "prompt_tokens": 100, "completion_tokens": 7 } }),
        ));
        assert_eq!(
            (tokens.prompt, tokens.completion, tokens.source()),
            (100, 7, "usage")
        );
        let tokens = count(&exchange(
            json!({ "usage": { "input_tokens": 5, "output_tokens": 6 } }),
        ));
        assert_eq!((tokens.prompt, tokens.completion), (5, 6));
    }

    #[test]
    fn missing_or_odd_usage_is_estimated() {
        let response = json!({ "choices": [{ "message": { "role": "assistant", "content": "abcd",
            "tool_calls": [{ "function": { "name": "f", "arguments": "{}" } }] } }],
            "usage": { "prompt_tokens": -1, "completion_tokens": 2.5 } });
        let tokens = count(&exchange(response));
        // prompt: 3 + 2 + 3 priming; completion: 1 + (3 + 1 + 1)
        assert_eq!(
            (tokens.prompt, tokens.completion, tokens.source()),
            (8, 6, "estimate")
        );
        let tokens = count(&exchange(json!({ "usage": { "prompt_tokens": 9 } })));
        assert_eq!(
            (tokens.prompt, tokens.completion, tokens.source()),
            (9, 0, "mixed")
        );
    }

    #[test]
    fn text_is_measured_by_character_class() {
        assert_eq!(estimate_text(""), 0);
        assert_eq!(estimate_text("abcde"), 2);
        assert_eq!(estimate_text("日本語"), 3);
        assert_eq!(estimate_text("привет"), 3);
    }
}
