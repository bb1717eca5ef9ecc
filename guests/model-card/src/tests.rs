use super::*;

fn full_card() -> Value {
    json!({
        "model_name": "GPT-4o",
        "provider": "OpenAI",
        "version": "2024-08-06",
        "intended_use": "general assistant",
        "limitations": ["hallucinates", "knowledge cut-off"],
        "training_data": "public web and licensed data",
        "evaluation": { "mmlu": 0.887 },
        "license": "proprietary",
    })
}

fn request(model: &str, cards: &Value) -> Input {
    let body = json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] });
    Input::new(Phase::Request, &body.to_string())
        .unwrap()
        .with_setting("cards", cards.to_string())
}

fn artifact(cards: &Value) -> Input {
    Input::new(Phase::Artifact, "")
        .unwrap()
        .with_artifacts(r#"{"plugin_set_hash":"00","auditors":{}}"#)
        .unwrap()
        .with_setting("cards", cards.to_string())
}

/// Runs the auditor with the vocabulary's checks: (complete, missing, metadata).
fn observe(input: &Input) -> (bool, Vec<String>, Value) {
    let claims = ModelCard::observe(input).unwrap();
    ModelCard::describe()
        .check_claims(input.phase(), &claims)
        .unwrap();
    (
        claims[0].as_boolean().unwrap(),
        claims[1].as_string_list().unwrap().to_vec(),
        claims[0].metadata().cloned().unwrap(),
    )
}

fn invalid(input: &Input) -> String {
    match ModelCard::observe(input) {
        Err(Error::InvalidInput(message)) => message,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn vocabulary_is_valid() {
    ModelCard::describe().validate().unwrap();
}

#[test]
fn a_full_card_is_complete() {
    let (complete, missing, meta) = observe(&request("gpt-4o", &json!({ "gpt-4o": full_card() })));
    assert!(complete, "{missing:?}");
    assert!(missing.is_empty());
    assert_eq!(
        meta,
        json!({ "model": "gpt-4o", "card": "gpt-4o", "required": 8 })
    );
}

#[test]
fn absent_and_blank_fields_are_missing() {
    let mut card = full_card();
    card["license"] = Value::Null;
    card["limitations"] = json!(["", "  "]);
    card["evaluation"] = json!({ "mmlu": null });
    card["intended_use"] = "\u{200b} \u{feff}\n".into();
    card.as_object_mut().unwrap().remove("version");
    let (complete, missing, _) = observe(&request("m", &json!({ "m": card })));
    assert!(!complete);
    assert_eq!(
        missing,
        [
            "version",
            "intended_use",
            "limitations",
            "evaluation",
            "license"
        ]
    );
}

#[test]
fn numbers_booleans_and_unicode_are_present() {
    let card = json!({
        "model_name": "模型", "provider": "Société Générale", "version": 3,
        "intended_use": "💬", "limitations": "نعم", "training_data": { "sources": ["x"] },
        "evaluation": false, "license": "Apache-2.0",
    });
    assert!(observe(&request("m", &json!({ "m": card }))).0);
}

#[test]
fn a_model_without_a_card_misses_everything() {
    let cards = json!({ "gpt-4o": full_card() });
    let (complete, missing, meta) = observe(&request("claude-3", &cards));
    assert!(!complete);
    assert_eq!(missing, DEFAULT_REQUIRED_FIELDS);
    assert_eq!(meta["card"], Value::Null);
    // No cards configured, and a request without a model, alike.
    let body = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
    let (complete, missing, meta) = observe(&Input::new(Phase::Request, body).unwrap());
    assert!(!complete);
    assert_eq!(missing.len(), 8);
    assert_eq!(meta["model"], Value::Null);
}

#[test]
fn models_match_exactly_then_by_case_then_by_longest_prefix() {
    let mut minimal = full_card();
    minimal["license"] = Value::Null;
    let cards = json!({
        "*": {},
        "gpt-4o-*": full_card(),
        "gpt-4o-mini*": minimal,
        "GPT-4o": full_card(),
    });
    let card_of = |model: &str| observe(&request(model, &cards)).2["card"].clone();
    assert_eq!(card_of("GPT-4o"), "GPT-4o");
    assert_eq!(card_of("gpt-4o"), "GPT-4o");
    assert_eq!(card_of("gpt-4o-2024-08-06"), "gpt-4o-*");
    assert_eq!(card_of("GPT-4o-mini-2024-07-18"), "gpt-4o-mini*");
    assert_eq!(card_of("llama-3"), "*");
    assert_eq!(observe(&request("gpt-4o-mini", &cards)).1, ["license"]);
    assert_eq!(observe(&request("ünïcode-model", &cards)).1.len(), 8);
}

#[test]
fn required_fields_are_configurable_and_normalized() {
    let card =
        json!({ "Intended Use": "chat", "evaluation": { "metrics": { "f1": 0.8 }, "data": "" } });
    let cards = json!({ "m": card });
    let with = |fields: &[&str]| {
        let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        observe(&request("m", &cards).with_setting("required_fields", fields))
    };
    assert!(with(&["intended_use", "INTENDED-USE", "evaluation.metrics"]).0);
    assert_eq!(
        with(&["evaluation.data", "evaluation.metrics.f1", "evaluation.x.y"]).1,
        ["evaluation.data", "evaluation.x.y"]
    );
    // Nothing required: any card is complete, but a missing card is still not.
    assert!(with(&[]).0);
    let (complete, missing, _) =
        observe(&request("other", &cards).with_setting("required_fields", Vec::<String>::new()));
    assert!(!complete && missing.is_empty());
}

#[test]
fn the_artifact_phase_checks_every_card() {
    let mut partial = full_card();
    partial["training_data"] = "".into();
    partial["license"] = Value::Null;
    let mut other = full_card();
    other["limitations"] = json!([]);
    let cards = json!({ "a": full_card(), "b": partial, "c": other });
    let (complete, missing, meta) = observe(&artifact(&cards));
    assert!(!complete);
    assert_eq!(missing, ["limitations", "training_data", "license"]);
    assert_eq!(meta["cards"], 3);
    assert_eq!(meta["incomplete_cards"], 2);
    assert_eq!(meta["incomplete"]["b"], json!(["training_data", "license"]));

    assert!(observe(&artifact(&json!({ "a": full_card() }))).0);
    let (complete, missing, meta) = observe(&Input::new(Phase::Artifact, "").unwrap());
    assert!(!complete);
    assert_eq!(missing.len(), 8);
    assert_eq!(meta["cards"], 0);
}

#[test]
fn many_cards_list_a_bounded_number_of_models() {
    let cards: Map<String, Value> = (0..1_000)
        .map(|i| (format!("model-{i}"), json!({ "provider": "x" })))
        .collect();
    let (complete, missing, meta) = observe(&artifact(&Value::Object(cards)));
    assert!(!complete);
    assert_eq!(missing.len(), 7);
    assert_eq!(meta["incomplete_cards"], 1_000);
    assert_eq!(
        meta["incomplete"].as_object().unwrap().len(),
        MAX_LISTED_MODELS
    );
}

#[test]
fn malformed_settings_are_invalid_input() {
    for (cards, expected) in [
        ("{not json", "setting 'cards' is not valid JSON"),
        ("[1]", "setting 'cards' is not a JSON object"),
        (r#"{"gpt-4o": "see website"}"#, "the card of 'gpt-4o'"),
    ] {
        let input = request("gpt-4o", &json!({})).with_setting("cards", cards);
        let message = invalid(&input);
        assert!(message.contains(expected), "{cards}: {message}");
    }
    let huge = format!("{{\"m\": {{\"x\": \"{}\"}}}}", "a".repeat(MAX_CARDS_BYTES));
    assert!(invalid(&request("m", &json!({})).with_setting("cards", huge)).contains("bytes"));
    let deep = format!("{{\"m\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(
        invalid(&request("m", &json!({})).with_setting("cards", deep)).contains("not valid JSON")
    );

    for fields in [vec!["provider", " "], vec!["a..b"], vec![".a"]] {
        let fields: Vec<String> = fields.into_iter().map(str::to_owned).collect();
        let message = invalid(&request("m", &json!({})).with_setting("required_fields", fields));
        assert!(message.contains("'required_fields' entry"), "{message}");
    }
    let many: Vec<String> = (0..1_000).map(|i| format!("f{i}")).collect();
    assert!(
        invalid(&request("m", &json!({})).with_setting("required_fields", many))
            .contains("at most")
    );
    let long = vec!["x".repeat(10_000)];
    assert!(invalid(&request("m", &json!({})).with_setting("required_fields", long)).len() < 400);
}

#[test]
fn a_hostile_model_name_is_cut_in_metadata() {
    let model = "m".repeat(100_000);
    let (_, _, meta) = observe(&request(&model, &json!({ "m*": full_card() })));
    assert_eq!(
        meta["model"].as_str().unwrap().chars().count(),
        MAX_MODEL_CHARS + 1
    );
    assert_eq!(meta["card"], "m*");
}

#[test]
fn other_phases_are_refused() {
    let input = Input::new(Phase::Response, "{}")
        .unwrap()
        .with_response(r#"{"choices":[]}"#)
        .unwrap();
    assert!(invalid(&input).contains("not the response phase"));
}
