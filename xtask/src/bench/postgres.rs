//! A throwaway PostgreSQL server (Debian's package) for the replica benchmark: a fresh cluster
//! in a temp dir, on a free loopback port, run in the foreground as a [`Server`] (so it is
//! killed like every other child, even when xtask itself is killed), removed when dropped.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::server::{Ready, Server, free_port};
use super::targets;

pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The postmaster; `None` only while dropping.
    server: Option<Server>,
}

/// The uid and gid of the `postgres` user, when this process is root (PostgreSQL refuses to run
/// as root; Debian's package creates that user).
fn postgres_user() -> anyhow::Result<Option<(libc::uid_t, libc::gid_t)>> {
    if !super::netns::real_root() {
        return Ok(None);
    }
    let name = CString::new("postgres")?;
    // SAFETY: getpwnam returns a pointer into static storage (or null), read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!("running as root, but there is no `postgres` user to run PostgreSQL as");
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

impl Postgres {
    pub fn start() -> anyhow::Result<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|d| d.join("initdb").is_file())
            .max()
            .context("no initdb under /usr/lib/postgresql (Debian's postgresql package)")?;
        let user = postgres_user()?;
        let dir = std::env::temp_dir().join(format!("lucid-bench-pg-{}", std::process::id()));
        targets::fresh_dir(&dir)?;
        let data = dir.join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.args(["-A", "trust", "-U", "lucid", "-D"]).arg(&data);
        if let Some((uid, gid)) = user {
            // The cluster must belong to the user it runs as.
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .with_context(|| format!("cannot give {} to postgres", dir.display()))?;
            as_user(&mut initdb, uid, gid);
        }
        let out = initdb.output().context("cannot run initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let port = free_port()?;
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"])
            .args(["-c", "max_connections=200"]);
        if let Some((uid, gid)) = user {
            as_user(&mut postgres, uid, gid);
        }
        let server = Server::start(
            "PostgreSQL",
            postgres,
            Ready::Port(port),
            Duration::from_secs(60),
        )?;
        Ok(Postgres {
            bin,
            dir,
            port,
            server: Some(server),
        })
    }

    pub fn url(&self) -> String {
        format!("postgres://lucid@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster (its backends are its children).
    pub fn pid(&self) -> u32 {
        self.server.as_ref().map_or(0, Server::pid)
    }

    pub fn version(&self) -> Option<String> {
        let out = Command::new(self.bin.join("postgres"))
            .arg("--version")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        // `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`
        text.split_whitespace().nth(2).map(str::to_string)
    }
}

/// Run `cmd` as `uid`:`gid` (set before the exec, and before the server's own pre-exec hooks).
fn as_user(cmd: &mut Command, uid: libc::uid_t, gid: libc::gid_t) {
    // SAFETY: setgroups/setgid/setuid are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            // An immediate shutdown (SIGQUIT) lets the postmaster release its shared memory;
            // the server's own drop kills whatever is left.
            if let Ok(pid) = i32::try_from(server.pid()) {
                // SAFETY: signals the postmaster this process started.
                unsafe {
                    libc::kill(pid, libc::SIGQUIT);
                }
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline && server.check_alive().is_ok() {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            drop(server);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
