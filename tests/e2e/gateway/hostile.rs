//! The hostile-guest suite against the real binary: every guest that loops, sleeps, bombs memory,
//! recurses, panics, floods stdout, returns deep JSON, out-of-domain numbers or more evidence
//! than a receipt may hold ends its exchange in a receipted denial naming it, within its
//! deadline, while the gateway keeps answering; guests that are not allowed at all are refused
//! at load with the reason.

use std::time::Instant;

use lucid_e2e::guest;
use serde_json::Value;

use super::{Gw, eventually, start_with, start_with_guests};

/// Hostile guests that load and then fail every call, with the error kind each must produce
/// (`None`: either kind the guest can reach, checked only to be an auditor error).
const FAILING: [(&str, Option<&str>); 7] = [
    ("sleepy", Some("trap")),
    ("loop_forever", Some("timeout")),
    ("memory_bomb", Some("memory")),
    ("recursion", Some("trap")),
    ("panic", Some("trap")),
    ("big_count", Some("contract")),
    ("deep_json", None),
];

/// Copy test guests into the gateway's plugin directory the way deploy tools do.
fn deploy(gw: &Gw, names: &[&str]) {
    let plugins = gw._root.path().join("plugins");
    for name in names {
        let part = plugins.join(format!(".{name}.part"));
        std::fs::copy(guest(name), &part).unwrap();
        std::fs::rename(&part, plugins.join(format!("{name}.wasm"))).unwrap();
    }
}

/// The stored AR behind a reply's `x-lucid-ar-hash`.
fn stored_ar(gw: &Gw, ar_hash: &str) -> Value {
    let evidence = gw.get(&format!("/v1/evidence/{ar_hash}"), &[]);
    assert_eq!(evidence.status, 200, "{}", evidence.body);
    let evidence = evidence.json();
    assert_eq!(evidence["valid"], true, "{evidence}");
    evidence["ar"].clone()
}

/// `lucid.auditor_error` claims of an AR, by auditor: (kind, message).
fn auditor_errors(ar: &Value) -> Vec<(String, String, String)> {
    ar["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["claims"].as_array().into_iter().flatten())
        .filter(|c| c["name"] == "lucid.auditor_error")
        .map(|c| {
            let v = &c["value"];
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("auditor"), s("kind"), s("message"))
        })
        .collect()
}

#[test]
fn hostile_guests_end_in_receipted_denials_while_the_gateway_keeps_answering() {
    let config = "[auditors.loop_forever]\ndeadline_ms = 300\n\
                  [auditors.memory_bomb]\nmemory_mib = 32\n";
    let mut names: Vec<&str> = FAILING.iter().map(|(n, _)| *n).collect();
    names.extend(["stdout_flood", "huge_vocab", "escape_net"]);
    let gw = start_with_guests(Some(config), &[], &names);
    // The listing is printed before the listening line, which `start_with_guests` waited for.
    let listing = gw.daemon.seen.join("\n");
    let loaded = lucid_e2e::SHIPPED.len() + FAILING.len() + 1;
    assert!(
        listing.contains(&format!("({loaded} loaded, 2 refused)")),
        "{listing}"
    );
    // A vocabulary of 100,000 claims is refused for its size, or for the time describing it
    // takes under the default deadline (50 ms): either way at load.
    for (file, why) in [
        ("escape_net.wasm", &["wasi:sockets/tcp"][..]),
        ("huge_vocab.wasm", &["100000 claims", "deadline"][..]),
    ] {
        assert!(
            listing.lines().any(
                |l| l.contains(&format!("refused {file}")) && why.iter().any(|w| l.contains(w))
            ),
            "{file}: {listing}"
        );
    }

    // Several exchanges at once, and the gateway's other endpoints meanwhile.
    let started = Instant::now();
    let replies = std::thread::scope(|s| {
        let (base, agent) = (&gw.base, &gw.agent);
        let chats: Vec<_> = (0..4)
            .map(|_| s.spawn(move || super::chat_via(agent, base, "hello")))
            .collect();
        for path in ["/health", "/v1/models", "/v1/auditors"] {
            let reply = gw.get(path, &[]);
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        }
        chats
            .into_iter()
            .map(|c| c.join().unwrap())
            .collect::<Vec<_>>()
    });
    eprintln!("4 hostile exchanges answered in {:?}", started.elapsed());
    for reply in &replies {
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert_eq!(reply.header("x-lucid-cedar-decision"), "deny");
        let ar = stored_ar(&gw, reply.header("x-lucid-ar-hash"));
        assert_eq!(ar["decision"], "deny");
        let errors = auditor_errors(&ar);
        for (name, kind) in FAILING {
            let found = errors.iter().find(|(a, ..)| a == name);
            let Some((_, got, message)) = found else {
                panic!("no auditor error for {name} in {errors:?}");
            };
            if let Some(kind) = kind {
                assert_eq!(got, kind, "{name}: {message}");
            }
        }
    }

    // Taking the hostile guests away restores service, by hot reload.
    for name in &names {
        let _ = std::fs::remove_file(gw._root.path().join(format!("plugins/{name}.wasm")));
    }
    eventually("allowed again", || gw.chat("hello").status == 200);
}

#[test]
fn evidence_beyond_what_a_receipt_may_hold_is_a_receipted_denial() {
    let mut gw = start_with(None, &[]);
    deploy(&gw, &["fat_claims"]);
    gw.daemon.wait_for("fat_claims loaded", |l| {
        l.contains(&format!(
            "({} loaded, 0 refused)",
            lucid_e2e::SHIPPED.len() + 1
        ))
    });
    // About 1 MiB of claims in the request phase fits; the response phase's next megabyte does
    // not fit the exchange's evidence budget.
    let reply = gw.chat("hello");
    assert_eq!(reply.status, 403, "{}", reply.body);
    let ar = stored_ar(&gw, reply.header("x-lucid-ar-hash"));
    assert_eq!(ar["decision"], "deny");
    let errors = auditor_errors(&ar);
    assert!(
        errors.iter().any(|(a, kind, m)| a == "fat_claims"
            && kind == "contract"
            && m.contains("evidence budget")),
        "{errors:?}"
    );
    let bytes = ar.to_string().len();
    assert!(
        (1 << 20..3 << 20).contains(&bytes),
        "the request phase's megabyte is kept, the response's is not: {bytes} bytes"
    );
    // The gateway goes on receipting.
    let next = gw.chat("hello");
    assert_eq!(next.status, 403);
    let depth = |r: &super::Reply| r.header("x-lucid-chain-depth").parse::<u64>().unwrap();
    assert_eq!(depth(&next), depth(&reply) + 1);
}
