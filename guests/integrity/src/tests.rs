use super::*;

fn sha(seed: &str) -> String {
    // Not a real digest: a distinct 64-hex-digit string per seed is all the comparison needs.
    let mut hex: String = seed.bytes().map(|b| format!("{b:02x}")).collect();
    hex.truncate(64);
    format!("{hex:0<64}")
}

fn descriptor() -> Value {
    json!({
        "plugin_set_hash": sha("set"),
        "auditors": { "integrity": sha("integrity"), "pii": sha("pii"), "injection": sha("injection") },
        "policy_hash": sha("policy"),
        "config_hash": sha("config"),
        "host_sha256": sha("host"),
    })
}

fn input(descriptor: &Value, expected: &[String]) -> Input {
    Input::new(Phase::Artifact, "")
        .unwrap()
        .with_artifacts(&descriptor.to_string())
        .unwrap()
        .with_setting("expected", expected.to_vec())
}

fn pin(name: &str, seed: &str) -> String {
    format!("{name}={}", sha(seed))
}

/// Runs the auditor and checks the claims against the vocabulary: (match, unexpected, the
/// first claim's metadata).
fn observe(input: &Input) -> (bool, Vec<String>, Value) {
    let claims = Integrity::observe(input).unwrap();
    Integrity::describe()
        .check_claims(Phase::Artifact, &claims)
        .unwrap();
    (
        claims[0].as_boolean().unwrap(),
        claims[1].as_string_list().unwrap().to_vec(),
        claims[0].metadata().cloned().unwrap(),
    )
}

fn invalid(input: &Input) -> String {
    match Integrity::observe(input) {
        Err(Error::InvalidInput(message)) => message,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn vocabulary_is_valid() {
    Integrity::describe().validate().unwrap();
}

#[test]
fn nothing_pinned_matches_and_says_so() {
    let (ok, unexpected, meta) = observe(&input(&descriptor(), &[]));
    assert!(ok);
    assert!(unexpected.is_empty());
    assert_eq!(meta["pinned"], 0);
    assert!(meta["note"].as_str().unwrap().contains("nothing pinned"));
    // Without the setting at all (a host that passes no settings), the same.
    let bare = Input::new(Phase::Artifact, "")
        .unwrap()
        .with_artifacts(&descriptor().to_string())
        .unwrap();
    assert!(observe(&bare).0);
}

#[test]
fn a_full_manifest_matches() {
    let expected = [
        pin("plugin_set", "set"),
        pin("policy", "policy"),
        pin("config", "config"),
        pin("host", "host"),
        pin("pii", "pii"),
        pin("injection", "injection"),
    ];
    let (ok, unexpected, meta) = observe(&input(&descriptor(), &expected));
    assert!(ok, "{unexpected:?}");
    assert_eq!(meta["pinned"], 6);
    assert!(meta.get("note").is_none());
}

#[test]
fn hashes_compare_in_any_case_and_with_a_prefix() {
    let expected = [
        format!("pii = SHA256:{}", sha("pii").to_uppercase()),
        format!(" host=sha256:{} ", sha("host")),
        pin("injection", "injection"),
    ];
    assert!(observe(&input(&descriptor(), &expected)).0);
}

#[test]
fn a_changed_hash_is_unexpected() {
    let expected = [
        pin("pii", "pii-v2"),
        pin("injection", "injection"),
        pin("policy", "other"),
    ];
    let (ok, unexpected, meta) = observe(&input(&descriptor(), &expected));
    assert!(!ok);
    assert_eq!(unexpected, ["pii", "policy"]);
    assert_eq!(
        meta["unexpected"],
        json!({ "pii": "differs", "policy": "differs" })
    );
}

#[test]
fn missing_and_extra_auditors_are_unexpected() {
    // `injection` is loaded but not pinned; `toxicity` is pinned but not loaded; `integrity`
    // (this auditor) is never an extra.
    let expected = [pin("pii", "pii"), pin("toxicity", "toxicity")];
    let (ok, unexpected, meta) = observe(&input(&descriptor(), &expected));
    assert!(!ok);
    assert_eq!(unexpected, ["injection", "toxicity"]);
    assert_eq!(meta["unexpected"]["injection"], "extra");
    assert_eq!(meta["unexpected"]["toxicity"], "missing");

    let lenient = input(&descriptor(), &expected).with_setting("allow_extra_auditors", true);
    assert_eq!(observe(&lenient).1, ["toxicity"]);

    // Pinning only global hashes leaves the auditor set open.
    assert!(observe(&input(&descriptor(), &[pin("host", "host")])).0);
}

#[test]
fn absent_optional_hashes_are_missing_when_pinned() {
    let mut bare = descriptor();
    bare["policy_hash"] = Value::Null;
    bare.as_object_mut().unwrap().remove("config_hash");
    let (ok, unexpected, _) = observe(&input(
        &bare,
        &[pin("policy", "policy"), pin("config", "config")],
    ));
    assert!(!ok);
    assert_eq!(unexpected, ["config", "policy"]);
    // Not pinned, their absence does not matter.
    assert!(observe(&input(&bare, &[pin("host", "host")])).0);
}

#[test]
fn auditors_named_like_global_artifacts_use_a_prefix() {
    let mut odd = descriptor();
    odd["auditors"]["policy"] = sha("auditor-policy").into();
    let expected = [
        pin("auditor:policy", "auditor-policy"),
        pin("policy", "policy"),
        pin("pii", "pii"),
        pin("injection", "injection"),
    ];
    assert!(observe(&input(&odd, &expected)).0);
    let (_, unexpected, _) = observe(&input(&odd, &expected[1..]));
    assert_eq!(unexpected, ["auditor:policy"]);
}

#[test]
fn malformed_entries_are_invalid_input_naming_them() {
    let d = descriptor();
    let cases = [
        ("pii", "entry 0 ('pii') has no '='"),
        ("=abc", "does not name an artifact"),
        ("PII=00", "does not name an artifact"),
        ("pii=not-a-hash", "has no sha256"),
        ("pii=abc123", "has no sha256"),
        ("pïi=00", "does not name an artifact"),
    ];
    for (entry, expected) in cases {
        let message = invalid(&input(&d, &[entry.to_owned()]));
        assert!(message.contains(expected), "{entry}: {message}");
        assert!(
            message.starts_with("setting 'expected' entry 0"),
            "{message}"
        );
    }
    let twice = [pin("pii", "pii"), pin("pii", "other")];
    let message = invalid(&input(&d, &twice));
    assert!(
        message.contains("entry 1") && message.contains("second time"),
        "{message}"
    );
    // The same pin twice is harmless.
    assert!(observe(&input(&d, &[pin("pii", "pii"), pin("pii", "pii")])).1 == ["injection"]);

    let huge = format!("{}={}", "a".repeat(100_000), "z".repeat(100_000));
    let message = invalid(&input(&d, &[huge]));
    assert!(message.len() < 400, "only an excerpt is quoted");
}

#[test]
fn a_missing_or_malformed_descriptor_is_invalid_input() {
    let none = Input::new(Phase::Artifact, "").unwrap();
    assert!(invalid(&none).contains("no artifact descriptor"));
    for (descriptor, expected) in [
        (json!([1, 2]), "not a JSON object"),
        (json!({ "auditors": ["pii"] }), "'auditors'"),
        (json!({ "auditors": { "pii": 7 } }), "auditors.pii"),
        (json!({ "policy_hash": 7 }), "'policy_hash'"),
    ] {
        let message = invalid(&input(&descriptor, &[]));
        assert!(message.contains(expected), "{descriptor}: {message}");
    }
    // An empty descriptor is a gateway with nothing loaded: every pin is missing.
    let (ok, unexpected, _) = observe(&input(&json!({}), &[pin("pii", "pii")]));
    assert!(!ok);
    assert_eq!(unexpected, ["pii"]);
}

#[test]
fn other_phases_are_refused() {
    let request = Input::new(Phase::Request, "{}")
        .unwrap()
        .with_header("x-lucid-region", "eu");
    assert!(invalid(&request).contains("artifact phase only"));
}

#[test]
fn huge_manifests_list_a_bounded_number_of_names() {
    let expected: Vec<String> = (0..20_000).map(|i| pin(&format!("a{i}"), "x")).collect();
    let claims = Integrity::observe(&input(&descriptor(), &expected)).unwrap();
    Integrity::describe()
        .check_claims(Phase::Artifact, &claims)
        .unwrap();
    // 20,000 missing pins, plus pii and injection loaded but unpinned.
    assert_eq!(claims[1].as_string_list().unwrap().len(), MAX_LISTED);
    assert_eq!(claims[1].metadata().unwrap()["total"], 20_002);
    assert_eq!(claims[1].metadata().unwrap()["truncated"], true);
}

#[test]
fn unicode_auditor_ids_in_the_descriptor_are_reported_as_extras() {
    let mut odd = descriptor();
    odd["auditors"]["ünï-cödé"] = sha("u").into();
    let (ok, unexpected, _) = observe(&input(
        &odd,
        &[pin("pii", "pii"), pin("injection", "injection")],
    ));
    assert!(!ok);
    assert_eq!(unexpected, ["ünï-cödé"]);
}
