//! The `model_card` auditor: does the model have a model card with the transparency fields a
//! deployer must be able to show (who made it, what it is for, what it cannot do, what it was
//! trained and evaluated on, under which licence)?
//!
//! Cards are configured in the `cards` setting, JSON text mapping a model id (as clients send it
//! in `model`) to its card:
//!
//! ```json
//! {"gpt-4o": {"model_name": "GPT-4o", "provider": "OpenAI", "version": "2024-08-06",
//!             "intended_use": "...", "limitations": "...", "training_data": "...",
//!             "evaluation": {"mmlu": 0.887}, "license": "proprietary"},
//!  "llama-3-*": {...}}
//! ```
//!
//! A key ending in `*` is the card of every model id starting with the rest (`gpt-4o-2024-*`
//! covers dated snapshots; `*` alone is a default card); an exact key wins, then the same key in
//! another case, then the longest prefix.
//!
//! - **request phase**: the card of the request's `model`;
//! - **artifact phase**: every configured card (`missing_fields` is then the union, and the
//!   metadata names the incomplete models).
//!
//! A field is present when its value says something: `null`, blank strings (whitespace and
//! invisible format characters only), and arrays or objects with nothing present inside are
//! missing; numbers and booleans are present. Field names match case-insensitively, with `-`
//! and spaces read as `_`; a dotted name (`evaluation.metrics`) looks inside objects. A model
//! without a card misses every required field, and so does the artifact phase when no card is
//! configured at all. An empty `required_fields` makes every card complete.
//!
//! A `cards` setting that is not a JSON object of objects, or a malformed `required_fields`,
//! fails the call (`invalid-input`, naming the setting and the model or entry): a card that
//! cannot be read must not pass for a complete one.

use lucid_auditor_sdk::serde_json::{Map, Value, json};
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, SettingSpec, Vocabulary,
};

/// The fields a card must fill when `required_fields` is not configured: the common core of
/// model-card templates (Mitchell et al. 2019, Hugging Face) and of the transparency duties of
/// the EU AI Act (Annex XI/XII).
pub const DEFAULT_REQUIRED_FIELDS: [&str; 8] = [
    "model_name",
    "provider",
    "version",
    "intended_use",
    "limitations",
    "training_data",
    "evaluation",
    "license",
];

/// The `cards` setting is parsed on every call (each call is a fresh instance); beyond this it
/// is refused rather than slowing every exchange down.
pub const MAX_CARDS_BYTES: usize = 1 << 20;

/// At most this many required fields, each at most [`MAX_FIELD_CHARS`] long.
pub const MAX_REQUIRED_FIELDS: usize = 256;
pub const MAX_FIELD_CHARS: usize = 128;

/// Model ids in metadata are cut to this many characters: the request's `model` is the
/// client's, and could be arbitrarily long.
const MAX_MODEL_CHARS: usize = 128;

/// The artifact phase's metadata names at most this many incomplete models.
const MAX_LISTED_MODELS: usize = 64;

pub struct ModelCard;

impl Auditor for ModelCard {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "model_card",
            env!("CARGO_PKG_VERSION"),
            "Checks that the model's card (setting 'cards') fills the required transparency \
             fields: provider, version, intended use, limitations, training data, evaluation, \
             licence...; per request for the requested model, and for every card in the \
             artifact phase",
        )
        .phases([Phase::Artifact, Phase::Request])
        .claim(ClaimSpec::new(
            "model_card_complete",
            ClaimType::Boolean,
            "the card (request: of the requested model; artifact: every configured card) fills \
             every required field; false for a model without a card",
        ))
        .claim(ClaimSpec::new(
            "missing_fields",
            ClaimType::StringList,
            "required fields that are absent or blank, in required_fields order (artifact: over \
             all cards); every required field when there is no card",
        ))
        .setting(SettingSpec::string(
            "cards",
            "",
            "model cards as JSON text: {\"model-id\": {\"provider\": \"...\", ...}}; a key \
             ending in '*' covers every model id with that prefix",
        ))
        .setting(SettingSpec::string_list(
            "required_fields",
            DEFAULT_REQUIRED_FIELDS,
            "fields every card must fill (case-insensitive; 'a.b' looks inside object 'a')",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let settings = input.settings();
        let required = match settings.string_list("required_fields") {
            Some(list) => parse_required(list)?,
            None => DEFAULT_REQUIRED_FIELDS.map(str::to_owned).to_vec(),
        };
        let cards = Cards::parse(settings.string("cards").unwrap_or_default())?;
        match input.phase() {
            Phase::Artifact => Ok(check_all(&cards, &required)),
            Phase::Request => Ok(check_request(input, &cards, &required)),
            other => Err(Error::invalid_input(format!(
                "model_card observes the artifact and request phases, not the {} phase",
                other.as_str()
            ))),
        }
    }
}

lucid_auditor_sdk::export_auditor!(ModelCard);

/// The required fields of `card` that are missing, in `required` order.
pub fn missing_fields<'r>(card: &Map<String, Value>, required: &'r [String]) -> Vec<&'r str> {
    required
        .iter()
        .filter(|field| !lookup(card, field).is_some_and(is_present))
        .map(String::as_str)
        .collect()
}

fn check_request(input: &Input, cards: &Cards, required: &[String]) -> Vec<Claim> {
    let model = input
        .request_json()
        .get("model")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|model| !model.is_empty());
    let card = model.and_then(|model| cards.find(model));
    let missing: Vec<&str> = match card {
        Some((_, card)) => missing_fields(card, required),
        None => required.iter().map(String::as_str).collect(),
    };
    let evidence = json!({
        "model": model.map(|model| excerpt(model, MAX_MODEL_CHARS)),
        "card": card.map(|(key, _)| excerpt(key, MAX_MODEL_CHARS)),
        "required": required.len(),
    });
    claims(missing.is_empty() && card.is_some(), missing, evidence)
}

fn check_all(cards: &Cards, required: &[String]) -> Vec<Claim> {
    if cards.is_empty() {
        let missing = required.iter().map(String::as_str).collect();
        let evidence = json!({
            "cards": 0,
            "required": required.len(),
            "note": "no model cards configured: set 'cards'",
        });
        return claims(false, missing, evidence);
    }
    let mut union = vec![false; required.len()];
    let mut incomplete = Map::new();
    let mut incomplete_count = 0usize;
    for (model, card) in cards.iter() {
        let missing = missing_fields(card, required);
        if missing.is_empty() {
            continue;
        }
        for field in &missing {
            if let Some(index) = required.iter().position(|r| r == field) {
                union[index] = true;
            }
        }
        incomplete_count += 1;
        if incomplete.len() < MAX_LISTED_MODELS {
            incomplete.insert(excerpt(model, MAX_MODEL_CHARS), json!(missing));
        }
    }
    let missing: Vec<&str> = required
        .iter()
        .zip(&union)
        .filter(|(_, missing)| **missing)
        .map(|(field, _)| field.as_str())
        .collect();
    let evidence = json!({
        "cards": cards.len(),
        "required": required.len(),
        "incomplete_cards": incomplete_count,
        "incomplete": incomplete,
    });
    claims(missing.is_empty(), missing, evidence)
}

fn claims(complete: bool, missing: Vec<&str>, evidence: Value) -> Vec<Claim> {
    vec![
        Claim::boolean("model_card_complete", complete).with_metadata(evidence),
        Claim::string_list("missing_fields", missing),
    ]
}

/// The configured cards, by model id (in key order: serde_json's map is sorted).
#[derive(Debug, Default)]
struct Cards {
    cards: Map<String, Value>,
}

impl Cards {
    fn parse(text: &str) -> Result<Self, Error> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        if text.len() > MAX_CARDS_BYTES {
            return Err(Error::invalid_input(format!(
                "setting 'cards' is {} bytes; at most {MAX_CARDS_BYTES} are read",
                text.len()
            )));
        }
        let value: Value = lucid_auditor_sdk::serde_json::from_str(text).map_err(|err| {
            Error::invalid_input(format!(
                "setting 'cards' is not valid JSON ({err}); expected {{\"model-id\": {{card fields}}}}"
            ))
        })?;
        let Value::Object(cards) = value else {
            return Err(Error::invalid_input(
                "setting 'cards' is not a JSON object; expected {\"model-id\": {card fields}}",
            ));
        };
        if let Some((model, _)) = cards.iter().find(|(_, card)| !card.is_object()) {
            return Err(Error::invalid_input(format!(
                "setting 'cards': the card of '{}' is not a JSON object",
                excerpt(model, 64).escape_debug()
            )));
        }
        Ok(Self { cards })
    }

    fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }

    fn len(&self) -> usize {
        self.cards.len()
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &Map<String, Value>)> {
        self.cards
            .iter()
            .filter_map(|(model, card)| Some((model.as_str(), card.as_object()?)))
    }

    /// The card of `model`: the exact key, else the same key in another case, else the longest
    /// `prefix*` key.
    fn find(&self, model: &str) -> Option<(&str, &Map<String, Value>)> {
        let exact = self
            .cards
            .get_key_value(model)
            .and_then(|(key, card)| Some((key.as_str(), card.as_object()?)));
        exact
            .or_else(|| self.iter().find(|(key, _)| key.eq_ignore_ascii_case(model)))
            .or_else(|| {
                self.iter()
                    .filter_map(|(key, card)| {
                        let prefix = key.strip_suffix('*')?;
                        starts_with_ignore_case(model, prefix).then_some((key, card, prefix.len()))
                    })
                    .max_by_key(|(_, _, length)| *length)
                    .map(|(key, card, _)| (key, card))
            })
    }
}

/// Validates and normalizes `required_fields`, keeping the first of duplicates.
fn parse_required(list: &[String]) -> Result<Vec<String>, Error> {
    if list.len() > MAX_REQUIRED_FIELDS {
        return Err(Error::invalid_input(format!(
            "setting 'required_fields' has {} entries; at most {MAX_REQUIRED_FIELDS}",
            list.len()
        )));
    }
    let mut required: Vec<String> = Vec::with_capacity(list.len());
    for (index, raw) in list.iter().enumerate() {
        let field = normalize_name(raw);
        let well_formed = !field.is_empty()
            && field.chars().count() <= MAX_FIELD_CHARS
            && field.split('.').all(|part| !part.is_empty());
        if !well_formed {
            return Err(Error::invalid_input(format!(
                "setting 'required_fields' entry {index} ('{}') is not a field name: expected \
                 1 to {MAX_FIELD_CHARS} characters, dots only between names",
                excerpt(raw, 64).escape_debug()
            )));
        }
        if !required.contains(&field) {
            required.push(field);
        }
    }
    Ok(required)
}

/// Field names compare trimmed, ASCII-lowercase, with `-` and spaces as `_`: `Intended Use`,
/// `intended-use` and `intended_use` are one field.
fn normalize_name(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The value of `field` (normalized) in `card`: a key of that name, else a dotted path.
fn lookup<'a>(card: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    let key = |object: &'a Map<String, Value>, name: &str| {
        object
            .iter()
            .find(|(key, _)| normalize_name(key) == name)
            .map(|(_, value)| value)
    };
    key(card, field).or_else(|| {
        let mut parts = field.split('.');
        let first = key(card, parts.next()?)?;
        parts.try_fold(first, |value, part| key(value.as_object()?, part))
    })
}

/// Whether a value says something (see the crate docs).
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(_) | Value::Number(_) => true,
        Value::String(text) => !is_blank(text),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(fields) => fields.values().any(is_present),
    }
}

/// Whitespace and invisible format characters only (zero-width spaces and joiners, bidi marks,
/// word joiners, the BOM, soft hyphens): text that shows nothing.
fn is_blank(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_whitespace()
            || matches!(c,
                '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
    })
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// At most `max` characters of `text`, for metadata and error messages.
fn excerpt(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let mut shown: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests;
