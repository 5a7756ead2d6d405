//! nginx serving a configuration of the test's on a free loopback port, from a private prefix in
//! a temp directory: a real web server as a load generator's or a monitor's target. The port
//! was free a moment ago, and another test may take it before nginx binds it: then nginx logs
//! "Address already in use" (and exits after its own retries), or the port answers for someone
//! else; either way it is started again on another port. Dropping the value stops nginx and
//! removes its prefix.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ports::free_port;
use crate::tempdir;

/// Attempts at starting nginx on a free port.
const START_ATTEMPTS: usize = 3;
/// How long nginx gets to start listening.
const READY: Duration = Duration::from_secs(10);

/// The nginx binary: from PATH, or `/usr/sbin/nginx`. Panics, saying how to install it, when
/// there is none.
pub(crate) fn find() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("nginx is not installed; run scripts/deps/apt.sh"))
}

/// nginx listening on a free loopback port; stopped on drop.
pub struct Nginx {
    /// Its port, on 127.0.0.1.
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx in the foreground with the configuration that `conf(prefix, port)` returns:
    /// its prefix (a fresh temp directory named after `name`, with `logs/` and `tmp/` in it)
    /// for the pid file, error log and temp paths, and the port to listen on at 127.0.0.1.
    /// Returns once the port accepts connections.
    ///
    /// Panics when nginx is missing, when it does not listen within 10 s (with its error log),
    /// or when it lost its port three times.
    pub fn start(name: &str, conf: impl Fn(&Path, u16) -> String) -> Nginx {
        let nginx = find();
        for _ in 0..START_ATTEMPTS {
            let dir = tempdir::unique(name);
            for sub in ["logs", "tmp"] {
                std::fs::create_dir_all(dir.join(sub)).expect("nginx dirs");
            }
            let port = free_port();
            let conf_path = dir.join("nginx.conf");
            std::fs::write(&conf_path, conf(&dir, port)).expect("write nginx.conf");
            let mut child = Command::new(&nginx)
                .arg("-p")
                .arg(&dir)
                .arg("-c")
                .arg(&conf_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx");
            let error_log = || std::fs::read_to_string(dir.join("logs/error.log"));
            let taken = || error_log().is_ok_and(|log| log.contains("Address already in use"));
            let deadline = Instant::now() + READY;
            let listening = loop {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break !taken();
                }
                if taken() || child.try_wait().is_ok_and(|exit| exit.is_some()) {
                    break false;
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx did not listen on {port}: {}",
                    error_log().unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(20));
            };
            if listening {
                return Nginx { port, child, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
        }
        panic!("nginx could not get a free port in {START_ATTEMPTS} attempts");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
