//! What the build pulls in from outside: cargo-deny holds the dependency tree to `deny.toml`
//! (licences, duplicate versions and banned crates, crates.io as the only source), offline; and
//! every container image the Dockerfiles build from is pinned by digest. Also the one helper the
//! tool tests share: an installed tool's path from the suite's environment or its install script.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, run, temp_dir, text};

/// The tool in environment variable `var` (scripts/test.sh sets it), or the path that
/// `scripts/deps/<script>` prints after installing it (idempotent) when run on its own.
pub(crate) fn installed(var: &str, script: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let out = run(&mut Command::new(root().join("scripts/deps").join(script)));
    assert!(
        out.status.success(),
        "scripts/deps/{script} failed (it installs what ${var} names):\n{}",
        text(&out)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

// --- cargo-deny -----------------------------------------------------------------------------------

/// `cargo deny check licenses bans sources` over the workspace with `config`, offline and with
/// Cargo.lock as committed (`--frozen`).
fn cargo_deny(config: &Path) -> Output {
    run(Command::new(installed("CARGO_DENY", "cargo-deny.sh"))
        .args(["--frozen", "--color", "never", "--config"])
        .arg(config)
        .args(["check", "licenses", "bans", "sources"])
        .current_dir(root()))
}

#[test]
fn the_dependency_tree_meets_deny_toml() {
    let out = cargo_deny(&root().join("deny.toml"));
    let report = text(&out);
    assert!(
        out.status.success(),
        "cargo deny check licenses bans sources failed (deny.toml; docs/supply-chain.md):\n{report}"
    );
    assert!(
        report.contains("bans ok, licenses ok, sources ok"),
        "{report}"
    );
}

#[test]
fn cargo_deny_rejects_a_licence_or_a_duplicate_the_policy_does_not_list() {
    let policy = fs::read_to_string(root().join("deny.toml")).expect("deny.toml");
    let dir = temp_dir("deny");
    for (edit, from, to, expected) in [
        (
            "MIT no longer allowed",
            "  \"MIT\",\n",
            "",
            "rejected: license is not explicitly allowed",
        ),
        (
            "http 0.2 no longer skipped",
            "{ crate = \"http:0.2\",",
            "{ crate = \"http:0.1\",",
            "duplicate entries for crate 'http'",
        ),
        (
            "ring banned",
            "deny = [\n",
            "deny = [\n  { crate = \"ring\", reason = \"test\" },\n",
            "error[banned]",
        ),
    ] {
        assert!(policy.contains(from), "deny.toml no longer has `{from}`");
        let config = dir.join("deny.toml");
        fs::write(&config, policy.replacen(from, to, 1)).expect("write");
        let out = cargo_deny(&config);
        let report = text(&out);
        assert!(
            !out.status.success(),
            "{edit}: cargo deny passed:\n{report}"
        );
        assert!(
            report.contains(expected),
            "{edit}: no `{expected}`:\n{report}"
        );
    }
}

#[test]
fn every_duplicate_skipped_and_crate_banned_says_why() {
    let policy = fs::read_to_string(root().join("deny.toml")).expect("deny.toml");
    let entries: Vec<&str> = policy
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("{ crate = "))
        .collect();
    assert!(entries.len() >= 5, "{entries:?}");
    for entry in entries {
        let reason = entry.split("reason = \"").nth(1).unwrap_or_default();
        assert!(
            reason.len() > 15,
            "deny.toml: `{entry}` needs a reason a reader can check"
        );
    }
}

// --- container images -----------------------------------------------------------------------------

/// Every Dockerfile of the repository (`<dir>/Dockerfile`, `<dir>/*.Dockerfile`), sorted.
fn dockerfiles() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in fs::read_dir(root())
        .expect("repository root")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| !p.ends_with("target") && !p.ends_with(".git") && !p.ends_with(".deps"))
    {
        for file in fs::read_dir(&dir)
            .expect("a directory")
            .filter_map(Result::ok)
            .map(|e| e.path())
        {
            let name = file
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            if name == "Dockerfile" || name.ends_with(".Dockerfile") {
                found.push(file);
            }
        }
    }
    found.sort();
    found
}

/// `image:tag@sha256:<64 lowercase hex>` split into (`image:tag`, digest), or `None` when the
/// reference is not pinned by digest (or names no tag, which would hide what it was).
fn pinned(reference: &str) -> Option<(&str, &str)> {
    let (image, digest) = reference.split_once("@sha256:")?;
    let tagged = image
        .rsplit_once('/')
        .map_or(image, |(_, last)| last)
        .contains(':');
    (tagged
        && digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some((image, digest))
}

/// The image references of a Dockerfile: the `# syntax=` frontend and each `FROM` that is not an
/// earlier stage of the same file.
fn image_references(text: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let mut references = Vec::new();
    if let Some(syntax) = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# syntax="))
    {
        references.push(syntax.trim().to_string());
    }
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("FROM ") else {
            continue;
        };
        let words: Vec<&str> = rest
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let image = words.first().copied().unwrap_or_default();
        if !stages.iter().any(|s| s == image) {
            references.push(image.to_string());
        }
        if let [_, as_, name] = words[..]
            && as_.eq_ignore_ascii_case("AS")
        {
            stages.push(name.to_string());
        }
    }
    references
}

#[test]
fn every_base_image_is_pinned_by_digest() {
    let files = dockerfiles();
    for expected in [
        "service/Dockerfile",
        "canary/Dockerfile",
        "loadgen/Dockerfile",
    ] {
        assert!(
            files.contains(&root().join(expected)),
            "{expected} not found among {files:?}"
        );
    }
    // One digest per image:tag across the repository: the images are updated together.
    let mut digests: BTreeMap<String, (String, String)> = BTreeMap::new();
    for file in &files {
        let name = file
            .strip_prefix(root())
            .unwrap_or(file)
            .display()
            .to_string();
        let text = fs::read_to_string(file).expect("Dockerfile");
        let references = image_references(&text);
        assert!(references.len() >= 2, "{name}: {references:?}");
        for reference in references {
            let (image, digest) = pinned(&reference).unwrap_or_else(|| {
                panic!(
                    "{name}: `{reference}` is not pinned by digest; write `image:tag@sha256:...` \
                     with the digest of the tag's multi-platform index \
                     (`docker buildx imagetools inspect image:tag`)"
                )
            });
            if let Some((other, seen_in)) =
                digests.insert(image.to_string(), (digest.to_string(), name.clone()))
            {
                assert_eq!(
                    other, digest,
                    "{image} has one digest in {seen_in} and another in {name}"
                );
            }
        }
    }
}

#[test]
fn the_pin_check_refuses_what_a_tag_alone_would_let_move() {
    let digest = "d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082";
    assert!(pinned(&format!("rust:1.95-slim-bookworm@sha256:{digest}")).is_some());
    assert!(
        pinned(&format!(
            "gcr.io/distroless/cc-debian12:nonroot@sha256:{digest}"
        ))
        .is_some()
    );
    for unpinned in [
        "rust:1.95-slim-bookworm".to_string(),
        format!("rust@sha256:{digest}"),
        format!("localhost:5000/rust@sha256:{digest}"),
        format!("rust:1.95@sha256:{}", &digest[..63]),
        format!("rust:1.95@sha256:{}", digest.to_uppercase()),
        format!("rust:1.95@sha512:{digest}"),
    ] {
        assert!(pinned(&unpinned).is_none(), "{unpinned}");
    }
    let dockerfile = "# syntax=docker/dockerfile:1.7\nFROM --platform=$BUILDPLATFORM rust:1 AS build\nFROM build AS test\nFROM debian:12\n";
    assert_eq!(
        image_references(dockerfile),
        ["docker/dockerfile:1.7", "rust:1", "debian:12"]
    );
}
