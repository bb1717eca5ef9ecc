//! The HTTP layer and the wiring over the same fixtures: the axum router without a socket
//! (`oneshot`), admission control, client disconnects, and `lucid::app::build`.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_router_answers_with_the_receipt_headers() {
    let req = json!({"messages": [{"role": "user", "content": "hello"}]});
    let model = Scripted::new(Script::Complete(mock::completion(&req, "scripted", 1)));
    let f = fixture(model, StreamMode::Buffer);
    let router = router(&f, f._data.path());
    let response = router
        .clone()
        .oneshot(post(&crate::util::chat_request("hello")))
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    for name in [
        "x-lucid-ar-hash",
        "x-lucid-claims-hash",
        "x-lucid-cedar-decision",
        "x-lucid-cedar-policy-hash",
        "x-lucid-chain-depth",
        "x-lucid-request-id",
    ] {
        assert!(headers.contains_key(name), "missing {name}");
    }
    assert_eq!(headers["x-lucid-cedar-decision"], "allow");
    // The evidence endpoint serves the AR the header names.
    let ar_hash = headers["x-lucid-ar-hash"].to_str().unwrap().to_string();
    let evidence = router
        .oneshot(
            Request::get(format!("/v1/evidence/{ar_hash}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .expect("a response");
    assert_eq!(evidence.status(), StatusCode::OK);
    let body = evidence.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body.to_string().contains(&ar_hash), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_router_renders_denials_and_bad_requests() {
    let model = Scripted::new(Script::Fail(UpstreamError::Connect("unused".into())));
    let f = fixture(model.clone(), StreamMode::Buffer);
    let router = router(&f, f._data.path());
    let denied = router
        .clone()
        .oneshot(post(&crate::util::chat_request(
            "my card is 4111 1111 1111 1111",
        )))
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert_eq!(denied.headers()["x-lucid-cedar-decision"], "deny");
    assert!(denied.headers().contains_key("x-lucid-ar-hash"));
    let body = denied.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "lucid_policy_denied");
    let bad = router.oneshot(post("{\"model\": 1}")).await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(model.calls(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wiring_builds_a_gateway_that_answers() {
    let data = tempfile::tempdir().unwrap();
    let opts = options(data.path(), repo_root().join("policies/presets/balanced"));
    let app = tokio::task::spawn_blocking(move || lucid::app::build(&opts))
        .await
        .unwrap()
        .expect("the gateway builds");
    let router = lucid::gateway::api::router(app.gateway.clone());
    let response = router
        .oneshot(post(&crate::util::chat_request("hello")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-lucid-chain-depth"], "0");
    app.receipts.shutdown();
}

#[test]
fn the_wiring_refuses_a_missing_policy_directory() {
    let data = tempfile::tempdir().unwrap();
    let missing = data.path().join("no-such-policies");
    let err = match lucid::app::build(&options(data.path(), missing.clone())) {
        Ok(_) => panic!("built without policies"),
        Err(e) => e,
    };
    assert!(
        matches!(&err, lucid::app::AppError::NoPolicies(dir) if *dir == missing),
        "{err}"
    );
    assert!(err.to_string().starts_with("no policy directory"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn overload_is_a_503_with_retry_after_never_a_denial() {
    let req = json!({"messages": [{"role": "user", "content": "hello"}]});
    let model = Scripted::slow(
        Script::Complete(mock::completion(&req, "scripted", 1)),
        Duration::from_millis(1500),
    );
    let f = fixture(model, StreamMode::Buffer);
    let config = Config::parse(
        "[gateway]\nmax_in_flight = 1\nqueue_timeout_ms = 50\n",
        "test",
    )
    .unwrap();
    let router = router_with(&f, f._data.path(), config);
    let first = tokio::spawn(
        router
            .clone()
            .oneshot(post(&crate::util::chat_request("hello"))),
    );
    // Let the first exchange take the only slot.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = router
        .oneshot(post(&crate::util::chat_request("hello")))
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "1");
    assert!(!second.headers().contains_key("x-lucid-cedar-decision"));
    let body = second.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "lucid_overloaded");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_does_not_cancel_the_receipt() {
    let req = json!({"messages": [{"role": "user", "content": "hello"}]});
    let model = Scripted::slow(
        Script::Complete(mock::completion(&req, "scripted", 1)),
        Duration::from_millis(500),
    );
    let f = fixture(model.clone(), StreamMode::Buffer);
    let router = router(&f, f._data.path());
    // The client gives up while the model is answering: the handler future is dropped.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        router.oneshot(post(&crate::util::chat_request("hello"))),
    )
    .await;
    assert!(gave_up.is_err(), "the exchange should still be running");
    let db = f._data.path().join("evidence.db");
    let mut stored = 0;
    for _ in 0..200 {
        let mut store = SqliteStore::open(&db).unwrap();
        stored = lucid::evidence::EvidenceStore::all(&mut store)
            .unwrap()
            .len();
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(model.calls(), 1);
    assert_eq!(stored, 1, "the model was called but no receipt was stored");
}
