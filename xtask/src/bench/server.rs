//! A server under test (or a mock) as a child process: started with a bounded wait until it is
//! ready, its output kept (the last lines, for the error when it fails), and killed — with every
//! process it started — when dropped.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Lines of a server's output kept for error messages.
const TAIL_LINES: usize = 40;

/// How a server says it is ready.
pub enum Ready {
    /// It prints a line starting with this prefix, followed by its base URL.
    Line(&'static str),
    /// It accepts TCP connections on this loopback port (base URL `http://127.0.0.1:PORT`).
    Port(u16),
}

pub struct Server {
    name: String,
    pid: u32,
    child: RefCell<Child>,
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Start `cmd` and wait (at most `timeout`) until it is ready; on failure the error names
    /// the server and quotes the end of its output.
    pub fn start(
        name: &str,
        mut cmd: Command,
        ready: Ready,
        timeout: Duration,
    ) -> anyhow::Result<Server> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that dropping it kills whatever it started too.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe. A server dies with the xtask thread that started
        // it (all servers are started from the main thread), even when xtask itself is killed.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        let prefix = match ready {
            Ready::Line(prefix) => Some(prefix),
            Ready::Port(_) => None,
        };
        let mut drains = Vec::new();
        if let Some(out) = child.stdout.take() {
            drains.push(drain(out, tail.clone(), prefix.map(|p| (p, tx.clone()))));
        }
        if let Some(err) = child.stderr.take() {
            drains.push(drain(err, tail.clone(), prefix.map(|p| (p, tx))));
        }
        let mut server = Server {
            name: name.to_string(),
            pid: child.id(),
            child: RefCell::new(child),
            url: String::new(),
            tail,
        };
        let deadline = Instant::now() + timeout;
        let mut url = String::new();
        while url.is_empty() {
            if let Some(status) = server.child.borrow_mut().try_wait()? {
                // Let the readers take in its last words (bounded: a grandchild may hold the
                // pipes open).
                let until = Instant::now() + Duration::from_secs(1);
                while Instant::now() < until && !drains.iter().all(|d| d.is_finished()) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                bail!(
                    "{name} exited ({status}) before it was ready; its last output:\n{}",
                    server.tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} was not ready within {timeout:?}; its last output:\n{}",
                    server.tail()
                );
            }
            match ready {
                Ready::Line(_) => {
                    if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                        url = line;
                    }
                }
                Ready::Port(port) => {
                    let addr = SocketAddr::from(([127, 0, 0, 1], port));
                    if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                        url = format!("http://127.0.0.1:{port}");
                    } else {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
        server.url = url;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The last lines the server printed.
    pub fn tail(&self) -> String {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Fail with the server's output when it has exited.
    pub fn check_alive(&self) -> anyhow::Result<()> {
        if let Some(status) = self.child.borrow_mut().try_wait()? {
            bail!(
                "{} exited ({status}); its last output:\n{}",
                self.name,
                self.tail()
            );
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.pid) {
            // SAFETY: signals the process group this server leads (see `start`).
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let child = self.child.get_mut();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Keep reading a pipe (a full pipe would stall the server), keeping the last lines; the first
/// line starting with the ready prefix sends the rest of it.
fn drain(
    pipe: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    mut ready: Option<(&'static str, mpsc::Sender<String>)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let line = strip_ansi(&line);
            if let Some((prefix, tx)) = &ready
                && let Some(rest) = line.trim().strip_prefix(prefix)
            {
                let _ = tx.send(rest.trim().to_string());
                ready = None;
            }
            if let Ok(mut t) = tail.lock() {
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    })
}

/// `text` without ANSI colour sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A free TCP port on 127.0.0.1 (for servers that cannot be told to pick one and print it).
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_exits_is_named_with_its_output() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'cannot bind: boom' >&2; exit 3"]);
        let err = Server::start(
            "the test server",
            cmd,
            Ready::Line("listening on"),
            Duration::from_secs(10),
        )
        .err()
        .expect("the server exits");
        let msg = format!("{err:#}");
        assert!(msg.contains("the test server exited"), "{msg}");
        assert!(msg.contains("cannot bind: boom"), "{msg}");
    }

    #[test]
    fn waiting_for_a_server_is_bounded() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let port = free_port().unwrap();
        let err = Server::start(
            "the silent server",
            cmd,
            Ready::Port(port),
            Duration::from_millis(300),
        )
        .err()
        .expect("the server never listens");
        assert!(format!("{err:#}").contains("the silent server was not ready"));
    }

    #[test]
    fn the_url_comes_from_the_ready_line() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo 'x listening on http://127.0.0.1:9'; exec sleep 30",
        ]);
        let server = Server::start(
            "echo",
            cmd,
            Ready::Line("x listening on"),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(server.url, "http://127.0.0.1:9");
        let pid = server.pid();
        drop(server);
        // Killed and reaped on drop.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
