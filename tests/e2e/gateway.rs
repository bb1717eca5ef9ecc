//! The gateway through plain HTTP: the flow, headers, receipts and the chain, denials in every
//! phase, streaming modes, error paths, scopes and the admin API.

use std::path::Path;

mod attestation;
mod catalogue;
mod hostile;
mod load;
mod sdk;

use lucid_e2e::{Daemon, plugin, preset, serve_cmd};
use serde_json::{Value, json};

struct Gw {
    _root: tempfile::TempDir,
    daemon: Daemon,
    base: String,
    agent: ureq::Agent,
}

fn start_with(config: Option<&str>, extra: &[&str]) -> Gw {
    start_with_guests(config, extra, &[])
}

/// The shipped auditors and these test guests, the balanced preset, and `config`.
fn start_with_guests(config: Option<&str>, extra: &[&str], guests: &[&str]) -> Gw {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    lucid_e2e::copy_shipped(&plugins);
    for name in guests {
        std::fs::copy(lucid_e2e::guest(name), plugins.join(format!("{name}.wasm"))).unwrap();
    }
    let mut cmd = serve_cmd(&plugins, &root.path().join("data"), &preset("balanced"));
    // Generous auditor deadlines: tests run on busy machines, and a timeout fails closed.
    let config = format!("[defaults]\ndeadline_ms = 5000\n{}", config.unwrap_or(""));
    let path = root.path().join("lucid.toml");
    std::fs::write(&path, config).unwrap();
    cmd.arg("--config").arg(path);
    cmd.args(extra);
    let mut daemon = Daemon::start(&mut cmd);
    let base = daemon.base_url();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    Gw {
        _root: root,
        daemon,
        base,
        agent,
    }
}

fn start() -> Gw {
    start_with(None, &[])
}

/// An answer of the gateway, read whole.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: ureq::http::HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}: {}", self.headers, self.body))
            .to_str()
            .unwrap()
    }

    fn read(mut resp: ureq::http::Response<ureq::Body>) -> Reply {
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    }
}

pub(crate) fn get_via(
    agent: &ureq::Agent,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = agent.get(format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Reply::read(req.call().expect("request"))
}

pub(crate) fn post_via(
    agent: &ureq::Agent,
    base: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = agent
        .post(format!("{base}{path}"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Reply::read(req.send(body).expect("request"))
}

/// A chat completion from any thread (a `Gw` itself stays on the test's thread).
pub(crate) fn chat_via(agent: &ureq::Agent, base: &str, text: &str) -> Reply {
    let body = json!({"model": "mock-1", "messages": [{"role": "user", "content": text}]});
    post_via(agent, base, "/v1/chat/completions", &body.to_string(), &[])
}

impl Gw {
    fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        post_via(&self.agent, &self.base, path, body, headers)
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        get_via(&self.agent, &self.base, path, headers)
    }

    fn chat(&self, text: &str) -> Reply {
        chat_via(&self.agent, &self.base, text)
    }
}

const LUCID_HEADERS: [&str; 6] = [
    "x-lucid-ar-hash",
    "x-lucid-chain-depth",
    "x-lucid-claims-hash",
    "x-lucid-cedar-decision",
    "x-lucid-cedar-policy-hash",
    "x-lucid-request-id",
];

#[test]
fn an_allowed_exchange_is_answered_with_headers_and_a_verifiable_receipt() {
    let gw = start();
    let reply = gw.chat("What is the capital of France?");
    assert_eq!(reply.status, 200, "{}", reply.body);
    for h in LUCID_HEADERS {
        reply.header(h);
    }
    assert_eq!(reply.header("x-lucid-cedar-decision"), "allow");
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "Mock answer to: What is the capital of France?"
    );
    let ar_hash = reply.header("x-lucid-ar-hash").to_string();
    let evidence = gw.get(&format!("/v1/evidence/{ar_hash}"), &[]).json();
    assert_eq!(evidence["valid"], true, "{evidence:#}");
    let ar = &evidence["ar"];
    assert_eq!(ar["ar_hash"], ar_hash.as_str());
    assert_eq!(ar["claims_hash"], reply.header("x-lucid-claims-hash"));
    assert_eq!(ar["policy_hash"], reply.header("x-lucid-cedar-policy-hash"));
    assert_eq!(ar["request_id"], reply.header("x-lucid-request-id"));
    assert_eq!(ar["decision"], "allow");
    let phases: Vec<&str> = ar["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    // The artifact phase (integrity, model_card) is attached to every exchange.
    assert_eq!(phases, ["artifact", "request", "response"]);
    assert!(ar["measurements"]["auditors"]["pii"].is_string());

    let second = gw.chat("And of Spain?");
    let depth: u64 = second.header("x-lucid-chain-depth").parse().unwrap();
    assert_eq!(
        depth,
        reply.header("x-lucid-chain-depth").parse::<u64>().unwrap() + 1
    );
    let chain = gw
        .get(
            &format!("/v1/attestation-chain/{}", second.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    assert_eq!(chain["valid"], true, "{chain:#}");
    assert_eq!(chain["length"], 2);
    let by_request = gw
        .get(
            &format!(
                "/v1/evidence?request_id={}",
                second.header("x-lucid-request-id")
            ),
            &[],
        )
        .json();
    assert_eq!(
        by_request["ars"][0]["ar_hash"],
        second.header("x-lucid-ar-hash")
    );
}

#[test]
fn a_card_number_is_denied_in_the_request_phase_with_a_receipt() {
    let gw = start();
    let reply = gw.chat("my card is 4111 1111 1111 1111, please store it");
    assert_eq!(reply.status, 403, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["error"]["type"], "policy_denied");
    assert_eq!(body["error"]["code"], "lucid_policy_denied");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("credit-card"),
        "{body}"
    );
    assert_eq!(reply.header("x-lucid-cedar-decision"), "deny");
    let evidence = gw
        .get(
            &format!("/v1/evidence/{}", reply.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    let ar = &evidence["ar"];
    assert_eq!(ar["decision"], "deny");
    // The model was never called: only the request phase was judged (after the artifact
    // phase, which every exchange carries).
    assert_eq!(ar["phases"].as_array().unwrap().len(), 2);
    assert_eq!(ar["phases"][0]["phase"], "artifact");
    assert_eq!(ar["phases"][1]["phase"], "request");
    assert_eq!(ar["phases"][1]["decision"]["effect"], "deny");
}

#[test]
fn a_response_phase_denial_withholds_the_answer() {
    let gw = start();
    let reply = gw.chat("mock:leak");
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        !reply.body.contains("4111"),
        "the answer leaked: {}",
        reply.body
    );
    assert!(reply.body.contains("response phase"));
    let evidence = gw
        .get(
            &format!("/v1/evidence/{}", reply.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    let phases = evidence["ar"]["phases"].as_array().unwrap();
    assert_eq!(phases[1]["phase"], "request");
    assert_eq!(phases[1]["decision"]["effect"], "allow");
    assert_eq!(phases[2]["phase"], "response");
    assert_eq!(phases[2]["decision"]["effect"], "deny");
}

#[test]
fn tool_calls_run_the_execution_phase() {
    let gw = start();
    let body = json!({
        "model": "mock-1",
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    });
    let reply = gw.post("/v1/chat/completions", &body.to_string(), &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    let evidence = gw
        .get(
            &format!("/v1/evidence/{}", reply.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    let phases: Vec<&str> = evidence["ar"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["artifact", "request", "execution", "response"]);
}

fn sse_parts(body: &str) -> (Vec<Value>, Option<Value>, bool) {
    let mut data = Vec::new();
    let mut receipt = None;
    let mut done = false;
    for event in body.split("\n\n") {
        if let Some(ar) = event.strip_prefix(": lucid-receipt ") {
            assert!(!done, "the receipt must come before [DONE]");
            receipt = Some(serde_json::from_str(ar).unwrap());
        } else if event == "data: [DONE]" {
            done = true;
        } else if let Some(d) = event.strip_prefix("data: ") {
            data.push(serde_json::from_str(d).unwrap());
        }
    }
    (data, receipt, done)
}

fn stream_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect()
}

#[test]
fn streams_carry_their_receipt_in_every_mode() {
    for mode in ["buffer", "observe", "incremental"] {
        let config = format!("[streaming]\nmode = \"{mode}\"\nincremental_chars = 20\n");
        let gw = start_with(Some(&config), &[]);
        let body = json!({"model": "mock-1", "stream": true,
            "messages": [{"role": "user", "content": "echo: a streamed answer that is long enough to be audited twice"}]});
        let reply = gw.post("/v1/chat/completions", &body.to_string(), &[]);
        assert_eq!(reply.status, 200, "{mode}: {}", reply.body);
        assert!(
            reply
                .header("content-type")
                .starts_with("text/event-stream")
        );
        reply.header("x-lucid-request-id");
        let (chunks, receipt, done) = sse_parts(&reply.body);
        assert!(done, "{mode}: no [DONE]");
        assert_eq!(
            stream_text(&chunks),
            "a streamed answer that is long enough to be audited twice"
        );
        let receipt = receipt.unwrap_or_else(|| panic!("{mode}: no receipt comment"));
        assert_eq!(receipt["stream_mode"], mode);
        assert_eq!(receipt["decision"], "allow");
        if mode == "buffer" {
            assert_eq!(
                reply.header("x-lucid-ar-hash"),
                receipt["ar_hash"].as_str().unwrap()
            );
        }
        let by_request = gw
            .get(
                &format!(
                    "/v1/evidence?request_id={}",
                    reply.header("x-lucid-request-id")
                ),
                &[],
            )
            .json();
        assert_eq!(by_request["ars"][0]["ar_hash"], receipt["ar_hash"]);
    }
}

#[test]
fn a_leaking_stream_is_withheld_buffered_and_cut_incrementally() {
    let stream_leak = json!({"model": "mock-1", "stream": true,
        "messages": [{"role": "user", "content": "mock:leak"}]})
    .to_string();
    let gw = start_with(Some("[streaming]\nmode = \"buffer\"\n"), &[]);
    let reply = gw.post("/v1/chat/completions", &stream_leak, &[]);
    assert_eq!(reply.status, 403);
    assert!(!reply.body.contains("4111"));
    assert_eq!(reply.header("x-lucid-cedar-decision"), "deny");

    let gw = start_with(
        Some("[streaming]\nmode = \"incremental\"\nincremental_chars = 16\n"),
        &[],
    );
    let reply = gw.post("/v1/chat/completions", &stream_leak, &[]);
    assert_eq!(reply.status, 200);
    let (chunks, receipt, done) = sse_parts(&reply.body);
    assert!(done);
    let error = chunks
        .iter()
        .find(|c| c.get("error").is_some())
        .expect("an error event");
    assert_eq!(error["error"]["code"], "lucid_policy_denied");
    let receipt = receipt.expect("receipt");
    assert_eq!(receipt["decision"], "deny");
    assert!(receipt["stream_cut_at_chars"].is_u64());
    // Neither the card number nor the text after it ever reached the client.
    assert!(!stream_text(&chunks).contains("4111"));
    assert!(!stream_text(&chunks).contains("Anything else"));
}

#[test]
fn bad_input_gets_openai_style_errors_and_never_crashes_the_gateway() {
    let gw = start_with(Some("[gateway]\nmax_body_bytes = 2048\n"), &[]);
    let malformed = gw.post("/v1/chat/completions", "{\"messages\": [", &[]);
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"]["type"], "invalid_request_error");
    let not_chat = gw.post("/v1/chat/completions", "{\"model\": \"x\"}", &[]);
    assert_eq!(not_chat.status, 400);
    let huge =
        json!({"model": "mock-1", "messages": [{"role": "user", "content": "x".repeat(5000)}]});
    let too_large = gw.post("/v1/chat/completions", &huge.to_string(), &[]);
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.json()["error"]["code"], "request_too_large");
    let missing = gw.get("/v1/nothing-here", &[]);
    assert_eq!(missing.status, 404);
    let bad_hash = gw.get("/v1/evidence/zzz", &[]);
    assert_eq!(bad_hash.status, 400);

    let failed = gw.chat("mock:fail");
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert_eq!(failed.json()["error"]["type"], "upstream_error");
    let evidence = gw
        .get(
            &format!("/v1/evidence/{}", failed.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    assert!(
        evidence["ar"]["upstream_error"]
            .as_str()
            .unwrap()
            .contains("500")
    );

    // Still serving after all that.
    assert_eq!(gw.chat("still there?").status, 200);
    let health = gw.get("/health", &[]).json();
    assert_eq!(health["status"], "ok");
}

#[test]
fn an_upstream_timeout_is_a_502_with_a_receipt() {
    let gw = start_with(
        Some("[upstream]\ntimeout_ms = 300\n"),
        &["--upstream", "http://127.0.0.1:9"],
    );
    let reply = gw.chat("hello");
    assert_eq!(reply.status, 502, "{}", reply.body);
    reply.header("x-lucid-ar-hash");
}

#[test]
fn api_keys_pick_the_scope_and_unknown_keys_are_refused() {
    // sha256("secret-key-1")
    let digest = {
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(b"secret-key-1")?;
                c.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    };
    let admin = {
        let out = std::process::Command::new("sh")
            .args(["-c", "printf admin-token | sha256sum"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    };
    let config = format!(
        "[gateway]\nadmin_token_sha256 = \"{admin}\"\n[[keys]]\nsha256 = \"{digest}\"\norg = \"acme\"\nworkspace = \"research\"\nagent = \"bot\"\n"
    );
    let gw = start_with(Some(&config), &[]);
    let body =
        json!({"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let none = gw.post("/v1/chat/completions", &body, &[]);
    assert_eq!(none.status, 401);
    let wrong = gw.post(
        "/v1/chat/completions",
        &body,
        &[("authorization", "Bearer nope")],
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"]["code"], "invalid_api_key");
    let ok = gw.post(
        "/v1/chat/completions",
        &body,
        &[("authorization", "Bearer secret-key-1")],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let hash = ok.header("x-lucid-ar-hash");
    // The admin API needs the admin token.
    assert_eq!(gw.get(&format!("/v1/evidence/{hash}"), &[]).status, 401);
    assert_eq!(gw.get("/metrics", &[]).status, 401);
    let auth = [("authorization", "Bearer admin-token")];
    let evidence = gw.get(&format!("/v1/evidence/{hash}"), &auth).json();
    assert_eq!(
        evidence["ar"]["scope"],
        json!({"org": "acme", "workspace": "research", "agent": "bot"})
    );
    let metrics = gw.get("/metrics", &auth);
    assert!(
        metrics
            .body
            .contains("lucid_requests_total{decision=\"allow\"} 1"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("lucid_auditor_seconds"));
    let auditors = gw.get("/v1/auditors", &auth).json();
    assert_eq!(
        auditors["plugins"].as_array().unwrap().len(),
        lucid_e2e::SHIPPED.len()
    );
    let vocab = gw.get("/v1/auditors/pii/vocabulary", &auth).json();
    assert_eq!(vocab["vocabulary"]["id"], "pii");
    let policy = gw.get("/v1/policy", &auth).json();
    assert!(policy["schema"].as_str().unwrap().contains("pii_entities"));
    assert_eq!(policy["hash"], ok.header("x-lucid-cedar-policy-hash"));
    let claims = gw.post(
        "/v1/auditors/pii/claims",
        &json!({"phase": "request", "request": {"messages": [{"role": "user", "content": "mail bob@example.com"}]}}).to_string(),
        &auth,
    );
    assert_eq!(claims.status, 200, "{}", claims.body);
    assert!(claims.body.contains("pii_detected"));
}

#[test]
fn dev_mode_headers_pick_the_scope() {
    let gw = start();
    let body =
        json!({"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let reply = gw.post(
        "/v1/chat/completions",
        &body,
        &[
            ("x-lucid-org", "acme"),
            ("x-lucid-workspace", "w1"),
            ("x-lucid-agent", "a1"),
        ],
    );
    let ar = gw
        .get(
            &format!("/v1/evidence/{}", reply.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    assert_eq!(
        ar["ar"]["scope"],
        json!({"org": "acme", "workspace": "w1", "agent": "a1"})
    );
}

#[test]
fn overrides_respect_the_org_enforcement() {
    let config =
        "[orgs.acme.enforcement.injection]\nthreshold = { mode = \"floor\", value = 0.7 }\n";
    let gw = start_with(Some(config), &[]);
    // PUT the bot's injection threshold.
    let put = |threshold: f64| {
        let mut resp = gw
            .agent
            .put(format!("{}/v1/scopes/acme/research/bot/overrides", gw.base))
            .header("content-type", "application/json")
            .send(json!({"injection": {"threshold": threshold}}).to_string())
            .unwrap();
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    };
    let bad = put(0.5);
    assert_eq!(bad.status, 422);
    let body = bad.json();
    assert_eq!(
        body["error"]["message"],
        "Field 'threshold' has floor enforcement (0.7). Override value 0.5 is below the floor."
    );
    let good = put(0.9);
    assert_eq!(good.status, 200);
    let body = good.json();
    assert_eq!(body["effective"]["injection"]["threshold"], 0.9);

    // The change is an AR of the chain, receipted before it took effect.
    let ar_hash = body["ar_hash"].as_str().expect("the change's ar_hash");
    assert_eq!(good.header("x-lucid-ar-hash"), ar_hash);
    let record = gw.get(&format!("/v1/evidence/{ar_hash}"), &[]).json();
    assert_eq!(record["valid"], true, "{record}");
    let ar = &record["ar"];
    assert_eq!(ar["event"], "overrides_changed");
    assert_eq!(ar["scope"]["workspace"], "research");
    assert_eq!(ar["overrides"], json!({"injection": {"threshold": 0.9}}));
    assert_eq!(ar["settings"]["injection"]["threshold"], 0.9);
    assert_eq!(ar["settings_hash"], body["settings_hash"]);
    // An exchange of that scope is judged with, and binds, exactly those settings.
    let reply = gw.post(
        "/v1/chat/completions",
        &json!({"model": "mock-1", "messages": [{"role": "user", "content": "hello"}]}).to_string(),
        &[
            ("x-lucid-org", "acme"),
            ("x-lucid-workspace", "research"),
            ("x-lucid-agent", "bot"),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let exchange = gw
        .get(
            &format!("/v1/evidence/{}", reply.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    assert_eq!(exchange["ar"]["settings_hash"], body["settings_hash"]);
    assert_eq!(
        exchange["ar"]["ar_references"][0], ar_hash,
        "the exchange follows the change in the chain"
    );
    // The settings and the config that judged it are in its measurements, and the admin API
    // serves their values.
    let measurements = &exchange["ar"]["measurements"];
    assert_eq!(measurements["settings_hash"], body["settings_hash"]);
    let settings = gw.get("/v1/scopes/acme/research/bot/settings", &[]).json();
    assert_eq!(settings["settings_hash"], body["settings_hash"]);
    assert_eq!(settings["settings"], exchange["ar"]["settings"]);
    let other = gw.get("/v1/scopes/acme/other/bot/settings", &[]).json();
    assert_ne!(other["settings_hash"], body["settings_hash"]);
    let served = gw.get("/v1/config", &[]).json();
    let text = served["text"].as_str().unwrap();
    assert!(
        text.contains("[orgs.acme.enforcement.injection]"),
        "{served}"
    );
    assert_eq!(
        served["config_hash"],
        lucid_ar::sha256_hex(text.as_bytes()).as_str()
    );
    assert_eq!(measurements["config_hash"], served["config_hash"]);
    // A refused change leaves no record.
    let depth = reply.header("x-lucid-chain-depth").parse::<u64>().unwrap();
    assert_eq!(put(0.1).status, 422);
    let next = gw.chat("hello");
    assert_eq!(
        next.header("x-lucid-chain-depth").parse::<u64>().unwrap(),
        depth + 1
    );
}

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let gw = start();
    let base = gw.base.clone();
    let slow = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let body =
            json!({"model": "mock-1", "messages": [{"role": "user", "content": "mock:sleep 800"}]});
        let resp = agent
            .post(format!("{base}/v1/chat/completions"))
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap();
        resp.status().as_u16()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let Gw { daemon, _root, .. } = gw;
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        slow.join().unwrap(),
        200,
        "the in-flight request was not finished"
    );
    // Every acknowledged receipt is in the store.
    let report = chain_verify(_root.path());
    assert_eq!(report["valid"], true);
    assert_eq!(report["length"], 1);
}

/// `lucid chain verify` over the data dir of a stopped gateway rooted at `root`: its report.
fn chain_verify(root: &Path) -> Value {
    let out = lucid_e2e::lucid()
        .args(["chain", "verify", "--data-dir"])
        .arg(root.join("data"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `lucid chain export` over the data dir of a stopped gateway rooted at `root`: its ARs.
fn chain_export(root: &Path) -> Vec<Value> {
    let out = lucid_e2e::lucid()
        .args(["chain", "export", "--data-dir"])
        .arg(root.join("data"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn exchanges_cut_off_by_shutdown_are_receipted() {
    let gw = start_with(None, &["--grace-secs", "1"]);
    let base = gw.base.clone();
    let clients: Vec<_> = [false, true]
        .into_iter()
        .map(|stream| {
            let base = base.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let body = json!({"model": "mock-1", "stream": stream,
                    "messages": [{"role": "user", "content": "mock:sleep 30000"}]});
                // The answer, or nothing if the connection closed first.
                agent
                    .post(format!("{base}/v1/chat/completions"))
                    .header("content-type", "application/json")
                    .send(body.to_string())
                    .ok()
                    .map(|mut r| {
                        (
                            r.status().as_u16(),
                            r.body_mut().read_to_string().unwrap_or_default(),
                        )
                    })
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let Gw { daemon, _root, .. } = gw;
    let started = std::time::Instant::now();
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the 30 s upstream calls were not cut off: {:?}",
        started.elapsed()
    );
    for client in clients {
        if let Some((status, body)) = client.join().unwrap() {
            // A completion cut off is a 503; a stream already answered 200 carries the error.
            assert!(
                status == 503 || body.contains("shut down"),
                "{status}: {body}"
            );
        }
    }
    // Both exchanges were receipted, saying why they ended.
    let ars = chain_export(_root.path());
    assert_eq!(ars.len(), 2, "{ars:?}");
    for ar in &ars {
        assert_eq!(
            ar["upstream_error"], "the gateway shut down before the upstream finished",
            "{ar}"
        );
    }
    let report = chain_verify(_root.path());
    assert_eq!(report["valid"], true, "{report}");
}

#[test]
fn a_bundle_preset_brings_its_policies_and_enforcement_for_every_org() {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    lucid_e2e::copy_shipped(&plugins);
    let mut cmd = lucid_e2e::lucid();
    cmd.current_dir(lucid_e2e::repo_root())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--preset",
            "production_team",
            "--plugins",
        ])
        .arg(&plugins)
        .arg("--data-dir")
        .arg(root.path().join("data"));
    let mut daemon = Daemon::start(&mut cmd);
    let base = daemon.base_url();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let put = |threshold: f64| {
        let mut resp = agent
            .put(format!("{base}/v1/scopes/someorg/ws/bot/overrides"))
            .header("content-type", "application/json")
            .send(json!({"injection": {"threshold": threshold}}).to_string())
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap())
    };
    let (status, body) = put(0.9);
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("Field 'threshold' has ceiling enforcement (0.7). Override value 0.9 is above the ceiling."),
        "{body}"
    );
    let (status, body) = put(0.5);
    assert_eq!(status, 200, "{body}");
    // The bundle's preset (balanced) is in force: a card number is denied.
    let mut resp = agent
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .send(json!({"model": "mock-1", "messages": [{"role": "user", "content": "4111 1111 1111 1111"}]}).to_string())
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        403,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );
}

/// Poll `check` (every 50 ms, up to 30 s) until it holds.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not happen within 30 s");
}

#[test]
fn removing_an_auditor_the_policy_needs_denies_everything_until_it_is_back() {
    let mut gw = start();
    let plugins = gw._root.path().join("plugins");
    let pii = plugins.join("pii.wasm");
    let saved = gw._root.path().join("pii.wasm.saved");
    std::fs::rename(&pii, &saved).unwrap();
    gw.daemon
        .wait_for("the listing without pii", |l| l.contains("(10 loaded"));
    // The balanced preset reads pii's claims: it no longer validates. Fail closed, receipted.
    let mut denied = None;
    eventually("a denial naming the policy problem", || {
        let reply = gw.chat("my card is 4111 1111 1111 1111");
        let done = reply.status == 403;
        denied = Some(reply);
        done
    });
    let denied = denied.unwrap();
    assert_eq!(denied.header("x-lucid-cedar-decision"), "deny");
    let ar_hash = denied.header("x-lucid-ar-hash").to_string();
    let body = denied.json();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no policy in force")),
        "{body}"
    );
    // Even a harmless request is denied, and health says why.
    assert_eq!(gw.chat("hello").status, 403);
    let health = gw.get("/health", &[]);
    assert!(health.body.contains("degraded"), "{}", health.body);
    let evidence = gw.get(&format!("/v1/evidence/{ar_hash}"), &[]);
    assert_eq!(evidence.status, 200, "{}", evidence.body);
    // The fix takes effect by hot reload, without a restart.
    std::fs::rename(&saved, &pii).unwrap();
    eventually("allowed again", || gw.chat("hello").status == 200);
    assert!(gw.get("/health", &[]).body.contains("\"ok\""));
}

#[test]
fn a_gateway_started_without_a_needed_auditor_stays_up_and_denies() {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    lucid_e2e::copy_shipped(&plugins);
    std::fs::remove_file(plugins.join("pii.wasm")).unwrap();
    let mut cmd = serve_cmd(&plugins, &root.path().join("data"), &preset("balanced"));
    let config = root.path().join("lucid.toml");
    std::fs::write(&config, "[defaults]\ndeadline_ms = 5000\n").unwrap();
    cmd.arg("--config").arg(&config);
    let mut daemon = Daemon::start(&mut cmd);
    let base = daemon.base_url();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let body = json!({"model": "mock-1", "messages": [{"role": "user", "content": "hello"}]});
    let mut resp = agent
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.headers().contains_key("x-lucid-ar-hash"));
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(text.contains("no policy in force"), "{text}");
    // Adding the missing auditor fixes it by hot reload.
    std::fs::copy(plugin("pii"), plugins.join(".pii.part")).unwrap();
    std::fs::rename(plugins.join(".pii.part"), plugins.join("pii.wasm")).unwrap();
    eventually("allowed after the fix", || {
        agent
            .post(format!("{base}/v1/chat/completions"))
            .header("content-type", "application/json")
            .send(body.to_string())
            .is_ok_and(|r| r.status().as_u16() == 200)
    });
    drop(daemon);
}
