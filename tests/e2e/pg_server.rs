//! A throwaway PostgreSQL server (Debian's `postgresql`, which `cargo xtask test` installs when
//! missing) in a temp dir, on a free loopback port, for the tests of the PostgreSQL evidence
//! store — the host's in-process tests and the end-to-end tests share it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running server; stopped when dropped.
pub struct Server {
    bin: PathBuf,
    data: PathBuf,
    root: bool,
    port: u16,
    ca: Option<PathBuf>,
    dir: tempfile::TempDir,
}

/// Start a server (with TLS: a certificate for `localhost` from a CA of its own, see
/// [`Server::ca_cert`]), or say why there is none: print SKIPPED and return `None`, or panic
/// when `LUCID_REQUIRE_ALL` is set (`cargo xtask ci`: nothing may be skipped).
pub fn start_or_skip(tls: bool) -> Option<Server> {
    match Server::start(tls) {
        Ok(server) => Some(server),
        Err(why) => {
            assert!(
                std::env::var_os("LUCID_REQUIRE_ALL").is_none(),
                "no PostgreSQL server could be started: {why} (LUCID_REQUIRE_ALL is set: nothing may be skipped)"
            );
            println!("SKIPPED: no PostgreSQL server could be started: {why}");
            eprintln!("SKIPPED: no PostgreSQL server could be started: {why}");
            None
        }
    }
}

impl Server {
    pub fn start(tls: bool) -> Result<Server, String> {
        let bin =
            bin_dir().ok_or("no initdb under /usr/lib/postgresql (install Debian's postgresql)")?;
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let root = is_root();
        if root {
            // PostgreSQL refuses to run as root; its user must reach the data dir.
            run(Command::new("chmod").arg("0777").arg(dir.path()))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut server = Server {
            bin,
            data: dir.path().join("data"),
            root,
            port,
            ca: None,
            dir,
        };
        run(server
            .command("initdb")
            .args(["-A", "trust", "-U", "lucid", "-D"])
            .arg(&server.data))?;
        let dir = server.dir.path();
        let mut settings = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            dir.display()
        );
        if tls {
            server.ca = Some(server.make_certificates()?);
            settings += &format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            );
        }
        run(server
            .command("pg_ctl")
            .arg("-D")
            .arg(&server.data)
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-o", &settings, "-w", "start"]))?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for user `lucid`, database `postgres`, over TCP to 127.0.0.1.
    pub fn url(&self) -> String {
        format!("postgres://lucid@127.0.0.1:{}/postgres", self.port)
    }

    /// The CA that signed a TLS server's certificate (PEM), for `sslrootcert`.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// Run SQL with `psql` (its own session); returns the unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
            ])
            .arg("lucid")
            .args(["-p", &self.port.to_string(), "-d", "postgres", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.root {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    /// A CA and a server certificate for `localhost` (not for 127.0.0.1, so that `verify-full`
    /// to the address fails) with the `openssl` command (Debian's postgresql depends on it).
    fn make_certificates(&self) -> Result<PathBuf, String> {
        let dir = self.dir.path();
        let openssl = || {
            let mut cmd = Command::new("openssl");
            cmd.current_dir(dir);
            cmd
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        run(openssl()
            .args(["req", "-x509"])
            .args(ec)
            .args(["-keyout", "ca.key", "-out", "ca.crt", "-days", "2"])
            .args(["-subj", "/CN=lucid test CA"]))?;
        run(openssl()
            .arg("req")
            .args(ec)
            .args(["-keyout", "server.key", "-out", "server.csr"])
            .args(["-subj", "/CN=localhost"]))?;
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
        )
        .map_err(|e| format!("write server.ext: {e}"))?;
        run(openssl()
            .args([
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
            ])
            .args(["-CAcreateserial", "-days", "2", "-out", "server.crt"])
            .args(["-extfile", "server.ext"]))?;
        // PostgreSQL wants its key private to the user it runs as.
        let key = dir.join("server.key");
        run(Command::new("chmod").arg("0600").arg(&key))?;
        if self.root {
            run(Command::new("chown").arg("postgres").arg(&key))?;
        }
        Ok(dir.join("ca.crt"))
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

/// Run a setup command; its stderr is the reason when it fails.
fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
