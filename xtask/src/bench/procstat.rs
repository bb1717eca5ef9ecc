//! What a server process costs, read from /proc: CPU time (user + system, of the process and
//! every descendant, so a server that forks workers is counted whole) and peak resident memory
//! (VmHWM).

use std::path::Path;

use anyhow::Context;

/// Clock ticks per second, the unit of the CPU times in /proc/PID/stat.
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU seconds used so far by `pid` and its descendants (children already reaped by a
/// process of the tree are in its cutime/cstime).
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let mut ticks = 0;
    for p in tree(pid) {
        match stat_ticks(p) {
            Ok(t) => ticks += t,
            // A descendant may exit between listing and reading; only the root must be there.
            Err(e) if p == pid => return Err(e),
            Err(_) => {}
        }
    }
    Ok(ticks as f64 / ticks_per_second())
}

/// Peak resident set size of `pid` and its descendants, in bytes (the sum of their VmHWM).
pub fn peak_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    status_bytes(pid, "VmHWM:")
}

/// Resident set size of `pid` and its descendants now, in bytes (the sum of their VmRSS).
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    status_bytes(pid, "VmRSS:")
}

/// The sum of a `NAME: N kB` field of /proc/PID/status over the tree of `pid`.
fn status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let mut total = 0;
    for p in tree(pid) {
        let status = match std::fs::read_to_string(format!("/proc/{p}/status")) {
            Ok(s) => s,
            Err(e) if p == pid => {
                return Err(e).with_context(|| format!("cannot read /proc/{pid}/status"));
            }
            Err(_) => continue,
        };
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        total += kib * 1024;
    }
    Ok(total)
}

/// `pid` and all its descendants (through /proc/PID/task/TID/children).
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        i += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(children) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    all
}

/// utime + stime + cutime + cstime of one process, in clock ticks.
fn stat_ticks(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat =
        std::fs::read_to_string(Path::new(&path)).with_context(|| format!("cannot read {path}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected {path}: {stat}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime, stime, cutime, cstime are fields 14 to 17.
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<i64>().ok())
            .map(|v| v.max(0) as u64)
            .with_context(|| format!("no field {n} in {path}"))
    };
    Ok(field(14)? + field(15)? + field(16)? + field(17)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).is_ok());
        assert!(peak_rss_bytes(pid).unwrap() > 0);
    }
}
