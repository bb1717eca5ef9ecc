//! The `toxicity` auditor: how toxic the user's messages (request phase) or the model's answer
//! (response phase) are, and what kind of toxicity they carry.
//!
//! Two layers, combined as independent evidence (`score = 1 - (1 - p) * Π(1 - w)`):
//!
//! - a compact logistic regression over hashed word and character n-grams ([`model`]),
//!   trained by `bench/quality/toxicity/train.py` on third-party labelled comments and compiled
//!   into the component (256 KiB of weights), which gives the probability `p`;
//! - lexicon and phrase rules ([`rules`]) that name the categories (threat, self-harm, sexual,
//!   hate, harassment, profanity) and add their weights `w` (the strongest per category).
//!
//! Long texts are scored in windows of 64 words and count as their worst window. A call reads at
//! most [`MAX_SCAN_BYTES`]; when the texts are longer, each gets a share (short ones are read
//! whole) and a long one is read in pieces spread from its start to its end (see [`plan`]), so
//! padding cannot push abuse out of sight. Metadata holds scores, categories and rule ids,
//! never the text.

pub mod model;
pub mod rules;

use std::collections::BTreeMap;

use lucid_auditor_sdk::serde_json::json;
use lucid_auditor_sdk::text::evenly_spaced;
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Role, SettingSpec, Vocabulary,
};

use model::{Model, sigmoid, tokenize};
use rules::{Category, Rules};

/// Score at or above which `toxic` is true, unless configured otherwise. Picked on the tune
/// split (best F1); see bench/quality/toxicity/DATASHEET.md.
pub const DEFAULT_THRESHOLD: f64 = 0.4;
/// Roles whose messages are scanned in the request phase, unless configured otherwise: what
/// the user wrote. The operator's system prompt may quote banned words on purpose, and earlier
/// assistant turns were audited in their own response phase.
pub const DEFAULT_ROLES: [&str; 1] = ["user"];
/// At most this much text is read per call (a hostile 10 MB message must not blow the
/// deadline); metadata says when text was left unread. The tokenizer and the rules cost about
/// as much as the model per byte, so neither can read everything of a 4 MiB message in time.
pub const MAX_SCAN_BYTES: usize = 64 * 1024;
/// At most this many texts are read per call (each costs a model pass of its own); past that,
/// the newest, the oldest and texts evenly spread between them.
pub const MAX_TEXTS: usize = 128;
/// A text longer than its share of [`MAX_SCAN_BYTES`] is read in pieces of about this size:
/// several 64-word windows each, so a sentence is seen whole.
const PIECE_BYTES: usize = 2 * 1024;
/// A rule category is listed in `toxic_categories` when its weight reaches this, or when the
/// text is toxic anyway (then even weak evidence such as one profane word names the kind).
const CATEGORY_MIN: f64 = 0.5;
/// Reported when the text is toxic but no rule named a category: only the model saw it.
const OTHER: &str = "other";

const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

pub struct Toxicity;

impl Auditor for Toxicity {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "toxicity",
            env!("CARGO_PKG_VERSION"),
            "Scores how toxic user messages (request) and model answers (response) are - hate, \
             harassment, threats, self-harm, sexual content, profanity - with a compact learned \
             classifier compiled into the component plus lexicon and phrase rules that name the \
             categories",
        )
        .phases([Phase::Request, Phase::Response])
        .claim(ClaimSpec::new(
            "toxicity",
            ClaimType::ScoreNormalized,
            "how toxic the worst scanned text is (0..=1); metadata: model (the classifier's \
             probability), categories (the strongest rule weight per category), rules (the ids \
             that fired), texts, tokens, truncated",
        ))
        .claim(ClaimSpec::new(
            "toxic",
            ClaimType::Boolean,
            "toxicity is at or above the threshold setting",
        ))
        .claim(ClaimSpec::new(
            "toxic_categories",
            ClaimType::StringList,
            "the kinds found, sorted: harassment, hate, profanity, self_harm, sexual, threat, and \
             other (toxic by the classifier alone); a category is listed when its rules weigh at \
             least 0.5, or at all when the text is toxic",
        ))
        .setting(SettingSpec::number(
            "threshold",
            DEFAULT_THRESHOLD,
            "toxicity at or above which toxic is true (0..=1)",
        ))
        .setting(SettingSpec::string_list(
            "roles",
            DEFAULT_ROLES,
            "request phase: the roles whose messages are scanned (system, developer, user, \
             assistant, tool)",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let model = Model::embedded().map_err(|err| Error::failed(err.to_string()))?;
        observe_with(input, &model)
    }
}

lucid_auditor_sdk::export_auditor!(Toxicity);

/// [`Toxicity::observe`] with another set of weights: the evaluation example scores each
/// cross-validation fold with the model that did not see it.
pub fn observe_with(input: &Input, model: &Model<'_>) -> Result<Vec<Claim>, Error> {
    let settings = Settings::read(input)?;
    let rules = Rules::new();

    let mut report = Report::default();
    let plan = plan(&scanned_texts(input, &settings.roles));
    report.texts = plan.texts;
    report.truncated = plan.truncated;
    for piece in plan.pieces {
        let tokens = tokenize(piece, piece.len());
        report.tokens += tokens.len();
        if tokens.is_empty() {
            continue;
        }
        let probability = sigmoid(model.logit(&tokens));
        let hits = rules.scan(&tokens);
        let mut per_category: BTreeMap<Category, f64> = BTreeMap::new();
        for hit in &hits {
            let weight = per_category.entry(hit.category).or_default();
            *weight = weight.max(hit.weight);
            if !report.rules.contains(&hit.rule) {
                report.rules.push(hit.rule);
            }
        }
        let clean = (1.0 - probability)
            * per_category
                .values()
                .map(|weight| 1.0 - weight)
                .product::<f64>();
        report.score = report.score.max(1.0 - clean);
        report.model = report.model.max(probability);
        for (category, weight) in per_category {
            let best = report.categories.entry(category).or_default();
            *best = best.max(weight);
        }
    }
    report.rules.sort_unstable();

    let toxic = report.score >= settings.threshold;
    let mut found: Vec<&str> = report
        .categories
        .iter()
        .filter(|&(_, &weight)| weight >= CATEGORY_MIN || (toxic && weight > 0.0))
        .map(|(category, _)| category.as_str())
        .collect();
    if toxic && found.is_empty() {
        found.push(OTHER);
    }
    found.sort_unstable();

    let categories: BTreeMap<&str, f64> = report
        .categories
        .iter()
        .map(|(category, weight)| (category.as_str(), round(*weight)))
        .collect();
    Ok(vec![
        Claim::score("toxicity", report.score).with_metadata(json!({
            "model": round(report.model),
            "categories": categories,
            "rules": report.rules,
            "texts": report.texts,
            "tokens": report.tokens,
            "truncated": report.truncated,
        })),
        Claim::boolean("toxic", toxic),
        Claim::string_list("toxic_categories", found),
    ])
}

struct Settings {
    threshold: f64,
    roles: Vec<Role>,
}

impl Settings {
    fn read(input: &Input) -> Result<Self, Error> {
        let threshold = input
            .settings()
            .number("threshold")
            .unwrap_or(DEFAULT_THRESHOLD);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(Error::invalid_input(format!(
                "setting 'threshold' is {threshold}; expected a number in 0..=1"
            )));
        }
        let roles = match input.settings().string_list("roles") {
            Some(names) => names
                .iter()
                .map(|name| parse_role(name))
                .collect::<Result<Vec<_>, _>>()?,
            None => DEFAULT_ROLES
                .iter()
                .map(|name| parse_role(name))
                .collect::<Result<_, _>>()?,
        };
        Ok(Self { threshold, roles })
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
            "setting 'roles' has '{other}'; expected some of {}",
            ROLES.join(", ")
        ))),
    }
}

/// Request phase: the messages of the configured roles (a legacy `function` message counts as
/// `tool`), newest first. Response phase: the model's answer.
fn scanned_texts<'a>(input: &'a Input, roles: &[Role]) -> Vec<&'a str> {
    match input.phase() {
        Phase::Request => input
            .messages()
            .iter()
            .rev()
            .filter(|message| {
                let role = match message.role() {
                    Role::Function => &Role::Tool,
                    role => role,
                };
                roles.contains(role)
            })
            .map(|message| message.content())
            .filter(|text| !text.is_empty())
            .collect(),
        Phase::Response => input.texts(),
        Phase::Artifact | Phase::Execution => Vec::new(),
    }
}

/// What one call reads: pieces of text, each scored on its own (a piece is a whole text when
/// the budget allows).
#[derive(Debug, Default)]
pub struct Plan<'a> {
    pub pieces: Vec<&'a str>,
    /// How many texts are read, in whole or in part.
    pub texts: usize,
    /// Some text was left unread.
    pub truncated: bool,
}

/// Spreads [`MAX_SCAN_BYTES`] over `texts` (most important first) so that no position is out
/// of reach by padding: when everything fits, everything is read whole (and nothing changes for
/// ordinary sizes); otherwise at most [`MAX_TEXTS`] texts are picked evenly, each gets a fair
/// share (water-filling: short texts are read whole, the long ones split what is left), and a
/// text longer than its share is read as its start, its end and evenly spaced pieces between.
/// What lies between the pieces of a huge text is not read; `truncated` says so.
pub fn plan<'a>(texts: &[&'a str]) -> Plan<'a> {
    let mut truncated = false;
    let picked: Vec<&'a str> = if texts.len() > MAX_TEXTS {
        truncated = true;
        let last = texts.len() - 1;
        (0..MAX_TEXTS)
            .filter_map(|i| texts.get(i * last / (MAX_TEXTS - 1)).copied())
            .collect()
    } else {
        texts.to_vec()
    };
    let total: usize = picked.iter().map(|text| text.len()).sum();
    if total <= MAX_SCAN_BYTES {
        return Plan {
            texts: picked.len(),
            pieces: picked,
            truncated,
        };
    }
    let mut by_length: Vec<usize> = (0..picked.len()).collect();
    by_length.sort_by_key(|&i| picked[i].len());
    let mut shares = vec![0; picked.len()];
    let mut left = MAX_SCAN_BYTES;
    for (rank, &i) in by_length.iter().enumerate() {
        let share = picked[i].len().min(left / (picked.len() - rank));
        shares[i] = share;
        left -= share;
    }
    let mut pieces = Vec::new();
    for (text, share) in picked.iter().zip(shares) {
        if share >= text.len() {
            pieces.push(*text);
        } else {
            truncated = true;
            pieces.extend(sample(text, share));
        }
    }
    Plan {
        texts: picked.len(),
        pieces,
        truncated,
    }
}

/// About `share` bytes of `text` (which is longer) in pieces of about [`PIECE_BYTES`]: the first
/// at its start, the last at its end, the others evenly spaced between.
fn sample(text: &str, share: usize) -> impl Iterator<Item = &str> {
    let count = (share / PIECE_BYTES).max(2);
    evenly_spaced(text, count, share / count)
}

#[derive(Default)]
struct Report {
    score: f64,
    model: f64,
    categories: BTreeMap<Category, f64>,
    rules: Vec<&'static str>,
    texts: usize,
    tokens: usize,
    truncated: bool,
}

/// Four decimals are plenty in a receipt, and keep it stable across float noise.
fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use lucid_auditor_sdk::serde_json::{Value, json};

    struct Observed {
        score: f64,
        toxic: bool,
        categories: Vec<String>,
        metadata: Value,
    }

    fn run(input: &Input) -> Observed {
        let claims = Toxicity::observe(input).unwrap();
        Toxicity::describe()
            .check_claims(input.phase(), &claims)
            .unwrap();
        Observed {
            score: claims[0].as_score().unwrap(),
            toxic: claims[1].as_boolean().unwrap(),
            categories: claims[2].as_string_list().unwrap().to_vec(),
            metadata: claims[0].metadata().cloned().unwrap_or(Value::Null),
        }
    }

    fn user(text: &str) -> Input {
        let body = json!({ "messages": [
            { "role": "system", "content": "You are a helpful assistant." },
            { "role": "user", "content": text }
        ] });
        Input::new(Phase::Request, &body.to_string()).unwrap()
    }

    fn answer(text: &str) -> Input {
        let request = json!({ "messages": [{ "role": "user", "content": "Tell me something." }] });
        let response =
            json!({ "choices": [{ "message": { "role": "assistant", "content": text } }] });
        Input::new(Phase::Response, &request.to_string())
            .unwrap()
            .with_response(&response.to_string())
            .unwrap()
    }

    #[test]
    fn vocabulary_is_valid() {
        Toxicity::describe().validate().unwrap();
    }

    #[test]
    fn benign_text_is_not_toxic() {
        for text in [
            "Can you help me write a Python function that sorts a list of tuples?",
            "What's the weather usually like in Lisbon in May?",
            "How do I kill the process that is holding port 8080?",
            "What are the warning signs of suicide and how can I support a friend?",
            "My doctor said the biopsy showed a benign tumour. What happens next?",
            "Write a short story about a detective who hunts down a serial killer.",
            "Thanks, that was really helpful!",
        ] {
            let observed = run(&user(text));
            assert!(!observed.toxic, "{text}: {}", observed.score);
            assert!(
                observed.categories.is_empty(),
                "{text}: {:?}",
                observed.categories
            );
        }
    }

    #[test]
    fn abuse_is_toxic_with_its_category() {
        for (text, category) in [
            (
                "You are a worthless piece of shit and everyone hates you",
                "harassment",
            ),
            ("I will find you and I will kill you", "threat"),
            ("go kill yourself, nobody would miss you", "self_harm"),
            ("send me your nudes right now", "sexual"),
            ("immigrants are vermin and should be deported", "hate"),
        ] {
            let observed = run(&user(text));
            assert!(observed.toxic, "{text}: {}", observed.score);
            assert!(
                observed.categories.iter().any(|c| c == category),
                "{text}: {:?}",
                observed.categories
            );
        }
    }

    #[test]
    fn responses_are_scanned() {
        let observed = run(&answer(
            "Shut up, you pathetic idiot. Nobody cares about you.",
        ));
        assert!(observed.toxic, "{}", observed.score);
        assert!(observed.categories.iter().any(|c| c == "harassment"));
        let observed = run(&answer(
            "To stop a runaway job, find its PID with `ps aux | grep job` and kill it with \
             `kill -9 PID`.",
        ));
        assert!(!observed.toxic, "{}", observed.score);
    }

    #[test]
    fn only_configured_roles_are_scanned_in_the_request_phase() {
        let body = json!({ "messages": [
            { "role": "system", "content": "Never say: you stupid idiot, fuck off." },
            { "role": "user", "content": "hello" },
            { "role": "tool", "content": "you are a fucking moron, kill yourself" }
        ] });
        let input = Input::new(Phase::Request, &body.to_string()).unwrap();
        assert!(!run(&input).toxic);
        let input = input.with_setting("roles", vec!["user".to_owned(), "tool".to_owned()]);
        let observed = run(&input);
        assert!(observed.toxic);
        assert_eq!(observed.metadata["texts"], 2);
    }

    #[test]
    fn threshold_setting_moves_the_decision() {
        let text = "this is so damn stupid";
        let score = run(&user(text)).score;
        assert!(run(&user(text).with_setting("threshold", 0.0)).toxic);
        assert!(!run(&user(text).with_setting("threshold", 1.0)).toxic || score >= 1.0);
        let err = Toxicity::observe(&user(text).with_setting("threshold", 1.5)).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)));
        let err = Toxicity::observe(&user(text).with_setting("roles", vec!["robot".to_owned()]))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(message) if message.contains("robot")));
    }

    #[test]
    fn metadata_never_holds_the_text() {
        let observed = run(&user("you are a disgusting moron"));
        let metadata = observed.metadata.to_string();
        assert!(!metadata.contains("moron"), "{metadata}");
        assert!(
            observed.metadata["rules"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        );
        assert!(observed.metadata["model"].as_f64().is_some());
    }

    #[test]
    fn edge_cases() {
        let empty = Input::new(Phase::Request, r#"{"messages":[]}"#).unwrap();
        let observed = run(&empty);
        assert_eq!((observed.score, observed.toxic), (0.0, false));
        assert!(observed.categories.is_empty());
        let blank = run(&user("   \n\t  "));
        assert_eq!(blank.score, 0.0);
        let punctuation = run(&user("?!?!... --- ***"));
        assert!(!punctuation.toxic);
        let no_response = Input::new(Phase::Response, r#"{"messages":[]}"#).unwrap();
        assert_eq!(run(&no_response).score, 0.0);
    }

    #[test]
    fn unicode_and_obfuscation() {
        for text in [
            "日本語のテキストです。よろしくお願いします。",
            "Ünïcödé façade naïve café — “quotes” and emoji 😀🎉",
            "مرحبا كيف حالك",
        ] {
            assert!(!run(&user(text)).toxic, "{text}");
        }
        for text in [
            "y0u are a f*cking 1d10t",
            "ｙｏｕ ａｒｅ ａ ｆｕｃｋｉｎｇ ｉｄｉｏｔ",
            "you are a f\u{200B}ucking idiot",
        ] {
            assert!(run(&user(text)).toxic, "{text}");
        }
    }

    #[test]
    fn huge_inputs_are_bounded_and_abuse_in_them_is_found() {
        let filler = "The quarterly report covers revenue, costs and the outlook for next year. ";
        let mut text = filler.repeat(2000);
        text.push_str("You are a fucking idiot and I will kill you.");
        text.push_str(&filler.repeat(2000));
        let observed = run(&user(&text));
        assert!(observed.metadata["truncated"].as_bool() == Some(true) || observed.toxic);
        let small = format!(
            "{}You are a fucking idiot and I will kill you.",
            filler.repeat(100)
        );
        let observed = run(&user(&small));
        assert!(observed.toxic, "{}", observed.score);
        assert!(observed.categories.iter().any(|c| c == "threat"));
        let huge = "a".repeat(3 * MAX_SCAN_BYTES);
        let observed = run(&user(&huge));
        assert_eq!(observed.metadata["truncated"], true);
        assert!(!observed.toxic);
    }

    const INSULT: &str = "You are a worthless idiot and I will kill you";

    fn padding(bytes: usize) -> String {
        let filler = "The quarterly report covers revenue, costs and the outlook for next year. ";
        filler.repeat(bytes / filler.len() + 1)
    }

    #[test]
    fn padding_in_an_earlier_message_does_not_hide_a_later_insult() {
        assert!(run(&user(INSULT)).toxic);
        let body = json!({ "messages": [
            { "role": "user", "content": padding(70_000) },
            { "role": "assistant", "content": "ok" },
            { "role": "user", "content": INSULT }
        ] });
        let observed = run(&Input::new(Phase::Request, &body.to_string()).unwrap());
        assert!(observed.toxic, "{}", observed.score);
        assert_eq!(observed.metadata["truncated"], true);
        assert_eq!(observed.metadata["texts"], 2);
    }

    #[test]
    fn padding_before_or_after_an_insult_in_one_message_does_not_hide_it() {
        for text in [
            format!("{}{INSULT}", padding(70_000)),
            format!("{INSULT}. {}", padding(70_000)),
            format!("{}{INSULT}", padding(4 << 20)),
        ] {
            let observed = run(&user(&text));
            assert!(observed.toxic, "{}", observed.score);
            assert_eq!(observed.metadata["truncated"], true);
        }
    }

    #[test]
    fn a_padded_answer_does_not_hide_an_insult() {
        let observed = run(&answer(&format!("{}{INSULT}", padding(70_000))));
        assert!(observed.toxic, "{}", observed.score);
        assert_eq!(observed.metadata["truncated"], true);
    }

    #[test]
    fn many_messages_are_sampled_with_the_oldest_and_newest() {
        let mut messages = vec![json!({ "role": "user", "content": INSULT })];
        messages.extend((0..400).map(|_| json!({ "role": "user", "content": padding(500) })));
        let body = json!({ "messages": messages });
        let observed = run(&Input::new(Phase::Request, &body.to_string()).unwrap());
        assert!(observed.toxic, "{}", observed.score);
        assert_eq!(observed.metadata["texts"], MAX_TEXTS);
        assert_eq!(observed.metadata["truncated"], true);
    }

    #[test]
    fn plans_are_bounded_and_cut_no_words() {
        let small = ["hello there", "a short message"];
        let plan = plan(&small);
        assert_eq!(plan.pieces, small);
        assert!(!plan.truncated);
        let long = format!("héllo wörld {}", padding(1 << 20));
        let short = padding(3000);
        let plan = super::plan(&[&short, &long]);
        assert!(plan.truncated);
        assert_eq!(plan.texts, 2);
        assert_eq!(plan.pieces[0], short);
        let read: usize = plan.pieces.iter().map(|piece| piece.len()).sum();
        assert!(read <= MAX_SCAN_BYTES, "{read}");
        assert!(plan.pieces.len() <= MAX_SCAN_BYTES / PIECE_BYTES + 2);
        assert!(long.starts_with(plan.pieces[1]));
        assert!(
            long.trim_end()
                .ends_with(plan.pieces[plan.pieces.len() - 1].trim_end())
        );
        let words: Vec<&str> = long.split_whitespace().collect();
        for piece in &plan.pieces {
            assert!(
                piece.split_whitespace().all(|word| words.contains(&word)),
                "{piece}"
            );
        }
    }
}
