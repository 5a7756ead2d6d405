//! The gateway's processes live and die with the one that started them: `kill -9` of the
//! `local-gateway` binary takes nginx (master and workers) down within a bounded time, and what
//! it leaves on disk holds no key and is removed by the next start.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::echo_upstream;
use crate::credentials::assert_no_secret_under;
use crate::{CANARY, CUSTOMER, ORIGIN, builder, client, start};

/// Whether `pid` is a live process (a zombie waiting for its reaper counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        // The state follows the parenthesised command name.
        Ok(stat) => !matches!(
            stat.rsplit_once(") ").map(|(_, rest)| rest.as_bytes()[0]),
            Some(b'Z' | b'X')
        ),
    }
}

/// The live processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) && alive(child) {
            out.push(child);
        }
    }
    out
}

/// The binary, stopped with SIGTERM if a failed assertion leaves it running.
struct Binary(std::process::Child);

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.0.wait();
        }
    }
}

/// Starts the binary, waits until it proxies, and returns it with its prefix and address.
async fn serving_binary(upstream: std::net::SocketAddr) -> (Binary, PathBuf, String) {
    let port = testkit::ports::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Binary(
        std::process::Command::new(env!("CARGO_BIN_EXE_local-gateway"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SUM_API_ORIGIN_SECRET", ORIGIN)
            .env("CANARY_API_KEY", CANARY)
            .env("EXAMPLE_CUSTOMER_API_KEY", CUSTOMER)
            .args(["--upstream", &upstream.to_string(), "--listen", &listen])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The start line names the prefix: "... prefix: /tmp/local-gateway-...)".
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split_once("prefix: ").map(|(_, r)| r) {
                let _ = tx.send(rest.trim_end_matches(')').to_owned());
            }
        }
    });
    let prefix = PathBuf::from(
        rx.recv_timeout(Duration::from_secs(20))
            .expect("local-gateway prints its prefix once nginx listens"),
    );
    let url = format!("http://{listen}/api/v1/sum");
    let r = client().get(&url).header("apikey", CANARY).send().await;
    assert_eq!(r.unwrap().status(), 200);
    (child, prefix, listen)
}

fn nginx_master(prefix: &Path) -> u32 {
    std::fs::read_to_string(prefix.join("nginx.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_the_binary_takes_nginx_down_and_the_next_start_sweeps_the_prefix() {
    let echo = echo_upstream().await;
    let (mut child, prefix, listen) = serving_binary(echo.addr).await;
    let master = nginx_master(&prefix);
    let workers = children(master);
    assert!(!workers.is_empty(), "nginx runs a worker under {master}");
    assert_no_secret_under(&prefix, &[CANARY, CUSTOMER, ORIGIN]);

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let killed = Instant::now();
    let mut nginx: Vec<u32> = workers.clone();
    nginx.push(master);
    loop {
        let answering = std::net::TcpStream::connect(&listen).is_ok();
        let running: Vec<u32> = nginx.iter().copied().filter(|p| alive(*p)).collect();
        if !answering && running.is_empty() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "5 s after kill -9: port answering {answering}, nginx processes still running {running:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The residue: an owner-only directory with no key in it, removed by the next start.
    use std::os::unix::fs::PermissionsExt;
    if prefix.exists() {
        let mode = std::fs::metadata(&prefix).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "prefix mode {mode:o}");
        assert_no_secret_under(&prefix, &[CANARY, CUSTOMER, ORIGIN]);
    }
    let next = start(builder(echo.addr));
    assert!(
        !prefix.exists(),
        "the next start removes the prefix a killed gateway left"
    );
    drop(next);
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_dies_with_the_process_even_when_the_starting_thread_is_gone() {
    // Started from a thread that ends right away: nginx must keep serving (its lifetime is the
    // gateway value's, not the starting thread's) and stop when the value is dropped.
    let echo = echo_upstream().await;
    let addr = echo.addr;
    let gw = std::thread::spawn(move || start(builder(addr)))
        .join()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = client()
        .get(format!("{}/healthz", gw.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", gw.error_log());
    let master = nginx_master(gw.prefix());
    let workers = children(master);
    drop(gw);
    for pid in workers.iter().chain([&master]) {
        assert!(!alive(*pid), "nginx process {pid} outlived the gateway");
    }
}
