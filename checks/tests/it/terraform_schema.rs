//! Every argument and nested block of our Terraform against the AWS provider's own schema, read
//! from the pinned npm package `@cdktf/provider-aws` (installed by
//! `scripts/deps/aws-provider-schema.sh`; its lib/ directory in `AWS_PROVIDER_SCHEMA`, as
//! scripts/test.sh sets it) by `checks/tools/aws-provider-schema.mjs` at test time. A missing
//! package or node fails the test and names the script.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use checks::terraform_schema::{Checked, Schema, Unchecked, blocks_of, check};
use common::{root, run, text};

fn package_lib() -> PathBuf {
    if let Some(path) = std::env::var_os("AWS_PROVIDER_SCHEMA").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let out = run(&mut Command::new(
        root().join("scripts/deps/aws-provider-schema.sh"),
    ));
    assert!(
        out.status.success(),
        "scripts/deps/aws-provider-schema.sh failed (it installs @cdktf/provider-aws from npm):\n{}",
        text(&out)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The schema of the given types, extracted from the package by the project's script.
fn schema_of(kinds: &BTreeSet<String>) -> Schema {
    let out = run(Command::new("node")
        .arg(root().join("checks/tools/aws-provider-schema.mjs"))
        .arg(package_lib())
        .args(kinds));
    assert!(
        out.status.success(),
        "checks/tools/aws-provider-schema.mjs failed:\n{}",
        text(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the schema extractor printed no JSON ({e}):\n{}",
            text(&out)
        )
    })
}

fn tf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && !p.ends_with(".terraform") {
            tf_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "tf") {
            out.push(p);
        }
    }
}

struct Ours {
    checked: Vec<Checked>,
    unchecked: Vec<Unchecked>,
    schema: Schema,
}

/// Our Terraform, parsed, and the schema of every AWS type it uses (extracted once).
fn ours() -> &'static Ours {
    static OURS: OnceLock<Ours> = OnceLock::new();
    OURS.get_or_init(|| {
        let root = root();
        let mut files = Vec::new();
        tf_files(&root.join("terraform"), &mut files);
        assert!(files.len() > 10, "found only {files:?} under terraform/");
        let (mut checked, mut unchecked) = (Vec::new(), Vec::new());
        for f in &files {
            let text = fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let rel = f.strip_prefix(&root).expect("under the repository");
            let (c, u) = blocks_of(rel, &text).unwrap_or_else(|e| panic!("{e}"));
            checked.extend(c);
            unchecked.extend(u);
        }
        let mut kinds: BTreeSet<String> = checked.iter().map(|c| c.kind.clone()).collect();
        // Asked for too, so the mutation test below has them.
        kinds.insert("resource.aws_ecs_service".into());
        let schema = schema_of(&kinds);
        Ours {
            checked,
            unchecked,
            schema,
        }
    })
}

#[test]
fn every_aws_argument_and_block_exists_in_the_provider() {
    let ours = ours();
    assert!(
        ours.schema.missing.is_empty(),
        "types the AWS provider (6.25 as @cdktf/provider-aws 21.22.1 has it) does not have: {:?}",
        ours.schema.missing
    );
    let problems = check(&ours.checked, &ours.schema);
    let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        list.is_empty(),
        "{} argument(s) or block(s) the AWS provider does not have:\n{}",
        list.len(),
        list.join("\n")
    );
    // What was checked, and what is another provider's (Kong's Konnect, Terraform's own).
    assert!(
        ours.checked.len() > 60,
        "only {} blocks checked",
        ours.checked.len()
    );
    let others: BTreeSet<&str> = ours
        .unchecked
        .iter()
        .map(|u| {
            u.address
                .rsplit_once('.')
                .map_or(u.address.as_str(), |(t, _)| t)
        })
        .collect();
    eprintln!(
        "checked {} AWS blocks of {} types; not checked (other providers): {others:?}",
        ours.checked.len(),
        ours.schema.types.len()
    );
    for t in &others {
        assert!(
            t.starts_with("konnect_")
                || t.starts_with("terraform_")
                || t.starts_with("data.terraform_"),
            "an unexpected provider's resource is left unchecked: {t}"
        );
    }
}

/// The extractor read the schema for real: arguments and nested blocks at depth, none opaque.
#[test]
fn the_extracted_schema_has_what_the_provider_documents() {
    let schema = &ours().schema;
    let ecs = &schema.types["resource.aws_ecs_service"];
    for a in [
        "deployment_minimum_healthy_percent",
        "health_check_grace_period_seconds",
        "task_definition",
    ] {
        assert!(ecs.arguments.contains(a), "aws_ecs_service lacks {a}");
    }
    let lb = &ecs.blocks["load_balancer"];
    assert!(lb.arguments.contains("container_port"), "{lb:?}");
    let doc = &schema.types["data.aws_iam_policy_document"];
    let condition = &doc.blocks["statement"].blocks["condition"];
    assert!(condition.arguments.contains("variable"), "{condition:?}");
    let opaque: Vec<&String> = schema
        .types
        .iter()
        .filter(|(_, n)| n.blocks.values().any(|b| b.opaque))
        .map(|(k, _)| k)
        .collect();
    assert!(
        opaque.is_empty(),
        "blocks the extractor could not read: {opaque:?}"
    );
}

/// A misspelt argument in a copy of one of our real resources is found, named by file,
/// resource and argument.
#[test]
fn a_misspelt_argument_in_our_ecs_service_is_named() {
    let ours = ours();
    let file = ours
        .checked
        .iter()
        .find(|c| c.kind == "resource.aws_ecs_service")
        .map(|c| c.file.clone())
        .expect("our Terraform has an aws_ecs_service");
    let text = fs::read_to_string(root().join(&file)).unwrap();
    assert!(
        text.contains("health_check_grace_period_seconds"),
        "{}",
        file.display()
    );
    let broken = text.replacen(
        "health_check_grace_period_seconds",
        "health_check_grace_period_secs",
        1,
    );
    let (blocks, _) = blocks_of(&file, &broken).unwrap();
    let problems: Vec<String> = check(&blocks, &ours.schema)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!("{}: aws_ecs_service.", file.display()))
            && problems[0].contains(
                "health_check_grace_period_secs: the provider has no such argument or block (did you mean `health_check_grace_period_seconds`?)"
            ),
        "{}",
        problems[0]
    );
}
