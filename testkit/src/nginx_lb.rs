//! nginx in the role of an AWS Application Load Balancer in front of loopback targets, for
//! rolling-deploy tests: the registered targets are the servers of one upstream, and a target
//! is registered or deregistered by rewriting that upstream and `nginx -s reload`, which lets the
//! old workers finish the requests they have in flight while new ones no longer reach the
//! target (an ALB's draining state). Which targets are healthy is [`crate::target_health`]'s to
//! say.
//!
//! It behaves as an ALB does where a test depends on it:
//!
//! - no retries: a target that refuses the connection or fails mid-answer gives the client a
//!   502 (`proxy_next_upstream off`, as the ALB's documented 502 for a target's TCP RST);
//! - no passive health: traffic errors never take a target out (`max_fails=0`), only the
//!   active checks do, through the caller;
//! - kept-alive connections to the targets (`keepalive`), as the ALB keeps them.
//!
//! One thing it cannot do as an ALB does: a reload closes the idle client connections of the old
//! workers, which an ALB never does on a target change, and a client that reuses one at that
//! moment would see a failure of the stand-in, not of the deploy. So it closes each client
//! connection after its answer (`keepalive_timeout 0`): every request comes on a new connection.
//!
//! The access log holds one line per request: time, method, path, status, the target that
//! answered and its status ([`NginxLb::access_log`]). nginx runs in the foreground of its
//! master process with a private prefix; dropping the value stops the master and its workers.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::Process;

/// Attempts at starting nginx on a free port: another test may take the port first.
const START_ATTEMPTS: usize = 3;
/// How long nginx gets to start listening, and a reload to take effect.
const READY: Duration = Duration::from_secs(10);
/// The path the stand-in answers itself with the generation of its configuration.
const GENERATION_PATH: &str = "/__lb/generation";
/// Idle connections to targets kept per worker.
const KEEPALIVE: usize = 16;

/// One request as the stand-in logged it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessEntry {
    /// Seconds since the epoch when the request finished (millisecond resolution).
    pub time: f64,
    /// The request method.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The status the client got.
    pub status: u16,
    /// The target that was tried (`None` when no target was, e.g. no target registered).
    pub target: Option<SocketAddr>,
    /// The target's status (`None` when it gave none: refused, reset, no target).
    pub target_status: Option<u16>,
}

/// An nginx load balancer over loopback targets, stopped when dropped.
#[derive(Debug)]
pub struct NginxLb {
    nginx: PathBuf,
    dir: PathBuf,
    addr: SocketAddr,
    targets: Vec<SocketAddr>,
    generation: u64,
    run_as_root: bool,
    master: Option<Process>,
}

impl NginxLb {
    /// Starts nginx (from PATH, or `/usr/sbin/nginx`) with its prefix in `dir` (an empty
    /// directory of the test's), listening on a free loopback port, `targets` registered; returns
    /// once it answers.
    ///
    /// Panics when nginx is missing or will not start, with its error log.
    pub fn start(dir: &Path, targets: &[SocketAddr]) -> NginxLb {
        let nginx = crate::nginx::find();
        for sub in ["logs", "temp"] {
            std::fs::create_dir_all(dir.join(sub))
                .unwrap_or_else(|e| panic!("cannot create {}/{sub}: {e}", dir.display()));
        }
        // Workers of a root master run as `nobody` unless told otherwise, and could not
        // write to a prefix that only root may enter.
        let run_as_root = std::os::unix::fs::MetadataExt::uid(
            &std::fs::metadata(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
        ) == 0;
        let mut last = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let addr = SocketAddr::from(([127, 0, 0, 1], crate::ports::free_port()));
            let mut lb = NginxLb {
                nginx: nginx.clone(),
                dir: dir.to_path_buf(),
                addr,
                targets: targets.to_vec(),
                generation: 1,
                run_as_root,
                master: None,
            };
            lb.write_config();
            let master = Process::spawn(
                &format!("nginx-lb-{attempt}"),
                Command::new(&nginx)
                    .arg("-p")
                    .arg(dir)
                    .arg("-c")
                    .arg(lb.conf())
                    .arg("-e")
                    .arg(lb.error_log_path()),
                dir,
            );
            lb.master = Some(master);
            if lb.wait_generation() {
                return lb;
            }
            last = lb.error_log();
            lb.shutdown();
        }
        panic!(
            "nginx ({}) did not start as a load balancer in {START_ATTEMPTS} attempts; error log:\n{last}",
            nginx.display()
        );
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registered targets.
    pub fn targets(&self) -> &[SocketAddr] {
        &self.targets
    }

    /// Registers exactly `targets` (rewrites the upstream, `nginx -s reload`) and returns once
    /// the new configuration answers; the old workers finish their requests in flight. Returns
    /// how long the change took to take effect.
    ///
    /// Panics when the reload fails or does not take effect, with nginx's error log.
    pub fn set_targets(&mut self, targets: &[SocketAddr]) -> Duration {
        let started = Instant::now();
        self.targets = targets.to_vec();
        self.generation += 1;
        self.write_config();
        let out = Command::new(&self.nginx)
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.conf())
            .arg("-e")
            .arg(self.error_log_path())
            .args(["-s", "reload"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run nginx -s reload: {e}"));
        assert!(
            out.status.success(),
            "nginx -s reload failed ({}): {}{}\nerror log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.error_log()
        );
        assert!(
            self.wait_generation(),
            "the reload to generation {} did not take effect within {READY:?}; error log:\n{}",
            self.generation,
            self.error_log()
        );
        started.elapsed()
    }

    /// Every request logged so far, in the order they finished.
    pub fn access_log(&self) -> Vec<AccessEntry> {
        let text = std::fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default();
        text.lines().filter_map(parse_access_line).collect()
    }

    /// nginx's error log so far (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.error_log_path()).unwrap_or_default()
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("nginx.conf")
    }

    fn error_log_path(&self) -> PathBuf {
        self.dir.join("logs/error.log")
    }

    fn write_config(&self) {
        let text = render(
            &self.dir,
            self.addr,
            &self.targets,
            self.generation,
            self.run_as_root,
        );
        let path = self.conf();
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Whether the current generation answers within [`READY`] (false: nginx exited or never
    /// got there).
    fn wait_generation(&mut self) -> bool {
        let want = self.generation.to_string();
        let deadline = Instant::now() + READY;
        while Instant::now() < deadline {
            if self
                .master
                .as_mut()
                .is_none_or(|m| m.exit_status().is_some())
            {
                return false;
            }
            if let Ok((200, body)) = get(self.addr, GENERATION_PATH, Duration::from_millis(500))
                && body == want
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Stops the master (SIGTERM: it stops its workers) and kills any worker it left.
    fn shutdown(&mut self) {
        let Some(mut master) = self.master.take() else {
            return;
        };
        let workers = children(master.pid());
        master.stop();
        for pid in workers {
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for NginxLb {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A `GET` over a new connection (`Connection: close`), whole within `timeout`: the status and
/// the body (headers dropped).
pub(crate) fn get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    stream.set_write_timeout(Some(left()))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(left()))?;
        match stream.read(&mut buf)? {
            0 => break,
            n => answer.extend_from_slice(&buf[..n]),
        }
        if answer.len() > 1 << 20 || Instant::now() >= deadline {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_owned()))
}

/// The process ids of `pid`'s children (Linux' `/proc/PID/task/PID/children`).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// One access line: `msec method path status target target_status`.
fn parse_access_line(line: &str) -> Option<AccessEntry> {
    let mut f = line.split(' ');
    let time = f.next()?.parse().ok()?;
    let method = f.next()?.to_owned();
    let path = f.next()?.to_owned();
    let status = f.next()?.parse().ok()?;
    // With a retry nginx lists every target tried ("a, b"); this stand-in never retries.
    let target = f.next()?.parse().ok();
    let target_status = f.next()?.parse().ok();
    Some(AccessEntry {
        time,
        method,
        path,
        status,
        target,
        target_status,
    })
}

/// `nginx.conf` for the prefix `dir`.
fn render(
    dir: &Path,
    listen: SocketAddr,
    targets: &[SocketAddr],
    generation: u64,
    run_as_root: bool,
) -> String {
    let p = dir.display();
    let mut upstream = String::new();
    for t in targets {
        let _ = writeln!(upstream, "        server {t} max_fails=0;");
    }
    // An ALB with no healthy target answers 503; nginx refuses an upstream without servers.
    let proxy = if targets.is_empty() {
        "return 503;".to_owned()
    } else {
        "proxy_pass http://targets;".to_owned()
    };
    let upstream_block = if targets.is_empty() {
        String::new()
    } else {
        format!("    upstream targets {{\n{upstream}        keepalive {KEEPALIVE};\n    }}\n")
    };
    let user = if run_as_root { "user root root;\n" } else { "" };
    format!(
        r#"# An ALB stand-in written by testkit::nginx_lb (generation {generation}).
{user}worker_processes 1;
daemon off;
pid "{p}/nginx.pid";
error_log "{p}/logs/error.log" warn;

events {{
    worker_connections 1024;
}}

http {{
    log_format lb '$msec $request_method $uri $status $upstream_addr $upstream_status';
    access_log "{p}/logs/access.log" lb;
    client_body_temp_path "{p}/temp/client_body";
    proxy_temp_path "{p}/temp/proxy";
    fastcgi_temp_path "{p}/temp/fastcgi";
    uwsgi_temp_path "{p}/temp/uwsgi";
    scgi_temp_path "{p}/temp/scgi";
    server_tokens off;
{upstream_block}
    server {{
        listen {listen};
        # A reload would close idle client connections (module doc).
        keepalive_timeout 0;
        location = {GENERATION_PATH} {{
            access_log off;
            return 200 "{generation}";
        }}
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_next_upstream off;
            proxy_connect_timeout 5s;
            # The ALB's idle timeout.
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
            {proxy}
        }}
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_lines_parse_with_and_without_a_target() {
        let e = parse_access_line("1700000000.123 POST /api/v1/sum 502 127.0.0.1:4242 502")
            .expect("parses");
        assert_eq!(e.status, 502);
        assert_eq!(e.target, Some("127.0.0.1:4242".parse().expect("addr")));
        assert_eq!(e.target_status, Some(502));
        let e = parse_access_line("1700000000.123 GET / 503 - -").expect("parses");
        assert_eq!((e.target, e.target_status), (None, None));
        assert!(parse_access_line("garbage").is_none());
    }

    #[test]
    fn the_config_has_one_server_per_target_and_no_retries() {
        let t: Vec<SocketAddr> = vec![
            "127.0.0.1:1001".parse().expect("addr"),
            "127.0.0.1:1002".parse().expect("addr"),
        ];
        let conf = render(
            Path::new("/p"),
            "127.0.0.1:9".parse().expect("addr"),
            &t,
            7,
            false,
        );
        assert!(conf.contains("server 127.0.0.1:1001 max_fails=0;"));
        assert!(conf.contains("server 127.0.0.1:1002 max_fails=0;"));
        assert!(conf.contains("proxy_next_upstream off;"));
        assert!(conf.contains("return 200 \"7\";"));
        let empty = render(
            Path::new("/p"),
            "127.0.0.1:9".parse().expect("addr"),
            &[],
            1,
            false,
        );
        assert!(!empty.contains("upstream targets") && empty.contains("return 503;"));
    }
}
