//! The `grounding` auditor: which share of the model's answer is supported by the context the
//! request gave it: tool results, documents marked as context inside messages, and a top-level
//! `documents` array.
//!
//! Support is lexical. The answer is split into sentences; a sentence that states something
//! checkable (a number, a name, or at least three content words) is *supported* when
//!
//! - at least `min_support` of its content words (stemmed, function words left out) occur in
//!   the sources, and
//! - every number in it occurs in the sources (by value: "1,000" is "1000.0"), and
//! - every name in it (a capitalised word past the sentence's first, or an acronym) occurs in
//!   the sources.
//!
//! `grounding_score` is the share of checkable sentences that are supported. A paraphrase with
//! other words counts as unsupported; a sentence that reuses the sources' words to say
//! something else counts as supported: this is evidence for a policy, not a fact-checker.
//!
//! Without any context there is nothing to be grounded in: the score is 0, `grounded` false,
//! and `grounding_context` false, so a policy can require grounding only where context was
//! given (`grounding_context && !grounded`).

pub mod text;

use lucid_auditor_sdk::serde_json::{Value, json};
use lucid_auditor_sdk::text::evenly_spaced;
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Role, SettingSpec, Vocabulary,
};

use text::{Evidence, Normalizer, check, sentences};

/// Score at or above which `grounded` is true, unless configured otherwise.
pub const DEFAULT_THRESHOLD: f64 = 0.7;
/// Share of a sentence's content words that must occur in the sources, unless configured.
pub const DEFAULT_MIN_SUPPORT: f64 = 0.6;
/// Roles whose whole messages are context, unless configured: tool (and legacy function)
/// results.
pub const DEFAULT_CONTEXT_ROLES: [&str; 1] = ["tool"];
/// A sentence with fewer content words, and no number or name, states nothing to check
/// ("Sure, here it is.").
const MIN_CLAIM_WORDS: usize = 3;
/// At most this much context is read (hostile sizes must not blow the deadline); metadata says
/// when some was left unread.
pub const MAX_CONTEXT_BYTES: usize = 128 * 1024;
/// At most this much of the answer is judged (about 70 µs per KiB in wasm; even splitting a
/// 4 MiB answer into sentences would blow the deadline). A longer answer is read in pieces
/// spread evenly from its start to its end (the end always read, so text appended after a long
/// supported answer is judged); the unread rest counts as unsupported sentences, as many as
/// its length suggests, so an answer is never reported better grounded than what was read.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024;
/// A long answer is read in pieces of about this size.
const PIECE_BYTES: usize = 4 * 1024;
/// At most this many unsupported sentence indexes in the metadata (counts stay exact).
const MAX_LISTED: usize = 100;

const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

/// Tags that wrap retrieved text inside a message: `<context>…</context>`, `<document id=3>…`.
const CONTEXT_TAGS: &[&str] = &[
    "context",
    "contexts",
    "doc",
    "document",
    "documents",
    "knowledge",
    "passage",
    "passages",
    "reference",
    "references",
    "retrieved",
    "search_results",
    "source",
    "sources",
];

/// Labels that open a section of retrieved text inside a message ("Context:", "## Documents").
const CONTEXT_LABELS: &[&str] = &[
    "background",
    "context",
    "contexts",
    "document",
    "documents",
    "excerpts",
    "knowledge",
    "passage",
    "passages",
    "reference",
    "references",
    "retrieved",
    "search results",
    "source",
    "sources",
];

/// Labels that close such a section: what follows is the user's own request.
const END_LABELS: &[&str] = &[
    "instruction",
    "instructions",
    "query",
    "question",
    "task",
    "user question",
];

pub struct Grounding;

impl Auditor for Grounding {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "grounding",
            env!("CARGO_PKG_VERSION"),
            "Measures which share of the answer's sentences is supported by the context the \
             request gave: tool results, documents marked as context in messages (<context>, \
             <document> tags, 'Context:' sections) and a top-level documents array. Lexical \
             support: content-word overlap per sentence, and every number and name must occur \
             in the sources",
        )
        .phases([Phase::Response])
        .claim(ClaimSpec::new(
            "grounding_score",
            ClaimType::ScoreNormalized,
            "share of the answer's checkable sentences supported by the context (1 when the \
             answer states nothing checkable, 0 when there is no context); metadata: sentences, \
             supported, unsupported (sentence indexes, in the order the auditor splits the \
             answer; of a long answer, in the pieces read), skipped, unjudged (the sentences \
             estimated in the part of a long answer left unread for the cost bound, counted as \
             unsupported), missing_numbers, missing_entities, \
             context_sources, no_context, truncated",
        ))
        .claim(ClaimSpec::new(
            "grounded",
            ClaimType::Boolean,
            "grounding_score is at or above the threshold setting (false without context)",
        ))
        .claim(ClaimSpec::new(
            "grounding_context",
            ClaimType::Boolean,
            "the request carried context to ground the answer in",
        ))
        .setting(SettingSpec::number(
            "threshold",
            DEFAULT_THRESHOLD,
            "grounding_score at or above which grounded is true (0..=1)",
        ))
        .setting(SettingSpec::number(
            "min_support",
            DEFAULT_MIN_SUPPORT,
            "share of a sentence's content words that must occur in the context (0..=1)",
        ))
        .setting(SettingSpec::string_list(
            "context_roles",
            DEFAULT_CONTEXT_ROLES,
            "roles whose whole messages are context (system, developer, user, assistant, \
             tool); marked documents in other messages count too",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let settings = Settings::read(input)?;
        let mut truncated = false;

        let mut normalizer = Normalizer::default();
        let mut evidence = Evidence::default();
        let mut budget = MAX_CONTEXT_BYTES;
        let sources = context_texts(input, &settings.context_roles);
        for source in &sources {
            let taken = prefix(source, budget);
            truncated |= taken.len() < source.len();
            budget -= taken.len();
            evidence.add(taken, &mut normalizer);
        }
        let has_context = !evidence.is_empty();

        let answer = input.response_text().unwrap_or_default();
        let pieces = answer_pieces(answer);
        let read: usize = pieces.iter().map(|piece| piece.len()).sum();
        truncated |= read < answer.len();

        let mut report = Report::default();
        let all = pieces.into_iter().flat_map(sentences);
        for (index, sentence) in all.enumerate() {
            let check = check(sentence, &evidence, &mut normalizer);
            if !check.is_checkable(MIN_CLAIM_WORDS) {
                report.skipped += 1;
                continue;
            }
            report.sentences += 1;
            let (missing_numbers, missing_entities) =
                (check.missing_numbers, check.missing_entities);
            let support = check.support();
            report.missing_numbers += missing_numbers;
            report.missing_entities += missing_entities;
            if has_context
                && support >= settings.min_support
                && missing_numbers == 0
                && missing_entities == 0
            {
                report.supported += 1;
            } else {
                report.unsupported += 1;
                if report.listed.len() < MAX_LISTED {
                    report.listed.push(index);
                }
            }
        }

        if read < answer.len() {
            // The unread text, counted as sentences at the density of the text that was read
            // (at least one), all unsupported.
            let unread = (answer.len() - read) as u64;
            let density = report.sentences.max(1) as u64;
            report.unjudged = usize::try_from((unread * density).div_ceil(read.max(1) as u64))
                .unwrap_or(usize::MAX);
        }
        let score = if !has_context {
            0.0
        } else if report.sentences + report.unjudged == 0 {
            1.0
        } else {
            report.supported as f64 / (report.sentences + report.unjudged) as f64
        };
        let metadata = json!({
            "sentences": report.sentences,
            "supported": report.supported,
            "unsupported": report.listed,
            "skipped": report.skipped,
            "unjudged": report.unjudged,
            "missing_numbers": report.missing_numbers,
            "missing_entities": report.missing_entities,
            "context_sources": sources.len(),
            "no_context": !has_context,
            "truncated": truncated,
        });
        Ok(vec![
            Claim::score("grounding_score", score).with_metadata(metadata),
            Claim::boolean("grounded", has_context && score >= settings.threshold),
            Claim::boolean("grounding_context", has_context),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(Grounding);

#[derive(Default)]
struct Report {
    sentences: usize,
    supported: usize,
    unsupported: usize,
    skipped: usize,
    missing_numbers: usize,
    missing_entities: usize,
    listed: Vec<usize>,
    /// Sentences estimated in the text left unread for the cost bound; they count as
    /// unsupported.
    unjudged: usize,
}

/// The parts of the answer that are judged: all of it when it fits in [`MAX_ANSWER_BYTES`],
/// otherwise pieces of about [`PIECE_BYTES`]: the first at its start, the last at its end, the
/// others evenly spaced between.
fn answer_pieces(answer: &str) -> Vec<&str> {
    if answer.len() <= MAX_ANSWER_BYTES {
        return vec![answer];
    }
    evenly_spaced(answer, MAX_ANSWER_BYTES / PIECE_BYTES, PIECE_BYTES).collect()
}

struct Settings {
    threshold: f64,
    min_support: f64,
    context_roles: Vec<Role>,
}

impl Settings {
    fn read(input: &Input) -> Result<Self, Error> {
        let share = |name: &str, default: f64| {
            let value = input.settings().number(name).unwrap_or(default);
            if (0.0..=1.0).contains(&value) {
                Ok(value)
            } else {
                Err(Error::invalid_input(format!(
                    "setting '{name}' is {value}; expected a number in 0..=1"
                )))
            }
        };
        let context_roles = match input.settings().string_list("context_roles") {
            Some(names) => names
                .iter()
                .map(|name| parse_role(name))
                .collect::<Result<_, _>>()?,
            None => DEFAULT_CONTEXT_ROLES
                .iter()
                .map(|name| parse_role(name))
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            threshold: share("threshold", DEFAULT_THRESHOLD)?,
            min_support: share("min_support", DEFAULT_MIN_SUPPORT)?,
            context_roles,
        })
    }
}

fn parse_role(name: &str) -> Result<Role, Error> {
    match name {
        "system" => Ok(Role::System),
        "developer" => Ok(Role::Developer),
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        "tool" => Ok(Role::Tool),
        other => Err(Error::invalid_input(format!(
            "setting 'context_roles' has '{other}'; expected some of {}",
            ROLES.join(", ")
        ))),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The context the request carries: whole messages of the context roles, marked documents in
/// the other messages, and a top-level `documents` array (strings, or objects with a `text`,
/// `content`, `snippet` or `data` field).
fn context_texts<'a>(input: &'a Input, roles: &[Role]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for message in input.messages() {
        let role = match message.role() {
            Role::Function => &Role::Tool,
            role => role,
        };
        if roles.contains(role) {
            out.push(message.content());
        } else {
            out.extend(marked_documents(message.content()));
        }
    }
    if let Some(documents) = input
        .request_json()
        .get("documents")
        .and_then(Value::as_array)
    {
        for document in documents {
            let text = match document {
                Value::String(text) => Some(text.as_str()),
                Value::Object(fields) => ["text", "content", "snippet", "data"]
                    .iter()
                    .find_map(|key| fields.get(*key).and_then(Value::as_str)),
                _ => None,
            };
            out.extend(text);
        }
    }
    out.retain(|text| !text.trim().is_empty());
    out
}

/// Context marked inside a message: the inside of context tags (`<context>…</context>`, an
/// unclosed tag runs to the end), and sections opened by a context label line ("Context:",
/// "## Documents") up to a question/instruction label or the end of the message.
pub fn marked_documents(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let lowered = text.to_ascii_lowercase();
    // Tags. ASCII lowercasing keeps byte offsets, so they index `text` too.
    let mut at = 0;
    while let Some(open) = lowered[at..].find('<').map(|i| at + i) {
        let name_end = lowered[open + 1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(lowered.len(), |i| open + 1 + i);
        let name = &lowered[open + 1..name_end];
        let Some(close_angle) = lowered[name_end..].find('>').map(|i| name_end + i) else {
            break;
        };
        if CONTEXT_TAGS.contains(&name) && !lowered[name_end..close_angle].contains('<') {
            let body_start = close_angle + 1;
            let closing = format!("</{name}");
            let body_end = lowered[body_start..]
                .find(&closing)
                .map_or(text.len(), |i| body_start + i);
            out.push(&text[body_start..body_end]);
            at = body_end.max(body_start);
        } else {
            at = open + 1;
        }
    }
    // Labelled sections.
    let mut section_start: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let label = line
            .trim()
            .trim_start_matches(['#', '*', ' '])
            .trim_end_matches(['*', ' ']);
        let label = label.to_ascii_lowercase();
        let (head, rest) = match label.split_once(':') {
            Some((head, rest)) => (head.trim().to_owned(), rest.trim().to_owned()),
            None => (label.trim().to_owned(), String::new()),
        };
        let is_heading = label.contains(':') || line.trim_start().starts_with('#');
        if is_heading && END_LABELS.contains(&head.as_str()) {
            if let Some(start) = section_start.take() {
                out.push(&text[start..offset]);
            }
        } else if is_heading && CONTEXT_LABELS.contains(&head.as_str()) && section_start.is_none() {
            // "Context: the text…" on one line: the text starts after the colon.
            section_start = Some(if rest.is_empty() {
                offset + line.len()
            } else {
                offset + line.find(':').map_or(line.len(), |i| i + 1)
            });
        }
        offset += line.len();
    }
    if let Some(start) = section_start {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Observed {
        score: f64,
        grounded: bool,
        context: bool,
        metadata: Value,
    }

    fn observe(input: &Input) -> Observed {
        let claims = Grounding::observe(input).unwrap();
        Grounding::describe()
            .check_claims(input.phase(), &claims)
            .unwrap();
        Observed {
            score: claims[0].as_score().unwrap(),
            grounded: claims[1].as_boolean().unwrap(),
            context: claims[2].as_boolean().unwrap(),
            metadata: claims[0].metadata().cloned().unwrap_or(Value::Null),
        }
    }

    fn exchange(messages: Value, answer: &str) -> Input {
        let request = json!({ "model": "m", "messages": messages });
        let response =
            json!({ "choices": [{ "message": { "role": "assistant", "content": answer } }] });
        Input::new(Phase::Response, &request.to_string())
            .unwrap()
            .with_response(&response.to_string())
            .unwrap()
    }

    fn with_tool(result: &str, answer: &str) -> Input {
        exchange(
            json!([
                { "role": "user", "content": "What did the report say?" },
                { "role": "assistant", "content": null, "tool_calls": [
                    { "id": "c1", "type": "function", "function": { "name": "search", "arguments": "{}" } } ] },
                { "role": "tool", "tool_call_id": "c1", "content": result }
            ]),
            answer,
        )
    }

    const REPORT: &str = "The 2023 annual report of Acme Corp shows revenue of 4.2 billion dollars, \
        up 12% from 2022. Growth came mainly from the cloud division in Europe. The company \
        opened 3 new offices in Berlin, Madrid and Warsaw, and hired 1,200 engineers.";

    #[test]
    fn vocabulary_is_valid() {
        Grounding::describe().validate().unwrap();
    }

    #[test]
    fn a_faithful_answer_is_grounded() {
        let observed = observe(&with_tool(
            REPORT,
            "According to the report, Acme Corp's revenue was 4.2 billion dollars in 2023, up 12%. \
             Growth came mostly from the cloud division in Europe. It opened 3 offices, in Berlin, \
             Madrid and Warsaw, and hired 1,200 engineers.",
        ));
        assert_eq!(observed.score, 1.0, "{}", observed.metadata);
        assert!(observed.grounded && observed.context);
        assert_eq!(observed.metadata["unsupported"], json!([]));
    }

    #[test]
    fn invented_numbers_names_and_statements_are_unsupported() {
        let observed = observe(&with_tool(
            REPORT,
            "Acme Corp's revenue was 5.1 billion dollars in 2023. \
             The company opened new offices in Berlin, Madrid and Paris. \
             Its chief executive plans to take the firm private next spring. \
             Growth came mainly from the cloud division in Europe.",
        ));
        assert_eq!(observed.metadata["sentences"], 4);
        assert_eq!(observed.metadata["supported"], 1);
        assert_eq!(observed.metadata["unsupported"], json!([0, 1, 2]));
        assert!(observed.metadata["missing_numbers"].as_u64() >= Some(1));
        assert!(observed.metadata["missing_entities"].as_u64() >= Some(1));
        assert_eq!(observed.score, 0.25);
        assert!(!observed.grounded);
    }

    #[test]
    fn filler_sentences_are_not_counted() {
        let observed = observe(&with_tool(
            REPORT,
            "Sure! Here you go. Revenue was 4.2 billion dollars in 2023. I hope this helps!",
        ));
        assert_eq!(observed.metadata["sentences"], 1);
        assert_eq!(observed.metadata["skipped"], 3);
        assert_eq!(observed.score, 1.0);
    }

    #[test]
    fn no_context_is_reported_not_guessed() {
        let input = exchange(
            json!([{ "role": "user", "content": "Tell me about Lisbon." }]),
            "Lisbon is the capital of Portugal and lies on the Tagus river.",
        );
        let observed = observe(&input);
        assert_eq!(observed.score, 0.0);
        assert!(!observed.grounded && !observed.context);
        assert_eq!(observed.metadata["no_context"], true);
    }

    #[test]
    fn marked_documents_in_messages_are_context() {
        let tagged = exchange(
            json!([
                { "role": "system", "content": format!("Answer from the documents.\n<document id=\"1\">{REPORT}</document>") },
                { "role": "user", "content": "How many engineers were hired?" }
            ]),
            "Acme Corp hired 1,200 engineers in 2023.",
        );
        let observed = observe(&tagged);
        assert!(
            observed.context && observed.grounded,
            "{}",
            observed.metadata
        );
        let labelled = exchange(
            json!([{ "role": "user", "content": format!("Context:\n{REPORT}\n\nQuestion: where are the new offices?") }]),
            "The new offices are in Berlin, Madrid and Warsaw.",
        );
        assert!(observe(&labelled).grounded);
        let question_only = exchange(
            json!([{ "role": "user", "content": "Question: where are the new offices of Acme in Berlin?" }]),
            "The new offices are in Berlin, Madrid and Warsaw.",
        );
        assert!(!observe(&question_only).context);
        let documents = Input::new(
            Phase::Response,
            &json!({ "messages": [{ "role": "user", "content": "Summarise" }],
                     "documents": [{ "title": "r", "text": REPORT }, "Berlin is in Germany."] })
            .to_string(),
        )
        .unwrap()
        .with_response(&json!({ "choices": [{ "message": { "content": "Acme opened 3 offices, one in Berlin." } }] }).to_string())
        .unwrap();
        assert!(observe(&documents).grounded);
    }

    #[test]
    fn marked_documents_are_found() {
        let text =
            "Intro <context>alpha</context> mid <DOC id=2>beta</DOC> <b>bold</b> <source>gamma";
        assert_eq!(marked_documents(text), ["alpha", "beta", "gamma"]);
        let text = "You are helpful.\n## Sources\nfirst\nsecond\nInstructions: be brief\n";
        assert_eq!(marked_documents(text), ["first\nsecond\n"]);
        assert_eq!(marked_documents("Context: one line"), [" one line"]);
        assert!(marked_documents("no markers < here > at all").is_empty());
        assert!(marked_documents("<context").is_empty());
    }

    #[test]
    fn settings_change_the_decision_and_are_checked() {
        let answer = "Revenue was 4.2 billion dollars. Acme also launched a satellite programme.";
        let observed = observe(&with_tool(REPORT, answer));
        assert_eq!(observed.score, 0.5);
        assert!(!observed.grounded);
        assert!(observe(&with_tool(REPORT, answer).with_setting("threshold", 0.5)).grounded);
        let strict = with_tool(
            REPORT,
            "Revenue grew strongly thanks to the cloud division.",
        )
        .with_setting("min_support", 1.0);
        assert_eq!(observe(&strict).score, 0.0);
        for (name, value) in [("threshold", 2.0), ("min_support", -0.1)] {
            let err = Grounding::observe(&with_tool(REPORT, answer).with_setting(name, value))
                .unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{name}");
        }
        let err = Grounding::observe(
            &with_tool(REPORT, answer).with_setting("context_roles", vec!["bot".to_owned()]),
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(message) if message.contains("bot")));
        // The user's message as context.
        let user = exchange(
            json!([{ "role": "user", "content": REPORT }]),
            "Revenue was 4.2 billion dollars.",
        );
        assert!(!observe(&user).context);
        let user = user.with_setting("context_roles", vec!["user".to_owned()]);
        assert!(observe(&user).grounded);
    }

    #[test]
    fn edge_cases() {
        // Context, but an empty answer or one with nothing checkable: nothing is unsupported.
        let empty = observe(&with_tool(REPORT, ""));
        assert_eq!((empty.score, empty.grounded), (1.0, true));
        let code = observe(&with_tool(REPORT, "```python\nprint(4.2 * 1200)\n```"));
        assert_eq!(code.score, 1.0);
        // No response body at all (a tool-call-only answer).
        let input = Input::new(
            Phase::Response,
            &json!({ "messages": [{ "role": "tool", "content": REPORT }] }).to_string(),
        )
        .unwrap();
        assert_eq!(observe(&input).metadata["sentences"], 0);
    }

    #[test]
    fn hostile_sizes_and_unicode() {
        let context = "Zürich liegt in der Schweiz. 東京は日本の首都です。 ".repeat(50_000);
        let answer = "Zürich liegt in der Schweiz. ".repeat(10_000);
        let observed = observe(&with_tool(&context, &answer));
        assert_eq!(observed.metadata["truncated"], true);
        // Most of the answer is unread: it counts against it, never as grounded.
        assert!(observed.score < 0.2, "{}", observed.score);
        assert!(!observed.grounded);
        let emoji = observe(&with_tool("🙂🙂🙂", "🎉 Party time in Zürich!"));
        assert!(emoji.score < 1.0);
        let nul = observe(&with_tool("a\u{0}b", "\u{0}\u{0}"));
        assert_eq!(nul.metadata["sentences"], 0);
    }

    #[test]
    fn a_made_up_sentence_after_a_long_supported_answer_is_judged() {
        let mut answer = REPORT.repeat(35_000 / REPORT.len() + 1);
        answer.push_str(" The CEO Jane Doe was arrested for fraud in Lisbon in 2019.");
        let observed = observe(&with_tool(REPORT, &answer));
        assert_eq!(observed.metadata["truncated"], true);
        assert!(observed.score < 1.0, "{}", observed.score);
        assert!(
            observed.metadata["unjudged"]
                .as_u64()
                .is_some_and(|n| n > 0)
        );
        let last = observed.metadata["unsupported"]
            .as_array()
            .and_then(|l| l.last().cloned());
        assert!(last.is_some(), "{}", observed.metadata);
        // Fully read, the same supported text scores 1 and reports nothing unjudged.
        let short = REPORT.repeat(20_000 / REPORT.len());
        let observed = observe(&with_tool(REPORT, &short));
        assert_eq!(observed.score, 1.0);
        assert_eq!(observed.metadata["unjudged"], 0);
        assert_eq!(observed.metadata["truncated"], false);
    }

    #[test]
    fn long_answers_are_read_in_bounded_pieces_from_start_to_end() {
        let answer = format!("héllo wörld {}", REPORT.repeat(1 << 20 >> 8));
        let pieces = answer_pieces(&answer);
        let read: usize = pieces.iter().map(|piece| piece.len()).sum();
        assert!(read <= MAX_ANSWER_BYTES, "{read}");
        assert!(answer.starts_with(pieces[0]));
        assert!(
            answer
                .trim_end()
                .ends_with(pieces[pieces.len() - 1].trim_end())
        );
        let words: Vec<&str> = answer.split_whitespace().collect();
        for piece in &pieces {
            assert!(piece.split_whitespace().all(|word| words.contains(&word)));
        }
        assert_eq!(answer_pieces(REPORT), [REPORT]);
    }
}
