//! The Observer (`/ui`) over the same fixtures, through the router without a socket: what its
//! pages say about real receipts, its live feed, its login, and hostile input (markup in a
//! scope, cross-site posts, open redirects). The browser drives it in `tests/e2e/ui.rs`.

use super::*;

use sha2::{Digest, Sha256};

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

async fn text_of(response: axum::response::Response) -> String {
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8")
}

async fn chat(router: &axum::Router, prompt: &str, org: Option<&str>) -> String {
    let mut req = post(&crate::util::chat_request(prompt));
    if let Some(org) = org {
        req.headers_mut()
            .insert("x-lucid-org", org.parse().unwrap());
    }
    let response = router.clone().oneshot(req).await.expect("a response");
    response.headers()["x-lucid-ar-hash"]
        .to_str()
        .unwrap()
        .to_string()
}

fn allowed_fixture() -> Fixture {
    let req = json!({"messages": [{"role": "user", "content": "hello"}]});
    let model = Scripted::new(Script::Complete(mock::completion(&req, "scripted", 1)));
    fixture(model, StreamMode::Buffer)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_and_the_passport_show_receipts_and_escape_what_clients_send() {
    let f = allowed_fixture();
    let router = router(&f, f._data.path());
    let hostile = "<script>alert(1)</script>";
    let allowed = chat(&router, "hello", Some(hostile)).await;
    let denied = chat(&router, "my card is 4111 1111 1111 1111", None).await;

    let feed = router.clone().oneshot(get("/ui")).await.unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let csp = feed.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = text_of(feed).await;
    assert!(
        html.contains(&format!("data-ar-hash=\"{allowed}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("data-ar-hash=\"{denied}\"")));
    assert!(html.contains("data-valid=\"true\""), "the chain is valid");
    assert!(!html.contains(hostile), "markup from a client is escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external URL"
    );

    // Filters.
    let only_denied = text_of(
        router
            .clone()
            .oneshot(get("/ui?decision=deny"))
            .await
            .unwrap(),
    )
    .await;
    assert!(only_denied.contains(&denied) && !only_denied.contains(&allowed));
    let by_claim = text_of(
        router
            .clone()
            .oneshot(get("/ui?auditor=pii&scope=default"))
            .await
            .unwrap(),
    )
    .await;
    assert!(by_claim.contains(&denied) && !by_claim.contains(&allowed));

    // The denied exchange's passport: decision, reason, claims, checks.
    let page = router
        .clone()
        .oneshot(get(&format!("/ui/exchange/{denied}")))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = text_of(page).await;
    assert!(html.contains("id=\"decision\""), "{html}");
    assert!(html.contains("data-decision=\"deny\""));
    let reason = {
        let store = SqliteStore::open(&f._data.path().join("evidence.db")).unwrap();
        let mut store: Box<dyn lucid::evidence::EvidenceStore> = Box::new(store);
        let text = store.get(&denied).unwrap().expect("stored");
        let ar: Value = serde_json::from_str(&text).unwrap();
        ar["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["decision"]["effect"] == "deny")
            .and_then(|p| p["decision"]["reasons"][0].as_str().map(str::to_string))
            .expect("a deny reason")
    };
    assert!(
        html.contains(&format!("<li><code>{reason}</code></li>")),
        "the reason {reason} is listed: {html}"
    );
    assert!(html.contains("class=\"claim\""));
    assert!(html.contains("data-auditor=\"pii\""));
    assert!(html.contains("id=\"signature\" class=\"badge allow\" data-valid=\"true\""));

    // A masked exchange: its passport lists what was masked, never the value.
    let masked = chat(&router, "my mail is bob@example.com", None).await;
    let html = text_of(
        router
            .clone()
            .oneshot(get(&format!("/ui/exchange/{masked}")))
            .await
            .unwrap(),
    )
    .await;
    assert!(html.contains("class=\"redaction\""), "{html}");
    assert!(html.contains("email"), "the kind is named");
    assert!(
        !html.contains("bob@example.com"),
        "the masked value is not shown"
    );

    // Bad and unknown hashes.
    let bad = router
        .clone()
        .oneshot(get("/ui/exchange/zz"))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let unknown = router
        .clone()
        .oneshot(get(&format!("/ui/exchange/{}", "0".repeat(64))))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // The chain, verified whole.
    let chain = text_of(
        router
            .clone()
            .oneshot(get("/ui/chain?verify=all"))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        chain.contains("id=\"verify-result\" data-valid=\"true\""),
        "{chain}"
    );
    assert!(chain.contains(&format!("data-ar-hash=\"{allowed}\"")));

    // Auditors and policy pages.
    let auditors = text_of(router.clone().oneshot(get("/ui/auditors")).await.unwrap()).await;
    assert!(auditors.contains("data-auditor=\"pii\""), "{auditors}");
    assert!(auditors.contains("pii_detected"));
    let policy = text_of(router.clone().oneshot(get("/ui/policy")).await.unwrap()).await;
    assert!(policy.contains("id=\"policy-state\""), "{policy}");
    let js = router.oneshot(get("/ui/assets/ui.js")).await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(text_of(js).await.contains("EventSource"));
}

#[tokio::test(flavor = "multi_thread")]
async fn try_it_runs_the_request_phase_without_the_model_or_a_receipt() {
    let model = Scripted::new(Script::Fail(UpstreamError::Connect("unused".into())));
    let f = fixture(model.clone(), StreamMode::Buffer);
    let router = router(&f, f._data.path());
    let depth = f.receipts.chain_depth();
    let form = "prompt=my+card+is+4111+1111+1111+1111&model=mock-1&scope=acme%2Fw%2Fa";
    let response = router
        .clone()
        .oneshot(
            Request::post("/ui/try")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "127.0.0.1:8080")
                .header("origin", "http://127.0.0.1:8080")
                .body(Body::from(form))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = text_of(response).await;
    assert!(
        html.contains("id=\"try-decision\" class=\"badge big deny\" data-decision=\"deny\""),
        "{html}"
    );
    assert!(html.contains("data-auditor=\"pii\""));
    assert_eq!(model.calls(), 0, "the model is not called");
    assert_eq!(f.receipts.chain_depth(), depth, "no receipt is issued");

    // A post from another site is refused.
    let cross = router
        .oneshot(
            Request::post("/ui/try")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "127.0.0.1:8080")
                .header("origin", "http://evil.example")
                .body(Body::from(form))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_feed_sends_each_new_receipt() {
    let f = allowed_fixture();
    let router = router(&f, f._data.path());
    let events = router.clone().oneshot(get("/ui/events")).await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut body = events.into_body();
    let hash = chat(&router, "hello", None).await;
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
                if seen.contains(&hash) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    assert!(seen.contains("event: exchange"), "{seen}");
    let data = seen
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    let summary: Value = serde_json::from_str(data).unwrap();
    assert_eq!(summary["ar_hash"], hash.as_str());
    assert_eq!(summary["decision"], "allow");
    assert_eq!(summary["model"], "mock-1");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_admin_token_the_observer_needs_a_login() {
    let f = allowed_fixture();
    let token = "observer-test-token";
    let config = Config::parse(
        &format!(
            "[gateway]\nadmin_token_sha256 = \"{}\"\n",
            hex::encode(Sha256::digest(token.as_bytes()))
        ),
        "test",
    )
    .unwrap();
    let router = router_with(&f, f._data.path(), config);

    let page = router.clone().oneshot(get("/ui/chain")).await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/ui/login?next=/ui/chain");
    let events = router.clone().oneshot(get("/ui/events")).await.unwrap();
    assert_eq!(events.status(), StatusCode::UNAUTHORIZED);

    let login = |form: String| {
        Request::post("/ui/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    let wrong = router
        .clone()
        .oneshot(login("token=nope&next=/ui/chain".into()))
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(text_of(wrong).await.contains("id=\"login-error\""));

    // An outside `next` is not followed.
    let right = router
        .clone()
        .oneshot(login(format!("token={token}&next=https://evil.example/")))
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()["location"], "/ui");
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap().to_string();

    let with_session = |path: &str| {
        Request::get(path)
            .header("cookie", session.clone())
            .body(Body::empty())
            .unwrap()
    };
    let feed = router.clone().oneshot(with_session("/ui")).await.unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    assert!(text_of(feed).await.contains("data-page=\"feed\""));
    let events = router
        .clone()
        .oneshot(with_session("/ui/events"))
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    // The admin token as a bearer works too; a forged cookie does not.
    let bearer = router
        .clone()
        .oneshot(
            Request::get("/ui/auditors")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let forged = router
        .oneshot(
            Request::get("/ui")
                .header("cookie", format!("lucid_ui={}", "a".repeat(64)))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_deleted_or_replaced_in_the_store_makes_the_chain_invalid() {
    let f = allowed_fixture();
    let router = router(&f, f._data.path());
    let mut hashes = Vec::new();
    for i in 0..4 {
        hashes.push(chat(&router, &format!("hello {i}"), None).await);
    }
    let status = |router: axum::Router| async move {
        let r = router.oneshot(get("/ui/chain/status")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        serde_json::from_str::<Value>(&text_of(r).await).unwrap()
    };
    let before = status(router.clone()).await;
    assert_eq!(before["valid"], true, "{before}");
    assert_eq!(before["length"], 4);

    // Delete the AR at depth 1 (the walk back from the newest stops at depth 2).
    let db = rusqlite::Connection::open(f._data.path().join("evidence.db")).unwrap();
    db.execute("DELETE FROM ars WHERE ar_hash = ?1", [&hashes[1]])
        .unwrap();
    let chain = text_of(router.clone().oneshot(get("/ui/chain")).await.unwrap()).await;
    assert!(
        chain.contains("id=\"chain-status\" class=\"badge deny\" data-valid=\"false\""),
        "{chain}"
    );
    assert!(chain.contains("the chain is cut"), "{chain}");
    let feed = text_of(router.clone().oneshot(get("/ui")).await.unwrap()).await;
    assert!(
        feed.contains("data-valid=\"false\""),
        "the feed says so too"
    );
    // The status answer kept for the same tip is checked again once a new AR arrives.
    chat(&router, "hello again", None).await;
    let after = status(router.clone()).await;
    assert_eq!(after["valid"], false, "{after}");
    // The passport of the newest AR checks its window too.
    let passport = text_of(
        router
            .clone()
            .oneshot(get(&format!("/ui/exchange/{}", hashes[3])))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        passport.contains("id=\"chain-validity\" class=\"badge deny\" data-valid=\"false\""),
        "{passport}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_observer_refuses_host_names() {
    let f = allowed_fixture();
    let router = router(&f, f._data.path());
    let named = router
        .clone()
        .oneshot(
            Request::get("/ui")
                .header("host", "rebound.example:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(named.status(), StatusCode::FORBIDDEN);
    let local = router
        .oneshot(
            Request::get("/ui")
                .header("host", "127.0.0.1:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(local.status(), StatusCode::OK);
}
