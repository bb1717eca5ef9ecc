//! The Observer UI in a real browser: headless Chromium (`LUCID_CHROMIUM`) drives `/ui` of a
//! running gateway (the shipped auditors, the balanced preset, the mock upstream). Screenshots go
//! to target/ui-screenshots/.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::gateway::{Reply, chat_via, get_via};
use headless_chrome::Tab;
use headless_chrome::protocol::cdp::Network::CookieSameSite;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use lucid_e2e::{Chromium, Daemon, launch_chromium, preset, serve_cmd};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How long a page may take to load on a busy machine.
const PAGE_LOAD: Duration = Duration::from_secs(10);
/// The issue's bound: a new exchange is in the open feed within a second of its answer.
const LIVE_BOUND: Duration = Duration::from_secs(1);
/// How often the DOM is polled.
const POLL: Duration = Duration::from_millis(20);

struct Gw {
    root: tempfile::TempDir,
    _daemon: Daemon,
    base: String,
    agent: ureq::Agent,
}

/// A gateway with the shipped auditors, the balanced preset and `config` (lucid.toml), on a
/// free port.
fn start(config: &str) -> Gw {
    let root = tempfile::tempdir().expect("temp dir");
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).expect("create the plugins dir");
    lucid_e2e::copy_shipped(&plugins);
    let mut cmd = serve_cmd(&plugins, &root.path().join("data"), &preset("balanced"));
    // Generous auditor deadlines: a timeout on a busy machine fails closed.
    let path = root.path().join("lucid.toml");
    std::fs::write(&path, format!("[defaults]\ndeadline_ms = 5000\n{config}"))
        .expect("write lucid.toml");
    cmd.arg("--config").arg(path);
    let mut daemon = Daemon::start(&mut cmd);
    let base = daemon.base_url();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    Gw {
        root,
        _daemon: daemon,
        base,
        agent,
    }
}

impl Gw {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        get_via(&self.agent, &self.base, path, headers)
    }

    /// The status and content type of `path` without reading its body (an event stream does
    /// not end).
    fn head_of(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut req = self.agent.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.call().expect("a GET to the gateway");
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (resp.status().as_u16(), content_type)
    }

    fn chat(&self, text: &str) -> Reply {
        chat_via(&self.agent, &self.base, text)
    }

    /// The AR of an exchange from the admin API.
    fn ar(&self, ar_hash: &str, headers: &[(&str, &str)]) -> Value {
        let reply = self.get(&format!("/v1/evidence/{ar_hash}"), headers);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let evidence = reply.json();
        assert_eq!(evidence["valid"], true, "{evidence:#}");
        evidence["ar"].clone()
    }
}

/// A tab of a fresh headless Chromium.
struct Page {
    tab: Arc<Tab>,
    _chrome: Chromium,
}

/// `value` as a JavaScript string literal.
fn js_str(value: &str) -> String {
    Value::String(value.to_string()).to_string()
}

impl Page {
    fn open() -> Page {
        let chrome = launch_chromium();
        let tab = chrome.browser.new_tab().expect("a browser tab");
        tab.set_default_timeout(PAGE_LOAD);
        Page {
            tab,
            _chrome: chrome,
        }
    }

    /// Evaluate `expr` in the page; its value as JSON (`undefined` is null), or the exception.
    fn eval(&self, expr: &str) -> Result<Value, String> {
        let wrapped = format!("JSON.stringify([(() => ({expr}))()])");
        let result = self
            .tab
            .evaluate(&wrapped, false)
            .map_err(|e| e.to_string())?;
        match result.value {
            Some(Value::String(text)) => {
                let mut list: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                Ok(list[0].take())
            }
            _ => Err(result
                .description
                .clone()
                .unwrap_or_else(|| format!("{result:?}"))),
        }
    }

    fn value(&self, expr: &str) -> Value {
        self.eval(expr)
            .unwrap_or_else(|e| panic!("evaluating {expr}: {e}"))
    }

    fn text(&self, expr: &str) -> String {
        match self.value(expr) {
            Value::String(s) => s,
            other => panic!("{expr} is {other}, not a string"),
        }
    }

    /// Poll (every 20 ms) until `cond` is true in the page, up to `limit` after `since`; how
    /// long after `since` it held. An error (the page is between documents) counts as false.
    fn wait_since(&self, what: &str, cond: &str, since: Instant, limit: Duration) -> Duration {
        loop {
            let last = match self.eval(cond) {
                Ok(Value::Bool(true)) => return since.elapsed(),
                other => other,
            };
            if since.elapsed() > limit {
                panic!(
                    "{what}: not within {limit:?} (last: {last:?}); the page now:\n{}",
                    self.eval("document.documentElement.outerHTML")
                        .map(|v| v.to_string())
                        .unwrap_or_else(|e| e)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    fn wait(&self, what: &str, cond: &str) {
        self.wait_since(what, cond, Instant::now(), PAGE_LOAD);
    }

    /// Mark the current document, so that [`Page::wait_page`] waits for the next one.
    fn mark_stale(&self) {
        self.value("document.documentElement.dataset.stale = 'true'");
    }

    /// Wait for a new, parsed document for which `cond` holds.
    fn wait_page(&self, what: &str, cond: &str) {
        self.wait(
            what,
            &format!(
                "document.readyState !== 'loading' && document.documentElement.dataset.stale !== 'true' && !!document.body && ({cond})"
            ),
        );
    }

    /// Load `url` and wait for `<body data-page="page">`.
    fn goto(&self, url: &str, page: &str) {
        self.mark_stale();
        self.tab
            .navigate_to(url)
            .unwrap_or_else(|e| panic!("navigating to {url}: {e:#}"));
        self.wait_page(
            &format!("{url} (data-page {page})"),
            &format!("document.body.dataset.page === {}", js_str(page)),
        );
    }

    /// Click the element of `selector` with the mouse.
    fn click(&self, selector: &str) {
        self.tab
            .find_element(selector)
            .unwrap_or_else(|e| panic!("no {selector} to click: {e:#}"))
            .click()
            .unwrap_or_else(|e| panic!("clicking {selector}: {e:#}"));
    }

    /// Type `text` into the input of `selector` (after clearing it).
    fn type_into(&self, selector: &str, text: &str) {
        self.value(&format!(
            "document.querySelector({}).value = ''",
            js_str(selector)
        ));
        self.tab
            .find_element(selector)
            .unwrap_or_else(|e| panic!("no {selector} to type into: {e:#}"))
            .type_into(text)
            .unwrap_or_else(|e| panic!("typing into {selector}: {e:#}"));
    }

    /// An attribute of the first element of `selector` (null when there is none).
    fn attr(&self, selector: &str, name: &str) -> Value {
        self.value(&format!(
            "document.querySelector({})?.getAttribute({}) ?? null",
            js_str(selector),
            js_str(name)
        ))
    }

    /// `data-ar-hash` of every exchange row of the feed, top to bottom.
    fn feed_rows(&self) -> Vec<String> {
        serde_json::from_value(self.value(
            "[...document.querySelectorAll('#feed-rows tr.exchange')].map(r => r.dataset.arHash)",
        ))
        .expect("a list of hashes")
    }

    /// Every URL the page loaded or refers to, for the no-external-URL check.
    fn urls(&self) -> Vec<String> {
        serde_json::from_value(self.value(
            "[...performance.getEntriesByType('resource').map(e => e.name), \
             ...[...document.querySelectorAll('[src]')].map(e => e.src), \
             ...[...document.querySelectorAll('link[href], a[href]')].map(e => e.href), \
             ...[...document.querySelectorAll('form[action]')].map(e => e.action)]",
        ))
        .expect("a list of URLs")
    }

    /// A PNG of the viewport into target/ui-screenshots/.
    fn screenshot(&self, name: &str) {
        let dir = lucid_e2e::repo_root().join("target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("create target/ui-screenshots");
        let png = self
            .tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .expect("a screenshot");
        std::fs::write(dir.join(name), png).expect("write the screenshot");
    }
}

/// The `org/workspace/agent` of an AR's scope.
fn scope_of(ar: &Value) -> String {
    let scope = &ar["scope"];
    format!(
        "{}/{}/{}",
        scope["org"].as_str().expect("scope.org"),
        scope["workspace"].as_str().expect("scope.workspace"),
        scope["agent"].as_str().expect("scope.agent")
    )
}

#[test]
fn feed_shows_a_new_exchange_live() {
    let gw = start("");
    let earlier = gw.chat("What is the capital of France?");
    assert_eq!(earlier.status, 200, "{}", earlier.body);
    let earlier = earlier.header("x-lucid-ar-hash").to_string();

    let page = Page::open();
    page.goto(&gw.url("/ui"), "feed");
    // The server renders the exchanges already receipted.
    assert_eq!(page.feed_rows(), std::slice::from_ref(&earlier));
    assert_eq!(page.attr("#chain-status", "data-valid"), "true");
    page.wait(
        "the feed's live stream",
        "document.body.dataset.live === 'true'",
    );
    page.value("window.__marker = 1");

    let reply = gw.chat("And of Spain?");
    let answered = Instant::now();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let hash = reply.header("x-lucid-ar-hash").to_string();
    let row = format!("tr.exchange[data-ar-hash={}]", js_str(&hash));
    let took = page.wait_since(
        &format!("the row of {hash} in the open feed"),
        &format!("document.querySelector({}) !== null", js_str(&row)),
        answered,
        LIVE_BOUND,
    );
    eprintln!("the new exchange was in the feed {took:?} after its answer");
    assert_eq!(
        page.value("window.__marker"),
        1,
        "the feed reloaded instead of updating in place"
    );
    // Newest first, of the same shape as a rendered row.
    assert_eq!(page.feed_rows(), [hash.clone(), earlier]);
    let ar = gw.ar(&hash, &[]);
    assert_eq!(page.attr(&row, "data-decision"), "allow");
    assert_eq!(page.attr(&row, "data-scope"), scope_of(&ar).as_str());
    assert_eq!(
        page.attr(&format!("{row} a.passport-link"), "href"),
        format!("/ui/exchange/{hash}").as_str()
    );
    page.screenshot("feed.png");

    // Everything the page loaded, and everything it links to, is the gateway's.
    let urls = page.urls();
    assert!(
        urls.iter()
            .any(|u| u.starts_with(&format!("{}/ui/assets/", gw.base))),
        "the page loads its assets from the gateway: {urls:?}"
    );
    let external: Vec<&String> = urls
        .iter()
        .filter(|u| !u.starts_with(&format!("{}/", gw.base)))
        .collect();
    assert!(
        external.is_empty(),
        "external URLs in the feed: {external:?}"
    );
}

#[test]
fn denied_passport_lists_reason_and_claims() {
    let gw = start("");
    let reply = gw.chat("my card is 4111 1111 1111 1111, please store it");
    assert_eq!(reply.status, 403, "{}", reply.body);
    let hash = reply.header("x-lucid-ar-hash").to_string();
    let ar = gw.ar(&hash, &[]);
    assert_eq!(ar["decision"], "deny");
    // What the receipt says denied it: the policy ids and auditor errors of the denying phases.
    let phases = ar["phases"].as_array().expect("phases");
    let expected: BTreeSet<String> = phases
        .iter()
        .filter(|p| p["decision"]["effect"] == "deny")
        .flat_map(|p| {
            let decision = &p["decision"];
            let list = |key: &str| decision[key].as_array().cloned().unwrap_or_default();
            list("reasons").into_iter().chain(list("errors"))
        })
        .map(|r| r.as_str().expect("a reason string").to_string())
        .collect();
    assert!(
        expected.contains("balanced.deny-credit-card"),
        "the balanced preset's card policy denied it: {expected:?}"
    );
    let claims: BTreeSet<(String, String, String)> = phases
        .iter()
        .flat_map(|p| {
            let phase = p["phase"].as_str().expect("phase").to_string();
            p["claims"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |c| {
                    (
                        phase.clone(),
                        c["auditor"].as_str().expect("claim auditor").to_string(),
                        c["name"].as_str().expect("claim name").to_string(),
                    )
                })
        })
        .collect();

    let page = Page::open();
    page.goto(&gw.url(&format!("/ui/exchange/{hash}")), "passport");
    assert_eq!(page.attr("#passport", "data-ar-hash"), hash.as_str());
    assert_eq!(page.attr("#decision", "data-decision"), "deny");
    let reasons: Vec<String> = serde_json::from_value(
        page.value("[...document.querySelectorAll('#reasons li')].map(li => li.textContent)"),
    )
    .expect("the reasons");
    for reason in &expected {
        assert!(
            reasons.iter().any(|li| li.contains(reason.as_str())),
            "the passport does not list {reason}: {reasons:?}"
        );
    }
    let rows: BTreeSet<(String, String, String)> = serde_json::from_value::<Vec<_>>(page.value(
        "[...document.querySelectorAll('#claims tr.claim')].map(r => [r.dataset.phase, r.dataset.auditor, r.dataset.name])",
    ))
    .expect("the claim rows")
    .into_iter()
    .collect();
    assert!(
        rows.contains(&("request".into(), "pii".into(), "pii_detected".into())),
        "no pii_detected claim of the request phase: {rows:?}"
    );
    let missing: Vec<_> = claims.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "claims of the AR the passport does not show: {missing:?}"
    );
    assert_eq!(page.attr("#signature", "data-valid"), "true");
    assert_eq!(page.attr("#chain-validity", "data-valid"), "true");
    page.screenshot("passport.png");

    // An unknown hash is a 404 page, a malformed one a 400.
    let last = hash.chars().last().expect("a hash");
    let unknown = format!(
        "{}{}",
        &hash[..hash.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_eq!(gw.get(&format!("/ui/exchange/{unknown}"), &[]).status, 404);
    assert_eq!(gw.get("/ui/exchange/not-a-hash", &[]).status, 400);
}

#[test]
fn tampered_chain_shows_invalid() {
    let gw = start("");
    let exchanges: Vec<(String, String)> = ["one", "two", "three"]
        .iter()
        .map(|q| {
            let reply = gw.chat(&format!("question {q}"));
            assert_eq!(reply.status, 200, "{}", reply.body);
            (
                reply.header("x-lucid-ar-hash").to_string(),
                reply.header("x-lucid-chain-depth").to_string(),
            )
        })
        .collect();

    let page = Page::open();
    let chain = gw.url("/ui/chain");
    page.goto(&chain, "chain");
    assert_eq!(page.attr("#chain-status", "data-valid"), "true");
    let timeline: BTreeSet<(String, String)> = serde_json::from_value::<Vec<_>>(page.value(
        "[...document.querySelectorAll('#timeline li.ar')].map(li => [li.dataset.arHash, li.dataset.depth])",
    ))
    .expect("the timeline")
    .into_iter()
    .collect();
    assert_eq!(
        timeline,
        exchanges.iter().cloned().collect::<BTreeSet<_>>(),
        "the timeline shows every AR at its depth"
    );
    // Verifying the intact chain says so.
    page.mark_stale();
    page.click("#verify");
    page.wait_page(
        "the verified chain",
        "!!document.querySelector('#verify-result')",
    );
    assert_eq!(page.attr("#verify-result", "data-valid"), "true");

    // Rewrite the middle AR's decision in the database under the running gateway.
    let middle = &exchanges[1].0;
    let db = rusqlite::Connection::open(gw.root.path().join("data/evidence.db"))
        .expect("open the evidence database");
    db.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    let text: String = db
        .query_row("SELECT ar FROM ars WHERE ar_hash = ?1", [middle], |r| {
            r.get(0)
        })
        .expect("the middle AR is stored");
    let mut forged: Value = serde_json::from_str(&text).expect("a stored AR is JSON");
    assert_eq!(forged["decision"], "allow");
    forged["decision"] = json!("deny");
    let changed = db
        .execute(
            "UPDATE ars SET ar = ?1 WHERE ar_hash = ?2",
            [forged.to_string(), middle.clone()],
        )
        .expect("rewrite the AR");
    assert_eq!(changed, 1);
    drop(db);

    page.goto(&chain, "chain");
    page.mark_stale();
    page.click("#verify");
    page.wait_page(
        "the verified chain",
        "!!document.querySelector('#verify-result')",
    );
    assert_eq!(
        page.value("new URLSearchParams(location.search).get('verify')"),
        "all"
    );
    assert_eq!(page.attr("#verify-result", "data-valid"), "false");
    assert_eq!(page.attr("#chain-status", "data-valid"), "false");
    let errors: Vec<String> = serde_json::from_value(
        page.value("[...document.querySelectorAll('#chain-errors li')].map(li => li.textContent)"),
    )
    .expect("the chain errors");
    assert!(
        errors.iter().any(|e| e.contains(middle.as_str())),
        "no error names the rewritten AR {middle}: {errors:?}"
    );
    page.screenshot("chain-invalid.png");
}

#[test]
fn login_is_required_with_an_admin_token() {
    let token = "observer-ui-admin-token";
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let gw = start(&format!("[gateway]\nadmin_token_sha256 = \"{digest}\"\n"));
    let bearer = format!("Bearer {token}");
    let reply = gw.chat("hello");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let hash = reply.header("x-lucid-ar-hash").to_string();

    // Without the cookie: a redirect to the login page, and no event stream.
    let plain = gw.get("/ui", &[]);
    assert_eq!(plain.status, 303, "{}", plain.body);
    assert!(
        plain.header("location").starts_with("/ui/login?next="),
        "{:?}",
        plain.headers
    );
    let (status, _) = gw.head_of("/ui/events", &[]);
    assert!(
        status == 401 || status == 303,
        "/ui/events without the cookie answered {status}"
    );
    let (status, _) = gw.head_of("/ui/events", &[("authorization", "Bearer wrong")]);
    assert!(
        status == 401 || status == 303,
        "/ui/events with a wrong token answered {status}"
    );
    // The admin token as a bearer token opens it.
    let (status, content_type) = gw.head_of("/ui/events", &[("authorization", &bearer)]);
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );

    let page = Page::open();
    page.mark_stale();
    page.tab
        .navigate_to(&gw.url("/ui"))
        .expect("navigate to /ui");
    page.wait_page("the login page", "!!document.querySelector('form#login')");
    assert_eq!(page.text("location.pathname"), "/ui/login");
    assert_eq!(
        page.value("new URLSearchParams(location.search).get('next')"),
        "/ui"
    );
    assert_eq!(page.attr("form#login input[name=next]", "value"), "/ui");
    assert_eq!(page.attr("#token", "type"), "password");

    // A wrong token: a 401 page saying so, and no cookie.
    page.type_into("#token", "not-the-token");
    page.mark_stale();
    page.click("#login-submit");
    page.wait_page(
        "the login error",
        "!!document.querySelector('#login-error')",
    );
    assert_eq!(
        page.value("performance.getEntriesByType('navigation')[0].responseStatus"),
        401
    );
    page.screenshot("login-error.png");
    let cookies = page.tab.get_cookies().expect("the cookies");
    assert!(
        cookies.iter().all(|c| c.name != "lucid_ui"),
        "a wrong token got a cookie: {cookies:?}"
    );

    // The right token reaches the feed, live.
    page.mark_stale();
    page.tab
        .navigate_to(&gw.url("/ui"))
        .expect("navigate to /ui");
    page.wait_page("the login page", "!!document.querySelector('form#login')");
    page.type_into("#token", token);
    page.mark_stale();
    page.click("#login-submit");
    page.wait_page(
        "the feed after login",
        "document.body.dataset.page === 'feed'",
    );
    assert_eq!(page.text("location.pathname"), "/ui");
    assert_eq!(page.feed_rows(), [hash]);
    let cookies = page.tab.get_cookies().expect("the cookies");
    let cookie = cookies
        .iter()
        .find(|c| c.name == "lucid_ui")
        .unwrap_or_else(|| panic!("no lucid_ui cookie: {cookies:?}"));
    assert!(cookie.http_only, "{cookie:?}");
    assert_eq!(cookie.path, "/ui", "{cookie:?}");
    assert!(
        matches!(cookie.same_site, Some(CookieSameSite::Strict)),
        "{cookie:?}"
    );
    page.wait(
        "the feed's live stream",
        "document.body.dataset.live === 'true'",
    );
    // The cookie opens the other pages too.
    page.goto(&gw.url("/ui/chain"), "chain");
}

#[test]
fn policy_try_judges_a_typed_prompt() {
    let gw = start("");
    let page = Page::open();
    page.mark_stale();
    page.tab
        .navigate_to(&gw.url("/ui/policy"))
        .expect("navigate to /ui/policy");
    page.wait_page(
        "the policy page",
        "!!document.querySelector('form#try textarea[name=prompt]')",
    );
    page.type_into(
        "form#try textarea[name=prompt]",
        "my card is 4111 1111 1111 1111",
    );
    page.mark_stale();
    page.click("form#try [type=submit]");
    page.wait_page(
        "the tried prompt",
        "!!document.querySelector('#try-decision')",
    );
    assert_eq!(page.attr("#try-decision", "data-decision"), "deny");
    let claims = page.text("document.querySelector('#try-claims').textContent");
    assert!(claims.contains("pii_detected"), "{claims}");
    page.screenshot("policy-try.png");
}

/// What the official `openai` Python client sends: one chat, its `x-lucid-ar-hash` printed.
const OPENAI_CHAT: &str = r#"
import sys, openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="x", max_retries=0, timeout=60)
raw = client.chat.completions.with_raw_response.create(
    model="mock-1", messages=[{"role": "user", "content": "Hello from the OpenAI client"}])
print(raw.headers["x-lucid-ar-hash"])
"#;

/// The issue's "done when": the feed open, one request from the official OpenAI client — the
/// exchange appears, the chain is checked again and valid, and its passport opens, all without
/// reloading the feed.
#[test]
fn an_openai_client_exchange_shows_live_with_its_passport_and_a_valid_chain() {
    let Some(python) = std::env::var("LUCID_PYTHON").ok().filter(|p| !p.is_empty()) else {
        let msg =
            "this test needs LUCID_PYTHON (a python with `openai`; `cargo xtask test` sets it)";
        assert!(
            std::env::var_os("LUCID_REQUIRE_ALL").is_none(),
            "{msg} (LUCID_REQUIRE_ALL is set: nothing may be skipped)"
        );
        println!("SKIPPED: {msg}");
        return;
    };
    let gw = start("");
    let page = Page::open();
    page.goto(&gw.url("/ui"), "feed");
    assert!(page.feed_rows().is_empty());
    page.wait(
        "the feed's live stream",
        "document.body.dataset.live === 'true'",
    );
    page.value("window.__marker = 1");

    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(OPENAI_CHAT)
        .arg(gw.url("/v1"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "the openai client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(hash.len(), 64, "an ar_hash: {hash:?}");

    let row = format!("tr.exchange[data-ar-hash={}]", js_str(&hash));
    page.wait(
        "the OpenAI client's exchange in the open feed",
        &format!("document.querySelector({}) !== null", js_str(&row)),
    );
    page.wait(
        "the chain checked again with the new receipt",
        "document.getElementById('chain-checked').textContent === 'last 1 receipts checked'",
    );
    assert_eq!(page.attr("#chain-status", "data-valid"), "true");
    assert_eq!(page.value("window.__marker"), 1, "the feed was reloaded");
    page.screenshot("feed-openai.png");

    page.mark_stale();
    page.click(&format!("{row} a.passport-link"));
    page.wait_page(
        "the exchange's passport",
        "document.body.dataset.page === 'passport'",
    );
    assert_eq!(page.attr("#passport", "data-ar-hash"), hash.as_str());
    assert_eq!(page.attr("#decision", "data-decision"), "allow");
    assert_eq!(page.attr("#signature", "data-valid"), "true");
    assert_eq!(page.attr("#chain-validity", "data-valid"), "true");
    page.screenshot("passport-openai.png");
}
