//! The `token_economist` auditor: what an exchange costs in tokens, money and time, against a
//! per-exchange cost budget, with the latency estimate against its own budget.
//!
//! - **Tokens**: the response's `usage` when the upstream reports it (it does for complete
//!   chat completions; streamed ones carry it only with `stream_options.include_usage`),
//!   otherwise `token_budget`'s estimate (see [`tokens`]).
//! - **Cost**: prompt tokens × input price + completion tokens × output price, from a price table
//!   in USD per 1M tokens (which is micro-USD per token): built-in list prices dated
//!   [`PRICES_AS_OF`], with the `prices` setting merged over them. Cached-input and batch
//!   discounts are not applied, so for cached prompts the cost is an upper bound. A model the
//!   table does not know costs 0 with confidence 0.
//! - **Latency**: an *estimate*, not a measurement — prompt tokens read at
//!   [`PREFILL_TOKENS_PER_SECOND`] plus completion tokens generated at `tokens_per_second`.
//!   Network, queueing and tool execution time are not in it.
//!
//! It observes the execution phase (agent steps with tool calls) and the response phase, so every
//! completed exchange has a cost whether or not it used tools; an exchange with tool calls gets
//! the same figures in both phases, and a policy may act on either.

mod prices;
pub mod tokens;

use lucid_auditor_sdk::serde_json::Value;
use lucid_auditor_sdk::serde_json::json;
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, MAX_SAFE_INTEGER, Phase, SettingSpec,
    Vocabulary,
};

pub use prices::{BUILT_IN, PRICES_AS_OF, Price, PriceTable, built_in_entries};
use tokens::Tokens;

/// Per-exchange cost budget: 100,000 micro-USD is $0.10.
pub const DEFAULT_BUDGET_MICRO_USD: u64 = 100_000;
/// Per-exchange latency budget.
pub const DEFAULT_LATENCY_BUDGET_MS: u64 = 60_000;
/// Generation speed assumed for the latency estimate; typical hosted models stream 30–150.
pub const DEFAULT_TOKENS_PER_SECOND: u64 = 50;
/// Prompt processing speed assumed for the latency estimate (time to first token).
pub const PREFILL_TOKENS_PER_SECOND: u64 = 5_000;

/// Model names in evidence are cut to this many characters: the name comes from the client or
/// the upstream.
const MAX_MODEL_CHARS: usize = 128;

pub struct TokenEconomist;

impl Auditor for TokenEconomist {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "token_economist",
            env!("CARGO_PKG_VERSION"),
            "Prices each exchange from the response's token usage (or an estimate) and a model \
             price table, estimates its latency from token counts, and flags exchanges over the \
             cost budget and, separately, estimates over the latency budget",
        )
        .phases([Phase::Execution, Phase::Response])
        .claim(ClaimSpec::new(
            "estimated_cost_micro_usd",
            ClaimType::Count,
            "prompt tokens × input price + completion tokens × output price, in millionths of a \
             US dollar; confidence 1 with reported usage, 0.8 with estimated tokens, 0 when the \
             model has no price",
        ))
        .claim(ClaimSpec::new(
            "estimated_latency_ms",
            ClaimType::DurationMs,
            "an estimate, not a measurement: prompt tokens at 5,000/s plus completion tokens at \
             the tokens_per_second setting",
        ))
        .claim(ClaimSpec::new(
            "over_budget",
            ClaimType::Boolean,
            "the estimated cost is over budget_micro_usd (the latency estimate does not count: \
             see latency_over_budget)",
        ))
        .claim(ClaimSpec::new(
            "latency_over_budget",
            ClaimType::Boolean,
            "the latency estimate is over latency_budget_ms; an estimate from token counts, so \
             a long answer that was paid for is flagged here, not in over_budget",
        ))
        .setting(SettingSpec::string_list(
            "prices",
            built_in_entries(),
            format!(
                "model=input/output in USD per 1M tokens, merged over the built-in list prices \
                 of {PRICES_AS_OF}; a model matches the longest entry that prefixes its name \
                 (gpt-4o prices gpt-4o-2024-08-06); *=input/output prices unknown models"
            ),
        ))
        .setting(SettingSpec::count(
            "budget_micro_usd",
            DEFAULT_BUDGET_MICRO_USD,
            "cost budget per exchange in millionths of a US dollar; 0 means no cost budget",
        ))
        .setting(SettingSpec::count(
            "latency_budget_ms",
            DEFAULT_LATENCY_BUDGET_MS,
            "latency budget per exchange in milliseconds, against the estimate; 0 means none",
        ))
        .setting(SettingSpec::count(
            "tokens_per_second",
            DEFAULT_TOKENS_PER_SECOND,
            "completion tokens generated per second, for the latency estimate; 0 disables it",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let settings = input.settings();
        let table = PriceTable::with_entries(settings.string_list("prices").unwrap_or_default())?;
        // Counts in claims and evidence stay within the contract's safe integers.
        let budget = settings
            .count("budget_micro_usd")
            .unwrap_or(DEFAULT_BUDGET_MICRO_USD)
            .min(MAX_SAFE_INTEGER);
        let latency_budget = settings
            .count("latency_budget_ms")
            .unwrap_or(DEFAULT_LATENCY_BUDGET_MS)
            .min(MAX_SAFE_INTEGER);
        let tokens_per_second = settings
            .count("tokens_per_second")
            .unwrap_or(DEFAULT_TOKENS_PER_SECOND)
            .min(MAX_SAFE_INTEGER);

        let tokens = tokens::count(input);
        let model = model_name(input);
        let priced = table.lookup(model);
        let cost = priced.map_or(0, |(_, price)| cost_micro_usd(&tokens, price));
        let latency = latency_ms(&tokens, tokens_per_second);
        let cost_over = budget > 0 && cost > budget;
        let latency_over = latency_budget > 0 && tokens_per_second > 0 && latency > latency_budget;

        let confidence = match (priced, tokens.source()) {
            (None, _) => 0.0,
            (Some(_), "usage") => 1.0,
            (Some(_), _) => 0.8,
        };
        let mut evidence = json!({
            "model": model.chars().take(MAX_MODEL_CHARS).collect::<String>(),
            "prompt_tokens": tokens.prompt,
            "completion_tokens": tokens.completion,
            "tokens": tokens.source(),
            "prices_as_of": PRICES_AS_OF,
        });
        if let Some((key, price)) = priced {
            evidence["priced_as"] = Value::from(key);
            evidence["input_usd_per_1m"] = Value::from(price.input);
            evidence["output_usd_per_1m"] = Value::from(price.output);
        }
        Ok(vec![
            Claim::count("estimated_cost_micro_usd", cost)
                .with_confidence(confidence)
                .with_metadata(evidence),
            Claim::duration_ms("estimated_latency_ms", latency)
                .with_confidence(0.5)
                .with_metadata(json!({
                    "tokens_per_second": tokens_per_second,
                    "prefill_tokens_per_second": PREFILL_TOKENS_PER_SECOND,
                })),
            // Cost and latency are separate claims: a policy denying on cost must not deny a long
            // answer whose tokens fit the budget just because generating them takes a while.
            Claim::boolean("over_budget", cost_over).with_metadata(json!({
                "budget_micro_usd": budget,
            })),
            Claim::boolean("latency_over_budget", latency_over).with_metadata(json!({
                "latency_budget_ms": latency_budget,
            })),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(TokenEconomist);

/// The model that served the exchange (the response's `model`), else the one requested.
fn model_name(input: &Input) -> &str {
    input
        .response_json()
        .and_then(|response| response.get("model"))
        .and_then(Value::as_str)
        .filter(|model| !model.trim().is_empty())
        .or_else(|| input.request_json().get("model").and_then(Value::as_str))
        .unwrap_or_default()
}

/// Cost in micro-USD, rounded to the nearest (a price per 1M tokens is micro-USD per token), at
/// most [`MAX_SAFE_INTEGER`].
pub fn cost_micro_usd(tokens: &Tokens, price: Price) -> u64 {
    let cost = tokens.prompt as f64 * price.input + tokens.completion as f64 * price.output;
    // `as` saturates, so absurd token counts cannot wrap.
    (cost.round() as u64).min(MAX_SAFE_INTEGER)
}

/// Estimated latency in milliseconds, rounded up, at most [`MAX_SAFE_INTEGER`]; 0 when
/// `tokens_per_second` is 0.
pub fn latency_ms(tokens: &Tokens, tokens_per_second: u64) -> u64 {
    if tokens_per_second == 0 {
        return 0;
    }
    let ms =
        |count: u64, per_second: u64| (u128::from(count) * 1000).div_ceil(u128::from(per_second));
    let total =
        ms(tokens.prompt, PREFILL_TOKENS_PER_SECOND) + ms(tokens.completion, tokens_per_second);
    u64::try_from(total)
        .unwrap_or(u64::MAX)
        .min(MAX_SAFE_INTEGER)
}

#[cfg(test)]
mod tests;
