//! Running the HTTP benchmarks in a loopback-only network namespace (`unshare --net`, or
//! `unshare -rn` when not root): nothing measured can reach or be reached from the network,
//! and peers that listen on every interface (Portkey) are still only on loopback.
//!
//! Everything that needs the network (builds, installs) happens before; then xtask runs itself
//! again inside the namespace with [`INSIDE`] set, and that run only measures.

use std::process::Command;

use anyhow::{Context, bail};

/// Set (to a description of the network) in the xtask run inside the namespace.
pub const INSIDE: &str = "LUCID_BENCH_NETNS";

/// Set to the effective uid of the xtask that made the namespace (inside `unshare -r` every
/// process looks like root).
const REAL_UID: &str = "LUCID_BENCH_REAL_UID";

/// Whether xtask runs as the real root (not just root of a user namespace).
pub fn real_root() -> bool {
    match std::env::var(REAL_UID) {
        Ok(uid) => uid == "0",
        // SAFETY: geteuid only reads the process's credentials.
        Err(_) => (unsafe { libc::geteuid() }) == 0,
    }
}

/// The description of the network when running inside the namespace.
pub fn inside() -> Option<String> {
    std::env::var(INSIDE).ok().filter(|v| !v.is_empty())
}

/// Bring up loopback, the only interface of a new namespace.
pub fn setup_inside() -> anyhow::Result<()> {
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .context("cannot run `ip link set lo up` in the network namespace")?;
    if !status.success() {
        bail!("`ip link set lo up` failed in the network namespace ({status})");
    }
    Ok(())
}

/// The `unshare` flags that work here, or why none does.
fn unshare_flags() -> Result<&'static [&'static str], String> {
    let flags: &[&str] = if real_root() {
        &["--net"]
    } else {
        &["-r", "--net"]
    };
    let out = Command::new("unshare")
        .args(flags)
        .args(["--", "ip", "link", "set", "lo", "up"])
        .output()
        .map_err(|e| format!("cannot run unshare ({e})"))?;
    if out.status.success() {
        Ok(flags)
    } else {
        Err(format!(
            "`unshare {} -- ip link set lo up` failed: {}",
            flags.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Run `xtask ARGS` in a new network namespace and wait for it. `Ok(Err(why))` when no namespace
/// can be made here (the caller then runs on the host's loopback and says so).
pub fn rerun_inside(args: &[String]) -> anyhow::Result<Result<(), String>> {
    let flags = match unshare_flags() {
        Ok(f) => f,
        Err(why) => return Ok(Err(why)),
    };
    let exe = std::env::current_exe().context("cannot locate the xtask binary")?;
    let description = format!(
        "loopback-only network namespace (`unshare {}`)",
        flags.join(" ")
    );
    eprintln!("xtask: running the HTTP benchmarks in a {description}");
    let status = Command::new("unshare")
        .args(flags)
        .arg("--")
        .arg(exe)
        .args(args)
        .env(INSIDE, &description)
        // SAFETY: geteuid only reads the process's credentials.
        .env(REAL_UID, unsafe { libc::geteuid() }.to_string())
        .status()
        .context("cannot run unshare")?;
    if !status.success() {
        bail!("the benchmark run in the network namespace failed ({status})");
    }
    Ok(Ok(()))
}
