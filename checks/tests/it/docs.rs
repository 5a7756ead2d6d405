//! The README and `docs/` against what they describe: the README stays short; every relative
//! link of the README and `docs/*.md` reaches an existing file (and heading, for `#anchors`);
//! each binary's exit-code table is the same lines in its `--help` and in its page under
//! `docs/`; every `--flag` a page names is a flag of its binary; every table row has its
//! header's cells; and the alarm tables (every alarm in `docs/operations.md`, the paging ones in
//! the README) match the alarm definitions.
//!
//! The `--help` texts come from the real binaries in this test's target directory and profile,
//! as the workspace test run builds them; one that is missing or older than its sources is
//! built first.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use serde_norway::Value;

/// The README's limit: what it is, a picture, two commands, a tour and links, not a reference.
const README_MAX_LINES: usize = 250;

/// One binary and its page under `docs/`.
struct Page {
    /// The page, relative to the repository root.
    doc: &'static str,
    /// The binary's name in the target directory.
    binary: &'static str,
    /// Every command line (before `--help`) whose help the page describes.
    commands: &'static [&'static [&'static str]],
    /// The exit-code tables: the heading each sits under, and the command lines printing it.
    tables: &'static [(&'static str, &'static [&'static [&'static str]])],
    /// Flags of other tools the page shows (cargo, decK, docker), which the binary lacks.
    other_flags: &'static [&'static str],
}

const PAGES: &[Page] = &[
    Page {
        doc: "docs/service.md",
        binary: "service",
        commands: &[&[], &["healthcheck"]],
        tables: &[("## Exit codes", &[&[]])],
        other_flags: &[],
    },
    Page {
        doc: "docs/loadgen.md",
        binary: "loadgen",
        commands: &[
            &[],
            &["run"],
            &["merge"],
            &["report"],
            &["capacity"],
            &["ratelimit"],
        ],
        tables: &[
            (
                "## Exit codes (run, merge, report)",
                &[&[], &["run"], &["merge"], &["report"]],
            ),
            ("### Exit codes (capacity)", &[&["capacity"]]),
            ("### Exit codes (ratelimit)", &[&["ratelimit"]]),
        ],
        other_flags: &[],
    },
    Page {
        doc: "docs/canary.md",
        binary: "canary",
        commands: &[&[], &["run"], &["validate"]],
        tables: &[("## Exit codes", &[&[], &["run"], &["validate"]])],
        other_flags: &["--release", "--example"],
    },
    Page {
        doc: "docs/gateway.md",
        binary: "local-gateway",
        commands: &[&[]],
        tables: &[("## Exit codes", &[&[]])],
        other_flags: &["--selector", "--value", "--rm", "--add-host"],
    },
    Page {
        doc: "docs/slo.md",
        binary: "slo",
        commands: &[&[], &["validate"], &["generate"]],
        tables: &[("## Exit codes", &[&[]])],
        other_flags: &["--slo-file", "--storage"],
    },
];

/// Flags of cargo that the README's tour uses besides those of the four binaries.
const README_OTHER_FLAGS: &[&str] = &[
    "--release",
    "--locked",
    "--bins",
    "--example",
    "--all-targets",
];

fn root() -> PathBuf {
    checks::repo_root()
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The pages checked for links: the README and every `docs/*.md`.
fn markdown_pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_string()];
    let mut docs: Vec<String> = fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

// --- markdown ------------------------------------------------------------------------------------

/// The lines of a page outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// A line without its code spans (an unclosed one runs to the end of the line).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    for (i, piece) in line.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(piece);
        }
    }
    out
}

/// The inline link targets of a page: `(line, target)` for every `[text](target)`.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code_spans(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push((number, after[..end].trim().to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces turned into hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every anchor a page's headings make, duplicates numbered as GitHub numbers them.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// `base` joined with a relative `link`, `..` resolved, or None when it leaves the repository.
fn resolve(base: &Path, link: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for component in base.join(link).components() {
        match component {
            Component::ParentDir => {
                if !path.pop() {
                    return None;
                }
            }
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(path)
}

/// What is wrong with the relative links of one page (`rel`, relative to the repository root).
fn link_problems(rel: &str) -> Vec<String> {
    link_problems_in(rel, &read(rel))
}

/// What is wrong with the relative links of `text`, the page `rel`.
fn link_problems_in(rel: &str, text: &str) -> Vec<String> {
    let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
    let mut problems = Vec::new();
    for (line, target) in links(text) {
        let at = format!("{rel}:{line}: ({target})");
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        if target.is_empty() || target.starts_with('/') {
            problems.push(format!("{at}: links must be relative to the page"));
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((file, anchor)) => (file, Some(anchor)),
            None => (target.as_str(), None),
        };
        if file.is_empty() {
            if let Some(anchor) = anchor.filter(|a| !anchors(text).contains(*a)) {
                problems.push(format!(
                    "{at}: the page has no heading with the anchor #{anchor}"
                ));
            }
            continue;
        }
        let Some(page) = resolve(dir, file) else {
            problems.push(format!("{at}: leaves the repository"));
            continue;
        };
        let full = root().join(&page);
        if !full.exists() {
            problems.push(format!("{at}: {} does not exist", page.display()));
            continue;
        }
        if let Some(anchor) = anchor
            && page.extension().is_some_and(|e| e == "md")
            && !anchors(&fs::read_to_string(&full).expect("linked page")).contains(anchor)
        {
            problems.push(format!(
                "{at}: {} has no heading with the anchor #{anchor}",
                page.display()
            ));
        }
    }
    problems
}

/// Every `--flag` named in a text.
fn flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("--") {
        let start = i + at;
        let name_start = start + 2;
        let mut end = name_start;
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'-')
        {
            end += 1;
        }
        let before_ok = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric());
        if before_ok && end > name_start && bytes[name_start].is_ascii_lowercase() {
            out.insert(text[start..end].trim_end_matches('-').to_string());
        }
        i = end.max(start + 2);
    }
    out
}

// --- binaries ------------------------------------------------------------------------------------

/// The binaries whose `--help` the pages quote, and the package of each.
const BINARIES: &[(&str, &str)] = &[
    ("service", "service"),
    ("loadgen", "loadgen"),
    ("canary", "canary"),
    ("local-gateway", "gateway"),
    ("slo", "slo"),
];

/// The newest modification time of the files under `path` (a file or a directory).
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| newest(&e.path()))
        .max()
}

/// The directory of this test's profile (`target/<profile>`), which holds the binaries the
/// workspace build made. A binary that is missing, or older than its package's sources, is
/// built there first (so a run of this test alone checks the code as it is); when the
/// workspace test run has just built them, nothing is rebuilt or replaced under the feet of
/// the other tests that run them.
fn built_binaries() -> PathBuf {
    // target/<profile>/deps/docs-<hash> -> target/<profile>
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf();
    let stale: Vec<&str> = BINARIES
        .iter()
        .filter(|(binary, package)| {
            let built = fs::metadata(profile_dir.join(binary)).and_then(|m| m.modified());
            let sources = [
                root().join(package).join("src"),
                root().join(package).join("Cargo.toml"),
                root().join("Cargo.lock"),
            ];
            let newest_source = sources.iter().filter_map(|p| newest(p)).max();
            match (built, newest_source) {
                (Ok(built), Some(source)) => built < source,
                _ => true,
            }
        })
        .map(|(_, package)| *package)
        .collect();
    if stale.is_empty() {
        return profile_dir;
    }
    let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(name) => name,
        None => panic!("no profile directory in {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root())
        .args(["build", "--locked", "--bins", "--profile", profile])
        .arg("--target-dir")
        .arg(target_dir);
    for package in &stale {
        build.args(["-p", package]);
    }
    let shown = format!("{build:?}");
    let out = build
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed, so the docs cannot be checked against the binaries' --help:\n{}",
        output_text(&out)
    );
    profile_dir
}

/// `binary args... --help`, as shown in messages.
fn command_line(binary: &str, args: &[&str]) -> String {
    let mut words = vec![binary];
    words.extend(args);
    words.push("--help");
    words.join(" ")
}

/// `binary args... --help`, as a user sees it (no terminal: no colour).
fn help(dir: &Path, binary: &str, args: &[&str]) -> String {
    let shown = command_line(binary, args);
    let out = Command::new(dir.join(binary))
        .args(args)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
    assert!(
        out.status.success(),
        "`{shown}` failed:\n{}",
        output_text(&out)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("`{shown}` is not UTF-8: {e}"))
}

/// The fenced code blocks of a page, as lines.
fn fenced_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(Vec::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push(line.trim_end().to_string());
        }
    }
    blocks
}

/// The exit-code tables of a page: its code blocks that start `Exit codes:`.
fn documented_tables(text: &str) -> usize {
    fenced_blocks(text)
        .iter()
        .filter(|b| b.first().is_some_and(|l| l.starts_with("Exit codes:")))
        .count()
}

/// The exit-code blocks of a `--help` text: each from a line starting `Exit codes:` to the
/// next blank line.
fn exit_code_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with("Exit codes:") {
            blocks.extend(current.take());
            current = Some(vec![line.to_string()]);
        } else if line.is_empty() {
            blocks.extend(current.take());
        } else if let Some(block) = current.as_mut() {
            block.push(line.to_string());
        }
    }
    blocks.extend(current);
    blocks
}

/// The first fenced code block under `heading` (before the next heading), as lines.
fn block_under(doc: &str, text: &str, heading: &str) -> Vec<String> {
    let mut section = text.lines().skip_while(|l| l.trim_end() != heading);
    assert!(
        section.next().is_some(),
        "{doc} has no heading `{heading}` for the exit-code table"
    );
    let mut fenced = false;
    let section: Vec<&str> = section
        .take_while(|l| {
            fenced ^= l.trim_start().starts_with("```");
            fenced || !l.starts_with('#')
        })
        .collect();
    fenced_blocks(&section.join("\n"))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{doc}: no code block with the exit codes under `{heading}`"))
}

// --- tests ---------------------------------------------------------------------------------------

#[test]
fn readme_is_short() {
    let lines = read("README.md").lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move reference material to docs/"
    );
}

#[test]
fn every_relative_link_of_the_readme_and_docs_resolves() {
    let pages = markdown_pages();
    assert!(
        pages.len() >= 8,
        "README.md and docs/*.md (service, loadgen, canary, gateway, operations, metrics, performance): {pages:?}"
    );
    let problems: Vec<String> = pages.iter().flat_map(|p| link_problems(p)).collect();
    assert!(
        problems.is_empty(),
        "broken links:\n  {}",
        problems.join("\n  ")
    );
}

/// The cells of a table row as GitHub splits them: at every pipe not escaped by a backslash
/// (a pipe inside a code span splits too).
fn cells(row: &str) -> usize {
    let row = row.trim();
    let inner = row.strip_prefix('|').unwrap_or(row);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner.replace("\\|", "").split('|').count()
}

/// What is wrong with the tables of a page: rows whose cell count is not the header's.
fn table_problems(rel: &str, text: &str) -> Vec<String> {
    let lines = prose_lines(text);
    let mut problems = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let (number, header) = lines[i];
        let delimiter = lines[i + 1].1.trim();
        let is_delimiter = delimiter.starts_with('|')
            && delimiter.contains('-')
            && delimiter
                .chars()
                .all(|c| matches!(c, '|' | '-' | ':' | ' '));
        if !header.starts_with('|') || !is_delimiter {
            i += 1;
            continue;
        }
        let width = cells(header);
        let mut j = i + 1;
        while j < lines.len() && lines[j].1.starts_with('|') {
            let (row_number, row) = lines[j];
            if cells(row) != width {
                problems.push(format!(
                    "{rel}:{row_number}: {} cells, but the header at line {number} has {width}",
                    cells(row)
                ));
            }
            j += 1;
        }
        i = j;
    }
    problems
}

#[test]
fn every_table_row_has_as_many_cells_as_its_header() {
    let problems: Vec<String> = markdown_pages()
        .iter()
        .flat_map(|p| table_problems(p, &read(p)))
        .collect();
    assert!(
        problems.is_empty(),
        "tables that render broken:\n  {}",
        problems.join("\n  ")
    );
    let broken = "| a | b |\n|---|---|\n| `x | y` | z |\n| 1 \\| 2 | 3 |\n";
    assert_eq!(
        table_problems("t.md", broken).len(),
        1,
        "a pipe in code splits a cell"
    );
}

#[test]
fn the_link_check_finds_what_it_exists_for() {
    let page = "# Title\n\n## Exit codes (run, merge, report)\n\n```sh\n[a](nowhere.md)\n```\n\
        [ok](#exit-codes-run-merge-report) [missing](#no-such-heading) `[code](skipped.md)`\n\
        [file](docs/absent.md) [out](../../etc/passwd) [abs](/README.md) [web](https://example.com)\n";
    let found: Vec<String> = links(page).into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        found,
        [
            "#exit-codes-run-merge-report",
            "#no-such-heading",
            "docs/absent.md",
            "../../etc/passwd",
            "/README.md",
            "https://example.com"
        ]
    );
    let headings = anchors(page);
    assert!(headings.contains("exit-codes-run-merge-report") && headings.contains("title"));
    assert!(!headings.contains("no-such-heading"));
    let problems = link_problems_in("README.md", page);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    for (problem, expected) in problems.iter().zip([
        "no heading with the anchor #no-such-heading",
        "docs/absent.md does not exist",
        "leaves the repository",
        "must be relative",
    ]) {
        assert!(
            problem.contains(expected),
            "{problem}: expected `{expected}`"
        );
    }
    assert_eq!(slug(" `loadgen ratelimit`"), "loadgen-ratelimit");
    assert_eq!(
        slug("The same kong.yaml on a real Kong"),
        "the-same-kongyaml-on-a-real-kong"
    );
    assert_eq!(
        resolve(Path::new("docs"), "../alarms/x.md"),
        Some("alarms/x.md".into())
    );
    assert_eq!(resolve(Path::new("docs"), "../../x.md"), None);
}

#[test]
fn each_binary_prints_the_exit_code_table_of_its_page() {
    let dir = built_binaries();
    let mut problems = Vec::new();
    for page in PAGES {
        let text = read(page.doc);
        let mut documented = 0;
        for (heading, commands) in page.tables {
            let table = block_under(page.doc, &text, heading);
            documented += 1;
            for args in *commands {
                let shown = command_line(page.binary, args);
                let blocks = exit_code_blocks(&help(&dir, page.binary, args));
                match blocks.as_slice() {
                    [printed] if *printed == table => {}
                    [printed] => problems.push(format!(
                        "`{shown}` prints\n{}\nbut {doc} under `{heading}` has\n{}",
                        printed.join("\n"),
                        table.join("\n"),
                        doc = page.doc
                    )),
                    [] => problems.push(format!("`{shown}` prints no `Exit codes:` table")),
                    _ => problems.push(format!(
                        "`{shown}` explains its exit codes {} times; one table, please",
                        blocks.len()
                    )),
                }
            }
        }
        let in_page = documented_tables(&text);
        if in_page != documented {
            problems.push(format!(
                "{} has {in_page} exit-code tables, {documented} expected: one per distinct --help table",
                page.doc
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_flag_the_docs_name_exists() {
    let dir = built_binaries();
    let mut problems = Vec::new();
    let mut all = BTreeSet::new();
    for page in PAGES {
        let mut known = BTreeSet::new();
        for args in page.commands {
            known.extend(flags(&help(&dir, page.binary, args)));
        }
        all.extend(known.iter().cloned());
        for flag in flags(&read(page.doc)) {
            if !known.contains(&flag) && !page.other_flags.contains(&flag.as_str()) {
                problems.push(format!(
                    "{}: `{flag}` is no flag of {}",
                    page.doc, page.binary
                ));
            }
        }
    }
    for flag in flags(&read("README.md")) {
        if !all.contains(&flag) && !README_OTHER_FLAGS.contains(&flag.as_str()) {
            problems.push(format!("README.md: `{flag}` is no flag of any binary"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every alarm and alert that notifies someone: name → (severities, runbook path from the
/// repository root).
fn alarm_definitions() -> BTreeMap<String, (BTreeSet<String>, String)> {
    let mut out = BTreeMap::new();
    let text = |v: &Value, key: &str| -> String {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("an alarm without `{key}`: {v:?}"))
            .to_string()
    };
    for file in ["alarms/cloudwatch.yaml", "alarms/cloudwatch-slo.yaml"] {
        let cloudwatch: Value = serde_norway::from_str(&read(file)).expect(file);
        for section in ["alarms", "composites"] {
            for alarm in cloudwatch
                .get(section)
                .and_then(Value::as_sequence)
                .unwrap_or_else(|| panic!("{file} has no `{section}` list"))
            {
                // Severity none notifies nobody (an SLO burn's window alarm): no one is alarmed
                // by it, so the tables list the composite that reads it instead.
                if text(alarm, "severity") == "none" {
                    continue;
                }
                let runbook = format!("alarms/runbooks/{}", text(alarm, "runbook"));
                out.insert(text(alarm, "name"), (text(alarm, "severity"), runbook));
            }
        }
    }
    let mut rules: Vec<PathBuf> = fs::read_dir(root().join("alarms/prometheus"))
        .expect("alarms/prometheus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".rules.yml"))
        .collect();
    rules.sort();
    assert!(!rules.is_empty(), "no alarms/prometheus/*.rules.yml");
    // One alert may have rules of several severities (SLOErrorBudgetBurn pages on fast burns and
    // opens tickets on slow ones), all with one runbook.
    let mut alerts: BTreeMap<String, (BTreeSet<String>, String)> = BTreeMap::new();
    for file in rules {
        let doc: Value = serde_norway::from_str(&fs::read_to_string(&file).expect("rules file"))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for group in doc
            .get("groups")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            for rule in group
                .get("rules")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                if rule.get("alert").is_none() {
                    continue;
                }
                let labels = rule.get("labels").expect("an alert with labels");
                let annotations = rule.get("annotations").expect("an alert with annotations");
                let (name, runbook) = (text(rule, "alert"), text(annotations, "runbook_url"));
                let (severities, first) = alerts
                    .entry(name.clone())
                    .or_insert_with(|| (BTreeSet::new(), runbook.clone()));
                assert_eq!(
                    *first, runbook,
                    "`{name}`: its rules link different runbooks"
                );
                severities.insert(text(labels, "severity"));
            }
        }
    }
    let mut all: BTreeMap<String, (BTreeSet<String>, String)> = out
        .into_iter()
        .map(|(name, (severity, runbook))| (name, (BTreeSet::from([severity]), runbook)))
        .collect();
    for (name, definition) in alerts {
        assert!(
            all.insert(name.clone(), definition).is_none(),
            "`{name}` is both a CloudWatch alarm and a Prometheus alert"
        );
    }
    all
}

/// The rows of the table under `heading`: first cell (backticks dropped), every cell, and the
/// link targets of the row.
fn table_rows(text: &str, heading: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    text.lines()
        .skip_while(|l| l.trim_end() != heading)
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect();
            let name = cells[0].trim_matches('`').to_string();
            let targets = links(l).into_iter().map(|(_, t)| t).collect();
            (name, cells, targets)
        })
        .collect()
}

#[test]
fn the_operations_alarm_table_lists_every_alarm_with_its_severity_and_runbook() {
    let definitions = alarm_definitions();
    let doc = "docs/operations.md";
    let rows = table_rows(&read(doc), "## Alarms");
    let mut problems = Vec::new();
    // (name, severity): an alert of several severities has a row for each.
    let mut listed = BTreeSet::new();
    for (name, cells, targets) in &rows {
        let Some((severities, runbook)) = definitions.get(name) else {
            problems.push(format!("`{name}` is no alarm of alarms/"));
            continue;
        };
        let stated: Vec<&str> = cells
            .iter()
            .map(|c| c.trim_matches('*'))
            .filter(|c| ["page", "ticket", "none"].contains(c))
            .collect();
        match stated.as_slice() {
            [severity] if severities.contains(*severity) => {
                if !listed.insert((name.clone(), severity.to_string())) {
                    problems.push(format!("`{name}` ({severity}) is listed twice"));
                }
            }
            _ => problems.push(format!(
                "`{name}`: severity is {}, the table says otherwise",
                severities.iter().cloned().collect::<Vec<_>>().join(" and ")
            )),
        }
        let linked: Vec<PathBuf> = targets
            .iter()
            .filter_map(|t| resolve(Path::new("docs"), t))
            .collect();
        if !linked.contains(&PathBuf::from(runbook)) {
            problems.push(format!(
                "`{name}`: the row does not link its runbook {runbook}"
            ));
        }
    }
    for (name, (severities, _)) in &definitions {
        for severity in severities {
            if !listed.contains(&(name.clone(), severity.clone())) {
                problems.push(format!("`{name}` ({severity}) is missing from the table"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{doc}, table under `## Alarms`:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_readme_names_exactly_the_alarms_that_page() {
    let paging: BTreeMap<String, String> = alarm_definitions()
        .into_iter()
        .filter(|(_, (severities, _))| severities.contains("page"))
        .map(|(name, (_, runbook))| (name, runbook))
        .collect();
    assert!(!paging.is_empty(), "no alarm pages at all?");
    let rows = table_rows(&read("README.md"), "## What pages me");
    let listed: BTreeMap<String, Vec<PathBuf>> = rows
        .into_iter()
        .map(|(name, _, targets)| {
            let linked = targets.iter().filter_map(|t| resolve(Path::new(""), t));
            (name, linked.collect())
        })
        .collect();
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        paging.keys().collect::<Vec<_>>(),
        "README.md's `What pages me` table must list exactly the alarms of severity page"
    );
    for (name, runbook) in &paging {
        assert!(
            listed[name].contains(&PathBuf::from(runbook)),
            "README.md: the row of `{name}` does not link its runbook {runbook}"
        );
    }
}
