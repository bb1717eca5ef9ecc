//! `lucid serve --store postgres://…` over TLS against a throwaway PostgreSQL server: receipts land
//! in the database, the API and `lucid chain verify` read them back, and a replica name has one
//! gateway at a time.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lucid_e2e::pg_server::start_or_skip;
use lucid_e2e::{Daemon, lucid, permissive_policies, plugin, serve_cmd};
use serde_json::{Value, json};

/// Run a command that must exit by itself; a generous bound turns a hang into a failure.
fn exits(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lucid starts");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{cmd:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// One chat exchange; returns the AR's hash.
fn chat(agent: &ureq::Agent, base: &str, text: &str) -> String {
    let body = json!({"model": "mock-1", "messages": [{"role": "user", "content": text}]});
    let mut resp = agent
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(status, 200, "{text}");
    resp.headers()
        .get("x-lucid-ar-hash")
        .expect("an x-lucid-ar-hash header")
        .to_str()
        .unwrap()
        .to_string()
}

fn verify(url: &str) -> Value {
    let out = exits(lucid().args(["chain", "verify", "--store", url, "--replica", "e2e"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn serve_keeps_its_receipts_in_postgres_and_one_gateway_per_replica() {
    let Some(server) = start_or_skip(true) else {
        return;
    };
    let ca = server.ca_cert().expect("a TLS server has a CA");
    let url = format!(
        "postgres://lucid@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}&connect_timeout=10&statement_timeout=20",
        server.port(),
        ca.display()
    );
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(plugin("pii"), plugins.join("pii.wasm")).unwrap();
    let policies = permissive_policies();
    let serve = |data: &str| {
        let mut cmd = serve_cmd(&plugins, &root.path().join(data), policies.path());
        cmd.args(["--store", &url, "--replica", "e2e"]);
        cmd
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();

    let mut daemon = Daemon::start(&mut serve("one"));
    let base = daemon.base_url();
    let first = chat(&agent, &base, "What is the capital of France?");
    let second = chat(&agent, &base, "And of Spain?");

    // The receipts are in the database, in this replica's chain, and the gateway talks TLS.
    assert_eq!(
        server.psql(
            "SELECT string_agg(ar_hash, ',' ORDER BY seq) FROM lucid_ars WHERE replica = 'e2e'"
        ),
        format!("{first},{second}")
    );
    assert_eq!(
        server.psql(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.client_addr IS NOT NULL AND a.pid <> pg_backend_pid() AND NOT s.ssl"
        ),
        "0",
        "every connection but psql's own is encrypted"
    );

    // The API and the CLI read the chain back from the database and verify it.
    let mut resp = agent
        .get(format!("{base}/v1/attestation-chain/{second}"))
        .call()
        .expect("request");
    let chain: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(chain["valid"], true, "{chain:#}");
    assert_eq!(chain["length"], 2);
    let report = verify(&url);
    assert_eq!(report["valid"], true, "{report:#}");
    assert_eq!(report["length"], 2);

    // A second gateway with the same replica name is refused, naming it.
    let out = exits(&mut serve("two"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("replica 'e2e' is already in use by another gateway"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Once the first has stopped, the replica is free: the chain goes on with a splice.
    assert!(daemon.terminate().success());
    let mut daemon = Daemon::start(&mut serve("two"));
    let base = daemon.base_url();
    chat(&agent, &base, "And of Italy?");
    assert!(daemon.terminate().success());
    let report = verify(&url);
    assert_eq!(report["valid"], true, "{report:#}");
    assert_eq!(report["length"], 3);
    assert_eq!(
        report["splices"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
}
