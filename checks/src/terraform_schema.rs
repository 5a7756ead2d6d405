//! Our Terraform against the AWS provider's own schema: every argument and nested block of every
//! `aws_*` resource, data source and `provider "aws"` block must exist in the provider, so a
//! misspelt or removed argument fails a test here instead of a platform engineer's
//! `terraform plan` (`terraform validate` cannot run here: providers cannot be downloaded).
//!
//! The schema comes from the npm package `@cdktf/provider-aws` (code generated from the
//! provider), read by `checks/tools/aws-provider-schema.mjs` into the JSON that [`Schema`]
//! deserializes; `scripts/deps/aws-provider-schema.sh` installs the pinned package. This module
//! parses the `.tf` files ([`blocks_of`]) and compares ([`check`]); it knows nothing of npm.
//!
//! What it checks: names (arguments and blocks, at every depth, `dynamic` blocks by their
//! `content`), and that a block is written as a block and an argument as an argument. What it
//! does not: types, required arguments, conflicting arguments, and resources of other providers
//! (listed by [`Unchecked`], so a test can say so).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use hcl::{Block, Body, Structure};
use serde::Deserialize;

/// The provider's schema for the types asked for, as the extractor prints it.
#[derive(Debug, Deserialize)]
pub struct Schema {
    /// `resource.aws_x`, `data.aws_x` or `provider.aws` → its arguments and blocks.
    pub types: BTreeMap<String, Node>,
    /// Types asked for that the provider does not have.
    pub missing: Vec<String>,
}

/// The arguments and nested blocks allowed in one block.
#[derive(Debug, Default, Deserialize)]
pub struct Node {
    /// Argument names (`name = value`).
    pub arguments: BTreeSet<String>,
    /// Nested block names (`name { ... }`) and what each allows.
    pub blocks: BTreeMap<String, Node>,
    /// The extractor could not read this block's own schema: anything inside is accepted.
    #[serde(default)]
    pub opaque: bool,
}

/// One `resource`, `data` or `provider` block of ours that the AWS schema covers.
#[derive(Debug)]
pub struct Checked {
    /// The file it is in.
    pub file: PathBuf,
    /// Its schema key: `resource.aws_x`, `data.aws_x` or `provider.aws`.
    pub kind: String,
    /// Its address, as Terraform prints it: `aws_x.name`, `data.aws_x.name`, `provider.aws`.
    pub address: String,
    /// Its body.
    pub body: Body,
}

/// A `resource` or `data` block of another provider (not checked).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unchecked {
    /// The file it is in.
    pub file: PathBuf,
    /// Its address.
    pub address: String,
}

/// One argument or block the provider does not have, or written the wrong way.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// The resource's address.
    pub address: String,
    /// The argument or block, with the blocks it is nested in: `load_balancer.container_nam`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}: {}",
            self.file.display(),
            self.address,
            self.path,
            self.message
        )
    }
}

/// Terraform's own meta-arguments, valid in every resource and data block.
const META_ARGUMENTS: &[&str] = &["count", "for_each", "provider", "depends_on"];
/// Terraform's own meta-blocks of resources.
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection"];
/// Meta-arguments of a provider block.
const PROVIDER_META_ARGUMENTS: &[&str] = &["alias", "version"];

/// Reads one `.tf` file's resource, data and provider blocks: the AWS ones to check, the
/// others to list. A file that does not parse is an error naming it.
pub fn blocks_of(file: &Path, text: &str) -> Result<(Vec<Checked>, Vec<Unchecked>), String> {
    let body = hcl::parse(text).map_err(|e| format!("{}: not HCL: {e}", file.display()))?;
    let mut checked = Vec::new();
    let mut unchecked = Vec::new();
    for block in body.blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        let (kind, address) = match (block.identifier(), labels.as_slice()) {
            ("resource", [ty, name]) => (format!("resource.{ty}"), format!("{ty}.{name}")),
            ("data", [ty, name]) => (format!("data.{ty}"), format!("data.{ty}.{name}")),
            ("provider", [name]) => (format!("provider.{name}"), format!("provider.{name}")),
            _ => continue,
        };
        let provider = kind.split('.').nth(1).unwrap_or("");
        if provider == "aws" || provider.starts_with("aws_") {
            checked.push(Checked {
                file: file.to_path_buf(),
                kind,
                address,
                body: block.body().clone(),
            });
        } else if block.identifier() != "provider" {
            unchecked.push(Unchecked {
                file: file.to_path_buf(),
                address,
            });
        }
    }
    Ok((checked, unchecked))
}

/// Every problem of `blocks` against `schema`; a type the schema lacks is one problem.
pub fn check(blocks: &[Checked], schema: &Schema) -> Vec<Problem> {
    let mut problems = Vec::new();
    for b in blocks {
        let mut report = |path: String, message: String| {
            problems.push(Problem {
                file: b.file.clone(),
                address: b.address.clone(),
                path,
                message,
            })
        };
        let Some(node) = schema.types.get(&b.kind) else {
            let ty = b.kind.split_once('.').map_or(b.kind.as_str(), |(_, t)| t);
            report(
                ty.to_string(),
                format!("the AWS provider has no {}", b.kind.replace('.', " ")),
            );
            continue;
        };
        let top = if b.kind.starts_with("provider.") {
            Top::Provider
        } else {
            Top::Resource
        };
        walk(&b.body, node, "", Some(top), &mut report);
    }
    problems
}

/// Which meta-arguments a top-level block may carry.
#[derive(Clone, Copy)]
enum Top {
    Resource,
    Provider,
}

fn walk(
    body: &Body,
    node: &Node,
    prefix: &str,
    top: Option<Top>,
    report: &mut impl FnMut(String, String),
) {
    if node.opaque {
        return;
    }
    let (meta_args, meta_blocks): (&[&str], &[&str]) = match top {
        Some(Top::Resource) => (META_ARGUMENTS, META_BLOCKS),
        Some(Top::Provider) => (PROVIDER_META_ARGUMENTS, &[]),
        None => (&[], &[]),
    };
    for item in body.iter() {
        match item {
            Structure::Attribute(a) => {
                let name = a.key();
                if node.arguments.contains(name) || meta_args.contains(&name) {
                    continue;
                }
                let message = if node.blocks.contains_key(name) {
                    format!("is a block: write `{name} {{ ... }}`, not `{name} = ...`")
                } else {
                    unknown(name, node)
                };
                report(format!("{prefix}{name}"), message);
            }
            Structure::Block(b) => nested(b, node, prefix, meta_blocks, report),
        }
    }
}

fn nested(
    block: &Block,
    node: &Node,
    prefix: &str,
    meta_blocks: &[&str],
    report: &mut impl FnMut(String, String),
) {
    let ident = block.identifier();
    if meta_blocks.contains(&ident) {
        return;
    }
    // `dynamic "name" { for_each = ...; content { ... } }` generates `name` blocks.
    let (name, body) = if ident == "dynamic" {
        let Some(label) = block.labels().first() else {
            report(
                format!("{prefix}dynamic"),
                "a dynamic block needs the block's name as its label".into(),
            );
            return;
        };
        let content = block.body().blocks().find(|b| b.identifier() == "content");
        let Some(content) = content else {
            report(
                format!("{prefix}dynamic \"{}\"", label.as_str()),
                "a dynamic block needs a content block".into(),
            );
            return;
        };
        (label.as_str(), content.body())
    } else {
        (ident, block.body())
    };
    match node.blocks.get(name) {
        Some(child) => walk(body, child, &format!("{prefix}{name}."), None, report),
        None => {
            let message = if node.arguments.contains(name) {
                format!("is an argument: write `{name} = ...`, not `{name} {{ ... }}`")
            } else {
                unknown(name, node)
            };
            report(format!("{prefix}{name}"), message);
        }
    }
}

/// "not an argument or block of this type", with the nearest real name when one is close.
fn unknown(name: &str, node: &Node) -> String {
    let nearest = node
        .arguments
        .iter()
        .chain(node.blocks.keys())
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min();
    match nearest {
        Some((_, c)) => format!("the provider has no such argument or block (did you mean `{c}`?)"),
        None => "the provider has no such argument or block".into(),
    }
}

/// Levenshtein distance, for the "did you mean" hint.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        serde_json::from_str(
            r#"{"missing": [], "types": {
              "resource.aws_ecs_service": {"arguments": ["name", "cluster"], "blocks": {
                "load_balancer": {"arguments": ["container_name", "container_port"], "blocks": {}},
                "alarms": {"arguments": [], "blocks": {}, "opaque": true}}},
              "provider.aws": {"arguments": ["region"], "blocks": {"default_tags": {"arguments": ["tags"], "blocks": {}}}}
            }}"#,
        )
        .unwrap()
    }

    fn problems(tf: &str) -> Vec<String> {
        let (blocks, _) = blocks_of(Path::new("main.tf"), tf).unwrap();
        check(&blocks, &schema())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_correct_resource_with_meta_arguments_and_dynamic_blocks_passes() {
        let tf = r#"
resource "aws_ecs_service" "this" {
  count      = 1
  name       = "x"
  cluster    = var.c
  depends_on = [aws_lb.x]
  lifecycle { ignore_changes = [name] }
  dynamic "load_balancer" {
    for_each = var.lbs
    content {
      container_name = load_balancer.value
      container_port = 8080
    }
  }
  alarms { anything = true }
}
provider "aws" {
  alias  = "west"
  region = "us-west-2"
  default_tags { tags = {} }
}
"#;
        assert_eq!(problems(tf), Vec::<String>::new());
    }

    #[test]
    fn misspelt_names_are_named_with_their_path_and_a_hint() {
        let tf = r#"
resource "aws_ecs_service" "this" {
  nme = "x"
  load_balancer { container_nam = "svc" }
}
"#;
        assert_eq!(
            problems(tf),
            [
                "main.tf: aws_ecs_service.this: nme: the provider has no such argument or block (did you mean `name`?)",
                "main.tf: aws_ecs_service.this: load_balancer.container_nam: the provider has no such argument or block (did you mean `container_name`?)",
            ]
        );
    }

    #[test]
    fn blocks_and_arguments_written_the_wrong_way_are_problems() {
        let tf = r#"
resource "aws_ecs_service" "this" {
  load_balancer = { container_name = "svc" }
  name { x = 1 }
}
"#;
        let p = problems(tf);
        assert!(p[0].contains("load_balancer: is a block"), "{p:?}");
        assert!(p[1].contains("name: is an argument"), "{p:?}");
    }

    #[test]
    fn unknown_types_and_other_providers() {
        let tf = r#"
resource "aws_ecs_servic" "this" {}
resource "konnect_gateway_service" "k" {}
data "aws_region" "r" {}
"#;
        let (blocks, unchecked) = blocks_of(Path::new("m.tf"), tf).unwrap();
        let p: Vec<String> = check(&blocks, &schema())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            p,
            [
                "m.tf: aws_ecs_servic.this: aws_ecs_servic: the AWS provider has no resource aws_ecs_servic",
                "m.tf: data.aws_region.r: aws_region: the AWS provider has no data aws_region",
            ]
        );
        assert_eq!(unchecked[0].address, "konnect_gateway_service.k");
    }

    #[test]
    fn a_dynamic_block_without_content_and_bad_hcl_are_errors() {
        let p = problems(
            "resource \"aws_ecs_service\" \"s\" {\n  dynamic \"load_balancer\" { for_each = [] }\n}\n",
        );
        assert!(p[0].contains("needs a content block"), "{p:?}");
        let err = blocks_of(Path::new("bad.tf"), "resource \"a\" {").unwrap_err();
        assert!(err.starts_with("bad.tf: not HCL"), "{err}");
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("nme", "name"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
