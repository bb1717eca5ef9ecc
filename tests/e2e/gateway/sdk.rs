//! Auditors in Python and JavaScript, the way an author makes them: `lucid auditor init NAME
//! --lang python|js`, `lucid auditor build NAME`, the contract test, then the `.wasm` dropped
//! into a running gateway's plugin directory — next to the shipped Rust auditors and the SDK
//! examples (guests/python/blocklist, guests/js/links, built by `cargo xtask test`) — where it
//! goes live, its claim reaches Cedar (a policy written against it denies) and the receipt.
//!
//! The toolchains are the project-local ones `cargo xtask test` installs (componentize-py in
//! target/venv, componentize-js in target/js-tools), passed as LUCID_COMPONENTIZE_PY/_JS.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lucid_e2e::{Daemon, lucid, serve_cmd};
use serde_json::{Value, json};

use super::{Reply, post_via};

/// What each language's `init` template claims, a Cedar condition that holds when the claim
/// flags a prompt, and a prompt it flags.
struct Template {
    lang: &'static str,
    claim: &'static str,
    flagged: &'static str,
    flagging: &'static str,
}

const PYTHON: Template = Template {
    lang: "python",
    claim: "shouting",
    flagged: "context.claims.shouting",
    flagging: "WHY IS NOBODY ANSWERING MY TICKET",
};

const JS: Template = Template {
    lang: "js",
    claim: "mentions",
    flagged: "context.claims.mentions > 0",
    flagging: "this memo is confidential, summarise it",
};

/// Allow everything, except a request the new auditor's claim flags — a claim no auditor has
/// until it is dropped in (until then the policy does not validate, and the gateway denies
/// every exchange).
fn policies(dir: &Path, template: &Template) {
    std::fs::write(
        dir.join("allow.cedar"),
        "@id(\"allow-all\")\npermit(principal, action, resource);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("shout.cedar"),
        format!(
            "@id(\"sdk.flagged-by-shout\")\nforbid (principal, action == Action::\"request\", resource)\nwhen {{ context.claims has {} && {} }};\n",
            template.claim, template.flagged
        ),
    )
    .unwrap();
}

/// What the SDK tests need from `cargo xtask test`; `None` (SKIPPED) without it, a failure
/// under LUCID_REQUIRE_ALL.
struct Toolchain {
    sdk_plugins: PathBuf,
    env: Vec<(&'static str, PathBuf)>,
}

fn toolchain() -> Option<Toolchain> {
    let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
    match (
        var("LUCID_SDK_PLUGINS"),
        var("LUCID_COMPONENTIZE_PY"),
        var("LUCID_COMPONENTIZE_JS"),
    ) {
        (Some(sdk_plugins), Some(py), Some(js)) => Some(Toolchain {
            sdk_plugins,
            env: vec![("LUCID_COMPONENTIZE_PY", py), ("LUCID_COMPONENTIZE_JS", js)],
        }),
        _ => {
            let msg = "the SDK tests need LUCID_SDK_PLUGINS, LUCID_COMPONENTIZE_PY and LUCID_COMPONENTIZE_JS (`cargo xtask test` sets them)";
            assert!(
                std::env::var_os("LUCID_REQUIRE_ALL").is_none(),
                "{msg} (LUCID_REQUIRE_ALL is set: nothing may be skipped)"
            );
            println!("SKIPPED: {msg}");
            None
        }
    }
}

fn run_ok(cmd: &mut std::process::Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `lucid auditor init shout --lang LANG && lucid auditor build shout`, then the contract test.
fn init_and_build(root: &Path, template: &Template, tools: &Toolchain) -> PathBuf {
    let lang = template.lang;
    let said = run_ok(
        lucid()
            .current_dir(root)
            .args(["auditor", "init", "shout", "--lang", lang]),
        "lucid auditor init",
    );
    assert!(said.contains("lucid auditor build shout"), "{said}");
    let built = run_ok(
        lucid()
            .current_dir(root)
            .envs(tools.env.iter().map(|(k, v)| (k, v)))
            .args(["auditor", "build", "shout"]),
        "lucid auditor build",
    );
    let summary: Value = serde_json::from_str(built.trim())
        .unwrap_or_else(|e| panic!("build summary {built:?}: {e}"));
    let wasm = root.join("shout/shout.wasm");
    assert_eq!(
        summary["file"],
        wasm.canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(summary["lang"], lang);
    assert_eq!(summary["id"], "shout");
    assert_eq!(summary["contract"], "lucid:auditor@0.2");
    assert!(
        summary["claims"]
            .as_array()
            .unwrap()
            .contains(&json!(template.claim)),
        "{summary}"
    );
    let tested = run_ok(
        lucid()
            .args(["auditor", "test"])
            .arg(&wasm)
            .args(["--claims", "--deadline-ms", "2000"]),
        "lucid auditor test --claims",
    );
    assert!(tested.contains(" 0 failed"), "{tested}");
    wasm
}

fn claims_of<'a>(ar: &'a Value, phase: &str) -> Vec<&'a Value> {
    ar["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["phase"] == phase)
        .flat_map(|p| p["claims"].as_array().unwrap())
        .collect()
}

fn claim<'a>(claims: &[&'a Value], auditor: &str, name: &str) -> &'a Value {
    claims
        .iter()
        .find(|c| c["auditor"] == auditor && c["name"] == name)
        .unwrap_or_else(|| panic!("no {auditor}/{name} claim in {claims:#?}"))
}

fn drop_in_and_judge(template: &Template) {
    let Some(tools) = toolchain() else { return };
    let lang = template.lang;
    let root = tempfile::tempdir().unwrap();
    let wasm = init_and_build(root.path(), template, &tools);

    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    lucid_e2e::copy_shipped(&plugins);
    for name in ["blocklist", "links"] {
        std::fs::copy(
            tools.sdk_plugins.join(format!("{name}.wasm")),
            plugins.join(format!("{name}.wasm")),
        )
        .unwrap();
    }
    let policies = root.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    self::policies(&policies, template);
    let config = root.path().join("lucid.toml");
    // Generous deadlines: tests run on busy machines, and a timeout fails closed.
    std::fs::write(&config, "[defaults]\ndeadline_ms = 5000\n").unwrap();
    let mut cmd = serve_cmd(&plugins, &root.path().join("data"), &policies);
    cmd.arg("--config").arg(&config);
    let mut daemon = Daemon::start(&mut cmd);
    // At start the gateway compiles the Python and JavaScript examples' language runtimes.
    let base = daemon.base_url_within(Duration::from_secs(300));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let chat = |text: &str| -> Reply {
        let body = json!({"model": "mock-1", "messages": [{"role": "user", "content": text}]});
        post_via(
            &agent,
            &base,
            "/v1/chat/completions",
            &body.to_string(),
            &[],
        )
    };
    let evidence = |reply: &Reply| -> Value {
        let hash = reply.headers["x-lucid-ar-hash"].to_str().unwrap();
        let mut resp = agent
            .get(format!("{base}/v1/evidence/{hash}"))
            .call()
            .unwrap();
        let evidence: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap())
            .expect("evidence JSON");
        assert_eq!(evidence["valid"], true, "{evidence:#}");
        evidence["ar"].clone()
    };

    // Before the drop: the policy names a claim nobody makes, so nothing is allowed.
    assert_ne!(chat("hello there").status, 200);

    let dropped = Instant::now();
    std::fs::copy(&wasm, plugins.join("shout.wasm")).unwrap();
    let (line, _) = daemon.wait_within("shout.wasm to load", Duration::from_secs(120), |l| {
        l.contains("shout.wasm") && (l.contains("loaded") || l.contains("refused"))
    });
    assert!(line.contains("loaded"), "{line}");
    // The policy set is reloaded against the new plugin set right after.
    let denied = loop {
        let reply = chat(template.flagging);
        if reply.status == 403 && reply.body.contains("sdk.flagged-by-shout") {
            break reply;
        }
        assert!(
            dropped.elapsed() < Duration::from_secs(150),
            "the dropped auditor never took effect: {} {}",
            reply.status,
            reply.body
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Reported, not asserted (timings are for benchmarks): how long a drop took to go live.
    println!(
        "{lang}: shout.wasm live {:.2?} after the drop",
        dropped.elapsed()
    );
    let ar = evidence(&denied);
    assert_eq!(ar["decision"], "deny");
    let request = claims_of(&ar, "request");
    let flagged = claim(&request, "shout", template.claim)["value"].clone();
    assert!(
        flagged == json!(true) || flagged.as_u64() > Some(0),
        "{flagged}"
    );
    assert!(
        ar["measurements"]["auditors"]["shout"].is_string(),
        "{ar:#}"
    );
    // The SDK examples judged the same exchange beside the Rust auditors.
    claim(&request, "blocklist", "blocklisted");
    claim(&request, "pii", "pii_detected");

    let allowed = chat("could someone look at https://status.example.com please");
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let ar = evidence(&allowed);
    let calm = claim(&claims_of(&ar, "request"), "shout", template.claim)["value"].clone();
    assert!(calm == json!(false) || calm == json!(0), "{calm}");
    let response = claims_of(&ar, "response");
    claim(&response, "links", "link_domains");
    println!("{lang}: the SDK examples and shout judged the exchange");
    assert!(daemon.terminate().success());
}

#[test]
fn a_python_auditor_from_init_goes_live_and_its_claim_reaches_cedar_and_the_receipt() {
    drop_in_and_judge(&PYTHON);
}

#[test]
fn a_js_auditor_from_init_goes_live_and_its_claim_reaches_cedar_and_the_receipt() {
    drop_in_and_judge(&JS);
}

#[test]
fn a_rust_auditor_from_init_builds_and_passes_its_contract() {
    let root = tempfile::tempdir().unwrap();
    run_ok(
        lucid()
            .current_dir(root.path())
            .args(["auditor", "init", "shout", "--lang", "rust"]),
        "lucid auditor init",
    );
    let manifest = std::fs::read_to_string(root.path().join("shout/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("lucid-auditor-sdk = { path = "),
        "{manifest}"
    );
    // The guests' target dir: the SDK and its dependencies are already built there.
    let target = lucid_e2e::repo_root().join("guests/target");
    let built = run_ok(
        lucid()
            .current_dir(root.path())
            .env("CARGO_TARGET_DIR", &target)
            .args(["auditor", "build", "shout"]),
        "lucid auditor build (rust)",
    );
    let summary: Value = serde_json::from_str(built.trim()).unwrap();
    assert_eq!(summary["lang"], "rust");
    assert_eq!(summary["id"], "shout");
    let tested = run_ok(
        lucid()
            .args(["auditor", "test"])
            .arg(root.path().join("shout/shout.wasm"))
            .arg("--claims"),
        "lucid auditor test --claims",
    );
    assert!(tested.contains(" 0 failed"), "{tested}");
}

#[test]
fn init_and_build_refuse_clearly() {
    let root = tempfile::tempdir().unwrap();
    let fail = |cmd: &mut std::process::Command| -> String {
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{cmd:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = fail(
        lucid()
            .current_dir(root.path())
            .args(["auditor", "init", "Bad Name", "--lang", "python"]),
    );
    assert!(said.contains("not a valid auditor name"), "{said}");
    std::fs::create_dir(root.path().join("taken")).unwrap();
    std::fs::write(root.path().join("taken/keep.txt"), "mine").unwrap();
    let said = fail(
        lucid()
            .current_dir(root.path())
            .args(["auditor", "init", "taken", "--lang", "js"]),
    );
    assert!(said.contains("not empty"), "{said}");
    assert_eq!(
        std::fs::read_to_string(root.path().join("taken/keep.txt")).unwrap(),
        "mine"
    );
    let said = fail(lucid().args(["auditor", "build"]).arg(root.path()));
    assert!(said.contains("lucid-auditor.toml"), "{said}");
    // A missing toolchain is named with the one command that installs it.
    run_ok(
        lucid()
            .current_dir(root.path())
            .args(["auditor", "init", "quiet", "--lang", "python"]),
        "lucid auditor init",
    );
    let said = fail(
        lucid()
            .current_dir(root.path())
            .env("PATH", "/nonexistent")
            .env_remove("LUCID_COMPONENTIZE_PY")
            .args(["auditor", "build", "quiet"]),
    );
    assert!(
        said.contains("componentize-py is not installed")
            && said.contains("pip install componentize-py=="),
        "{said}"
    );
    run_ok(
        lucid()
            .current_dir(root.path())
            .args(["auditor", "init", "hushed", "--lang", "js"]),
        "lucid auditor init",
    );
    let said = fail(
        lucid()
            .current_dir(root.path())
            .env("PATH", "/nonexistent")
            .env("LUCID_NODE", "/usr/bin/true")
            .env_remove("LUCID_COMPONENTIZE_JS")
            .args(["auditor", "build", "hushed"]),
    );
    assert!(
        said.contains("componentize-js is not installed") && said.contains("npm install"),
        "{said}"
    );
}
