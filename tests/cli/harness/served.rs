//! A running `ingest serve`, and the clients the tests talk to it with.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

/// A running `ingest serve` on a free port of 127.0.0.1, with a token.
pub struct Served {
    child: Child,
    pub port: u16,
    pub token: String,
    /// Everything the server wrote to stderr so far.
    log: Arc<Mutex<String>>,
}

impl Served {
    /// Makes a read-write token and starts the server on `env`'s store.
    pub fn start(env: &Env, extra: &[&str]) -> Served {
        let token = token_add(env, "tester", false);
        Served::start_with(env.cmd(["serve", "--listen", "127.0.0.1:0"]), extra, token)
    }

    pub fn start_with(mut cmd: Command, extra: &[&str], token: String) -> Served {
        cmd.args(extra).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("on http://127.0.0.1:").nth(1)
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(rest.trim().parse::<u16>().unwrap());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let port = match port_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start: {}", log.lock().unwrap());
            }
        };
        Served {
            child,
            port,
            token,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `curl -sS` with the token, writing the body to stdout and the
    /// status last, on a line of its own.
    pub fn curl(&self, args: &[&str]) -> (u16, String) {
        let auth = format!("Authorization: Bearer {}", self.token);
        curl_status(&[&["-H", &auth], args].concat())
    }

    pub fn json(&self, args: &[&str]) -> (u16, Value) {
        let (status, body) = self.curl(args);
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {body:?} (status {status})"));
        (status, value)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then whether it exited 0 (saying what it logged if not).
    pub fn stop(mut self) -> bool {
        signal(self.child.id(), "TERM");
        let status = wait_within(&mut self.child, Duration::from_secs(60));
        if !status.success() {
            std::thread::sleep(Duration::from_millis(200));
            eprintln!("the server ended with {status}: {}", self.log());
        }
        status.success()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

pub fn wait_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `ingest token add NAME`: the token printed.
pub fn token_add(env: &Env, name: &str, read_only: bool) -> String {
    let mut args = vec!["token", "add", name];
    if read_only {
        args.push("--read-only");
    }
    let out = ok(env.cmd(args));
    let token = stdout_of(&out).trim().to_owned();
    assert!(token.starts_with("ingest_"), "{token:?}");
    token
}

/// Runs curl; returns the status and the body.
pub fn curl_status(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = stdout_of(&out);
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

pub fn file_arg(path: &Path) -> String {
    path.display().to_string()
}

pub fn status_of(report: &Value) -> &str {
    report["status"].as_str().unwrap()
}
