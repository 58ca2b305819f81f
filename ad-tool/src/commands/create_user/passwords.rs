//! New accounts' passwords: given on stdin (the same for every account), read from a file per
//! account (a CSV row's own file before any other source), asked for at a prompt, or
//! generated to meet the domain's policy; and the domain
//! facts they are checked against, read once per run.

use std::path::PathBuf;

use common::files::GeneratedPasswordFile;
use common::secret::{Secret, SecretError, SecretRequest, read_secret};
use common::{CommandError, ExitStatus};
use tokio::sync::OnceCell;

use super::CreateUserArgs;
use crate::account::AccountSpec;
use crate::directory::{Directory, DirectoryError};
use crate::failure;
use crate::password::{self, PasswordPolicy};

/// Where new accounts' passwords come from.
#[derive(Debug)]
enum Source {
    /// The same password for every new account (stdin).
    Given(Secret),
    /// Per-account files (`--account-password-file` or the CSV column), else a prompt.
    FilesOrPrompt,
    /// Generated per account.
    Generate,
}

/// Where one password came from, which decides how much a policy error may say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Typed or piped by the operator.
    Operator,
    /// Read from a file (its content is never described).
    File(PathBuf),
    /// Generated here.
    Generated,
}

/// A new account's password.
#[derive(Debug)]
pub struct NewPassword {
    /// The password.
    pub secret: Secret,
    /// Where it came from.
    pub origin: Origin,
}

/// The run's password source and its generated-password file.
#[derive(Debug)]
pub struct Passwords {
    source: Source,
    /// Where generated passwords are written, before their accounts are created.
    pub file: Option<GeneratedPasswordFile>,
    policy: OnceCell<PasswordPolicy>,
}

impl Passwords {
    /// Reads what must be read before anything else (stdin), checks the generated-password
    /// file if it exists.
    pub fn prepare(args: &CreateUserArgs) -> Result<Self, CommandError> {
        let source = if args.account_password_stdin {
            let request = SecretRequest {
                what: "new account's password",
                stdin: true,
                how_to_pass: "--account-password-stdin",
                ..Default::default()
            };
            Source::Given(
                read_secret(&request)
                    .map_err(|e| CommandError::usage(e.to_string()).with_code("password"))?,
            )
        } else if args.generate_password {
            Source::Generate
        } else {
            Source::FilesOrPrompt
        };
        let file = match (&args.generated_password_file, args.dry_run) {
            (Some(path), false) => Some(
                GeneratedPasswordFile::prepare(path, common::files::GENERATED_PASSWORD_HEADER)
                    .map_err(|e| {
                        CommandError::usage(format!("cannot use {}: {e}", path.display()))
                            .with_hint("name a new file, or one this tool wrote before")
                            .with_code("password-file")
                    })?,
            ),
            _ => None,
        };
        Ok(Self {
            source,
            file,
            policy: OnceCell::new(),
        })
    }

    /// The domain's password policy, read once.
    pub async fn policy(&self, directory: &Directory) -> Result<PasswordPolicy, DirectoryError> {
        let mut d = directory.clone();
        self.policy
            .get_or_try_init(|| async move {
                let root = d.naming_context.clone();
                let entry = d
                    .read(
                        &root,
                        &["minPwdLength", "pwdProperties", "pwdHistoryLength"],
                    )
                    .await?
                    .unwrap_or_default();
                Ok(PasswordPolicy {
                    min_length: entry
                        .int("minPwdLength")
                        .and_then(|v| usize::try_from(v).ok())
                        .unwrap_or(0),
                    complexity: entry.int("pwdProperties").is_some_and(|p| {
                        p & i64::from(PasswordPolicy::DOMAIN_PASSWORD_COMPLEX) != 0
                    }),
                    history_length: entry
                        .int("pwdHistoryLength")
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0),
                })
            })
            .await
            .copied()
    }

    /// The password for a new (or reset) account; `None` for a disabled account created
    /// without one, as New-ADUser allows.
    pub async fn for_account(
        &self,
        directory: &Directory,
        spec: &AccountSpec,
        batch: bool,
    ) -> Result<Option<NewPassword>, CommandError> {
        // A row's own account-password-file cell comes before the run's source (the option
        // of that name cannot be given with stdin or --generate-password, so with those the
        // file is a cell's): a row's password is never silently replaced.
        let source = match (&self.source, &spec.password_file) {
            (_, Some(_)) => &Source::FilesOrPrompt,
            (source, None) => source,
        };
        match source {
            Source::Given(secret) => Ok(Some(NewPassword {
                secret: secret.clone(),
                origin: Origin::Operator,
            })),
            Source::Generate => {
                let policy = self
                    .policy(directory)
                    .await
                    .map_err(|e| failure::explain(&e))?;
                let secret = password::generate(
                    &policy,
                    spec.sam_account_name.as_str(),
                    spec.display_name.as_ref().map(crate::account::Text::as_str),
                )
                .map_err(|e| CommandError::new(ExitStatus::ItemsFailed, e.to_string()))?;
                Ok(Some(NewPassword {
                    secret,
                    origin: Origin::Generated,
                }))
            }
            Source::FilesOrPrompt => {
                let what = format!("password for the new account {}", spec.sam_account_name);
                let request = SecretRequest {
                    what: &what,
                    file: spec.password_file.as_deref(),
                    prompt: !batch,
                    confirm: true,
                    how_to_pass: "--account-password-stdin, --account-password-file FILE or --generate-password",
                    ..Default::default()
                };
                match read_secret(&request) {
                    Ok(secret) => Ok(Some(NewPassword {
                        secret,
                        origin: spec
                            .password_file
                            .clone()
                            .map_or(Origin::Operator, Origin::File),
                    })),
                    Err(SecretError::NotGiven { .. }) if !spec.enabled_when_created() => Ok(None),
                    Err(e) => Err(CommandError::usage(e.to_string()).with_code("password")),
                }
            }
        }
    }

    /// Why the domain refused `password`: the rules it breaks when the operator typed it (a
    /// password read from a file is never described), else what else refuses a password.
    pub async fn refusal(
        &self,
        directory: &Directory,
        spec: &AccountSpec,
        password: Option<&NewPassword>,
    ) -> String {
        let rules = match (password, self.policy(directory).await.ok()) {
            (Some(p), Some(policy)) if p.origin != Origin::Generated => match &p.origin {
                Origin::File(path) => {
                    return format!(
                        "the password read from {} does not meet the domain's policy",
                        path.display()
                    );
                }
                _ => password::broken_rules(
                    p.secret.expose(),
                    &policy,
                    spec.sam_account_name.as_str(),
                    spec.display_name.as_ref().map(crate::account::Text::as_str),
                ),
            },
            _ => Vec::new(),
        };
        if rules.is_empty() {
            "the domain refused the password (password history, minimum age or a fine-grained password policy)".to_owned()
        } else {
            format!(
                "the password does not meet the domain's policy: {}",
                rules
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    }
}
