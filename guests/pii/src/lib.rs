//! The `pii` auditor: reports whether an exchange carries personal data (emails, phone numbers,
//! payment cards, IBANs, US social security numbers).
//!
//! Evidence never contains the matched values, only their kinds and counts: receipts must not
//! become a second copy of the data they flag.

mod scan;

use std::collections::BTreeMap;

use lucid_auditor_sdk::serde_json::json;
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, ToolCallOrigin, Vocabulary,
};

pub use scan::{Kind, scan};

pub struct Pii;

impl Auditor for Pii {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "pii",
            env!("CARGO_PKG_VERSION"),
            "Detects personal data in prompts and responses: email addresses, phone numbers, \
             Luhn-valid payment card numbers, mod-97-valid IBANs and US social security numbers",
        )
        .phases([Phase::Request, Phase::Response])
        .claim(ClaimSpec::new(
            "pii_detected",
            ClaimType::Boolean,
            "at least one piece of personal data was found",
        ))
        .claim(ClaimSpec::new(
            "pii_entities",
            ClaimType::StringList,
            "the distinct kinds found, sorted: credit_card, email, iban, phone, us_ssn",
        ))
        .claim(ClaimSpec::new(
            "pii_count",
            ClaimType::Count,
            "the number of matches; metadata.kinds counts them per kind",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        for text in scanned_texts(input) {
            for kind in scan(text) {
                *counts.entry(kind.as_str()).or_default() += 1;
            }
        }
        let total = counts.values().sum();
        Ok(vec![
            Claim::boolean("pii_detected", total > 0),
            // BTreeMap keys are already sorted and distinct.
            Claim::string_list("pii_entities", counts.keys().copied()),
            Claim::count("pii_count", total).with_metadata(json!({ "kinds": counts })),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(Pii);

/// The phase's text plus the arguments of the tool calls that belong to it: personal data sent
/// to or produced for a tool is as sensitive as data in a message.
fn scanned_texts(input: &Input) -> Vec<&str> {
    let mut texts = input.texts();
    let phase = input.phase();
    texts.extend(
        input
            .tool_calls()
            .iter()
            .filter(|call| match call.origin() {
                ToolCallOrigin::Request { .. } => phase == Phase::Request,
                ToolCallOrigin::Response { .. } => phase == Phase::Response,
            })
            .map(|call| call.arguments()),
    );
    texts
}

#[cfg(test)]
mod tests {
    use super::*;
    use lucid_auditor_sdk::serde_json::{Value, json};

    fn request(content: &str) -> Input {
        let body = json!({ "messages": [{ "role": "user", "content": content }] });
        Input::new(Phase::Request, &body.to_string()).unwrap()
    }

    fn observe(input: &Input) -> Vec<Claim> {
        let claims = Pii::observe(input).unwrap();
        Pii::describe()
            .check_claims(input.phase(), &claims)
            .unwrap();
        claims
    }

    #[test]
    fn vocabulary_is_valid() {
        Pii::describe().validate().unwrap();
    }

    #[test]
    fn clean_text_reports_nothing() {
        let claims = observe(&request(
            "What is the capital of France? I have 3 cats and 12345 apples.",
        ));
        assert_eq!(claims[0].as_boolean(), Some(false));
        assert_eq!(claims[1].as_string_list(), Some(&[][..]));
        assert_eq!(claims[2].as_count(), Some(0));
    }

    #[test]
    fn every_kind_is_reported_sorted_and_counted() {
        let text = "Mail ann@example.com or bob@example.org, call (555) 123-4567, card 4111 1111 1111 1111, \
                    IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789.";
        let claims = observe(&request(text));
        assert_eq!(claims[0].as_boolean(), Some(true));
        let kinds: Vec<&str> = claims[1]
            .as_string_list()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(kinds, ["credit_card", "email", "iban", "phone", "us_ssn"]);
        assert_eq!(claims[2].as_count(), Some(6));
        assert_eq!(claims[2].metadata().unwrap()["kinds"]["email"], 2);
    }

    #[test]
    fn evidence_never_contains_the_values() {
        let claims = observe(&request(
            "reach me at jane.doe@example.com or +44 20 7946 0958",
        ));
        for claim in &claims {
            let rendered = format!(
                "{:?}{}",
                claim.value(),
                claim.metadata().unwrap_or(&Value::Null)
            );
            assert!(!rendered.contains("jane"), "{rendered}");
            assert!(!rendered.contains("7946"), "{rendered}");
        }
    }

    #[test]
    fn the_response_phase_scans_the_response_and_its_tool_calls() {
        let response = json!({ "choices": [{ "message": {
            "role": "assistant",
            "content": "Sure, the number is +1 415 555 2671.",
            "tool_calls": [{ "id": "c1", "type": "function",
                "function": { "name": "email", "arguments": "{\"to\":\"ops@example.net\"}" } }]
        } }] });
        let input = Input::new(
            Phase::Response,
            r#"{"messages":[{"role":"user","content":"my ssn is 123-45-6789"}]}"#,
        )
        .unwrap()
        .with_response(&response.to_string())
        .unwrap();
        let claims = observe(&input);
        let kinds: Vec<&str> = claims[1]
            .as_string_list()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        // The request's SSN belongs to the request phase, not this one.
        assert_eq!(kinds, ["email", "phone"]);
    }

    #[test]
    fn the_request_phase_scans_every_message_and_earlier_tool_calls() {
        let body = json!({ "messages": [
            { "role": "system", "content": "Escalate to 020 7946 0958." },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "c1", "type": "function",
                "function": { "name": "pay", "arguments": "{\"card\":\"5500-0000-0000-0004\"}" } }] },
            { "role": "user", "content": [{ "type": "text", "text": "thanks" }] }
        ] });
        let claims = observe(&Input::new(Phase::Request, &body.to_string()).unwrap());
        let kinds: Vec<&str> = claims[1]
            .as_string_list()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(kinds, ["credit_card", "phone"]);
    }

    #[test]
    fn invalid_json_is_invalid_input() {
        assert!(matches!(
            Input::new(Phase::Request, "{"),
            Err(Error::InvalidInput(_))
        ));
    }
}
