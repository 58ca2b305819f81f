//! Help text that can be pasted: examples are written into the help template, which clap
//! prints as it is, instead of `after_help`, which it re-wraps to the terminal's width (a
//! wrapped example loses its `\` continuations and splits quoted arguments).

/// A clap `help_template` ending in the given examples (a string literal, each line indented
/// and ready to paste), optionally followed by a closing text.
///
/// ```
/// # use clap::Parser;
/// #[derive(Parser)]
/// #[command(help_template = common::help_template!("  tool --flag"))]
/// struct Cli {
///     #[arg(long)]
///     flag: bool,
/// }
/// ```
#[macro_export]
macro_rules! help_template {
    ($examples:expr) => {
        concat!(
            "{before-help}{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}\n\nExamples:\n",
            $examples,
            "\n"
        )
    };
    ($examples:expr, $closing:expr) => {
        concat!(
            "{before-help}{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}\n\nExamples:\n",
            $examples,
            "\n\n",
            $closing,
            "\n"
        )
    };
}

/// The example lines of a command's help template: each indented line after `Examples:` up to
/// the first blank line, with `\` continuations joined, comments (`#`) left out. Tests parse
/// every one with the tool's own parser.
pub fn example_commands(template: &str) -> Vec<String> {
    let Some((_, examples)) = template.split_once("\nExamples:\n") else {
        return Vec::new();
    };
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in examples.lines() {
        let text = line.trim();
        if text.is_empty() {
            break;
        }
        if text.starts_with('#') {
            continue;
        }
        if let Some(head) = text.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
        } else {
            current.push_str(text);
            commands.push(std::mem::take(&mut current));
        }
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_joined_across_continuations() {
        let template = help_template!(
            "  # one\n  tool a \\\n      --b \"c d\"\n  tool e | other f",
            "Exit codes: 0 done."
        );
        assert_eq!(
            example_commands(template),
            ["tool a --b \"c d\"", "tool e | other f"]
        );
        assert!(template.ends_with("\n\nExit codes: 0 done.\n"));
    }
}
