//! The PostgreSQL evidence store against real, throwaway servers (`lucid_e2e::pg_server`):
//! replicas' chains, TLS, timeouts and the writer's lease. Without PostgreSQL a test prints a
//! loud SKIPPED line (and fails under `LUCID_REQUIRE_ALL`).

use std::process::Command;
use std::time::Duration;

use lucid::evidence::postgres::PgStore;
use lucid::evidence::{Access, EvidenceStore, StoreError, StoredAr};
use lucid_e2e::pg_server::{Server, start_or_skip};
use serde_json::Value;

use crate::util::{bounded, lucid, receipt, run};

/// Wait (bounded) until `check` holds.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("gave up waiting for {what}");
}

/// A well-formed enough AR for the store (which indexes ARs, and does not verify them).
fn ar(n: u64) -> StoredAr {
    StoredAr::from_text(
        serde_json::json!({
            "ar_hash": format!("h{n}"),
            "request_id": format!("r{n}"),
            "chain_depth": n,
            "signer": {"public_key": "k"},
        })
        .to_string(),
    )
    .unwrap()
}

fn connect(url: &str, replica: &str, access: Access) -> Result<PgStore, StoreError> {
    let url = url.to_string();
    let replica = replica.to_string();
    bounded("connecting", move || {
        PgStore::connect(&url, &replica, access)
    })
}

/// The server process of the session(s) named `application_name`.
fn backend_pids(server: &Server, application_name: &str) -> Vec<String> {
    server
        .psql(&format!(
            "SELECT pid FROM pg_stat_activity WHERE application_name = '{application_name}'"
        ))
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn replicas_keep_their_own_chains_in_one_postgres_database() {
    let Some(server) = start_or_skip(false) else {
        return;
    };
    let url = server.url();
    let demo = |replica: &str, n: u32| {
        let out = run(lucid()
            .args([
                "chain",
                "demo",
                &n.to_string(),
                "--writers",
                "4",
                "--store",
                &url,
            ])
            .args(["--replica", replica, "--receipt"])
            .arg(receipt()));
        assert!(out.status.success(), "{}", out.stderr);
        out.stdout.lines().map(String::from).collect::<Vec<_>>()
    };
    let verify = |replica: &str| {
        let out = run(lucid().args(["chain", "verify", "--store", &url, "--replica", replica]));
        let report: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
        report
    };
    let a = demo("a", 200);
    let b = demo("b", 150);
    demo("a", 50); // restart of replica a: splice
    let report_a = verify("a");
    assert_eq!(report_a["valid"], true, "{report_a:#}");
    assert_eq!(report_a["length"], 250);
    assert_eq!(report_a["splices"].as_array().unwrap().len(), 1);
    let report_b = verify("b");
    assert_eq!(report_b["valid"], true, "{report_b:#}");
    assert_eq!(report_b["length"], 150);
    assert_ne!(a[0], b[0]);

    // Tampering in the shared database is detected.
    server.psql(&format!(
        "UPDATE lucid_ars SET ar = replace(ar, '\"demo_flag\"', '\"demo_flaG\"') WHERE ar_hash = '{}'",
        b[10]
    ));
    let report_b = verify("b");
    assert_eq!(report_b["valid"], false);
    assert!(report_b["errors"].to_string().contains(&b[10]));
}

#[test]
fn tls_is_used_as_sslmode_says_and_its_absence_is_a_clear_error() {
    let Some(tls) = start_or_skip(true) else {
        return;
    };
    let Some(plain) = start_or_skip(false) else {
        return;
    };
    let ca = tls.ca_cert().expect("a TLS server has a CA").display();
    // Whether the session named `name` on `server` is encrypted.
    let encrypted = |server: &Server, name: &str| {
        server.psql(&format!(
            "SELECT bool_or(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = '{name}'"
        ))
    };
    let on_tls = |host: &str, query: &str| {
        format!("postgres://lucid@{host}:{}/postgres?{query}", tls.port())
    };
    for (url, name, expected) in [
        (on_tls("127.0.0.1", "sslmode=require"), "require", "t"),
        (on_tls("127.0.0.1", "sslmode=prefer"), "prefer", "t"),
        (on_tls("127.0.0.1", "sslmode=disable"), "disable", "f"),
        (on_tls("127.0.0.1", ""), "absent", "f"),
        (
            on_tls("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
            "verify-ca",
            "t",
        ),
        (
            on_tls(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            "verify-full",
            "t",
        ),
    ] {
        let url = format!("{url}&application_name={name}");
        let mut store = connect(&url, "tls", Access::Read).unwrap_or_else(|e| panic!("{url}: {e}"));
        store.all().unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(encrypted(&tls, name), expected, "{url}");
    }

    // verify-full checks the name (the certificate is for localhost) and the issuer.
    let err = connect(
        &on_tls(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        "tls",
        Access::Read,
    )
    .err()
    .expect("the certificate does not name 127.0.0.1");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    let err = connect(
        &on_tls("localhost", "sslmode=verify-full"),
        "tls",
        Access::Read,
    )
    .err()
    .expect("the built-in roots do not know the test CA");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // A server without TLS: require is refused, saying why; prefer falls back to plain.
    let err = connect(
        &format!("{}?sslmode=require", plain.url()),
        "tls",
        Access::Read,
    )
    .err()
    .expect("require needs TLS");
    assert!(matches!(err, StoreError::Backend { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("server does not support TLS"), "{message}");
    assert!(message.contains("sslmode=require"), "{message}");
    let _store = connect(
        &format!("{}?sslmode=prefer&application_name=fallback", plain.url()),
        "tls",
        Access::Read,
    )
    .unwrap();
    assert_eq!(encrypted(&plain, "fallback"), "f");
}

#[test]
fn a_server_that_never_answers_fails_the_connect_within_its_timeout() {
    // The kernel completes the TCP handshake into the backlog; nothing ever answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for mode in ["disable", "require"] {
        let url =
            format!("postgres://lucid@127.0.0.1:{port}/postgres?sslmode={mode}&connect_timeout=1");
        let err = connect(&url, "hung", Access::Write)
            .err()
            .expect("nothing answers");
        match &err {
            StoreError::Timeout { what, after, .. } => {
                assert!(what.contains("connecting"), "{err}");
                assert_eq!(*after, Duration::from_secs(1));
            }
            other => panic!("expected a timeout, got: {other}"),
        }
        assert!(err.to_string().contains("got no answer within 1s"), "{err}");
    }
}

/// Sends SIGCONT to a stopped process when dropped, so that a failing test leaves no stopped
/// server process behind.
struct Stopped(String);

impl Stopped {
    fn stop(pid: &str) -> Stopped {
        assert!(
            Command::new("kill")
                .args(["-STOP", pid])
                .status()
                .unwrap()
                .success()
        );
        Stopped(pid.to_string())
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0]).status();
    }
}

#[test]
fn statements_are_bounded_on_the_server_and_on_the_client() {
    let Some(server) = start_or_skip(false) else {
        return;
    };
    let url = format!(
        "{}?statement_timeout=1&application_name=bounded",
        server.url()
    );
    let mut store = connect(&url, "slow", Access::Read).unwrap();

    // The server cancels a statement that waits longer than statement_timeout.
    let mut admin = postgres::Client::connect(&server.url(), postgres::NoTls).unwrap();
    let mut tx = admin.transaction().unwrap();
    tx.batch_execute("LOCK TABLE lucid_ars IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let (mut store, result) = bounded("a read behind a lock", move || {
        let result = store.all();
        (store, result)
    });
    match result {
        Err(StoreError::Timeout { what, after, .. }) => {
            assert_eq!(what, "reading the chain");
            assert_eq!(after, Duration::from_secs(1));
        }
        other => panic!("expected the statement timeout, got {other:?}"),
    }
    tx.rollback().unwrap();

    // A server that does not answer at all: the client gives up a little later, and the next
    // statement runs on a new connection.
    assert!(store.last().unwrap().is_none());
    // The session given up on ends (its socket was closed); the new one is left.
    eventually("one session", || {
        backend_pids(&server, "bounded").len() == 1
    });
    let stopped = Stopped::stop(&backend_pids(&server, "bounded")[0]);
    let (mut store, result) = bounded("a read from a stopped server", move || {
        let result = store.last();
        (store, result)
    });
    match result {
        Err(StoreError::Timeout { after, .. }) => {
            assert_eq!(
                after,
                Duration::from_secs(1) + lucid::evidence::postgres::CLIENT_MARGIN
            );
        }
        other => panic!("expected the client's deadline, got {other:?}"),
    }
    drop(stopped);
    assert!(store.last().unwrap().is_none());
}

#[test]
fn a_replica_has_one_writer_and_a_lost_lease_is_taken_again_before_writing() {
    let Some(server) = start_or_skip(false) else {
        return;
    };
    let named = |name: &str| format!("{}?application_name={name}", server.url());
    let count = || server.psql("SELECT count(*) FROM lucid_ars WHERE replica = 'x'");

    let mut a = connect(&named("writer-a"), "x", Access::Write).unwrap();
    a.append(&[ar(1)]).unwrap();
    let err = connect(&named("writer-b"), "x", Access::Write)
        .err()
        .expect("replica x has a writer");
    assert!(
        matches!(&err, StoreError::ReplicaInUse { replica, holder: Some(_), .. } if replica == "x"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("replica 'x' is already in use by another gateway"),
        "{err}"
    );
    // Readers and the writers of other replicas are not held up.
    let mut reader = connect(&server.url(), "x", Access::Read).unwrap();
    assert_eq!(reader.all().unwrap().len(), 1);
    assert!(reader.append(&[ar(9)]).is_err(), "a reader cannot append");
    let _y = connect(&server.url(), "y", Access::Write).unwrap();

    // A lost connection loses the lease; the writer takes it again and goes on.
    let kill = |name: &str| {
        server.psql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'"
        ));
        eventually("the session to end", || {
            backend_pids(&server, name).is_empty()
        });
    };
    kill("writer-a");
    a.append(&[ar(2)]).unwrap();
    assert_eq!(count(), "2");

    // While it was gone another writer took the lease: the append fails, naming the replica.
    kill("writer-a");
    let mut b = connect(&named("writer-b"), "x", Access::Write).unwrap();
    let err = a.append(&[ar(3)]).unwrap_err();
    assert!(matches!(err, StoreError::ReplicaInUse { .. }), "{err}");
    b.append(&[ar(3)]).unwrap();
    drop(b);
    eventually("writer b's session to end", || {
        backend_pids(&server, "writer-b").is_empty()
    });

    // The lease is free again, but the chain moved on without this writer: it must not append.
    let err = a.append(&[ar(4)]).unwrap_err();
    match &err {
        StoreError::ChainMoved {
            expected, found, ..
        } => assert_eq!((expected.as_str(), found.as_str()), ("h2", "h3")),
        other => panic!("expected the chain to have moved, got {other}"),
    }
    assert_eq!(count(), "3");
}
