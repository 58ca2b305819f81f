//! `dist assets DIR`: writes what an installation holds besides the binaries, generated from
//! the tools' own command lines: a man page for each tool and each subcommand (with the
//! examples `--help` shows) under `DIR/man`, and bash, zsh and fish completions under
//! `DIR/completions`. `dist/build-deb` packs them with the binaries into a Debian package.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [command, dir] if command == "assets" => match write_assets(Path::new(dir)) {
            Ok(count) => {
                eprintln!("dist: {count} files written under {dir}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dist: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: dist assets DIR");
            ExitCode::from(2)
        }
    }
}

/// The tools, by binary name.
fn tools() -> [(&'static str, clap::Command); 3] {
    [
        ("ad-tool", ad_tool::cli::Cli::command()),
        ("ews-tool", ews_tool::cli::Cli::command()),
        ("m365-tool", m365_tool::cli::Cli::command()),
    ]
}

fn write_assets(dir: &Path) -> std::io::Result<usize> {
    let mut written = 0;
    for (name, command) in tools() {
        written += write_man_pages(name, command.clone(), &dir.join("man"))?;
        written += write_completions(name, &command, &dir.join("completions"))?;
    }
    Ok(written)
}

/// One page per command: `ad-tool.1`, `ad-tool-create-user.1`, …
fn write_man_pages(name: &str, command: clap::Command, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut command = command.name(name.to_owned()).bin_name(name.to_owned());
    command.build();
    let mut pages = Vec::new();
    collect_pages(&command, name, &mut pages);
    for (file, page) in &pages {
        std::fs::write(dir.join(file), page)?;
    }
    Ok(pages.len())
}

fn collect_pages(command: &clap::Command, full_name: &str, pages: &mut Vec<(String, Vec<u8>)>) {
    let command = command.clone().name(full_name.to_owned());
    let man = clap_mangen::Man::new(command.clone()).title(full_name.to_uppercase());
    let mut page = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render(&mut page);
    page.extend(examples_section(&command));
    pages.push((format!("{full_name}.1"), page));
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        collect_pages(sub, &format!("{full_name}-{}", sub.get_name()), pages);
    }
}

/// The examples of the command's `--help`, as an EXAMPLES section printed as written (no
/// filling), so pasted lines work as they do from `--help`.
fn examples_section(command: &clap::Command) -> Vec<u8> {
    let help = command.clone().term_width(0).render_long_help().to_string();
    let Some((_, examples)) = help.split_once("\nExamples:\n") else {
        return Vec::new();
    };
    let lines: Vec<&str> = examples
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let mut roff = String::from(".SH EXAMPLES\n.nf\n");
    for line in lines {
        // A backslash is roff's escape; a leading dot or quote would start a request.
        let escaped = line.replace('\\', "\\e");
        if escaped.starts_with(['.', '\'']) {
            roff.push_str("\\&");
        }
        roff.push_str(&escaped);
        roff.push('\n');
    }
    roff.push_str(".fi\n");
    roff.into_bytes()
}

fn write_completions(name: &str, command: &clap::Command, dir: &Path) -> std::io::Result<usize> {
    use common::args::{CompletionShell, CompletionsArgs};
    let shells: [(CompletionShell, &str, PathBuf); 3] = [
        (CompletionShell::Bash, "bash", PathBuf::from(name)),
        (
            CompletionShell::Zsh,
            "zsh",
            PathBuf::from(format!("_{name}")),
        ),
        (
            CompletionShell::Fish,
            "fish",
            PathBuf::from(format!("{name}.fish")),
        ),
    ];
    for (shell, folder, file) in &shells {
        let folder = dir.join(folder);
        std::fs::create_dir_all(&folder)?;
        let mut script = Vec::new();
        CompletionsArgs { shell: *shell }.write(&mut command.clone(), name, &mut script);
        std::fs::write(folder.join(file), script)?;
    }
    Ok(shells.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_gets_a_page_with_its_examples_as_written() {
        let mut command = ad_tool::cli::Cli::command()
            .name("ad-tool")
            .bin_name("ad-tool");
        command.build();
        let mut pages = Vec::new();
        collect_pages(&command, "ad-tool", &mut pages);
        let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
        for expected in [
            "ad-tool.1",
            "ad-tool-create-user.1",
            "ad-tool-config-show.1",
        ] {
            assert!(names.contains(&expected), "{names:?}");
        }
        let (_, page) = pages
            .iter()
            .find(|(name, _)| name == "ad-tool-create-user.1")
            .expect("create-user's page");
        let page = String::from_utf8_lossy(page);
        let examples = page.split_once(".SH EXAMPLES\n.nf\n").expect("EXAMPLES").1;
        // The continuation backslash is escaped for roff, and lines are kept unfilled.
        assert!(
            examples.contains("--upn sa-mytt-exch@corp.example \\e\n"),
            "{examples}"
        );
        assert!(examples.ends_with(".fi\n"));
    }
}
