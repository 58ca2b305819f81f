//! The README runs as written: every `sh` block is run against the lab, set up the way
//! `lab up` sets it up (its config files, the tools on `PATH`), command by command in one
//! scratch folder, and must succeed; then the whole README runs again, and must succeed again
//! (re-running is safe). Blocks of other kinds are templates or file contents and are not run.

use std::path::Path;
use std::process::Command;

use lab::session::Session;

use crate::support::dc;

/// A fenced block: its info string and its lines.
struct Block {
    info: String,
    lines: Vec<String>,
    line_number: usize,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (number, line) in text.lines().enumerate() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => {
                current = Some(Block {
                    info: info.trim().to_owned(),
                    lines: Vec::new(),
                    line_number: number + 1,
                });
            }
            (Some(_), Some(_)) => blocks.extend(current.take()),
            (Some(block), None) => block.lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "an unclosed code block in the README");
    blocks
}

/// The commands of a shell block: `\` continuations joined, here-documents kept with their
/// command, comment lines left out.
fn commands(block: &Block) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    let mut heredoc_end: Option<String> = None;
    for line in &block.lines {
        if let Some(end) = &heredoc_end {
            current.push_str(line);
            current.push('\n');
            if line.trim() == end {
                heredoc_end = None;
                commands.push(std::mem::take(&mut current));
            }
            continue;
        }
        if current.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if let Some((_, marker)) = line.split_once("<<") {
            heredoc_end = Some(
                marker
                    .trim()
                    .trim_matches('\'')
                    .trim_matches('"')
                    .to_owned(),
            );
            continue;
        }
        if !line.trim_end().ends_with('\\') && !line.trim_end().ends_with('|') {
            commands.push(std::mem::take(&mut current));
        }
    }
    assert!(
        current.trim().is_empty(),
        "README block at line {}: an unfinished command: {current}",
        block.line_number
    );
    commands
}

fn run_readme(readme: &[Block], folder: &Path, session: &Session, pass: u32) -> usize {
    let tools = lab::tools::binary("ad-tool")
        .parent()
        .expect("the tools' folder")
        .to_owned();
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for block in readme.iter().filter(|b| b.info == "sh") {
        for command in commands(block) {
            let mut shell = Command::new("bash");
            shell
                .args(["-o", "pipefail", "-c", &command])
                .current_dir(folder)
                .env("PATH", &path)
                .env("XDG_CONFIG_HOME", "/nonexistent/readme-config");
            for var in [
                "AD_TOOL_SERVER",
                "AD_TOOL_PASSWORD",
                "AD_TOOL_PROFILE",
                "EWS_TOOL_URL",
                "EWS_TOOL_PASSWORD",
                "EWS_TOOL_PROFILE",
            ] {
                shell.env_remove(var);
            }
            for (name, value) in session.environment() {
                shell.env(name, value);
            }
            let out = shell.output().expect("bash runs");
            assert!(
                out.status.success(),
                "README block at line {} (pass {pass}) failed ({}):\n{command}\nstdout:\n{}\nstderr:\n{}",
                block.line_number,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    ran
}

#[test]
fn every_sh_block_of_the_readme_runs_as_written_and_again() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
        .expect("README.md");
    let readme = blocks(&text);
    for block in &readme {
        assert!(
            matches!(block.info.as_str(), "sh" | "text" | "toml"),
            "README block at line {}: mark it sh (runs against the lab), text (template or \
             output) or toml, not {:?}",
            block.line_number,
            block.info
        );
    }
    let folder = tempfile::tempdir().unwrap();
    let session = Session::start(dc(), folder.path()).unwrap_or_else(|e| panic!("{e}"));
    let work = folder.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let first = run_readme(&readme, &work, &session, 1);
    assert!(first >= 20, "the README has {first} runnable commands");
    let second = run_readme(&readme, &work, &session, 2);
    assert_eq!(first, second);
    // What the first pass made is there, checked with samba-tool, not the tool.
    for sam in [
        "SAMyTTExch",
        "sa-mytt-exch-1",
        "sa-mytt-exch-2",
        "sa-mytt-exch-3",
    ] {
        let user = crate::support::samba_user(sam).unwrap_or_else(|| panic!("{sam} missing"));
        assert_eq!(user["userAccountControl"], "66048", "{sam}");
    }
    assert!(crate::support::samba_user("sa-mytt-old").is_none());
    // The second pass generated no password: one row per account, under one header.
    let passwords = std::fs::read_to_string(work.join("passwords.csv")).unwrap();
    assert_eq!(passwords.lines().count(), 5, "{passwords}");
}

#[test]
fn the_block_lab_up_prints_is_the_environment_the_readme_runs_in() {
    let folder = tempfile::tempdir().unwrap();
    let session = Session::start(dc(), folder.path()).unwrap_or_else(|e| panic!("{e}"));
    let block = session.paste_block(Path::new("/opt/tools"));
    for (name, value) in session.environment() {
        assert!(
            block.contains(&format!("export {name}='{value}'")),
            "{block}"
        );
    }
    assert!(
        block.contains("export PATH='/opt/tools':\"$PATH\""),
        "{block}"
    );
    // Pasted into a shell, it points ad-tool at the lab.
    let script = format!(
        "{block}\nad-tool config show -o jsonl",
        block = session.paste_block(
            lab::tools::binary("ad-tool")
                .parent()
                .expect("the tools' folder")
        )
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("XDG_CONFIG_HOME", "/nonexistent/readme-config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&dc().server()), "{text}");
}
