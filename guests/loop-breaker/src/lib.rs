//! The `loop_breaker` auditor: reports whether an agent loop is going round in circles.
//!
//! An agent loop reaches the gateway as a growing `messages` history (assistant `tool_calls`,
//! `tool` results, assistant again...) plus the new response. Within the most recent `window`
//! messages of that history, and the response, two signals are measured:
//!
//! - **identical tool calls**: the same tool name with the same arguments, compared as
//!   canonical JSON (key order, whitespace, escapes and `1` versus `1.0` do not matter, nor the
//!   number of an attempt counter such as `"attempt": 3`; text that is not JSON is compared
//!   trimmed), that got the same result (the `tool` message answering the call's id). Polling
//!   whose results change is progress, not a loop. A call whose result is not in the history
//!   (the response's calls, above all) is taken to get what the previous identical call got.
//!   Call ids are otherwise ignored: every retry gets a new one.
//! - **step cycles**: the conversation seen as steps (an assistant message with its text and
//!   calls and what they got, or a user message; tool results are not steps of their own), and
//!   the longest run of
//!   a block of 1 to 16 steps repeating back to back at the end of it: `A B A B A B` is a cycle of
//!   length 2 repeated 3 times. This also catches loops without tools (the model and a scripted
//!   client answering each other with the same text).
//!
//! `repeat_count` is the higher of the two; above `max_repeats` the exchange is a loop. Evidence
//! names the repeated tool and the cycle length, never argument values or message text.
//!
//! When a response has several choices (`n` > 1) they are alternatives, not turns: each is
//! evaluated against the history on its own and the worst one is reported.

mod fingerprint;

use std::collections::HashMap;

use lucid_auditor_sdk::serde_json::{Value, json};
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, MAX_SAFE_INTEGER, Phase, Role, SettingSpec,
    ToolCallOrigin, Vocabulary,
};

use fingerprint::{
    Fingerprint, call_fingerprint, content_text, outcome_fingerprint, result_fingerprint,
    step_fingerprint,
};

/// How many times one identical call (or one cycle) may occur before it is a loop.
pub const DEFAULT_MAX_REPEATS: u64 = 3;

/// How many of the most recent history messages are examined.
pub const DEFAULT_WINDOW: u64 = 40;

/// The longest cycle looked for, in steps. Longer "cycles" are rarely loops (an agent working
/// through a list does the same few things per item), and the bound keeps the search linear in
/// the window.
pub const MAX_CYCLE_LENGTH: usize = 16;

/// Tool names in evidence are cut to this many characters (OpenAI allows 64): names come from
/// the model, and a hostile one could be arbitrarily long.
const MAX_NAME_CHARS: usize = 64;

pub struct LoopBreaker;

impl Auditor for LoopBreaker {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "loop_breaker",
            env!("CARGO_PKG_VERSION"),
            "Detects agent loops: the same tool called with the same (canonical JSON, attempt \
             counters masked) arguments and getting the same result again and again, or the same \
             steps repeating back to back, within the recent history and the response; polling \
             whose results change is not a loop",
        )
        .phases([Phase::Execution])
        .claim(ClaimSpec::new(
            "loop_detected",
            ClaimType::Boolean,
            "repeat_count is greater than the max_repeats setting; metadata names the repeated \
             tool and the cycle length",
        ))
        .claim(ClaimSpec::new(
            "repeat_count",
            ClaimType::Count,
            "the highest repetition seen: occurrences of one identical tool call with the same \
             result, or back-to-back repetitions of one cycle of steps, whichever is higher",
        ))
        .setting(SettingSpec::count(
            "max_repeats",
            DEFAULT_MAX_REPEATS,
            "how many times one identical tool call or one cycle may occur; more is a loop",
        ))
        .setting(SettingSpec::count(
            "window",
            DEFAULT_WINDOW,
            "how many of the most recent history messages are examined (the response is always \
             examined)",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let settings = input.settings();
        let max_repeats = settings.count("max_repeats").unwrap_or(DEFAULT_MAX_REPEATS);
        let window = settings.count("window").unwrap_or(DEFAULT_WINDOW);
        let history = History::new(input, usize::try_from(window).unwrap_or(usize::MAX));
        let choices = response_steps(input, &history);
        let finding = if choices.is_empty() {
            history.evaluate(None)
        } else {
            choices
                .iter()
                .map(|choice| history.evaluate(Some(choice)))
                .max_by_key(Finding::repeat_count)
                .unwrap_or_default()
        };
        let repeat_count = finding.repeat_count();
        let mut evidence = json!({
            "identical_calls": finding.calls.count,
            "cycle_length": finding.cycle.length,
            "cycle_repeats": finding.cycle.repeats,
            "examined_messages": history.examined_messages,
            "examined_calls": history.examined_calls + choices.iter().map(|c| c.calls.len()).sum::<usize>(),
        });
        if let Some(tool) = finding.calls.tool {
            evidence["tool"] = Value::from(truncate(tool, MAX_NAME_CHARS));
        }
        Ok(vec![
            Claim::boolean("loop_detected", repeat_count > max_repeats).with_metadata(evidence),
            // Settings are echoed within the contract's safe integers (evidence may carry no more).
            Claim::count("repeat_count", repeat_count).with_metadata(json!({
                "max_repeats": max_repeats.min(MAX_SAFE_INTEGER),
                "window": window.min(MAX_SAFE_INTEGER),
            })),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(LoopBreaker);

/// One step of the conversation: its fingerprint and the outcome fingerprints (call and result)
/// of the calls it makes.
#[derive(Debug, Default)]
struct Step<'a> {
    fingerprint: Fingerprint,
    calls: Vec<(Fingerprint, &'a str)>,
}

/// The examined part of the request history, reduced to what the detectors compare.
struct History<'a> {
    steps: Vec<Fingerprint>,
    /// Identical call with the same result (an outcome fingerprint) → (occurrences, tool name).
    calls: HashMap<Fingerprint, (u64, &'a str)>,
    /// Call fingerprint → the result its latest occurrence got, for calls not answered yet.
    last_results: HashMap<Fingerprint, Option<Fingerprint>>,
    examined_messages: usize,
    examined_calls: usize,
}

impl<'a> History<'a> {
    fn new(input: &'a Input, window: usize) -> Self {
        let messages = input.messages();
        let first = messages.len().saturating_sub(window);
        let results = tool_results(input, first);
        let mut history = History {
            steps: Vec::new(),
            calls: HashMap::new(),
            last_results: HashMap::new(),
            examined_messages: messages.len() - first,
            examined_calls: 0,
        };
        // The SDK lists calls in message order; group the examined ones by message.
        let mut calls_of: Vec<Vec<(Fingerprint, &str)>> = vec![Vec::new(); messages.len() - first];
        for call in input.tool_calls() {
            if let ToolCallOrigin::Request { message } = call.origin()
                && message >= first
                && let Some(slot) = calls_of.get_mut(message - first)
            {
                let print = call_fingerprint(call.name(), call.arguments());
                let answered = call.id().and_then(|id| results.get(id)).copied();
                let outcome = history.outcome(print, answered);
                slot.push((outcome, call.name()));
            }
        }
        for (message, calls) in messages[first..].iter().zip(calls_of) {
            for &(fingerprint, name) in &calls {
                history.calls.entry(fingerprint).or_insert((0, name)).0 += 1;
            }
            history.examined_calls += calls.len();
            let role = match message.role() {
                Role::Assistant => "assistant",
                Role::User => "user",
                // Tool results are what the world answered, not a move of the loop; system and
                // developer messages frame the conversation rather than take turns in it.
                _ => continue,
            };
            let call_prints: Vec<Fingerprint> = calls.iter().map(|(print, _)| *print).collect();
            history
                .steps
                .push(step_fingerprint(role, message.content(), &call_prints));
        }
        history
    }

    /// The outcome fingerprint of a call to `print` that got `result`; without a result, the
    /// one the previous identical call got (a call not answered yet is expected to get what
    /// its twin got). Remembers the result for the calls after it.
    fn outcome(&mut self, print: Fingerprint, result: Option<Fingerprint>) -> Fingerprint {
        let result = result.or_else(|| self.last_results.get(&print).copied().flatten());
        self.last_results.insert(print, result);
        outcome_fingerprint(print, result)
    }

    /// The outcome of a call in the response: no result yet, so the previous identical call's.
    fn expected_outcome(&self, print: Fingerprint) -> Fingerprint {
        outcome_fingerprint(print, self.last_results.get(&print).copied().flatten())
    }

    /// The repetitions with `choice` (one response choice) appended to the history.
    fn evaluate(&self, choice: Option<&Step<'a>>) -> Finding<'a> {
        let mut calls = self.most_repeated_call(choice);
        if calls.count == 0 {
            calls.tool = None;
        }
        let cycle = match choice {
            Some(step) => {
                let mut steps = self.steps.clone();
                steps.push(step.fingerprint);
                longest_cycle(&steps)
            }
            None => longest_cycle(&self.steps),
        };
        Finding { calls, cycle }
    }

    fn most_repeated_call(&self, choice: Option<&Step<'a>>) -> CallRepeat<'a> {
        let mut best = CallRepeat::default();
        let mut consider = |count: u64, name: &'a str| {
            // Ties go to the alphabetically first name, so the result does not depend on hash order.
            if count > best.count || (count == best.count && best.tool.is_some_and(|t| name < t)) {
                best = CallRepeat {
                    count,
                    tool: Some(name),
                };
            }
        };
        let mut in_choice: HashMap<Fingerprint, (u64, &'a str)> = HashMap::new();
        for &(fingerprint, name) in choice.map(|c| c.calls.as_slice()).unwrap_or_default() {
            in_choice.entry(fingerprint).or_insert((0, name)).0 += 1;
        }
        for (fingerprint, &(count, name)) in &self.calls {
            let more = in_choice.get(fingerprint).map_or(0, |(n, _)| *n);
            consider(count + more, name);
        }
        for (fingerprint, &(count, name)) in &in_choice {
            if !self.calls.contains_key(fingerprint) {
                consider(count, name);
            }
        }
        best
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct CallRepeat<'a> {
    count: u64,
    tool: Option<&'a str>,
}

/// A block of `length` steps repeated `repeats` times back to back at the end of the steps.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    pub length: usize,
    pub repeats: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Finding<'a> {
    calls: CallRepeat<'a>,
    cycle: Cycle,
}

impl Finding<'_> {
    fn repeat_count(&self) -> u64 {
        self.calls.count.max(self.cycle.repeats)
    }
}

/// The cycle at the end of `steps` with the most back-to-back repetitions (the shortest such
/// cycle on ties); a cycle must repeat at least twice. Linear in `steps` for each length tried.
pub fn longest_cycle(steps: &[Fingerprint]) -> Cycle {
    let mut best = Cycle::default();
    let n = steps.len();
    for length in 1..=MAX_CYCLE_LENGTH.min(n / 2) {
        // How far back, from the end, every step equals the one `length` before it.
        let matching = (length..n)
            .rev()
            .take_while(|&i| steps[i] == steps[i - length])
            .count();
        let repeats = ((matching + length) / length) as u64;
        if repeats >= 2 && repeats > best.repeats {
            best = Cycle { length, repeats };
        }
    }
    best
}

/// The results of the examined history: the fingerprint of each `tool` message's content by the
/// `tool_call_id` it answers (the first answer when an id is answered twice). Results always
/// follow their calls, so those of examined calls are examined too.
fn tool_results(input: &Input, first: usize) -> HashMap<&str, Fingerprint> {
    let mut results = HashMap::new();
    let raw = input
        .request_json()
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    // The SDK's messages are the request's, one for one and in order.
    for (message, raw) in input.messages().iter().zip(raw).skip(first) {
        if *message.role() == Role::Tool
            && let Some(id) = raw.get("tool_call_id").and_then(Value::as_str)
        {
            results
                .entry(id)
                .or_insert_with(|| result_fingerprint(message.content()));
        }
    }
    results
}

/// Each choice of the response as a step (choices are numbered by their position, as the SDK
/// numbers the origins of their calls).
fn response_steps<'a>(input: &'a Input, history: &History<'a>) -> Vec<Step<'a>> {
    let Some(choices) = input
        .response_json()
        .and_then(|response| response.get("choices"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut steps: Vec<Step<'a>> = choices.iter().map(|_| Step::default()).collect();
    for call in input.tool_calls() {
        if let ToolCallOrigin::Response { choice } = call.origin()
            && let Some(step) = steps.get_mut(choice)
        {
            let print = call_fingerprint(call.name(), call.arguments());
            step.calls
                .push((history.expected_outcome(print), call.name()));
        }
    }
    for (step, choice) in steps.iter_mut().zip(choices) {
        let content = content_text(choice.get("message").and_then(|m| m.get("content")));
        let call_prints: Vec<Fingerprint> = step.calls.iter().map(|(print, _)| *print).collect();
        step.fingerprint = step_fingerprint("assistant", &content, &call_prints);
    }
    steps
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests;
