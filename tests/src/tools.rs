//! Running the workspace's binaries as an administrator would: as processes, with arguments,
//! environment and stdin, capturing exit code, stdout and stderr.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The target directory of this build (`target/debug`), found from the running executable.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    // target/<profile>/deps/<test binary> or target/<profile>/<binary>
    let mut dir = exe
        .parent()
        .expect("the test binary is in a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The path of a workspace binary, built (once per process) if cargo is at hand.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let dir = profile_dir();
    let built = BUILT.get_or_init(|| {
        let Some(cargo) = std::env::var_os("CARGO") else {
            return Ok(());
        };
        crate::samba::progress("building the tools (cargo build)");
        let mut command = Command::new(cargo);
        command
            .args([
                "build",
                "--quiet",
                "--bin",
                "ad-tool",
                "--bin",
                "ews-tool",
                "--bin",
                "m365-tool",
                "--bin",
                "fake-ews",
                "--bin",
                "fake-graph",
            ])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
        if dir.file_name().is_some_and(|n| n == "release") {
            command.arg("--release");
        }
        match command.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("cargo build of the tools failed ({s})")),
            Err(e) => Err(format!("cannot run cargo: {e}")),
        }
    });
    if let Err(e) = built {
        panic!("{e}");
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing; build it with cargo build --bin {name}",
        path.display()
    );
    path
}

/// The outcome of one run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl RunOutput {
    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// stdout as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("not a JSON line ({e}): {l}\nstderr:\n{}", self.stderr)
                })
            })
            .collect()
    }

    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A command line for one of the tools.
#[derive(Debug, Clone)]
pub struct Tool {
    program: PathBuf,
    args: Vec<OsString>,
    env: HashMap<OsString, Option<OsString>>,
    stdin: Option<Vec<u8>>,
}

impl Tool {
    /// A run of `name` (a workspace binary) with a clean environment for its own variables.
    pub fn new(name: &str) -> Self {
        let mut env = HashMap::new();
        for var in [
            "AD_TOOL_SERVER",
            "AD_TOOL_PASSWORD",
            "AD_TOOL_PROFILE",
            "AD_TOOL_CONFIG",
            "EWS_TOOL_URL",
            "EWS_TOOL_PASSWORD",
            "EWS_TOOL_DIRECTORY",
            "M365_TOOL_TENANT",
            "M365_TOOL_CLIENT_ID",
            "M365_TOOL_CLIENT_SECRET",
            "M365_TOOL_PROFILE",
            "M365_TOOL_CONFIG",
        ] {
            env.insert(OsString::from(var), None);
        }
        // No Kerberos ticket of the machine's own session is used unless a test gives one.
        env.insert(
            OsString::from("KRB5CCNAME"),
            Some(OsString::from("FILE:/nonexistent/lab-ccache")),
        );
        // No config file from the developer's home leaks in, and no journal goes to it.
        env.insert(
            OsString::from("XDG_CONFIG_HOME"),
            Some(OsString::from("/nonexistent/lab-config")),
        );
        env.insert(
            OsString::from("XDG_STATE_HOME"),
            Some(crate::samba::state_home().map_or_else(
                || OsString::from("/nonexistent/lab-state"),
                |p| p.as_os_str().to_owned(),
            )),
        );
        Self {
            program: binary(name),
            args: Vec::new(),
            env,
            stdin: None,
        }
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds one argument (a path, say).
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds `--mailbox ADDRESS` for each address (ews-tool's repeated option).
    #[must_use]
    pub fn mailboxes<I, S>(self, addresses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        addresses.into_iter().fold(self, |tool, address| {
            tool.args(["--mailbox", address.as_ref()])
        })
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.env.insert(name.into(), Some(value.into()));
        self
    }

    /// Feeds stdin.
    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Starts it, stdin closed (unless fed), stdout and stderr captured, for a test that
    /// signals it or watches it while it runs.
    pub fn spawn(&self) -> std::process::Child {
        let mut command = self.command();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.program.display()));
        if let (Some(bytes), Some(mut stdin)) = (&self.stdin, child.stdin.take()) {
            let _ = stdin.write_all(bytes);
        }
        child
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            match value {
                Some(v) => command.env(name, v),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// Runs it to the end.
    pub fn run(&self) -> RunOutput {
        let child = self.spawn();
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("{}: {e}", self.program.display()));
        RunOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs it with stderr on a terminal (a pseudo-terminal through `script`) and stdout
    /// thrown away, as an operator who redirects the results sees it: what the terminal showed
    /// comes back as `stderr`, with its control sequences.
    pub fn run_in_terminal(&self) -> RunOutput {
        let quoted: Vec<String> = std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|word| {
                let word = word.to_string_lossy();
                shlex::try_quote(&word)
                    .map_or_else(|_| word.to_string(), std::borrow::Cow::into_owned)
            })
            .collect();
        // Fed stdin comes from a file: the terminal is the tool's stdin otherwise.
        let fed = self.stdin.as_ref().map(|bytes| {
            let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
            file.write_all(bytes).expect("stdin written to a file");
            file.into_temp_path()
        });
        let from = fed.as_ref().map_or_else(String::new, |path| {
            format!(
                " <{}",
                shlex::try_quote(&path.to_string_lossy()).unwrap_or_default()
            )
        });
        let line = format!(
            "stty cols 160 rows 40; exec {} >/dev/null{from}",
            quoted.join(" ")
        );
        let mut terminal = Self {
            program: PathBuf::from("script"),
            args: ["-qefc", line.as_str(), "/dev/null"]
                .into_iter()
                .map(OsString::from)
                .collect(),
            stdin: None,
            ..self.clone()
        };
        terminal
            .env
            .entry(OsString::from("TERM"))
            .or_insert_with(|| Some(OsString::from("xterm")));
        let out = terminal.run();
        RunOutput {
            code: out.code,
            stdout: String::new(),
            stderr: out.stdout,
        }
    }

    /// The arguments so far (for messages).
    pub fn describe(&self) -> String {
        format!(
            "{} {}",
            self.program.display(),
            self.args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        )
    }
}
