//! The `token_budget` auditor: estimates how many tokens a prompt will use, without a
//! tokenizer, and reports whether it exceeds a configured budget.
//!
//! The estimate is the SDK's ([`lucid_auditor_sdk::tokens`]): OpenAI's published accounting
//! for chat messages with text measured by character class (about 4 ASCII characters per
//! token), tool calls in the history, tool definitions and the reply's priming. It is within
//! ~10–20% of real tokenizers for English prose and code, and errs on the high side for other
//! scripts, which is the safe side for a budget.

use lucid_auditor_sdk::serde_json::json;
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, SettingSpec, Vocabulary,
};

/// The prompt budget when none is configured.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

pub struct TokenBudget;

impl Auditor for TokenBudget {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "token_budget",
            env!("CARGO_PKG_VERSION"),
            "Estimates the prompt's token count (about 4 characters per token plus per-message \
             framing) and flags prompts over the configured budget",
        )
        .phases([Phase::Request])
        .claim(ClaimSpec::new(
            "estimated_tokens",
            ClaimType::Count,
            "estimated prompt tokens: messages, tool calls, tool definitions and framing",
        ))
        .claim(ClaimSpec::new(
            "over_budget",
            ClaimType::Boolean,
            "estimated_tokens is greater than the max_tokens setting",
        ))
        .setting(SettingSpec::count(
            "max_tokens",
            DEFAULT_MAX_TOKENS,
            "prompt token budget; larger estimates are over budget",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let max_tokens = input
            .settings()
            .count("max_tokens")
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let estimate = estimate_prompt(input);
        Ok(vec![
            Claim::count("estimated_tokens", estimate).with_metadata(
                json!({ "method": "chars/4+framing", "messages": input.messages().len() }),
            ),
            Claim::boolean("over_budget", estimate > max_tokens)
                .with_metadata(json!({ "max_tokens": max_tokens })),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(TokenBudget);

pub use lucid_auditor_sdk::tokens::{estimate_prompt, estimate_text};

#[cfg(test)]
mod tests {
    use super::*;
    use lucid_auditor_sdk::serde_json::Value;

    fn request(body: Value) -> Input {
        Input::new(Phase::Request, &body.to_string()).unwrap()
    }

    fn observe(input: &Input) -> (u64, bool) {
        let claims = TokenBudget::observe(input).unwrap();
        TokenBudget::describe()
            .check_claims(Phase::Request, &claims)
            .unwrap();
        (
            claims[0].as_count().unwrap(),
            claims[1].as_boolean().unwrap(),
        )
    }

    #[test]
    fn vocabulary_is_valid() {
        TokenBudget::describe().validate().unwrap();
    }

    #[test]
    fn text_is_measured_by_character_class() {
        assert_eq!(estimate_text(""), 0);
        assert_eq!(estimate_text("abcd"), 1);
        assert_eq!(estimate_text("abcde"), 2);
        assert_eq!(estimate_text("héllo"), 2); // 4 ASCII quarters + 2 for 'é'
        assert_eq!(estimate_text("日本語"), 3);
        assert_eq!(estimate_text("привет"), 3);
    }

    #[test]
    fn messages_add_framing_and_priming() {
        // 3 + 3 ("Hello there!") + 3 + 1 ("Hi!") + 1 + 1 ("bob") + 3
        let input = request(json!({ "messages": [
            { "role": "system", "content": "Hello there!" },
            { "role": "user", "name": "bob", "content": "Hi!" }
        ] }));
        assert_eq!(observe(&input), (15, false));
    }

    #[test]
    fn tool_calls_and_definitions_count() {
        let input = request(json!({
            "messages": [
                { "role": "assistant", "content": null, "tool_calls": [{ "id": "c", "type": "function",
                    "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }] },
                { "role": "tool", "tool_call_id": "c", "content": "sunny" }
            ],
            "tools": [{ "type": "function", "function": { "name": "get_weather", "parameters": { "type": "object" } } }]
        }));
        let tools = estimate_text(&input.request_json()["tools"].to_string());
        // messages 3 + 0 and 3 + 2, tool call 3 + 3 + 4, priming 3
        assert_eq!(estimate_prompt(&input), 21 + tools);
    }

    #[test]
    fn budget_is_configurable() {
        let long = "word ".repeat(4000); // 20,000 characters: 5,000 tokens
        let input = request(json!({ "messages": [{ "role": "user", "content": long }] }));
        let (estimate, over) = observe(&input);
        assert_eq!(estimate, 5000 + 3 + 3);
        assert!(over, "the default budget is {DEFAULT_MAX_TOKENS}");
        assert!(!observe(&input.clone().with_setting("max_tokens", 8000u64)).1);
        assert!(observe(&input.with_setting("max_tokens", 5005u64)).1);
    }

    #[test]
    fn multimodal_parts_count_their_text() {
        let input = request(json!({ "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "abcd" },
            { "type": "image_url", "image_url": { "url": "https://example.com/cat.png" } }
        ] }] }));
        assert_eq!(observe(&input).0, 3 + 1 + 3);
    }

    #[test]
    fn empty_requests_cost_nothing() {
        assert_eq!(observe(&request(json!({}))), (0, false));
        assert!(matches!(
            Input::new(Phase::Request, "not json"),
            Err(Error::InvalidInput(_))
        ));
    }
}
