//! Overload from outside, against the real binary: slowloris connections (headers or a body that
//! never finish) are closed by the gateway while other clients are served, and a burst of 2,000
//! connections at once is answered — every exchange receipted, or refused as overloaded with
//! `Retry-After` — with the gateway healthy after it.

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use super::{Gw, start_with};

/// Client sockets this test opens at once (the gateway raises its own limit).
fn raise_fd_limit() {
    if let Err(e) = rlimit::increase_nofile_limit(16_384) {
        eprintln!("cannot raise the open-file limit: {e}");
    }
}

fn addr(gw: &Gw) -> String {
    gw.base.trim_start_matches("http://").to_string()
}

/// Read until the server closes the connection: what it sent, or `None` if it kept the
/// connection open for `wait`.
fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = Vec::new();
    match stream.read_to_end(&mut buf) {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
            Some(String::from_utf8_lossy(&buf).into_owned())
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(e) => panic!("reading from the gateway: {e}"),
    }
}

#[test]
fn slowloris_connections_are_closed_while_other_clients_are_served() {
    raise_fd_limit();
    let gw = start_with(
        Some("[gateway]\nheader_timeout_ms = 500\nbody_timeout_ms = 500\n"),
        &[],
    );
    let addr = addr(&gw);
    // Headers that never end, and bodies that stop arriving.
    let mut headers: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: lucid\r\n")
                .unwrap();
            s
        })
        .collect();
    let mut bodies: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: lucid\r\n\
                  Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\"",
            )
            .unwrap();
            s
        })
        .collect();
    // Keep trickling header bytes, one line at a time, while a normal client is served.
    for round in 0..10 {
        for s in &mut headers {
            let _ = s.write_all(format!("x-slow-{round}: 1\r\n").as_bytes());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let served = gw.chat("hello");
    assert_eq!(served.status, 200, "{}", served.body);

    for (i, s) in headers.iter_mut().enumerate() {
        let got = read_until_closed(s, Duration::from_secs(30));
        assert!(got.is_some(), "slow-header connection {i} was kept open");
    }
    for (i, s) in bodies.iter_mut().enumerate() {
        let got = read_until_closed(s, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("slow-body connection {i} was kept open"));
        assert!(got.starts_with("HTTP/1.1 408"), "{i}: {got}");
        assert!(got.contains("did not arrive within 500 ms"), "{i}: {got}");
    }
    let after = gw.chat("hello");
    assert_eq!(after.status, 200, "{}", after.body);
}

#[test]
fn a_burst_of_2000_connections_is_receipted_or_refused_with_retry_after() {
    raise_fd_limit();
    let gw = start_with(None, &[]);
    let addr = addr(&gw);
    let body =
        json!({"model": "mock-1", "messages": [{"role": "user", "content": "hello"}]}).to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: lucid\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    const CONNECTIONS: usize = 2000;
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut s = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        s.write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        conns.push(s);
    }
    let (mut receipted, mut refused) = (HashSet::new(), 0usize);
    for (i, mut s) in conns.into_iter().enumerate() {
        let answer = read_until_closed(&mut s, Duration::from_secs(120))
            .unwrap_or_else(|| panic!("connection {i} got no answer"));
        let head = answer
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_lowercase();
        if head.starts_with("http/1.1 200") {
            let ar_hash = head
                .lines()
                .find_map(|l| l.strip_prefix("x-lucid-ar-hash: "))
                .unwrap_or_else(|| panic!("{i}: an answer without a receipt: {head}"));
            assert!(
                receipted.insert(ar_hash.to_string()),
                "{i}: a receipt twice"
            );
        } else if head.starts_with("http/1.1 503") {
            assert!(head.contains("retry-after: 1"), "{i}: {head}");
            assert!(answer.contains("lucid_overloaded"), "{i}: {answer}");
            refused += 1;
        } else {
            panic!("{i}: neither receipted nor refused as overloaded: {answer}");
        }
    }
    eprintln!(
        "{CONNECTIONS} connections: {} receipted, {refused} refused as overloaded",
        receipted.len()
    );
    assert!(!receipted.is_empty());
    assert_eq!(receipted.len() + refused, CONNECTIONS);
    // The gateway is healthy and serving after the burst.
    assert_eq!(gw.get("/health", &[]).status, 200);
    let last = gw.chat("hello");
    assert_eq!(last.status, 200, "{}", last.body);

    // Every receipted exchange is in one valid chain.
    let Gw { daemon, _root, .. } = gw;
    assert!(daemon.terminate().success());
    let report = super::chain_verify(_root.path());
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["length"], receipted.len() + 1, "{report}");
}
