//! The hostile-guest suite: guests that loop, bomb memory, recurse, panic, flood claims, try to
//! escape the sandbox, trap in describe, or are not auditors at all. The host must survive each,
//! report the right error kind, and keep well-behaved auditors unaffected.

use std::time::Duration;

use lucid::runtime::plugin::{Auditor, ObservationInput, PluginError};
use lucid::runtime::sandbox::{ErrorKind, GuestError, Limits};
use lucid::runtime::vocabulary::{SettingValue, Settings};

use crate::util::{bounded, chat_request, guest, load, plugin, sandbox};

fn input(text: &str) -> ObservationInput {
    ObservationInput {
        phase: lucid::runtime::claim::Phase::Request,
        request_id: "hostile".into(),
        org: "o".into(),
        workspace: "w".into(),
        agent: "a".into(),
        request: chat_request(text),
        response: None,
        artifacts: None,
    }
}

fn observe(
    auditor: &Auditor,
    limits: &Limits,
) -> Result<lucid::runtime::plugin::Observed, GuestError> {
    auditor.observe(
        &sandbox(),
        &input("hello"),
        &auditor.vocabulary.default_settings(),
        limits,
    )
}

fn expect_failure(name: &str, limits: &Limits, kind: ErrorKind) -> GuestError {
    let auditor = load(&guest(name));
    let err = observe(&auditor, limits).expect_err("the hostile guest must fail");
    assert_eq!(err.kind, kind, "{name}: {err}");
    err
}

#[test]
fn an_infinite_loop_times_out() {
    let limits = Limits {
        deadline: Duration::from_millis(50),
        ..Limits::default()
    };
    let err = expect_failure("loop_forever", &limits, ErrorKind::Timeout);
    assert!(err.message.contains("50 ms"), "{err}");
}

#[test]
fn an_infinite_loop_also_runs_out_of_fuel() {
    let limits = Limits {
        deadline: Duration::from_secs(30),
        fuel: Some(5_000_000),
        ..Limits::default()
    };
    let err = expect_failure("loop_forever", &limits, ErrorKind::Timeout);
    assert!(err.message.contains("fuel"), "{err}");
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let limits = Limits {
        deadline: Duration::from_secs(10),
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let err = expect_failure("memory_bomb", &limits, ErrorKind::Memory);
    assert!(err.message.contains("16 MiB"), "{err}");
}

#[test]
fn unbounded_recursion_traps() {
    let limits = Limits {
        deadline: Duration::from_secs(10),
        ..Limits::default()
    };
    // Rust's wasm stack lives in linear memory: overflowing it is an out-of-bounds access.
    let err = expect_failure("recursion", &limits, ErrorKind::Trap);
    assert!(err.message.contains("trapped"), "{err}");
}

#[test]
fn a_panic_is_a_trap_with_the_guest_message() {
    let err = expect_failure("panic", &Limits::default(), ErrorKind::Trap);
    assert!(
        err.message.contains("auditor exploded on purpose: code 42"),
        "{err}"
    );
}

#[test]
fn a_50_mb_claim_list_breaks_the_contract() {
    let limits = Limits {
        deadline: Duration::from_secs(20),
        memory_bytes: 256 << 20,
        ..Limits::default()
    };
    let err = expect_failure("big_claims", &limits, ErrorKind::Contract);
    assert!(err.message.contains("bytes of claims"), "{err}");
    // Under the default 64 MiB cap it cannot even build the list.
    let auditor = load(&guest("big_claims"));
    let err = observe(
        &auditor,
        &Limits {
            deadline: Duration::from_secs(20),
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Memory | ErrorKind::Contract),
        "{err}"
    );
}

#[test]
fn the_sandbox_has_no_files_no_environment_no_arguments_and_no_network() {
    let auditor = load(&guest("escape"));
    let observed = observe(&auditor, &Limits::default()).expect("escape runs");
    let value = |name: &str| {
        observed
            .claims
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("claim {name}"))
            .value
            .to_json()
    };
    assert!(
        value("file").as_str().unwrap().starts_with("denied"),
        "{}",
        value("file")
    );
    assert!(
        value("cwd_listing").as_str().unwrap().starts_with("denied"),
        "{}",
        value("cwd_listing")
    );
    assert_eq!(value("env"), "none");
    assert_eq!(value("args"), 0);
}

#[test]
fn a_guest_importing_sockets_is_refused_at_load_with_the_import_named() {
    let bytes = std::fs::read(guest("escape_net")).unwrap();
    match Auditor::load(&sandbox(), &bytes, &Limits::default()) {
        Err(e @ PluginError::ForbiddenImport { .. }) => {
            assert!(e.to_string().contains("wasi:sockets/tcp"), "{e}");
        }
        other => panic!("expected a forbidden import, got {other:?}"),
    }
}

#[test]
fn a_guest_that_sleeps_fails_at_once_instead_of_hanging() {
    let auditor = load(&guest("sleepy"));
    let limits = Limits {
        deadline: Duration::from_secs(30),
        ..Limits::default()
    };
    let err = bounded("a sleeping guest", move || observe(&auditor, &limits))
        .expect_err("sleeping must fail");
    assert_eq!(err.kind, ErrorKind::Trap, "{err}");
    assert!(err.message.contains("tried to block"), "{err}");
}

#[test]
fn a_guest_that_sleeps_in_describe_is_refused() {
    let bytes = std::fs::read(guest("sleepy_describe")).unwrap();
    let limits = Limits {
        deadline: Duration::from_secs(30),
        ..Limits::default()
    };
    let result = bounded("describe of a sleeping guest", move || {
        Auditor::load(&sandbox(), &bytes, &limits).map(|a| a.sha256)
    });
    match result {
        Err(PluginError::Describe(e)) => assert!(e.message.contains("tried to block"), "{e}"),
        other => panic!("expected a describe failure, got {other:?}"),
    }
}

#[test]
fn a_huge_vocabulary_is_refused_without_quadratic_work() {
    let bytes = std::fs::read(guest("huge_vocab")).unwrap();
    let limits = Limits {
        deadline: Duration::from_secs(30),
        ..Limits::default()
    };
    let result = bounded("a 100,000-claim vocabulary", move || {
        Auditor::load(&sandbox(), &bytes, &limits).map(|a| a.sha256)
    });
    match result {
        Err(e @ PluginError::Vocabulary(_)) => {
            assert!(e.to_string().contains("100000 claims"), "{e}")
        }
        other => panic!("expected a vocabulary error, got {other:?}"),
    }
}

#[test]
fn a_count_outside_the_receipt_domain_is_a_contract_error() {
    let err = expect_failure("big_count", &Limits::default(), ErrorKind::Contract);
    assert!(err.message.contains("2^53-1"), "{err}");
}

#[test]
fn deeply_nested_json_is_refused_not_recursed_into() {
    let auditor = load(&guest("deep_json"));
    let limits = Limits {
        deadline: Duration::from_secs(30),
        ..Limits::default()
    };
    let err = bounded("deep JSON", move || observe(&auditor, &limits))
        .expect_err("10,000 levels of nesting must be refused");
    assert!(
        matches!(err.kind, ErrorKind::Contract | ErrorKind::Trap),
        "{err}"
    );
}

#[test]
fn a_guest_flooding_stdout_is_bounded() {
    let auditor = load(&guest("stdout_flood"));
    let limits = Limits {
        deadline: Duration::from_secs(30),
        ..Limits::default()
    };
    let max = limits.max_output_bytes;
    // Either the guest sees its writes fail and returns, or it traps: never unbounded output.
    let result = bounded("a stdout flood", move || observe(&auditor, &limits));
    if let Err(e) = &result {
        assert!(e.message.len() < max + 4096, "unbounded message");
    }
}

#[test]
fn a_trap_in_describe_refuses_the_plugin() {
    let bytes = std::fs::read(guest("describe_trap")).unwrap();
    match Auditor::load(&sandbox(), &bytes, &Limits::default()) {
        Err(PluginError::Describe(e)) => {
            assert_eq!(e.kind, ErrorKind::Trap);
            assert!(e.message.contains("cannot describe myself"), "{e}");
        }
        other => panic!("expected a describe failure, got {other:?}"),
    }
}

#[test]
fn files_that_are_not_auditors_are_refused() {
    let load = |bytes: &[u8]| Auditor::load(&sandbox(), bytes, &Limits::default());
    assert!(matches!(
        load(b"\x7fELF random bytes"),
        Err(PluginError::NotWasm)
    ));
    let core = wat::parse_str("(module)").unwrap();
    assert!(matches!(load(&core), Err(PluginError::CoreModule)));
    let other = wat::parse_str("(component)").unwrap();
    assert!(matches!(load(&other), Err(PluginError::WrongWorld { .. })));
}

#[test]
fn contract_violations_are_contract_errors() {
    let auditor = load(&guest("wrong_type"));
    for (mode, kind, needle) in [
        ("type", ErrorKind::Contract, "declared as score_normalized"),
        ("undeclared", ErrorKind::Contract, "not declared"),
        ("duplicate", ErrorKind::Contract, "twice"),
        ("error", ErrorKind::Error, "refusing to observe"),
    ] {
        let mut settings = auditor.vocabulary.default_settings();
        settings
            .0
            .insert("mode".into(), SettingValue::String(mode.into()));
        let err = auditor
            .observe(&sandbox(), &input("x"), &settings, &Limits::default())
            .expect_err(mode);
        assert_eq!(err.kind, kind, "{mode}: {err}");
        assert!(err.message.contains(needle), "{mode}: {err}");
    }
}

#[test]
fn no_state_survives_between_calls() {
    let auditor = load(&guest("counter"));
    for _ in 0..5 {
        let observed = observe(&auditor, &Limits::default()).unwrap();
        assert_eq!(observed.claims[0].value.to_json(), 1);
    }
}

#[test]
fn a_well_behaved_auditor_is_unaffected_by_hostile_neighbours() {
    let pii = load(&plugin("pii"));
    let hostile: Vec<Auditor> = ["loop_forever", "memory_bomb", "panic", "recursion"]
        .iter()
        .map(|n| load(&guest(n)))
        .collect();
    let limits = Limits {
        deadline: Duration::from_millis(200),
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    std::thread::scope(|scope| {
        for auditor in &hostile {
            scope.spawn(|| {
                for _ in 0..3 {
                    assert!(observe(auditor, &limits).is_err());
                }
            });
        }
        for _ in 0..20 {
            // A generous deadline: the point is that pii keeps working, not how fast it is on a
            // machine the hostile guests keep busy.
            let observed = pii
                .observe(
                    &sandbox(),
                    &input("mail bob@example.com"),
                    &Settings::default(),
                    &Limits {
                        deadline: Duration::from_secs(10),
                        ..Limits::default()
                    },
                )
                .expect("pii keeps working");
            let detected = observed
                .claims
                .iter()
                .find(|c| c.name == "pii_detected")
                .unwrap();
            assert_eq!(detected.value.to_json(), true);
        }
    });
}
