//! The README's start command, as a user runs it: the real `local-stack` binary serves the
//! console and the API on the port it is given, and its `token` command mints a JWT the stack
//! accepts. Building this test also builds the binary with the workspace's test features, which
//! is the binary the browser tests drive (scripts/test.sh passes it on), so it is built once.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_local-stack");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// One HTTP/1.1 GET; the status code and the body.
fn get(port: u16, path: &str, bearer: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let auth = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

#[test]
fn the_binary_serves_the_console_and_accepts_its_own_tokens() {
    let port = free_port();
    let child = Command::new(BIN)
        .env("PORT", port.to_string())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("FB_APP_ID")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start local-stack");
    let _running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        match get(port, "/", None) {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("local-stack did not answer within 30 s: {e}"),
        }
    };
    assert_eq!(status, 200, "the console's page");
    assert!(
        body.contains("<html") || body.contains("<!doctype") || body.contains("<!DOCTYPE"),
        "an HTML page"
    );

    let out = Command::new(BIN)
        .args(["token", "--email", "owner@shop-bin.vn", "--tenant", "shop-bin", "--role", "owner"])
        .output()
        .expect("run the token command");
    assert!(out.status.success(), "token command failed: {}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let (status, _) = get(port, "/api/pages", Some(&token)).expect("GET /api/pages");
    assert_eq!(status, 200, "the stack accepts the token its binary minted");
    let (status, _) = get(port, "/api/pages", None).expect("GET /api/pages without a token");
    assert_eq!(status, 401, "and refuses a request without one");

    let bad = Command::new(BIN)
        .args(["token", "--email", "a@b.vn", "--tenant", "t", "--role", "king"])
        .output()
        .expect("run the token command");
    assert!(!bad.status.success(), "an unknown role is refused");
}
