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

fn entities(claims: &[Claim]) -> Vec<&str> {
    claims[1]
        .as_string_list()
        .unwrap()
        .iter()
        .map(String::as_str)
        .collect()
}

fn spans(claims: &[Claim]) -> &Vec<Value> {
    claims[1].metadata().unwrap()["spans"].as_array().unwrap()
}

/// The text a span points at, found the way a redactor would: through the SDK's views.
fn spanned<'a>(input: &'a Input, span: &Value) -> &'a str {
    let index = usize::try_from(span["index"].as_u64().unwrap()).unwrap();
    let text = match span["source"].as_str().unwrap() {
        "message" => input.messages()[index].content(),
        "response" => input.response_text().unwrap(),
        "tool_call" => input.tool_calls()[index].arguments(),
        other => panic!("unknown source {other}"),
    };
    let start = usize::try_from(span["start"].as_u64().unwrap()).unwrap();
    let end = usize::try_from(span["end"].as_u64().unwrap()).unwrap();
    &text[start..end]
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
    assert_eq!(spans(&claims).len(), 0);
}

#[test]
fn every_kind_is_reported_sorted_and_counted() {
    let text = "Mail ann@example.com or bob@example.org, call (555) 123-4567, card 4111 1111 1111 1111, \
                IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789, host 10.0.0.7, \
                key AKIAIOSFODNN7EXAMPLE, DB_PASSWORD=Sx9#kd82Ld0q, \
                jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n\
                -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    let claims = observe(&request(text));
    assert_eq!(claims[0].as_boolean(), Some(true));
    assert_eq!(
        entities(&claims),
        [
            "api_key",
            "credit_card",
            "email",
            "iban",
            "ip_address",
            "jwt",
            "phone",
            "private_key",
            "secret",
            "us_ssn"
        ]
    );
    assert_eq!(claims[2].as_count(), Some(11));
    assert_eq!(claims[2].metadata().unwrap()["kinds"]["email"], 2);
}

#[test]
fn spans_locate_each_value_in_the_text_the_sdk_gives() {
    let body = json!({ "messages": [
        { "role": "system", "content": "Escalate to 020 7946 0958." },
        { "role": "assistant", "content": null, "tool_calls": [{ "id": "c1", "type": "function",
            "function": { "name": "pay", "arguments": "{\"card\":\"5500-0000-0000-0004\"}" } }] },
        { "role": "user", "content": [
            { "type": "text", "text": "Grüße 🙂" },
            { "type": "text", "text": "mail jörg.k@example.de" }
        ] }
    ] });
    let input = Input::new(Phase::Request, &body.to_string()).unwrap();
    let claims = observe(&input);
    let found: Vec<(&str, &str, &str)> = spans(&claims)
        .iter()
        .map(|span| {
            (
                span["kind"].as_str().unwrap(),
                span["source"].as_str().unwrap(),
                spanned(&input, span),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("phone", "message", "020 7946 0958"),
            ("email", "message", "jörg.k@example.de"),
            ("credit_card", "tool_call", "5500-0000-0000-0004"),
        ]
    );
    assert_eq!(spans(&claims)[1]["index"], 2);
    assert_eq!(claims[1].metadata().unwrap()["spans_truncated"], false);
}

/// What a proposed span covers, found the way the host does: the JSON pointer into the body.
fn proposed<'a>(body: &'a Value, span: &Span) -> &'a str {
    let text = body.pointer(&span.field).and_then(Value::as_str).unwrap();
    &text[span.start as usize..span.end as usize]
}

#[test]
fn every_match_is_proposed_for_masking_where_it_sits_in_the_body() {
    let body = json!({ "messages": [
        { "role": "system", "content": "Escalate to 020 7946 0958." },
        { "role": "assistant", "content": null, "tool_calls": [{ "id": "c1", "type": "function",
            "function": { "name": "pay", "arguments": "{\"card\":\"5500-0000-0000-0004\"}" } }] },
        { "role": "user", "content": [
            { "type": "text", "text": "Grüße 🙂" },
            { "type": "text", "text": "mail jörg.k@example.de" }
        ] }
    ] });
    let input = Input::new(Phase::Request, &body.to_string()).unwrap();
    let claims = observe(&input);
    let found: Vec<(&str, &str, &str, Option<&str>)> = claims[1]
        .spans()
        .iter()
        .map(|s| {
            (
                s.kind.as_str(),
                s.field.as_str(),
                proposed(&body, s),
                s.label.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "phone",
                "/messages/0/content",
                "020 7946 0958",
                Some("[PHONE]")
            ),
            (
                "email",
                "/messages/2/content/1/text",
                "jörg.k@example.de",
                Some("[EMAIL]")
            ),
            (
                "credit_card",
                "/messages/1/tool_calls/0/function/arguments",
                "5500-0000-0000-0004",
                Some("[CREDIT_CARD]")
            ),
        ]
    );
    // The other claims propose nothing.
    assert!(claims[0].spans().is_empty() && claims[2].spans().is_empty());

    let answer = json!({ "choices": [
        { "index": 0, "message": { "role": "assistant", "content": "none here" } },
        { "index": 1, "message": { "role": "assistant", "content": "write to a@example.com" } }
    ] });
    let input = Input::new(Phase::Response, &body.to_string())
        .unwrap()
        .with_response(&answer.to_string())
        .unwrap();
    let claims = observe(&input);
    let spans: Vec<&Span> = claims[1]
        .spans()
        .iter()
        .filter(|s| s.field.starts_with("/choices"))
        .collect();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].field, "/choices/1/message/content");
    assert_eq!(proposed(&answer, spans[0]), "a@example.com");
}

#[test]
fn more_values_than_a_claim_may_carry_are_proposed_none() {
    let many = (0..=MAX_SPANS_PER_CLAIM)
        .map(|i| format!("u{i}@example.com"))
        .collect::<Vec<_>>()
        .join(" ");
    let claims = observe(&request(&many));
    assert!(claims[1].spans().is_empty());
    assert_eq!(claims[1].metadata().unwrap()["maskable"], false);
    assert_eq!(claims[2].as_count(), Some(MAX_SPANS_PER_CLAIM as u64 + 1));
    let claims = observe(&request("one a@example.com"));
    assert_eq!(claims[1].spans().len(), 1);
    assert_eq!(claims[1].metadata().unwrap()["maskable"], true);
    // An SSN in tool-call arguments given inline as an object cannot be addressed: no value is
    // proposed (a policy masking it then denies instead of passing the SSN on).
    let body = json!({ "messages": [
        { "role": "user", "content": "mail a@example.com" },
        { "role": "assistant", "tool_calls": [{ "id": "c", "type": "function",
            "function": { "name": "f", "arguments": { "ssn": "123-45-6789" } } }] }
    ] });
    let claims = observe(&Input::new(Phase::Request, &body.to_string()).unwrap());
    assert!(
        entities(&claims).contains(&"us_ssn"),
        "{:?}",
        entities(&claims)
    );
    assert!(claims[1].spans().is_empty());
    assert_eq!(claims[1].metadata().unwrap()["maskable"], false);
}

#[test]
fn evidence_never_contains_the_values() {
    let claims = observe(&request(
        "reach me at jane.doe@example.com or +44 20 7946 0958, token=Zx8Yw7Vu6Ts5Rq4",
    ));
    for claim in &claims {
        let rendered = format!(
            "{:?}{}",
            claim.value(),
            claim.metadata().unwrap_or(&Value::Null)
        );
        for secret in ["jane", "7946", "Zx8Y"] {
            assert!(!rendered.contains(secret), "{rendered}");
        }
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
    // The request's SSN belongs to the request phase, not this one.
    assert_eq!(entities(&claims), ["email", "phone"]);
    let sources: Vec<&str> = spans(&claims)
        .iter()
        .map(|span| span["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["response", "tool_call"]);
    for span in spans(&claims) {
        let text = spanned(&input, span);
        assert!(
            text == "+1 415 555 2671" || text == "ops@example.net",
            "{text}"
        );
    }
}

#[test]
fn the_request_phase_scans_every_message_and_earlier_tool_calls() {
    let body = json!({ "messages": [
        { "role": "system", "content": "Escalate to 020 7946 0958." },
        { "role": "assistant", "content": null, "tool_calls": [{ "id": "c1", "type": "function",
            "function": { "name": "pay", "arguments": "{\"card\":\"5500-0000-0000-0004\"}" } }] },
        { "role": "user", "content": [{ "type": "text", "text": "thanks" }] }
    ] });
    let input = Input::new(Phase::Request, &body.to_string()).unwrap();
    assert_eq!(entities(&observe(&input)), ["credit_card", "phone"]);
    let without_tools = input.clone().with_setting("scan_tool_calls", false);
    assert_eq!(entities(&observe(&without_tools)), ["phone"]);
}

#[test]
fn kinds_selects_what_is_reported() {
    let text = "mail ann@example.com, call +44 20 7946 0958";
    let input = request(text).with_setting("kinds", vec!["phone".to_owned()]);
    let claims = observe(&input);
    assert_eq!(entities(&claims), ["phone"]);
    assert_eq!(claims[2].as_count(), Some(1));
    let none = request(text).with_setting("kinds", Vec::<String>::new());
    assert_eq!(observe(&none)[0].as_boolean(), Some(false));
}

#[test]
fn an_unknown_kind_is_invalid_input_naming_the_choices() {
    let input = request("hi").with_setting("kinds", vec!["ssn".to_owned()]);
    let Err(Error::InvalidInput(message)) = Pii::observe(&input) else {
        panic!("expected invalid input");
    };
    assert!(
        message.contains("'ssn'") && message.contains("us_ssn"),
        "{message}"
    );
}

#[test]
fn max_spans_caps_the_metadata_not_the_count() {
    let text = (0..10)
        .map(|i| format!("user{i}@example.com"))
        .collect::<Vec<_>>()
        .join(" ");
    let claims = observe(&request(&text).with_setting("max_spans", 3u64));
    assert_eq!(claims[2].as_count(), Some(10));
    assert_eq!(spans(&claims).len(), 3);
    assert_eq!(claims[1].metadata().unwrap()["spans_truncated"], true);
}

#[test]
fn a_large_message_is_scanned_whole() {
    let mut text = "lorem ipsum 12345 dolor sit amet, 2024-01-15 v1.2.3 ".repeat(2_000);
    text.push_str("call +44 20 7946 0958");
    let claims = observe(&request(&text));
    assert_eq!(entities(&claims), ["phone"]);
}

#[test]
fn invalid_json_is_invalid_input() {
    assert!(matches!(
        Input::new(Phase::Request, "{"),
        Err(Error::InvalidInput(_))
    ));
}
