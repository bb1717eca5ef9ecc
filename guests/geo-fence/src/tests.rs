use super::*;

const REQUEST: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}"#;

fn input() -> Input {
    Input::new(Phase::Request, REQUEST).unwrap()
}

fn allowed(list: &[&str]) -> Vec<String> {
    list.iter().map(|entry| (*entry).to_owned()).collect()
}

/// Runs the auditor, checks the claims against the vocabulary and returns the region, the
/// verdict and the two metadata documents.
fn observe(input: &Input) -> (String, bool, Value, Value) {
    let claims = GeoFence::observe(input).unwrap();
    GeoFence::describe()
        .check_claims(Phase::Request, &claims)
        .unwrap();
    let region = match claims[0].value() {
        lucid_auditor_sdk::ClaimValue::String(region) => region.clone(),
        other => panic!("region is not a string: {other:?}"),
    };
    (
        region,
        claims[1].as_boolean().unwrap(),
        claims[0].metadata().cloned().unwrap(),
        claims[1].metadata().cloned().unwrap(),
    )
}

#[test]
fn vocabulary_is_valid() {
    GeoFence::describe().validate().unwrap();
}

#[test]
fn defaults_restrict_nothing() {
    let (region, ok, meta, fence) = observe(&input());
    assert_eq!((region.as_str(), ok), (UNKNOWN_REGION, true));
    assert_eq!(meta, json!({ "source": "none", "header": "absent" }));
    assert_eq!(fence, json!({ "restricted": false }));

    let (region, ok, meta, _) = observe(&input().with_header("x-lucid-region", "US-East-1"));
    assert_eq!((region.as_str(), ok), ("us-east-1", true));
    assert_eq!(meta["source"], "header");
}

#[test]
fn the_scope_region_wins_over_the_header() {
    let scoped = input()
        .with_setting("region", "eu-west-1")
        .with_setting("allowed_regions", allowed(&["eu"]));
    let (region, ok, meta, fence) = observe(&scoped);
    assert_eq!((region.as_str(), ok), ("eu-west-1", true));
    assert_eq!(meta, json!({ "source": "scope", "header": "absent" }));
    assert_eq!(fence["matched"], "eu");

    // A client claiming another region changes nothing, but is noted.
    let (region, ok, meta, _) = observe(&scoped.clone().with_header("x-lucid-region", "us-east-1"));
    assert_eq!((region.as_str(), ok), ("eu-west-1", true));
    assert_eq!(meta["header"], "overridden");
    assert_eq!(meta["header_disagrees"], true);
    // A more specific (or broader) header region is consistent with the scope's.
    let (_, _, meta, _) = observe(&scoped.with_header("x-lucid-region", "EU"));
    assert_eq!(meta["header_disagrees"], false);
}

#[test]
fn the_header_fences_when_trusted() {
    let fenced = input().with_setting("allowed_regions", allowed(&["eu", "ch"]));
    let cases = [
        ("eu-west-1", "eu-west-1", true),
        ("EU-Central-2", "eu-central-2", true),
        ("eu_north_1", "eu-north-1", true),
        ("eu", "eu", true),
        ("ch-zurich", "ch-zurich", true),
        ("europe-west4", "europe-west4", false),
        ("us-east-1", "us-east-1", false),
        ("e", "e", false),
    ];
    for (header, region, expected) in cases {
        let (got, ok, _, _) = observe(&fenced.clone().with_header("x-lucid-region", header));
        assert_eq!((got.as_str(), ok), (region, expected), "{header}");
    }
    // No region at all is outside any fence.
    let (region, ok, _, fence) = observe(&fenced);
    assert_eq!((region.as_str(), ok), (UNKNOWN_REGION, false));
    assert_eq!(fence, json!({ "restricted": true, "allowed_regions": 2 }));
}

#[test]
fn an_untrusted_header_is_ignored() {
    let strict = input()
        .with_setting("trust_header", false)
        .with_setting("allowed_regions", allowed(&["eu"]))
        .with_header("x-lucid-region", "eu-west-1");
    let (region, ok, meta, _) = observe(&strict);
    assert_eq!((region.as_str(), ok), (UNKNOWN_REGION, false));
    assert_eq!(meta["header"], "untrusted");
    let (region, ok, _, _) = observe(&strict.with_setting("region", "eu-west-1"));
    assert_eq!((region.as_str(), ok), ("eu-west-1", true));
}

#[test]
fn allowed_entries_are_areas_or_wildcards() {
    let with = |entries: &[&str], region: &str| {
        observe(
            &input()
                .with_setting("allowed_regions", allowed(entries))
                .with_setting("region", region),
        )
        .1
    };
    assert!(with(&["eu-*"], "eu-west-1"));
    assert!(with(&["EU-West"], "eu-west-2"));
    assert!(!with(&["eu-west"], "eu-westfalen-1"));
    assert!(with(&["eu.central"], "eu.central.1"));
    assert!(with(&["*"], "ap-south-1"));
    assert!(with(&["  us-east-1  ", "*"], "us-east-1"));
    assert!(
        !with(&["us-east-1"], "us-east"),
        "a narrower entry does not allow its parent"
    );
    // `*` still needs a region.
    let (_, ok, _, _) = observe(&input().with_setting("allowed_regions", allowed(&["*"])));
    assert!(!ok);
}

#[test]
fn hostile_headers_make_the_region_unknown() {
    let fenced = input().with_setting("allowed_regions", allowed(&["eu"]));
    let long = "eu-".repeat(100);
    for header in [
        "eu-west-1; DROP TABLE",
        "eu west 1",
        "eü-west-1",
        "\u{202e}1-tsew-ue",
        "eu-west-1\u{200b}",
        "🇪🇺",
        long.as_str(),
    ] {
        let (region, ok, meta, _) = observe(&fenced.clone().with_header("x-lucid-region", header));
        assert_eq!((region.as_str(), ok), (UNKNOWN_REGION, false), "{header:?}");
        assert_eq!(meta["header"], "malformed");
    }
    // Blank is absent, not malformed.
    let (_, _, meta, _) = observe(&fenced.clone().with_header("x-lucid-region", "   "));
    assert_eq!(meta["header"], "absent");
    // A context that is not the expected shape is no header.
    let odd = fenced
        .with_artifacts(r#"{"headers": {"x-lucid-region": 42}}"#)
        .unwrap();
    assert_eq!(observe(&odd).0, UNKNOWN_REGION);
}

#[test]
fn operator_mistakes_are_invalid_input() {
    let bad_region = input().with_setting("region", "eu west");
    let err = GeoFence::observe(&bad_region).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("setting 'region'") && m.contains("eu west")),
        "{err}"
    );

    let long = "x".repeat(10_000);
    for entries in [vec!["eu", ""], vec!["eu", "eu/west"], vec![long.as_str()]] {
        let err = GeoFence::observe(&input().with_setting("allowed_regions", allowed(&entries)))
            .unwrap_err();
        let Error::InvalidInput(message) = err else {
            panic!("{entries:?}: {err}");
        };
        assert!(message.contains("'allowed_regions' entry"), "{message}");
        assert!(message.len() < 400, "the message quotes an excerpt only");
    }
    // A blank region setting is no region, not an error.
    assert_eq!(
        observe(&input().with_setting("region", "  ")).0,
        UNKNOWN_REGION
    );
}

#[test]
fn huge_allowed_lists_are_fine() {
    let entries: Vec<String> = (0..50_000).map(|i| format!("zone-{i}")).collect();
    let fenced = input()
        .with_setting("allowed_regions", entries)
        .with_setting("region", "zone-49999-a");
    let (_, ok, _, fence) = observe(&fenced);
    assert!(ok);
    assert_eq!(fence["matched"], "zone-49999");
}

#[test]
fn region_names_normalize() {
    assert_eq!(normalize(" EU_West_1 ").as_deref(), Some("eu-west-1"));
    assert_eq!(normalize("westeurope").as_deref(), Some("westeurope"));
    assert_eq!(normalize(""), None);
    assert_eq!(normalize("ΕΥ"), None);
    assert!(within("eu-west-1", "eu"));
    assert!(within("eu", "eu"));
    assert!(!within("europe", "eu"));
    assert!(!within("eu", "eu-west"));
}
