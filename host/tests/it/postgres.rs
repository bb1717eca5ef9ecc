//! The PostgreSQL evidence store against a real, throwaway server (Debian's `postgresql`, which
//! `cargo xtask test` installs when missing). Without one, the test prints a loud SKIPPED line.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{lucid, run};

fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL server in a temp dir, on a free loopback port; stopped when dropped.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    root: bool,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.root {
            // PostgreSQL refuses to run as root.
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn start() -> Option<Server> {
        let bin = bin_dir()?;
        let dir = tempfile::tempdir().ok()?;
        let root = is_root();
        if root {
            let _ = Command::new("chmod").arg("0777").arg(dir.path()).status();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let data = dir.path().join("data");
        let server = Server {
            bin,
            data: data.clone(),
            root,
            port,
            _dir: dir,
        };
        let init = server
            .command("initdb")
            .args(["-A", "trust", "-U", "lucid", "-D"])
            .arg(&data)
            .output()
            .ok()?;
        if !init.status.success() {
            eprintln!("initdb failed: {}", String::from_utf8_lossy(&init.stderr));
            return None;
        }
        let socket_dir = data.parent()?.to_path_buf();
        let started = server
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(socket_dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
                socket_dir.display()
            ))
            .args(["-w", "start"])
            .output()
            .ok()?;
        if !started.status.success() {
            eprintln!(
                "pg_ctl start failed: {}",
                String::from_utf8_lossy(&started.stderr)
            );
            return None;
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("postgres://lucid@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn receipt() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_lucid")).with_file_name("lucid_receipt.wasm")
}

#[test]
fn replicas_keep_their_own_chains_in_one_postgres_database() {
    let Some(server) = Server::start() else {
        assert!(
            std::env::var_os("LUCID_REQUIRE_ALL").is_none(),
            "no PostgreSQL server could be started (LUCID_REQUIRE_ALL is set: nothing may be skipped)"
        );
        println!("SKIPPED: no PostgreSQL server could be started (install Debian's postgresql)");
        eprintln!("SKIPPED: no PostgreSQL server could be started (install Debian's postgresql)");
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
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .execute(
            "UPDATE lucid_ars SET ar = replace(ar, '\"demo_flag\"', '\"demo_flaG\"') WHERE ar_hash = $1",
            &[&b[10]],
        )
        .unwrap();
    let report_b = verify("b");
    assert_eq!(report_b["valid"], false);
    assert!(report_b["errors"].to_string().contains(&b[10]));
}
