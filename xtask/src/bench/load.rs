//! The load generator: `oha` (installed from crates.io when missing), run closed-loop for a
//! fixed time at a fixed concurrency, its JSON output read back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The oha release line the harness is written against (`--no-tui --output-format json`).
const OHA_VERSION: &str = "^1.16";

pub struct Oha {
    bin: PathBuf,
    pub version: String,
}

/// One request, sent over and over.
pub struct Request<'a> {
    /// The full URL (`…/v1/chat/completions`).
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    /// A file holding the JSON body.
    pub body: &'a Path,
}

/// What one oha run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    /// Responses with HTTP 200.
    pub ok: u64,
    /// Responses of any status (what the server did work for).
    pub answered: u64,
    /// Other responses and transport errors (requests cut by the deadline are not counted).
    pub failed: u64,
    pub seconds: f64,
    /// HTTP 200 responses per second.
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub statuses: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
}

impl Oha {
    /// oha from PATH or ~/.cargo/bin, else `cargo install --locked oha`.
    pub fn ensure() -> anyhow::Result<Oha> {
        if let Some(oha) = Oha::find() {
            return Ok(oha);
        }
        eprintln!("xtask: oha is missing; installing it with cargo install (a few minutes)");
        let mut cmd = crate::cargo();
        cmd.args(["install", "--locked", "--version", OHA_VERSION, "oha"]);
        crate::exec(cmd).context("cannot install oha")?;
        Oha::find().context("oha was installed but cannot be run")
    }

    /// oha where it is already installed (inside the benchmark's network namespace nothing can
    /// be installed).
    pub fn find() -> Option<Oha> {
        let mut candidates = vec![PathBuf::from("oha")];
        if let Some(home) = std::env::var_os("CARGO_HOME") {
            candidates.push(PathBuf::from(home).join("bin/oha"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".cargo/bin/oha"));
        }
        candidates.into_iter().find_map(|bin| {
            let out = Command::new(&bin).arg("--version").output().ok()?;
            out.status.success().then(|| Oha {
                version: String::from_utf8_lossy(&out.stdout).trim().to_string(),
                bin,
            })
        })
    }

    /// POST `request` from `concurrency` connections for `seconds`.
    pub fn run(&self, request: &Request, concurrency: u32, seconds: f64) -> anyhow::Result<Load> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--no-tui", "--output-format", "json", "--no-color"])
            .args(["-m", "POST", "-T", "application/json"])
            .arg("-c")
            .arg(concurrency.to_string())
            .arg("-z")
            .arg(format!("{}ms", (seconds * 1000.0).round() as u64))
            // A request that hangs is a failure, not a stuck benchmark.
            .args(["-t", "60s"])
            .arg("-D")
            .arg(request.body);
        for (name, value) in request.headers {
            cmd.arg("-H").arg(format!("{name}: {value}"));
        }
        cmd.arg(request.url);
        let out = cmd
            .output()
            .with_context(|| format!("cannot run oha against {}", request.url))?;
        if !out.status.success() {
            bail!(
                "oha against {} failed ({}): {}",
                request.url,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        parse(&out.stdout).with_context(|| format!("unexpected oha output for {}", request.url))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    summary: Summary,
    latency_percentiles: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    status_code_distribution: BTreeMap<String, u64>,
    #[serde(default)]
    error_distribution: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct Summary {
    total: f64,
}

/// Requests still in flight when the time is up; oha aborts them, they are no failure.
const DEADLINE_ABORT: &str = "aborted due to deadline";

fn parse(json: &[u8]) -> anyhow::Result<Load> {
    let report: Report = serde_json::from_slice(json)?;
    let ok = report
        .status_code_distribution
        .get("200")
        .copied()
        .unwrap_or(0);
    let other: u64 = report
        .status_code_distribution
        .iter()
        .filter(|(code, _)| code.as_str() != "200")
        .map(|(_, n)| n)
        .sum();
    let errors: u64 = report
        .error_distribution
        .iter()
        .filter(|(e, _)| e.as_str() != DEADLINE_ABORT)
        .map(|(_, n)| n)
        .sum();
    let percentile = |p: &str| {
        report
            .latency_percentiles
            .get(p)
            .copied()
            .flatten()
            .map_or(f64::NAN, |s| s * 1000.0)
    };
    let seconds = report.summary.total;
    Ok(Load {
        ok,
        answered: ok + other,
        failed: other + errors,
        seconds,
        rps: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        p50_ms: percentile("p50"),
        p99_ms: percentile("p99"),
        statuses: report.status_code_distribution,
        errors: report.error_distribution,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_oha_json() {
        let json = br#"{"summary":{"successRate":1.0,"total":2.0,"slowest":0.008},
            "latencyPercentiles":{"p50":0.000035,"p99":0.0025,"p99.9":null},
            "statusCodeDistribution":{"200":1000,"503":2},
            "errorDistribution":{"aborted due to deadline":4,"connection reset":1}}"#;
        let load = parse(json).unwrap();
        assert_eq!(load.ok, 1000);
        assert_eq!(load.answered, 1002);
        assert_eq!(load.failed, 3);
        assert!((load.rps - 500.0).abs() < 1e-9);
        assert!((load.p50_ms - 0.035).abs() < 1e-9);
        assert!((load.p99_ms - 2.5).abs() < 1e-9);
    }
}
