//! Every subcommand and every argument of `worker` says what it is for in `--help`.

use tokportal_sync::cli;

/// Every command of the tree under `cmd`, with its path (`worker jobs show`).
fn commands(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
    out.push((path.clone(), cmd.clone()));
    for sub in cmd.get_subcommands() {
        commands(sub, format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn every_subcommand_and_every_argument_has_help_text() {
    let mut all = Vec::new();
    let mut root = cli::command();
    root.build();
    commands(&root, "worker".into(), &mut all);
    let mut missing = Vec::new();
    for (path, cmd) in &all {
        if path != "worker" && cmd.get_about().is_none() {
            missing.push(format!("{path}: no about"));
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path}: {id}"));
            }
        }
    }
    assert!(all.iter().any(|(p, _)| p == "worker jobs show"), "the walk sees subcommands");
    assert!(missing.is_empty(), "arguments and subcommands without help: {missing:#?}");
}
