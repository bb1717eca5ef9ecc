//! The `grounding` auditor: how much of the model's answer the request's own sources support.
//!
//! Sources are the request's system, developer and user messages and tool (or legacy function)
//! results — the documents, retrieved passages and tool outputs an answer should rest on; the
//! model's own earlier turns are not evidence. The answer is cut into sentences; a sentence with
//! fewer than three content words ("Sure!", "Here it is:") is not judged. A judged sentence is
//! supported when
//!
//! - at least `min_support` of its content words (lowercased, plural and verb endings folded,
//!   stop words left out) occur in the sources, and
//! - every number in it, and every capitalised word after its first (a rough stand-in for
//!   names), occurs in the sources: a right-sounding sentence with a wrong figure or name is
//!   the hallucination this auditor exists for.
//!
//! `grounding_score` is the share of judged sentences that are supported; `grounded` is that
//! score at or above `threshold`. When the sources hold fewer than `min_context_words` content
//! words there is nothing to ground on: the auditor then claims only `grounded` = true with
//! confidence 0 and `no_context` in its metadata, and no `grounding_score`, so a policy can tell
//! "not applicable" (`!(context.claims has grounding_score)`) from "grounded".
//!
//! This is lexical support, not entailment: a sentence that reuses the sources' words to say
//! the opposite ("X is not Y") counts as supported, and a faithful paraphrase in other words
//! does not.

use std::collections::HashSet;

use lucid_auditor_sdk::serde_json::json;
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Role, SettingSpec, Vocabulary,
};

pub const DEFAULT_THRESHOLD: f64 = 0.7;
pub const DEFAULT_MIN_SUPPORT: f64 = 0.6;
pub const DEFAULT_MIN_CONTEXT_WORDS: u64 = 20;
/// Sentences with fewer content words are not judged.
const MIN_JUDGED_WORDS: usize = 3;
/// At most this many unsupported sentence indexes go into the metadata.
const MAX_LISTED: usize = 32;

pub struct Grounding;

impl Auditor for Grounding {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "grounding",
            env!("CARGO_PKG_VERSION"),
            "Share of the answer's sentences supported by the request's sources (system, user \
             and tool messages): content-word overlap, with every number and name required to \
             occur in the sources",
        )
        .phases([Phase::Response])
        .claim(ClaimSpec::new(
            "grounding_score",
            ClaimType::ScoreNormalized,
            "share of judged answer sentences supported by the sources; absent when the \
             request carries no context to ground on",
        ))
        .claim(ClaimSpec::new(
            "grounded",
            ClaimType::Boolean,
            "grounding_score >= threshold (true, with confidence 0, when there is no context)",
        ))
        .setting(SettingSpec::number(
            "threshold",
            DEFAULT_THRESHOLD,
            "grounding_score at or above which the answer is grounded (0..1)",
        ))
        .setting(SettingSpec::number(
            "min_support",
            DEFAULT_MIN_SUPPORT,
            "share of a sentence's content words that must occur in the sources (0..1)",
        ))
        .setting(SettingSpec::count(
            "min_context_words",
            DEFAULT_MIN_CONTEXT_WORDS,
            "sources with fewer content words count as no context",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let unit = |name: &str, default: f64| -> Result<f64, Error> {
            let v = input.settings().number(name).unwrap_or(default);
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(Error::InvalidInput(format!(
                    "setting {name} must be within 0..1, got {v}"
                )))
            }
        };
        let threshold = unit("threshold", DEFAULT_THRESHOLD)?;
        let min_support = unit("min_support", DEFAULT_MIN_SUPPORT)?;
        let min_context = input
            .settings()
            .count("min_context_words")
            .unwrap_or(DEFAULT_MIN_CONTEXT_WORDS);

        let mut sources = Sources::default();
        for message in input.messages() {
            if matches!(
                message.role(),
                Role::System | Role::Developer | Role::User | Role::Tool | Role::Function
            ) {
                sources.add(message.content());
            }
        }
        let answer = input.response_text().unwrap_or("");
        if (sources.content_words as u64) < min_context {
            return Ok(vec![
                Claim::boolean("grounded", true)
                    .with_confidence(0.0)
                    .with_metadata(json!({
                        "no_context": true,
                        "context_words": sources.content_words,
                        "min_context_words": min_context,
                    })),
            ]);
        }
        let report = judge(answer, &sources, min_support);
        let score = if report.judged == 0 {
            1.0
        } else {
            report.supported as f64 / report.judged as f64
        };
        let metadata = json!({
            "sentences": report.sentences,
            "judged": report.judged,
            "supported": report.supported,
            "unsupported": report.unsupported,
            "context_words": sources.content_words,
            "min_support": min_support,
        });
        Ok(vec![
            Claim::score("grounding_score", score).with_metadata(metadata),
            Claim::boolean("grounded", score >= threshold)
                .with_metadata(json!({ "threshold": threshold })),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(Grounding);

/// Words every English sentence uses; they say nothing about support.
const STOP_WORDS: &[&str] = &[
    "about", "above", "after", "again", "all", "also", "and", "any", "are", "because", "been",
    "before", "being", "both", "but", "can", "could", "did", "does", "doing", "down", "during",
    "each", "few", "for", "from", "further", "had", "has", "have", "having", "her", "here", "hers",
    "him", "his", "how", "into", "its", "itself", "just", "more", "most", "much", "must", "not",
    "now", "off", "once", "only", "other", "our", "ours", "out", "over", "own", "same", "she",
    "should", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there",
    "these", "they", "this", "those", "through", "too", "under", "until", "very", "was", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
    "you", "your", "yours", "yes", "may", "might", "shall", "one", "per", "via", "let",
];

fn is_stop(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// A word folded so that plurals and common verb endings meet: `cities` ~ `city`, `rated` ~
/// `rate`, `running` ~ `runn`. Crude on purpose: it only has to make the same word meet itself.
fn fold(word: &str) -> String {
    let w = word.to_lowercase();
    for (suffix, keep) in [("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")] {
        if w.len() > suffix.len() + 3
            && let Some(stem) = w.strip_suffix(suffix)
        {
            return format!("{stem}{keep}");
        }
    }
    w
}

/// A token of text: letters and digits, with `.`/`,` kept inside numbers (`3.5`, `1,200`).
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let inside_number = (c == '.' || c == ',')
            && start.is_some()
            && i > 0
            && bytes[i - 1].is_ascii_digit()
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if c.is_alphanumeric() || inside_number {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push(&text[s..i]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out.into_iter()
}

fn is_number(token: &str) -> bool {
    token.chars().any(|c| c.is_ascii_digit())
}

/// A number as written, without grouping commas: `1,200` and `1200` are the same figure.
fn number_key(token: &str) -> String {
    token.chars().filter(|c| *c != ',').collect()
}

fn is_content(token: &str) -> bool {
    is_number(token) || (token.chars().count() >= 3 && !is_stop(&token.to_lowercase()))
}

/// What the sources say: their folded content words and their numbers.
#[derive(Default)]
pub struct Sources {
    words: HashSet<String>,
    numbers: HashSet<String>,
    content_words: usize,
}

impl Sources {
    pub fn add(&mut self, text: &str) {
        for token in tokens(text) {
            if !is_content(token) {
                continue;
            }
            self.content_words += 1;
            if is_number(token) {
                self.numbers.insert(number_key(token));
            }
            self.words.insert(fold(token));
        }
    }
}

/// The answer's sentences, judged.
#[derive(Debug, PartialEq)]
pub struct Report {
    pub sentences: usize,
    pub judged: usize,
    pub supported: usize,
    /// Indexes of unsupported sentences (the first [`MAX_LISTED`]).
    pub unsupported: Vec<usize>,
}

/// Cut text into sentences: at `.`, `!`, `?` (and their CJK forms) followed by white space or
/// the end, and at line breaks. A dot inside a number or an abbreviation followed by a
/// lowercase letter does not end a sentence.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\n' => Some(i),
            '。' | '！' | '？' => Some(i + c.len_utf8()),
            '.' | '!' | '?' => match chars.peek() {
                None => Some(i + 1),
                Some(&(_, next)) if next.is_whitespace() => {
                    // "e.g. the" and "3. x" style breaks are kept together when the next word
                    // starts in lowercase.
                    let rest = text[i + 1..].trim_start();
                    let lower_next = rest.chars().next().is_some_and(char::is_lowercase);
                    (!lower_next).then_some(i + 1)
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(end) = end {
            let s = text[start..end].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = end;
        }
    }
    let s = text[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// Judge every sentence of `answer` against `sources`.
pub fn judge(answer: &str, sources: &Sources, min_support: f64) -> Report {
    let mut report = Report {
        sentences: 0,
        judged: 0,
        supported: 0,
        unsupported: Vec::new(),
    };
    for (index, sentence) in sentences(answer).into_iter().enumerate() {
        report.sentences += 1;
        let (mut content, mut found, mut facts_ok) = (0usize, 0usize, true);
        for (position, token) in tokens(sentence).enumerate() {
            if !is_content(token) {
                continue;
            }
            content += 1;
            let known = sources.words.contains(&fold(token));
            found += usize::from(known);
            if is_number(token) {
                facts_ok &= sources.numbers.contains(&number_key(token));
            } else if position > 0 && token.chars().next().is_some_and(char::is_uppercase) {
                facts_ok &= known;
            }
        }
        if content < MIN_JUDGED_WORDS {
            continue;
        }
        report.judged += 1;
        if facts_ok && found as f64 >= min_support * content as f64 {
            report.supported += 1;
        } else if report.unsupported.len() < MAX_LISTED {
            report.unsupported.push(index);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use lucid_auditor_sdk::serde_json::{Value, json};

    const CONTEXT: &str = "The Eiffel Tower in Paris was completed in 1889 for the World's Fair. \
        It is 330 metres tall and was designed by the engineering company of Gustave Eiffel. \
        About seven million people visit the tower every year.";

    fn observe(messages: Value, answer: &str) -> Vec<Claim> {
        let request = json!({"model": "m", "messages": messages}).to_string();
        let response = json!({"choices": [{"index": 0, "message":
            {"role": "assistant", "content": answer}}]})
        .to_string();
        let input = Input::new(Phase::Response, &request)
            .unwrap()
            .with_response(&response)
            .unwrap();
        let claims = Grounding::observe(&input).unwrap();
        Grounding::describe()
            .check_claims(input.phase(), &claims)
            .unwrap();
        claims
    }

    fn with_context(answer: &str) -> (f64, bool) {
        let claims = observe(
            json!([{"role": "system", "content": CONTEXT},
                   {"role": "user", "content": "Tell me about the tower."}]),
            answer,
        );
        (
            claims[0].as_score().unwrap(),
            claims[1].as_boolean().unwrap(),
        )
    }

    #[test]
    fn a_faithful_answer_is_grounded() {
        let (score, grounded) = with_context(
            "The Eiffel Tower was completed in 1889. It is 330 metres tall. \
             Gustave Eiffel's company designed it.",
        );
        assert_eq!(score, 1.0);
        assert!(grounded);
    }

    #[test]
    fn wrong_figures_and_names_are_not_supported() {
        let (score, grounded) = with_context(
            "The Eiffel Tower was completed in 1899. It is 330 metres tall. \
             It was designed by Isambard Brunel's engineering company.",
        );
        assert!((score - 1.0 / 3.0).abs() < 1e-9, "{score}");
        assert!(!grounded);
    }

    #[test]
    fn an_invented_answer_scores_low() {
        let (score, grounded) = with_context(
            "The tower has a famous underwater restaurant. Its elevators run on steam power \
             from nearby rivers. Tickets are free on national holidays.",
        );
        assert_eq!(score, 0.0);
        assert!(!grounded);
    }

    #[test]
    fn tool_results_are_sources_and_short_sentences_are_not_judged() {
        let claims = observe(
            json!([{"role": "user", "content": "Weather?"},
                   {"role": "assistant", "content": null, "tool_calls": [{"id": "a",
                     "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
                   {"role": "tool", "tool_call_id": "a", "content":
                     "Paris: 18 degrees Celsius, light rain expected in the evening, wind from \
                      the west at 12 km/h, humidity 80 percent, sunrise 07:45, sunset 17:02."}]),
            "Sure! In Paris it is 18 degrees Celsius with light rain expected in the evening.",
        );
        let meta = claims[0].metadata.clone().unwrap();
        assert_eq!(meta["sentences"], 2);
        assert_eq!(meta["judged"], 1);
        assert_eq!(claims[0].as_score(), Some(1.0));
    }

    #[test]
    fn no_context_is_said_not_scored() {
        let claims = observe(
            json!([{"role": "user", "content": "Write a haiku."}]),
            "Autumn moon rises. Quiet water holds the light.",
        );
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].name, "grounded");
        assert_eq!(claims[0].as_boolean(), Some(true));
        assert_eq!(claims[0].confidence, 0.0);
        assert_eq!(claims[0].metadata.as_ref().unwrap()["no_context"], true);
    }

    #[test]
    fn the_model_s_own_turns_are_not_evidence() {
        let claims = observe(
            json!([{"role": "assistant", "content": CONTEXT},
                   {"role": "user", "content": "Summarise."}]),
            "The Eiffel Tower was completed in 1889.",
        );
        assert_eq!(claims[0].metadata.as_ref().unwrap()["no_context"], true);
    }

    #[test]
    fn settings_are_bounded() {
        let request = json!({"messages": [{"role": "system", "content": CONTEXT}]}).to_string();
        let input = Input::new(Phase::Response, &request)
            .unwrap()
            .with_response(r#"{"choices":[{"message":{"content":"x"}}]}"#)
            .unwrap()
            .with_setting("threshold", 1.5);
        assert!(matches!(
            Grounding::observe(&input),
            Err(Error::InvalidInput(m)) if m.contains("threshold")
        ));
    }

    #[test]
    fn sentences_split_at_ends_not_inside_numbers_or_abbreviations() {
        assert_eq!(
            sentences("It costs 3.5 euros, e.g. on Mondays. Next one!\nThird line"),
            [
                "It costs 3.5 euros, e.g. on Mondays.",
                "Next one!",
                "Third line"
            ]
        );
        assert_eq!(
            sentences("东京是首都。大阪很大。"),
            ["东京是首都。", "大阪很大。"]
        );
        assert!(sentences("   ").is_empty());
    }

    #[test]
    fn numbers_match_with_or_without_grouping() {
        let mut sources = Sources::default();
        sources.add("Revenue was 1,200 million dollars in the fiscal year.");
        let r = judge("Revenue reached 1200 million dollars.", &sources, 0.5);
        assert_eq!((r.judged, r.supported), (1, 1));
    }

    #[test]
    fn huge_and_odd_input_stays_linear_and_safe() {
        let context = "word ".repeat(50_000) + &"ünïcödé 数字 ".repeat(1000);
        let answer =
            "Several distinct sentences contain plain words. ".repeat(5_000) + "\u{200b}\u{202e}";
        let mut sources = Sources::default();
        sources.add(&context);
        let r = judge(&answer, &sources, 0.6);
        assert_eq!(r.judged, 5_000);
        assert!(r.unsupported.len() <= MAX_LISTED);
    }
}
