//! [`Nginx`]: the nginx process of a local gateway, and the one thread that owns it.
//!
//! The thread spawns nginx (`daemon off`, its own process group), writes the policy (every key)
//! into its stdin and closes it, copies its stderr (the error log) into `logs/error.log` without
//! query strings or secrets, and reaps it. nginx asks Linux to kill it when the thread that
//! started it is gone (`PR_SET_PDEATHSIG` in `init_by_lua`, its workers likewise towards the
//! master), and this thread lives exactly as long as nginx: so nginx stops with the gateway
//! process even when that is killed with SIGKILL, and never because some other thread ended.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::error::GatewayError;

/// The longest error-log line kept whole; nginx's own lines are at most 2 KiB.
const MAX_LOG_LINE: u64 = 64 * 1024;
/// What replaces a query string or a secret in the error log.
const REDACTED: &str = "[redacted]";

/// How nginx ended, once it has.
#[derive(Default)]
struct Exit {
    status: Mutex<Option<std::io::Result<ExitStatus>>>,
    done: Condvar,
}

/// A running (or exited) nginx; [`Nginx::stop`] ends it.
#[derive(Debug)]
pub(crate) struct Nginx {
    pid: u32,
    exit: Arc<Exit>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exit")
    }
}

impl Nginx {
    /// Starts `nginx` on `prefix` from the owning thread and hands it `policy` on stdin; every
    /// string of `secrets` is kept out of the error log.
    pub(crate) fn spawn(
        nginx: &Path,
        prefix: &Path,
        policy: String,
        secrets: Vec<String>,
    ) -> Result<Nginx, GatewayError> {
        let mut command = Command::new(nginx);
        command
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            // Before the configuration is read, too: nginx's own startup errors go to the pipe.
            .args(["-e", "stderr"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that stopping it also stops the workers.
            .process_group(0);
        let log_path = prefix.join("logs/error.log");
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&log_path)
            .map_err(GatewayError::io(format!("creating {}", log_path.display())))?;
        let exit = Arc::new(Exit::default());
        let (started, pid) = mpsc::channel();
        let thread_exit = exit.clone();
        let thread = std::thread::Builder::new()
            .name("local-gateway-nginx".into())
            .spawn(move || own(command, policy, secrets, log, started, &thread_exit))
            .map_err(GatewayError::io("starting the thread that runs nginx"))?;
        match pid.recv() {
            Ok(Ok(pid)) => Ok(Nginx {
                pid,
                exit,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(GatewayError::Io {
                    context: format!("starting {}", nginx.display()),
                    source: e,
                })
            }
            Err(_) => Err(GatewayError::Start {
                reason: "the thread that runs nginx ended before starting it".into(),
                log: String::new(),
            }),
        }
    }

    /// The master's process id (also its process group).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// `None` while nginx runs; how it ended once it has.
    pub(crate) fn exit_status(&self) -> Option<String> {
        lock(&self.exit.status).as_ref().map(|r| match r {
            Ok(s) => s.to_string(),
            Err(e) => format!("unknown ({e})"),
        })
    }

    /// Stops nginx: SIGTERM to its group, SIGKILL after `grace`, then waits (bounded) for the
    /// owning thread to reap it and finish the error log.
    pub(crate) fn stop(&mut self, grace: Duration) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let group = Pid::from_raw(i32::try_from(self.pid).unwrap_or(i32::MAX));
        // Errors mean the group is already gone, which is what we want.
        let _ = killpg(group, Signal::SIGTERM);
        if !self.wait(grace) {
            let _ = killpg(group, Signal::SIGKILL);
            self.wait(grace);
        }
        // Workers left behind by a killed master share the group.
        let _ = killpg(group, Signal::SIGKILL);
        if self.exit_status().is_some() {
            let _ = thread.join();
        }
    }

    /// Waits up to `timeout` for nginx to exit; whether it has.
    fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut status = lock(&self.exit.status);
        while status.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            status = self
                .exit
                .done
                .wait_timeout(status, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The owning thread: spawn, feed the policy, copy the error log, reap.
fn own(
    mut command: Command,
    policy: String,
    secrets: Vec<String>,
    log: File,
    started: mpsc::Sender<std::io::Result<u32>>,
    exit: &Exit,
) {
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let _ = started.send(Ok(child.id()));
    if let Some(mut stdin) = child.stdin.take() {
        // An nginx that died before reading makes this fail (EPIPE): its exit says why.
        let _ = stdin.write_all(policy.as_bytes());
    }
    drop(policy);
    if let Some(stderr) = child.stderr.take() {
        // Until every nginx process has closed it, i.e. exited.
        copy_log(stderr, log, &secrets);
    }
    let status = child.wait();
    *lock(&exit.status) = Some(status);
    exit.done.notify_all();
}

/// Copies nginx's stderr line by line into the error log, scrubbed.
fn copy_log(stderr: impl Read, mut log: File, secrets: &[String]) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader
            .by_ref()
            .take(MAX_LOG_LINE)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = scrub(&String::from_utf8_lossy(&line), secrets);
                // A full disk must not stop the reaping: the line is lost, nginx keeps running.
                let _ = log.write_all(text.as_bytes());
            }
        }
    }
}

/// `line` without query strings (nginx quotes the request line and the upstream URI of a
/// failed try, `?apikey=` included) and without any secret, raw or percent-encoded.
pub(crate) fn scrub(line: &str, secrets: &[String]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(q) = rest.find('?') {
        out.push_str(&rest[..=q]);
        rest = &rest[q + 1..];
        let end = rest
            .find(|c: char| c == '"' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let upper: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        for spelling in [secret.clone(), upper.to_lowercase(), upper] {
            if out.contains(&spelling) {
                out = out.replace(&spelling, REDACTED);
            }
        }
    }
    out
}

/// Where the scrubbed error log of a prefix is.
pub(crate) fn error_log_path(prefix: &Path) -> PathBuf {
    prefix.join("logs/error.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_queries_and_every_spelling_of_a_secret() {
        let line = r#"2024/01/01 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /api/v1/sum?apikey=k%20ey&x=1 HTTP/1.1", upstream: "http://127.0.0.1:9/api/v1/sum?x=1", host: "h""#;
        let out = scrub(line, &["k ey".into(), "origin".into()]);
        assert!(
            out.contains(r#"request: "GET /api/v1/sum?[redacted] HTTP/1.1""#),
            "{out}"
        );
        assert!(
            out.contains(r#"upstream: "http://127.0.0.1:9/api/v1/sum?[redacted]""#),
            "{out}"
        );
        assert!(!out.contains("k%20ey") && !out.contains("x=1"), "{out}");
        let out = scrub(
            "k ey and %6B%20%65%79 and %6b%20%65%79 and origin",
            &["k ey".into(), "origin".into()],
        );
        assert_eq!(
            out,
            "[redacted] and [redacted] and [redacted] and [redacted]"
        );
        assert_eq!(scrub("what? no", &[]), "what? no");
    }
}
