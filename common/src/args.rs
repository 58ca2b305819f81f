//! The options both tools accept, before or after the subcommand.

use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::output::{Output, OutputFormat, Shape, write_error};
use crate::secret::SecretRequest;
use crate::tls::TlsOptions;

/// Options shared by both tools; flattened into each tool's top-level parser.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Output format: human (aligned text), json (one document), jsonl (one object per line)
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// More logging on stderr: -v steps, -vv protocol exchanges (secrets redacted)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Use the named profile of the config file
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Config file [default: CONFIG_DIR/ad-ews-tools/config.toml, see the README]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Trust this CA certificate (PEM) in addition to the system store
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Do not verify the server's certificate (prints a warning every run)
    #[arg(long, global = true)]
    pub insecure: bool,

    /// Who authenticates: a UPN (admin@corp.example), DOMAIN\name, or (LDAP) a DN
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// Read the operator's password from the first line of FILE
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "password_stdin"
    )]
    pub password_file: Option<PathBuf>,

    /// Read the operator's password from the first line of stdin
    #[arg(long, global = true)]
    pub password_stdin: bool,
}

impl GlobalArgs {
    /// Output on stdout in the chosen format (`-o`).
    pub fn stdout(&self, shape: Shape) -> Output {
        Output::stdout(self.output, shape)
    }

    /// Prints one record in the chosen format (`human` writes its human form), ending the
    /// output.
    pub fn print_one<T: serde::Serialize>(
        &self,
        record: &T,
        human: impl FnOnce(&mut std::io::Stdout) -> std::io::Result<()>,
    ) -> Result<(), crate::CommandError> {
        let mut output = self.stdout(Shape::Single);
        output.record(record, human).map_err(write_error)?;
        output.finish().map_err(write_error)?;
        Ok(())
    }

    /// A reporter of `tool`'s items (`noun`: singular and plural) on stdout in the chosen
    /// format, as verbose and quiet as `-v` and `-q` say.
    pub fn reporter(
        &self,
        tool: &'static str,
        shape: Shape,
        noun: (&'static str, &'static str),
    ) -> crate::report::Reporter {
        crate::report::Reporter::new(tool, self.stdout(shape), self.verbose > 0, self.quiet, noun)
    }

    /// The TLS trust settings.
    pub fn tls_options(&self) -> TlsOptions {
        TlsOptions {
            ca_file: self.ca_file.clone(),
            insecure: self.insecure,
        }
    }

    /// The `password` row of `config show`: where the operator's password would be read
    /// from (never the password), with the origin of the option that says so.
    pub fn password_setting(
        &self,
        env_var: &str,
        provenance: &crate::settings::Provenance,
    ) -> crate::settings::Setting {
        use crate::settings::{Origin, Setting};
        let (value, origin) = if let Some(file) = &self.password_file {
            (
                format!("read from {}", file.display()),
                provenance.origin("password-file").cloned(),
            )
        } else if self.password_stdin {
            (
                "read from stdin".to_owned(),
                provenance.origin("password-stdin").cloned(),
            )
        } else if std::env::var_os(env_var).is_some_and(|v| !v.is_empty()) {
            (
                format!("read from {env_var}"),
                Some(Origin::Environment {
                    variable: env_var.to_owned(),
                }),
            )
        } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            ("asked for at a prompt".to_owned(), Some(Origin::Default))
        } else {
            ("none given".to_owned(), None)
        };
        Setting {
            name: "password".to_owned(),
            value: Some(value),
            origin,
        }
    }

    /// Whether the operator gave a password source: `--password-file`, `--password-stdin`, or
    /// `env_var` set (even empty, as [`crate::secret::read_secret`] reads it). The tools use a
    /// Kerberos ticket by default only when none was given.
    pub fn password_given(&self, env_var: &str) -> bool {
        self.password_file.is_some() || self.password_stdin || std::env::var_os(env_var).is_some()
    }

    /// Where the operator's password comes from: `--password-file`, `--password-stdin`, the
    /// tool's environment variable, or a prompt.
    pub fn operator_password_request<'a>(
        &'a self,
        what: &'a str,
        env_var: &'a str,
        how_to_pass: &'a str,
    ) -> SecretRequest<'a> {
        SecretRequest {
            what,
            file: self.password_file.as_deref(),
            stdin: self.password_stdin,
            env_var: Some(env_var),
            prompt: true,
            confirm: false,
            how_to_pass,
        }
    }
}

/// A duration as an administrator writes it: `300` (seconds), `90s`, `5m`, `1h`, `250ms`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration (300, 90s, 5m, 1h)"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("\"{other}\" is not a unit of time (ms, s, m, h)")),
    };
    if !seconds.is_finite() || !(0.0..=86_400.0 * 7.0).contains(&seconds) {
        return Err(format!("\"{text}\" is out of range (up to a week)"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// What to do when the object a command would create already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IfExists {
    /// Stop with exit code 5
    Fail,
    /// Leave it as it is and report it skipped
    Skip,
    /// Change it to match what is asked, reporting each change
    Update,
}

/// `config`: what the tool would use.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// The `config` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConfigAction {
    /// Print every effective setting and where it came from (flag, environment, profile,
    /// default); a password only as its source
    Show,
}

/// `completions SHELL`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish or powershell
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

/// The shells completions are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    /// Bash (source it, or put it in /usr/share/bash-completion/completions/)
    Bash,
    /// Zsh (put it on $fpath as _TOOL)
    Zsh,
    /// Fish (~/.config/fish/completions/TOOL.fish)
    Fish,
    /// PowerShell (dot-source it from $PROFILE)
    Powershell,
}

impl CompletionsArgs {
    /// Writes the completion script for `command` (named `name`) to `out`.
    pub fn write(&self, command: &mut clap::Command, name: &str, out: &mut dyn std::io::Write) {
        use clap_complete::Shell;
        let shell = match self.shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        };
        clap_complete::generate(shell, command, name, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_as_administrators_write_them() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "five", "5 parsecs", "-1", "99999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
