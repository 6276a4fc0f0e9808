//! The crate's layout rules (`lib.rs`'s map), read from the source's own
//! `crate::` paths the way a reviewer would: the top-level modules form one
//! direction, no command reaches into another, the API layer and the
//! simulator call nothing above them, the webhooks change the mirror only
//! through its refresh call, each table's SQL has one home, and no source
//! file is over 300 lines before its tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest a source file may be before its `#[cfg(test)]`.
const MAX_LINES: usize = 300;

struct Source {
    /// Relative to `src/`, with `/`.
    path: String,
    /// The code before the first `#[cfg(test)]`, comment lines left out.
    code: String,
    lines_before_tests: usize,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let before: Vec<&str> = text.lines().take_while(|l| l.trim() != "#[cfg(test)]").collect();
            let code = before
                .iter()
                .filter(|l| !l.trim_start().starts_with("//"))
                .copied()
                .collect::<Vec<_>>()
                .join("\n");
            let path = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            Source { path, code, lines_before_tests: before.len() }
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`mirror` for `mirror/store.rs`).
fn top(path: &str) -> &str {
    let first = path.split('/').next().unwrap();
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The top-level modules named by `crate::` paths in `code`, `use crate::{a, b::c}` included.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let name: String =
                    item.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    refs.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            refs.insert(name);
        }
    }
    refs
}

fn module_graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let tops: BTreeSet<&str> =
        sources.iter().map(|s| top(&s.path)).filter(|t| *t != "lib" && *t != "main").collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sources.iter().filter(|s| tops.contains(top(&s.path))) {
        let from = top(&s.path);
        for to in crate_refs(&s.code) {
            if to != from && tops.contains(to.as_str()) {
                graph.entry(from.to_string()).or_default().insert(to);
            }
        }
    }
    graph
}

/// A path from `from` back to `to` through `graph`, if there is one.
fn path_between(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap().clone();
        if last == to {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in graph.get(&last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

#[test]
fn the_top_level_modules_form_one_direction() {
    let graph = module_graph(&sources());
    let mut circles = Vec::new();
    for (from, tos) in &graph {
        for to in tos {
            if let Some(back) = path_between(&graph, to, from) {
                circles.push(format!("{from} -> {}", back.join(" -> ")));
            }
        }
    }
    assert!(circles.is_empty(), "modules that import each other: {circles:#?}");
    // The check sees an import: the scheduler does use the mirror.
    assert!(graph["schedule"].contains("mirror"), "{graph:?}");
}

#[test]
fn no_command_and_no_part_of_the_demo_reaches_into_a_command() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|s| {
            // The dispatcher and the binary name every command; nothing else may.
            let dispatcher = s.path == "commands/mod.rs" || s.path == "main.rs";
            let command = s.path.starts_with("commands/") && !dispatcher;
            let reaches = s.code.contains("crate::commands") || s.code.contains("tokportal_sync::commands");
            (command && s.code.contains("super::")) || (!dispatcher && reaches)
        })
        .map(|s| s.path)
        .collect();
    assert!(offenders.is_empty(), "files reaching into a command: {offenders:?}");
}

#[test]
fn the_api_layer_the_simulator_and_secret_call_nothing_above_them() {
    // `secret` imports nothing from the crate: every layer may use it (the
    // api layer, to keep secrets out of the excerpts its errors carry).
    let allowed: &[(&str, &[&str])] =
        &[("api", &["api", "secret"]), ("sim", &["sim", "secret"]), ("secret", &[])];
    let mut offenders = Vec::new();
    for s in sources() {
        let Some((_, ok)) = allowed.iter().find(|(t, _)| *t == top(&s.path)) else { continue };
        for name in crate_refs(&s.code) {
            if !ok.contains(&name.as_str()) {
                offenders.push(format!("{} uses crate::{name}", s.path));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn the_webhooks_name_no_mirrored_table_and_no_store_of_the_mirror() {
    let mirrored = ["tokportal.bundles", "bundle_videos", "bundle_accounts", "child_refreshes"];
    let mut offenders = Vec::new();
    for s in sources().into_iter().filter(|s| top(&s.path) == "webhooks") {
        for table in mirrored {
            if s.code.contains(table) {
                offenders.push(format!("{} names {table}", s.path));
            }
        }
        for store in ["store::", "child_store", "mirror::deletes", "mirror::streams"] {
            if s.code.contains(store) {
                offenders.push(format!("{} uses {store}", s.path));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// The tables the migrations create (`tokportal.name`).
fn tables() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut tables = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap().to_lowercase();
        for (i, _) in sql.match_indices("create table") {
            let rest = sql[i + "create table".len()..].trim_start();
            let rest = rest.strip_prefix("if not exists").unwrap_or(rest).trim_start();
            if let Some(name) = rest.strip_prefix("tokportal.") {
                let name: String =
                    name.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                tables.insert(name);
            }
        }
    }
    tables.into_iter().collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// How the table name at `at` (`len` bytes) is used by SQL: the whole name,
/// right after a keyword that names a table; `None` in a message that only
/// mentions it.
fn access(code: &str, at: usize, len: usize) -> Option<Access> {
    let next = code[at + len..].chars().next();
    if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    // The code's SQL writes its keywords in capitals; prose does not.
    let before = code[..at].trim_end();
    let word_before = |b: &str, k: &str| {
        b.ends_with(k) && !b[..b.len() - k.len()].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    };
    let keyword =
        ["FROM", "JOIN", "INTO", "UPDATE", "TABLE", "USING"].into_iter().find(|k| word_before(before, k))?;
    let deleting = keyword == "FROM" && word_before(before[..before.len() - 4].trim_end(), "DELETE");
    Some(match keyword {
        "INTO" | "UPDATE" | "TABLE" => Access::Write,
        _ if deleting => Access::Write,
        _ => Access::Read,
    })
}

/// Every statement that writes a table lives in one file, and only that
/// file's module reads it (the mirror's planner may join the bundles; the
/// demo or the webhooks may not query them).
#[test]
fn each_table_s_sql_has_one_home() {
    // The demo's report prints sample queries a person can copy: SQL shown, not the demo's own.
    let shown = ["demo/report.rs"];
    let sources = sources();
    let tables = tables();
    assert!(tables.iter().any(|t| t == "mutation_jobs"), "{tables:?}");
    let mut homes = Vec::new();
    for table in &tables {
        let pattern = format!("tokportal.{table}");
        let uses = |wanted: Access| -> Vec<&str> {
            sources
                .iter()
                .filter(|s| !shown.contains(&s.path.as_str()) && !s.path.starts_with("sim/"))
                .filter(|s| {
                    s.code
                        .match_indices(&pattern)
                        .any(|(i, _)| access(&s.code, i, pattern.len()) == Some(wanted))
                })
                .map(|s| s.path.as_str())
                .collect()
        };
        let (writers, readers) = (uses(Access::Write), uses(Access::Read));
        if writers.len() > 1 {
            homes.push(format!("{table} written from {writers:?}"));
        }
        // A table named only at run time (a stream's `table`) is written by
        // its module's store: every file using it must be of one module.
        let modules: BTreeSet<&str> = writers.iter().chain(&readers).map(|f| top(f)).collect();
        if modules.len() > 1 {
            homes.push(format!("{table} used from several modules: {writers:?} write, {readers:?} read"));
        }
    }
    assert!(homes.is_empty(), "tables whose SQL lives in more than one home: {homes:#?}");
    // The check sees SQL: the queue's table is written from its one home.
    let (_, home) = ("mutation_jobs", "tokportal.mutation_jobs");
    let queue = sources.iter().find(|s| s.path == "jobs/queue.rs").unwrap();
    assert!(
        queue
            .code
            .match_indices(home)
            .any(|(i, _)| access(&queue.code, i, home.len()) == Some(Access::Write))
    );
}

#[test]
fn no_source_file_is_over_300_lines_before_its_tests() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|s| s.lines_before_tests > MAX_LINES)
        .map(|s| format!("{} ({} lines)", s.path, s.lines_before_tests))
        .collect();
    assert!(long.is_empty(), "{long:?}");
}
