//! A webhook receiver for the notification tests
//! (`tests/helpers/webhook_receiver.py`), and a free port for it.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub struct Receiver {
    child: std::process::Child,
    out: PathBuf,
}

impl Receiver {
    pub fn start(port: u16, secret: &Path, out: &Path, fail_first: u32) -> Receiver {
        Receiver::start_failing_with(port, secret, out, fail_first, 503)
    }

    /// One that takes `delay` to answer each request (2xx).
    pub fn start_slow(
        port: u16,
        secret: &Path,
        out: &Path,
        delay: std::time::Duration,
    ) -> Receiver {
        Receiver::spawn(port, secret, out, 0, 503, delay)
    }

    /// The first `fail_first` requests answered `status`.
    pub fn start_failing_with(
        port: u16,
        secret: &Path,
        out: &Path,
        fail_first: u32,
        status: u16,
    ) -> Receiver {
        Receiver::spawn(
            port,
            secret,
            out,
            fail_first,
            status,
            std::time::Duration::ZERO,
        )
    }

    fn spawn(
        port: u16,
        secret: &Path,
        out: &Path,
        fail_first: u32,
        status: u16,
        delay: std::time::Duration,
    ) -> Receiver {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/helpers/webhook_receiver.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(secret)
            .arg(out)
            .arg(fail_first.to_string())
            .arg(status.to_string())
            .arg(delay.as_secs_f64().to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("listening"), "{line}");
        Receiver {
            child,
            out: out.to_path_buf(),
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Ids of events accepted (2xx) at `path`, with valid signatures.
    pub fn accepted(&self, path: &str) -> Vec<u64> {
        self.requests()
            .iter()
            .filter(|r| r["path"] == path && r["status"] == 204)
            .map(|r| {
                assert_eq!(r["valid"], true, "{r}");
                r["event"].as_str().unwrap().parse().unwrap()
            })
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
