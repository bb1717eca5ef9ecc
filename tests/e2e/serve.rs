//! `lucid serve`: the plugin listing at start and after every change of the directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use lucid_e2e::{Daemon, guest, permissive_policies, plugin, serve_cmd};

/// A plugin directory `root/plugins` holding these shipped auditors.
fn plugins_with(root: &Path, names: &[&str]) -> PathBuf {
    let dir = root.join("plugins");
    std::fs::create_dir(&dir).unwrap();
    for name in names {
        std::fs::copy(plugin(name), dir.join(format!("{name}.wasm"))).unwrap();
    }
    dir
}

/// Run a `lucid serve` that must refuse to start: its stderr, which must not be a panic.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn serve_lists_plugins_and_picks_up_changes_without_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugins_with(root.path(), &["pii", "injection", "token_budget"]);
    std::fs::write(dir.join("junk.wasm"), b"junk").unwrap();
    let data = root.path().join("data");
    let policies = permissive_policies();
    let mut daemon = Daemon::start(&mut serve_cmd(&dir, &data, policies.path()));
    daemon.wait_for("the first listing", |l| {
        l.starts_with("plugin set ") && l.contains("(3 loaded, 1 refused)")
    });
    daemon.wait_for("the junk refusal", |l| {
        l.contains("refused junk.wasm: not a WebAssembly file")
    });
    assert!(
        std::fs::read_dir(data.join("cache")).unwrap().count() >= 3,
        "compiled components are cached"
    );

    // Copy a new auditor in: written under a hidden name, then renamed, as deploy tools do.
    std::fs::copy(guest("empty"), dir.join(".empty.wasm.part")).unwrap();
    std::fs::rename(dir.join(".empty.wasm.part"), dir.join("empty.wasm")).unwrap();
    let (_, took) = daemon.wait_for("the new listing", |l| l.contains("(4 loaded, 1 refused)"));
    eprintln!("new plugin listed after {took:?}");
    daemon.wait_for("the empty auditor", |l| {
        l.contains("loaded  empty.wasm empty 0.1.0")
    });

    std::fs::remove_file(dir.join("junk.wasm")).unwrap();
    daemon.wait_for("junk gone", |l| l.contains("(4 loaded, 0 refused)"));
    assert!(daemon.terminate().success());
}

#[test]
fn a_warm_restart_does_not_recompile() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugins_with(root.path(), &["pii"]);
    let data = root.path().join("data");
    let entries = || {
        let mut v: Vec<_> = std::fs::read_dir(data.join("cache"))
            .unwrap()
            .flatten()
            .map(|e| (e.file_name(), e.metadata().unwrap().modified().unwrap()))
            .collect();
        v.sort();
        v
    };
    let policies = permissive_policies();
    for round in 0..2 {
        let mut daemon = Daemon::start(&mut serve_cmd(&dir, &data, policies.path()));
        daemon.wait_for("listing", |l| l.contains("(1 loaded, 0 refused)"));
        daemon.base_url();
        assert!(daemon.terminate().success(), "round {round}");
    }
    let before = entries();
    let mut daemon = Daemon::start(&mut serve_cmd(&dir, &data, policies.path()));
    daemon.wait_for("listing", |l| l.contains("(1 loaded, 0 refused)"));
    drop(daemon);
    assert_eq!(before, entries(), "the cache entry was not rewritten");
    assert!(root.path().join("state/lucid/cache.key").is_file());

    // Entries not authenticated by this gateway's key (whoever wrote them) are not loaded: with
    // another key, the plugin is compiled again and its entry rewritten.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut cmd = serve_cmd(&dir, &data, policies.path());
    cmd.arg("--cache-key").arg(root.path().join("other.key"));
    let mut daemon = Daemon::start(&mut cmd);
    daemon.wait_for("listing", |l| l.contains("(1 loaded, 0 refused)"));
    daemon.base_url();
    assert!(daemon.terminate().success());
    assert_ne!(before, entries(), "an entry of another key was trusted");
}

#[test]
fn a_cache_key_inside_the_data_dir_stops_the_start() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugins_with(root.path(), &["pii"]);
    let data = root.path().join("data");
    let policies = permissive_policies();
    let stderr = refused(
        serve_cmd(&dir, &data, policies.path())
            .arg("--cache-key")
            .arg(data.join("cache.key")),
    );
    assert!(stderr.contains("inside the data dir"), "{stderr}");
}

#[test]
fn a_config_error_stops_the_start_and_names_the_field() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugins_with(root.path(), &["token_budget"]);
    let config = root.path().join("lucid.toml");
    std::fs::write(
        &config,
        "[auditors.token_budget.settings]\nmax_tokens = \"lots\"\n",
    )
    .unwrap();
    let policies = permissive_policies();
    let stderr = refused(
        serve_cmd(&dir, &root.path().join("data"), policies.path())
            .arg("--config")
            .arg(&config),
    );
    assert!(
        stderr.contains("auditors.token_budget.settings.max_tokens"),
        "{stderr}"
    );
}

#[test]
fn a_config_section_for_no_loaded_auditor_stops_the_start() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugins_with(root.path(), &["pii"]);
    let config = root.path().join("lucid.toml");
    // `pi` instead of `pii`: without the check, pii would silently run with its defaults.
    std::fs::write(&config, "[auditors.pi]\nfail_open = false\n").unwrap();
    let policies = permissive_policies();
    let stderr = refused(
        serve_cmd(&dir, &root.path().join("data"), policies.path())
            .arg("--config")
            .arg(&config),
    );
    assert!(stderr.contains("[auditors.pi]"), "{stderr}");
    assert!(stderr.contains("loaded: pii"), "{stderr}");
}

#[test]
fn api_keys_without_an_admin_token_stop_the_start_unless_insecure_admin() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugins_with(root.path(), &["pii"]);
    let config = root.path().join("lucid.toml");
    let digest = "a".repeat(64);
    std::fs::write(
        &config,
        format!(
            "[[keys]]\nsha256 = \"{digest}\"\norg = \"acme\"\nworkspace = \"w\"\nagent = \"a\"\n"
        ),
    )
    .unwrap();
    let policies = permissive_policies();
    let stderr = refused(
        serve_cmd(&dir, &root.path().join("data"), policies.path())
            .arg("--config")
            .arg(&config),
    );
    assert!(stderr.contains("admin_token_sha256"), "{stderr}");
    assert!(stderr.contains("--insecure-admin"), "{stderr}");
    // The explicit flag accepts it.
    let mut daemon = Daemon::start(
        serve_cmd(&dir, &root.path().join("data"), policies.path())
            .arg("--config")
            .arg(&config)
            .arg("--insecure-admin"),
    );
    daemon.base_url();
    assert!(daemon.terminate().success());
}
