//! The README and the manual (`docs/*.md`) held to the repository and the
//! binary: every relative link leads to a file and every `#anchor` to a
//! heading; every `worker …` command they show is one `worker --help` lists,
//! and so is every flag they name alone;
//! the README stays short, links every page and gives the test command CI
//! runs; every key of `config.toml` and every table the migrations create
//! is documented; the systemd units' `Documentation=` is installed by their
//! install steps.

mod commands;
mod markdown;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md and every page of docs/, relative to the repository's root.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path().strip_prefix(root()).unwrap().to_path_buf())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.insert(0, PathBuf::from("README.md"));
    pages
}

/// One message for each link of `file` (relative to `root`) that leads
/// nowhere: a missing file, or an `#anchor` no heading of the page makes.
fn broken_links(root: &Path, file: &Path) -> Vec<String> {
    let page = markdown::parse(&read(&root.join(file)));
    let mut broken = Vec::new();
    for (line, target) in page.links {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, anchor) = target.split_once('#').map_or((target.as_str(), None), |(p, a)| (p, Some(a)));
        let dest = if path.is_empty() { file.to_path_buf() } else { file.parent().unwrap().join(path) };
        let at = format!("{}:{line}: {target}", file.display());
        if !root.join(&dest).exists() {
            broken.push(format!("{at}: no such file {}", dest.display()));
            continue;
        }
        match anchor {
            Some(anchor) if dest.extension().is_some_and(|e| e == "md") => {
                let anchors = markdown::parse(&read(&root.join(&dest))).anchors;
                if !anchors.iter().any(|a| a == anchor) {
                    broken.push(format!("{at}: no heading of {} has the anchor #{anchor}", dest.display()));
                }
            }
            _ => {}
        }
    }
    broken
}

/// One message for each `worker …` command of `text` (code spans, and shell
/// lines of fenced blocks) that names a subcommand or flag the binary lacks.
fn bad_commands(name: &str, text: &str) -> Vec<String> {
    let page = markdown::parse(text);
    let mut lines: Vec<(usize, String)> = page.spans.clone();
    for (info, start, body) in &page.fences {
        if !["", "sh", "bash", "shell", "console", "text"].contains(&info.as_str()) {
            continue;
        }
        let joined = body.replace("\\\n", " ");
        for (n, line) in joined.lines().enumerate() {
            lines.push((start + 1 + n, line.trim_start().trim_start_matches("$ ").to_string()));
        }
    }
    let mut bad = Vec::new();
    let flags = commands::every_long_flag();
    for (line, span) in &page.spans {
        // A flag named alone, such as `--new-key` or `--accept-price N`.
        let Some(flag) = span.strip_prefix("--") else { continue };
        let flag = flag.split([' ', '=']).next().unwrap_or_default();
        if !flags.contains(flag) {
            bad.push(format!("{name}:{line}: {span}: no `worker` command has a flag `--{flag}`"));
        }
    }
    for (line, text) in lines {
        for args in commands::invocations(&text) {
            if let Err(e) = commands::check(&args) {
                bad.push(format!("{name}:{line}: {text}: {e}"));
            }
        }
    }
    bad
}

#[test]
fn every_relative_link_in_the_readme_and_the_manual_leads_to_a_file_and_heading() {
    let broken: Vec<String> = pages().iter().flat_map(|p| broken_links(&root(), p)).collect();
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn no_page_has_two_headings_with_one_anchor() {
    // `[webhooks](#webhooks)` once led to the simulator's "### Webhooks", the
    // first of two: with one heading an anchor, a link goes where it says.
    for page in pages() {
        let duplicates = markdown::parse(&read(&root().join(&page))).duplicates;
        assert!(duplicates.is_empty(), "{}: headings sharing an anchor: {duplicates:?}", page.display());
    }
    let old = "## The simulator\n### Webhooks\n## The daemon\n## Webhooks\nSee [webhooks](#webhooks).\n";
    assert_eq!(markdown::parse(old).duplicates, ["Webhooks"]);
}

#[test]
fn a_link_to_a_missing_file_or_heading_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/b.md"), "# B\n## The daemon, --once\n").unwrap();
    std::fs::write(
        dir.path().join("README.md"),
        "# A\n## Quick start\n[ok](#quick-start) [ok](docs/b.md#the-daemon---once) [ok](docs)\n\
         [bad](#quickstart) [bad](docs/b.md#the-daemon) [bad](docs/c.md) `[code](nowhere.md)`\n",
    )
    .unwrap();
    let broken = broken_links(dir.path(), Path::new("README.md"));
    assert_eq!(
        broken,
        [
            "README.md:4: #quickstart: no heading of README.md has the anchor #quickstart",
            "README.md:4: docs/b.md#the-daemon: no heading of docs/b.md has the anchor #the-daemon",
            "README.md:4: docs/c.md: no such file docs/c.md",
        ]
    );
}

#[test]
fn every_worker_command_in_the_readme_and_the_manual_is_one_the_binary_has() {
    let bad: Vec<String> =
        pages().iter().flat_map(|p| bad_commands(&p.display().to_string(), &read(&root().join(p)))).collect();
    assert!(bad.is_empty(), "commands the binary does not have:\n{}", bad.join("\n"));
}

#[test]
fn a_made_up_command_in_a_page_is_caught() {
    let page = "Run `worker sync --stream bundles`, then `worker runs --all`, or `--new-key` or `--newkey`.\n\n```sh\n\
                cargo run --release -- migrate && \\\n  cargo run --release -- jobs purge 3   # no such\n```\n";
    assert_eq!(
        bad_commands("p.md", page),
        [
            "p.md:1: --newkey: no `worker` command has a flag `--newkey`",
            "p.md:1: worker runs --all: `worker runs` has no flag `--all`",
            "p.md:4: cargo run --release -- migrate &&    cargo run --release -- jobs purge 3   # no such: \
             `worker jobs` has no subcommand `purge`",
        ]
    );
}

#[test]
fn the_readme_stays_short_and_links_every_page_of_the_manual() {
    let readme = read(&root().join("README.md"));
    assert!(
        readme.lines().count() <= 300,
        "README.md has {} lines; the manual is docs/",
        readme.lines().count()
    );
    let links: Vec<String> = markdown::parse(&readme).links.into_iter().map(|(_, t)| t).collect();
    for page in pages().iter().skip(1) {
        let page = page.display().to_string();
        assert!(
            links.iter().any(|l| l.split('#').next() == Some(page.as_str())),
            "README.md does not link {page}"
        );
    }
}

#[test]
fn the_readmes_test_command_is_the_one_ci_runs() {
    let ci = read(&root().join(".ci/run"));
    let command =
        ci.lines().rev().find(|l| l.starts_with("cargo nextest run")).expect("CI runs cargo nextest");
    let readme = markdown::parse(&read(&root().join("README.md")));
    let shown: Vec<&str> = readme.fences.iter().flat_map(|(_, _, body)| body.lines()).collect();
    assert!(shown.iter().any(|l| l.starts_with(&format!("{command} "))), "the quick start runs `{command}`");
    assert!(shown.contains(&command), "\"Running the tests\" shows `{command}` alone");
}

#[test]
fn every_key_of_config_toml_is_in_the_configuration_page_and_no_other() {
    let toml: toml::Table = read(&root().join("config.toml")).parse().unwrap();
    let keys: std::collections::BTreeSet<String> = toml
        .iter()
        .flat_map(|(section, table)| {
            table.as_table().unwrap().keys().map(move |key| format!("{section}.{key}"))
        })
        .collect();
    let page = read(&root().join("docs/configuration.md"));
    // The first cell of each row of the keys' table: `api.per_page` (or two keys).
    let documented: std::collections::BTreeSet<String> = page
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l.split(" |").next().unwrap().to_string())
        .flat_map(|cell| cell.split(", ").map(|k| k.trim_matches('`').to_string()).collect::<Vec<_>>())
        .filter(|k| k.contains('.') && !k.contains(['/', ' ']))
        .collect();
    assert_eq!(documented, keys, "docs/configuration.md's keys and config.toml's differ");
}

#[test]
fn the_systemd_units_documentation_is_a_file_their_install_steps_install() {
    let install = "/usr/share/doc/tokportal-sync/";
    let daemon = read(&root().join("deploy/systemd/tokportal-sync.service"));
    let step = daemon
        .lines()
        .find(|l| l.starts_with('#') && l.contains(install) && l.contains("cp -r"))
        .expect("the daemon unit's install comment copies the manual");
    let deployment = read(&root().join("docs/deployment.md"));
    assert!(deployment.contains(step.trim_start_matches("#   ").split("   #").next().unwrap()), "{step}");
    for unit in ["tokportal-sync.service", "tokportal-sync-once.service"] {
        let text = read(&root().join("deploy/systemd").join(unit));
        for uri in
            text.lines().filter_map(|l| l.strip_prefix("Documentation=")).flat_map(str::split_whitespace)
        {
            let file =
                uri.strip_prefix(&format!("file://{install}")).unwrap_or_else(|| panic!("{unit}: {uri}"));
            assert!(root().join(file).is_file(), "{unit}: {uri}: no {file} in the repository");
            let top = file.split('/').next().unwrap();
            assert!(
                step.split_whitespace().any(|w| w == top),
                "{unit}: {uri}: `{step}` does not install {top}"
            );
        }
    }
}

#[test]
fn every_table_the_migrations_create_is_in_the_schema_table() {
    let mut created = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(root().join("migrations")).unwrap() {
        let sql = read(&entry.unwrap().path());
        // CREATE TABLE and CREATE UNLOGGED TABLE.
        for line in sql.lines().filter(|l| l.starts_with("CREATE ")) {
            if let Some((_, rest)) = line.split_once(" TABLE tokportal.") {
                created.insert(
                    rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap().to_string(),
                );
            }
        }
    }
    let page = read(&root().join("docs/mirror.md"));
    let schema = &page[page.find("## Database schema").expect("docs/mirror.md has the schema")..];
    let documented: std::collections::BTreeSet<String> = schema
        .lines()
        .skip_while(|l| !l.starts_with("| table |"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| l[3..].split('`').next().unwrap().to_string())
        .collect();
    assert_eq!(documented, created, "docs/mirror.md's schema table and the migrations' tables differ");
}
