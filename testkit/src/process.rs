//! Child processes a test starts in other processes (servers, load generators, proxies, one-shot
//! tools): each writes its stdout and stderr to files of its own in the test's directory, so
//! that a failed test can show them and a long run never blocks on a full pipe, and each is
//! stopped when its guard is dropped, also when the test panics, so that nothing outlives the
//! test. Signals go to the one process by its id (`kill -SIG PID`), never by name.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a dropped process gets between SIGTERM and SIGKILL unless told otherwise.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(3);

/// How often an exit is polled for.
const POLL: Duration = Duration::from_millis(10);

/// A running child process, stopped (SIGTERM, then SIGKILL after its grace) when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    stop_grace: Duration,
    status: Option<ExitStatus>,
}

impl Process {
    /// Starts `command` with stdin closed, stdout in `{dir}/{name}.out` and stderr in
    /// `{dir}/{name}.err` (`name` must be unique within `dir`).
    ///
    /// Panics when the files cannot be created or the program cannot be started, which fails
    /// the test that asked.
    pub fn spawn(name: &str, command: &mut Command, dir: &Path) -> Process {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let create = |path: &Path| {
            std::fs::File::create(path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
        };
        let shown = format!("{command:?}");
        let child = command
            .stdin(Stdio::null())
            .stdout(create(&stdout))
            .stderr(create(&stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({shown}): {e}"));
        Process {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
            stop_grace: DEFAULT_STOP_GRACE,
            status: None,
        }
    }

    /// Sets how long a drop waits after SIGTERM before SIGKILL (a process that must stop its
    /// own children gets the time to).
    pub fn with_stop_grace(mut self, grace: Duration) -> Process {
        self.stop_grace = grace;
        self
    }

    /// The name given at start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `KILL`, `INT`, `HUP`, ...) to this process alone.
    ///
    /// Panics when `kill` cannot be run or refuses while the process still runs.
    pub fn signal(&mut self, signal: &str) {
        if self.exit_status().is_some() {
            return;
        }
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill -{signal} for {}: {e}", self.name));
        assert!(
            status.success() || self.exit_status().is_some(),
            "kill -{signal} {} ({}) failed: {status}",
            self.pid(),
            self.name
        );
    }

    /// The exit status, once the process has exited (reaped here, so it never lingers as a
    /// zombie).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `limit` for the process to exit; `None` when it still runs then.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILL, then waits for the exit (a killed process is reaped at once).
    pub fn kill(&mut self) -> Option<ExitStatus> {
        if self.exit_status().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        self.status
    }

    /// SIGTERM, then SIGKILL if it has not exited after its stop grace.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if self.exit_status().is_some() {
            return self.status;
        }
        // A failed `kill` only means it is gone already; SIGKILL below covers the rest.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match self.wait_exit(self.stop_grace) {
            Some(status) => Some(status),
            None => self.kill(),
        }
    }

    /// What it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Both outputs, labelled, for a failure message.
    pub fn output_text(&self) -> String {
        format!(
            "--- {} stdout ({})\n{}--- {} stderr ({})\n{}",
            self.name,
            self.stdout.display(),
            self.stdout(),
            self.name,
            self.stderr.display(),
            self.stderr()
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_process_is_stopped_and_its_output_kept() {
        let dir = crate::tempdir::unique("testkit-process");
        let mut sleeper = Process::spawn(
            "sleeper",
            Command::new("sh").args(["-c", "echo started; echo warn >&2; exec sleep 30"]),
            &dir,
        );
        let pid = sleeper.pid();
        for _ in 0..200 {
            if sleeper.stdout().contains("started") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(sleeper.stdout(), "started\n");
        assert_eq!(sleeper.stderr(), "warn\n");
        assert!(sleeper.wait_exit(Duration::from_millis(50)).is_none());
        drop(sleeper);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "stopped and reaped when dropped"
        );

        let mut done = Process::spawn("done", Command::new("sh").args(["-c", "exit 3"]), &dir);
        let status = done.wait_exit(Duration::from_secs(10)).expect("exits");
        assert_eq!(status.code(), Some(3));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
