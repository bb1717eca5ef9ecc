//! `cargo xtask bench runtime`: cost of one observation (fresh instance per call) for an empty
//! auditor and for `pii`, with and without the pooling allocator; hot-reload latency; and, per
//! auditor — the shipped Rust ones and the Python and JavaScript SDK examples — its size, its
//! cold load (compile and describe in a fresh engine), its load again once the engine's function
//! cache holds its code, and the cost of one call.
//!
//! Prints medians and p99 measured side by side in one run; compare ratios, not absolute times.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lucid::runtime::claim::Phase;
use lucid::runtime::plugin::{Auditor, ObservationInput};
use lucid::runtime::plugin_dir::{Admission, PluginLoader};
use lucid::runtime::reload::{PluginHost, watch};
use lucid::runtime::sandbox::{EngineOptions, Limits, Sandbox};

fn component(env: &str, default: &str, name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(default));
    let path = dir.join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} missing: run `cargo xtask bench runtime`",
        path.display()
    );
    path
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

fn measure(iterations: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort();
    Stats {
        p50: samples[samples.len() / 2],
        p99: samples[samples.len() * 99 / 100],
    }
}

fn input() -> ObservationInput {
    let request = serde_json::json!({
        "model": "mock-1",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Please summarise the attached notes. Contact me at bob@example.com or +44 20 7946 0958. ".repeat(4)}
        ]
    });
    ObservationInput {
        phase: Phase::Request,
        request_id: "bench".into(),
        org: "acme".into(),
        workspace: "w".into(),
        agent: "a".into(),
        request: request.to_string(),
        response: None,
        artifacts: None,
    }
}

fn main() {
    let iterations: usize = std::env::var("LUCID_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let empty = component(
        "LUCID_TEST_GUESTS",
        "tests/guests/target/wasm32-wasip2/release",
        "empty",
    );
    let pii = component("LUCID_TEST_PLUGINS", "plugins", "pii");
    let input = input();
    let limits = Limits::default();
    println!("runtime bench: {iterations} observations per row, fresh instance per call");
    println!("{:<28} {:>10} {:>10}", "case", "p50", "p99");
    let mut rows: Vec<(String, Stats)> = Vec::new();
    for pooling in [false, true] {
        let sandbox = Sandbox::new(EngineOptions {
            pooling,
            ..EngineOptions::default()
        })
        .expect("sandbox");
        for path in [&empty, &pii] {
            let auditor = Auditor::load(&sandbox, &std::fs::read(path).unwrap(), &limits).unwrap();
            let settings = auditor.vocabulary.default_settings();
            let stats = measure(iterations, || {
                auditor
                    .observe(&sandbox, &input, &settings, &limits)
                    .unwrap();
            });
            let name = format!(
                "{} ({})",
                auditor.id(),
                if pooling { "pooling" } else { "on-demand" }
            );
            println!("{name:<28} {:>10.1?} {:>10.1?}", stats.p50, stats.p99);
            rows.push((name, stats));
        }
    }
    let ratio = |a: &str, b: &str| {
        let get = |n: &str| {
            rows.iter()
                .find(|(k, _)| k == n)
                .unwrap()
                .1
                .p50
                .as_secs_f64()
        };
        get(a) / get(b)
    };
    println!(
        "ratios (p50): pooling/on-demand empty {:.2}, pii {:.2}; pii/empty (pooling) {:.2}",
        ratio("empty (pooling)", "empty (on-demand)"),
        ratio("pii (pooling)", "pii (on-demand)"),
        ratio("pii (pooling)", "empty (pooling)"),
    );

    languages(iterations, &input, &limits);

    // Hot reload: from a file appearing in the directory to the new set being in force.
    let sandbox = Arc::new(
        Sandbox::new(EngineOptions {
            pooling: true,
            ..EngineOptions::default()
        })
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(
        PluginHost::open(
            dir.path(),
            PluginLoader::new(sandbox, None, Admission::default()),
        )
        .unwrap(),
    );
    let _guard = watch(host.clone(), |_| {}).unwrap();
    let mut reloads: Vec<Duration> = Vec::new();
    for round in 0..10 {
        let target = dir.path().join("pii.wasm");
        let started = Instant::now();
        if round % 2 == 0 {
            std::fs::copy(&pii, &target).unwrap();
        } else {
            std::fs::remove_file(&target).unwrap();
        }
        let want = round % 2 == 0;
        while host.current().get("pii").is_some() != want {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "reload never happened"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        reloads.push(started.elapsed());
    }
    reloads.sort();
    println!(
        "hot reload (add/remove pii.wasm, 10 rounds): p50 {:.1?}, max {:.1?} (compile memoised after the first add)",
        reloads[reloads.len() / 2],
        reloads[reloads.len() - 1]
    );
}

/// Size, load and per-call cost of every auditor, Rust, Python and JavaScript, side by side.
fn languages(iterations: usize, input: &ObservationInput, limits: &Limits) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugins = std::env::var_os("LUCID_TEST_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("plugins"));
    let mut files: Vec<(PathBuf, &str)> = std::fs::read_dir(&plugins)
        .expect("plugins dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .map(|p| (p, "rust"))
        .collect();
    files.sort();
    match std::env::var_os("LUCID_SDK_PLUGINS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            files.push((dir.join("blocklist.wasm"), "python"));
            files.push((dir.join("links.wasm"), "js"));
        }
        None => println!(
            "(no LUCID_SDK_PLUGINS: the Python and JavaScript examples are not measured; `cargo xtask bench runtime` builds them)"
        ),
    }
    println!(
        "\nauditors by language (pooling; one call = a fresh instance over a 2 KB request; cold load = compile + describe in a fresh engine)"
    );
    println!(
        "{:<18} {:<7} {:>9} {:>11} {:>11} {:>10} {:>10}",
        "auditor", "lang", "size", "cold load", "load again", "call p50", "call p99"
    );
    for (path, lang) in files {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let sandbox = Sandbox::new(EngineOptions {
            pooling: true,
            ..EngineOptions::default()
        })
        .expect("sandbox");
        let describe = Limits {
            deadline: Duration::from_secs(5),
            ..*limits
        };
        let started = Instant::now();
        let auditor = Auditor::load(&sandbox, &bytes, &describe).expect("load");
        let cold = started.elapsed();
        let started = Instant::now();
        Auditor::load(&sandbox, &bytes, &describe).expect("load again");
        let again = started.elapsed();
        let settings = auditor.vocabulary.default_settings();
        let mut input = input.clone();
        if !auditor.vocabulary.phases.contains(&Phase::Request) {
            input.phase = auditor
                .vocabulary
                .phases
                .first()
                .copied()
                .unwrap_or(Phase::Request);
            input.response = Some(
                serde_json::json!({"id": "r", "object": "chat.completion", "model": "mock-1",
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                    "content": "See https://example.com/docs and https://docs.rs for details. ".repeat(30)}}]})
                .to_string(),
            );
        }
        let call = Limits {
            deadline: Duration::from_secs(5),
            ..*limits
        };
        let rounds = if lang == "rust" {
            iterations
        } else {
            iterations / 4
        };
        let stats = measure(rounds.max(10), || {
            // A call may fail on an input it does not take (an artifact-phase auditor); the
            // cost is measured all the same.
            let _ = auditor.observe(&sandbox, &input, &settings, &call);
        });
        println!(
            "{:<18} {:<7} {:>8.1}M {:>11.1?} {:>11.1?} {:>10.1?} {:>10.1?}",
            auditor.id(),
            lang,
            bytes.len() as f64 / (1 << 20) as f64,
            cold,
            again,
            stats.p50,
            stats.p99
        );
    }
}
