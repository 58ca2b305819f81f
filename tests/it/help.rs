//! Help that can be pasted: every command of both tools shows at least one example, the
//! examples are printed as written whatever the terminal's width, and each one parses with the
//! tool's own parser.

use clap::CommandFactory;

/// Every command path of a tool: the tool itself and each subcommand, recursively.
fn command_paths(command: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    out.push(prefix.to_vec());
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_owned());
        command_paths(sub, &path, out);
    }
}

fn help_at_width(root: fn() -> clap::Command, path: &[String], width: usize) -> String {
    let mut command = root().term_width(width);
    command.build();
    let mut current = &mut command;
    for name in path {
        current = current
            .find_subcommand_mut(name)
            .unwrap_or_else(|| panic!("no subcommand {name}"));
    }
    current.render_long_help().to_string()
}

/// The words of one example command, without what a shell does around it (redirections).
fn words(command: &str) -> Vec<String> {
    let words = shlex::split(command).unwrap_or_else(|| panic!("unbalanced quotes: {command}"));
    words.into_iter().take_while(|w| w != ">").collect()
}

fn parses(command: &str) -> Result<(), String> {
    for segment in command.split(" | ") {
        let words = words(segment.trim());
        let result = match words.first().map(String::as_str) {
            Some("ad-tool") => ad_tool::cli::Cli::try_parse_from_words(&words),
            Some("ews-tool") => ews_tool::cli::Cli::try_parse_from_words(&words),
            Some("m365-tool") => m365_tool::cli::Cli::try_parse_from_words(&words),
            other => return Err(format!("an example that runs {other:?}: {command}")),
        };
        result.map_err(|e| format!("{segment}: {e}"))?;
    }
    Ok(())
}

trait ParseWords {
    fn try_parse_from_words(words: &[String]) -> Result<(), String>;
}

impl<C: clap::Parser> ParseWords for C {
    fn try_parse_from_words(words: &[String]) -> Result<(), String> {
        C::try_parse_from(words)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn check_tool(name: &str, root: fn() -> clap::Command) {
    let mut paths = Vec::new();
    command_paths(&root(), &[], &mut paths);
    assert!(paths.len() > 5, "{name} has its subcommands");
    for path in paths {
        let label = format!("{name} {}", path.join(" "));
        let narrow = help_at_width(root, &path, 40);
        let wide = help_at_width(root, &path, 300);
        let examples = common::help::example_commands(&narrow);
        assert!(!examples.is_empty(), "{label} --help shows no example");
        assert_eq!(
            examples,
            common::help::example_commands(&wide),
            "{label}: examples change with the terminal's width"
        );
        let section = |help: &str| help.split_once("\nExamples:\n").map(|(_, e)| e.to_owned());
        assert_eq!(
            section(&narrow),
            section(&wide),
            "{label}: examples re-wrapped"
        );
        for example in examples {
            parses(&example).unwrap_or_else(|e| panic!("{label}: example does not parse: {e}"));
        }
    }
}

#[test]
fn every_command_of_ad_tool_has_examples_that_paste_and_parse() {
    check_tool("ad-tool", ad_tool::cli::Cli::command);
}

#[test]
fn every_command_of_ews_tool_has_examples_that_paste_and_parse() {
    check_tool("ews-tool", ews_tool::cli::Cli::command);
}

#[test]
fn every_command_of_m365_tool_has_examples_that_paste_and_parse() {
    check_tool("m365-tool", m365_tool::cli::Cli::command);
}

#[test]
fn help_words_fit_the_tool() {
    let ews = ews_tool::cli::Cli::command().render_long_help().to_string();
    let jargon = |text: &str| {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word == "LDAP" || word == "DN")
    };
    assert!(!jargon(&ews), "{ews}");
    let mut ad = ad_tool::cli::Cli::command();
    let group = ad
        .find_subcommand_mut("create-group")
        .expect("create-group")
        .render_long_help()
        .to_string();
    assert!(!group.contains("flags and ACEs"), "{group}");
}

#[test]
fn every_option_is_a_known_config_key() {
    fn longs(command: &clap::Command, out: &mut Vec<String>) {
        out.extend(
            command
                .get_arguments()
                .filter_map(clap::Arg::get_long)
                .filter(|l| !matches!(*l, "help" | "version"))
                .map(str::to_owned),
        );
        for sub in command.get_subcommands() {
            longs(sub, out);
        }
    }
    let mut all = Vec::new();
    longs(&ad_tool::cli::Cli::command(), &mut all);
    longs(&ews_tool::cli::Cli::command(), &mut all);
    longs(&m365_tool::cli::Cli::command(), &mut all);
    all.sort();
    all.dedup();
    let mut known: Vec<String> = common::config::KNOWN_KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    known.sort();
    assert_eq!(
        all, known,
        "common::config::KNOWN_KEYS lists exactly the tools' options"
    );
}
