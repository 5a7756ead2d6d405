//! Helpers shared by the checks' test modules: the repository root, running tools and
//! reporting their output, unique temp dirs, and terraform without CLI config or telemetry.

pub mod repo;

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    checks::repo_root()
}

pub fn tool(name: &str, install: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("`{name}` is not installed; run {install}"))
}

pub fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"))
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh directory under the target dir (`target/checks-tmp`), unique per test process and call.
pub fn temp_dir(tag: &str) -> PathBuf {
    testkit::tempdir::unique_in(&root().join("target").join("checks-tmp"), tag)
}

pub fn terraform() -> Command {
    // No terraform is installed by the scripts: it comes with the machine image (and CI's).
    let mut cmd = Command::new(tool(
        "terraform",
        "the machine image's terraform (>= 1.11); see docs/operations.md",
    ));
    cmd.env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1");
    cmd
}

/// A binary of this build: target/<profile>/NAME, next to the test binaries' deps/.
pub fn built(name: &str) -> PathBuf {
    // target/debug/deps/it-* -> target/debug/NAME (built by the workspace test run).
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(std::path::Path::parent)
        .map(|d| d.join(name))
        .expect("target dir");
    assert!(
        path.is_file(),
        "{} is missing: `cargo build --bins` first (the workspace test run builds it)",
        path.display()
    );
    path
}

/// The address the real service logged it serves on: the `addr` of its JSON `serving` line in
/// `stderr` (`LOG_FORMAT=json`), once it is there.
pub fn serving_addr(stderr: &str) -> Option<std::net::SocketAddr> {
    stderr.lines().find_map(|line| {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        (v["message"] == "serving").then_some(())?;
        v["addr"].as_str()?.parse().ok()
    })
}
