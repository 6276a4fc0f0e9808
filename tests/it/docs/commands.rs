//! `worker …` commands as the README and the manual write them, held to
//! clap's command tree (`tokportal_sync::cli::Cli`, what `worker --help`
//! prints): every subcommand and flag they name must be one the binary has.
//! Placeholders (`PATH`, `[--limit N]`, `list|show`, `…`) read as the help
//! writes them.

use clap::{Command, CommandFactory};
use tokportal_sync::cli::Cli;

#[derive(Debug, PartialEq)]
enum Word {
    /// A shell control operator (`&&`, `|`, `;`, …) or the start of a comment.
    Op(String),
    Text(String),
}

/// Shell words: quotes removed ('…' and "…" keep spaces), a backslash
/// escapes the next character (`\|` in a Markdown table is a `|`).
fn words(line: &str) -> Vec<Word> {
    let (mut out, mut word, mut quoted, mut started) = (Vec::new(), String::new(), false, false);
    let mut chars = line.chars().peekable();
    let flush = |word: &mut String, quoted: &mut bool, started: &mut bool, out: &mut Vec<Word>| {
        if *started {
            let op =
                !*quoted && (["&&", "||", ";", "&", "|"].contains(&word.as_str()) || word.starts_with('#'));
            out.push(if op { Word::Op(std::mem::take(word)) } else { Word::Text(std::mem::take(word)) });
        }
        (*quoted, *started) = (false, false);
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => flush(&mut word, &mut quoted, &mut started, &mut out),
            '\'' | '"' => {
                (quoted, started) = (true, true);
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' => {
                (quoted, started) = (true, true);
                word.extend(chars.next());
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut quoted, &mut started, &mut out);
    out
}

/// The `worker` invocations in one shell line or code span, each as the
/// words given to the binary: `worker …`, `/path/to/worker …` or
/// `cargo run … -- …`, after `NAME=value` assignments and `env -u NAME`.
pub fn invocations(line: &str) -> Vec<Vec<String>> {
    let mut segments: Vec<Vec<String>> = vec![Vec::new()];
    let mut depth = 0i32; // inside `[ … ]`, a `|` separates alternatives, not commands
    for word in words(line) {
        match word {
            Word::Op(op) if op.starts_with('#') => break,
            Word::Op(op) if op == "|" && depth > 0 => segments.last_mut().unwrap().push(op),
            Word::Op(_) => segments.push(Vec::new()),
            Word::Text(text) => {
                depth += text.matches('[').count() as i32 - text.matches(']').count() as i32;
                segments.last_mut().unwrap().push(text);
            }
        }
    }
    segments.into_iter().filter_map(|segment| program_args(&segment)).collect()
}

fn program_args(segment: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while i < segment.len() {
        let w = segment[i].as_str();
        if w == "env" || w == "sudo" || w == "exec" || w == "time" || w == "-i" {
            i += 1;
        } else if w == "-u" {
            i += 2;
        } else if w.split_once('=').is_some_and(|(name, _)| is_env_name(name)) {
            i += 1;
        } else {
            break;
        }
    }
    let program = segment.get(i)?.as_str();
    let rest = &segment[i + 1..];
    if program == "worker" || program.ends_with("/worker") {
        return Some(rest.to_vec());
    }
    if program == "cargo" && rest.first().is_some_and(|w| w == "run") {
        let after = rest.iter().position(|w| w == "--").map_or(rest.len(), |p| p + 1);
        return Some(rest[after..].to_vec());
    }
    None
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Checks the words given to `worker` against the command tree: `Err` names
/// the first subcommand or flag the binary does not have.
pub fn check(args: &[String]) -> Result<(), String> {
    let mut root = Cli::command();
    root.build();
    walk(&root, args, "worker")
}

/// Every long flag of every command, `help` and `version` included: what a
/// flag named alone (`--new-key`) must be one of.
pub fn every_long_flag() -> std::collections::BTreeSet<String> {
    fn collect(cmd: &Command, out: &mut std::collections::BTreeSet<String>) {
        out.extend(cmd.get_arguments().filter_map(|a| a.get_long()).map(str::to_string));
        cmd.get_subcommands().for_each(|sub| collect(sub, out));
    }
    let mut root = Cli::command();
    root.build();
    let mut flags = std::collections::BTreeSet::new();
    collect(&root, &mut flags);
    flags
}

fn walk(cmd: &Command, args: &[String], path: &str) -> Result<(), String> {
    let mut i = 0;
    let mut positional = false;
    while i < args.len() {
        let word = args[i].trim_matches(|c| matches!(c, '[' | ']' | '…' | ',' | '|')).trim_end_matches("...");
        i += 1;
        if word.is_empty() {
            continue;
        }
        if word.starts_with(['>', '<']) || word.starts_with("2>") || word.starts_with("1>") {
            i += usize::from(word.trim_start_matches(['1', '2']).trim_matches(['>', '<', '&']).is_empty());
            continue;
        }
        if let Some(flag) = word.strip_prefix("--") {
            let name = flag.split('=').next().unwrap_or_default();
            let arg = cmd.get_arguments().find(|a| a.get_long() == Some(name));
            let arg = arg.ok_or_else(|| format!("`{path}` has no flag `--{name}`"))?;
            if !flag.contains('=') && arg.get_action().takes_values() {
                i += 1;
            }
            continue;
        }
        if let Some(short) = word.strip_prefix('-').filter(|s| s.len() == 1) {
            let c = short.chars().next().unwrap_or_default();
            let arg = cmd.get_arguments().find(|a| a.get_short() == Some(c));
            let arg = arg.ok_or_else(|| format!("`{path}` has no flag `-{c}`"))?;
            i += usize::from(arg.get_action().takes_values());
            continue;
        }
        if positional || !cmd.has_subcommands() {
            positional = true;
            continue;
        }
        let alternatives: Vec<&str> = word.split('|').collect();
        let found: Vec<Option<&Command>> = alternatives.iter().map(|a| cmd.find_subcommand(a)).collect();
        if found.iter().all(Option::is_some) {
            for (name, sub) in alternatives.iter().zip(found) {
                walk(sub.expect("checked just above"), &args[i..], &format!("{path} {name}"))?;
            }
            return Ok(());
        }
        if cmd.get_positionals().next().is_none() || alternatives.len() > 1 {
            return Err(format!("`{path}` has no subcommand `{word}`"));
        }
        positional = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(line: &str) -> Vec<Result<(), String>> {
        invocations(line).iter().map(|args| check(args)).collect()
    }

    #[test]
    fn commands_are_found_in_shell_lines_and_spans() {
        let found = invocations(
            "A=1 cargo run --release -- sync && env -u K /usr/bin/worker jobs list | jq . # worker not",
        );
        assert_eq!(found, [vec!["sync"], vec!["jobs", "list"]]);
        assert_eq!(invocations("worker enqueue M P [--body JSON \\| --body-file F]")[0].len(), 8);
        assert!(invocations("install -m 0755 target/release/worker /usr/local/bin/worker").is_empty());
        assert_eq!(invocations("worker sim --faults '{\"a\": 1}'"), [vec!["sim", "--faults", "{\"a\": 1}"]]);
    }

    #[test]
    fn real_commands_pass_as_the_help_writes_them() {
        for line in [
            "worker",
            "worker --once [--max-duration D]",
            "worker get PATH [--all-pages] [--query K=V]…",
            "worker enqueue METHOD PATH [--body JSON \\| --body-file F] [--idempotency-key K] [--price]",
            "worker jobs list|show|retry|cancel",
            "worker jobs retry ID --new-key --accept-price 12 --yes",
            "worker demo --walk-only 2>&1 | head -1",
            "cargo run -q -- sim --port 0 --config c.toml --help",
        ] {
            assert_eq!(verdicts(line), [Ok(())], "{line}");
        }
    }

    #[test]
    fn a_made_up_subcommand_or_flag_is_caught() {
        for (line, error) in [
            ("worker sync --frobnicate", "`worker sync` has no flag `--frobnicate`"),
            ("worker frob", "`worker` has no subcommand `frob`"),
            ("worker jobs list|purge", "`worker jobs` has no subcommand `list|purge`"),
            ("worker jobs purge 12", "`worker jobs` has no subcommand `purge`"),
            ("cargo run --release -- replay --all", "`worker replay` has no flag `--all`"),
            ("worker --once --max-duration 1m --dry-run", "`worker` has no flag `--dry-run`"),
            ("worker jobs show 3 -x", "`worker jobs show` has no flag `-x`"),
        ] {
            assert_eq!(verdicts(line), [Err(error.to_string())], "{line}");
        }
    }
}
