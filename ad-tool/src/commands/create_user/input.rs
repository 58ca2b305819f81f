//! The accounts a `create-user` run is about: one from the options, or one per row of
//! `--from-csv` (the file checked whole first), each with the options filling its empty cells;
//! a row that names the same account as an earlier row is that row's duplicate.

use std::collections::HashMap;

use common::CommandError;

use super::CreateUserArgs;
use crate::account::{AccountArgs, AccountSpec};
use crate::context::Context;
use crate::csv_input;

/// One account to work on: its spec, or why its row is unusable.
#[derive(Debug)]
pub struct Item {
    /// How the account is named in messages: its sAMAccountName, else its name, else its line.
    pub label: String,
    /// What is asked, or why the row cannot be used.
    pub spec: Result<AccountSpec, CommandError>,
}

fn invalid(message: String) -> CommandError {
    CommandError::usage(message).with_code("invalid-account")
}

/// The accounts the options and the CSV file name, in order.
pub fn items(args: &CreateUserArgs, ctx: &Context) -> Result<Vec<Item>, CommandError> {
    let Some(path) = &args.from_csv else {
        let label = args.account.sam_account_name.as_ref().map_or_else(
            || {
                args.account
                    .name
                    .as_ref()
                    .map_or_else(|| "account".into(), ToString::to_string)
            },
            ToString::to_string,
        );
        let spec =
            AccountSpec::from_args(args.account.clone()).map_err(|e| invalid(e.to_string()))?;
        return Ok(vec![Item {
            label,
            spec: Ok(spec),
        }]);
    };
    let operator_file = ctx.global.password_file.as_deref();
    let mut items = Vec::new();
    for row in csv_input::read(path)? {
        let line = row.line;
        let spec = row
            .args
            .map_err(|e| invalid(format!("line {line}: {e}")))
            .and_then(|cells| {
                let cells = AccountArgs {
                    account_password_file: cells
                        .account_password_file
                        .map(|cell| {
                            csv_input::resolve_password_file(
                                path,
                                &cell,
                                operator_file,
                                args.allow_password_files_anywhere,
                            )
                        })
                        .transpose()
                        .map_err(|e| {
                            CommandError::usage(format!("line {line}: {e}"))
                                .with_code("password-file")
                        })?,
                    ..cells
                };
                AccountSpec::from_args(cells.or(&args.account))
                    .map_err(|e| invalid(format!("line {line}: {e}")))
            });
        let label = spec.as_ref().map_or_else(
            |_| format!("line {line}"),
            |s| s.sam_account_name.to_string(),
        );
        items.push((line, Item { label, spec }));
    }
    mark_duplicates(&mut items);
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

/// A row naming an account an earlier row names (the same sAMAccountName, UPN, or name in the
/// same place) fails as that row's duplicate instead of racing it.
fn mark_duplicates(items: &mut [(usize, Item)]) {
    let mut first: HashMap<String, usize> = HashMap::new();
    for (line, item) in items.iter_mut() {
        let Ok(spec) = &item.spec else { continue };
        let keys = [
            Some(format!(
                "sam:{}",
                spec.sam_account_name.as_str().to_lowercase()
            )),
            spec.upn
                .as_ref()
                .map(|u| format!("upn:{}", u.as_str().to_lowercase())),
            Some(format!(
                "cn:{}|{}",
                spec.name.as_str().to_lowercase(),
                spec.path
                    .as_ref()
                    .map(|p| p.to_string().to_lowercase())
                    .unwrap_or_default()
            )),
        ];
        let earlier = keys
            .iter()
            .flatten()
            .find_map(|key| first.get(key).copied());
        match earlier {
            Some(earlier) => {
                item.spec = Err(CommandError::usage(format!(
                    "line {line}: the same account as line {earlier}"
                ))
                .with_hint("each account once per file")
                .with_code("duplicate"));
            }
            None => {
                for key in keys.into_iter().flatten() {
                    first.insert(key, *line);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sam: &str, upn: Option<&str>) -> Item {
        let args = AccountArgs {
            name: Some(sam.parse().unwrap()),
            upn: upn.map(|u| u.parse().unwrap()),
            ..Default::default()
        };
        Item {
            label: sam.into(),
            spec: Ok(AccountSpec::from_args(args).unwrap()),
        }
    }

    #[test]
    fn a_repeated_account_is_the_duplicate_of_its_first_line() {
        let mut items = vec![
            (2, item("alpha", Some("alpha@lab.example"))),
            (3, item("bravo", None)),
            (5, item("ALPHA", None)),
            (6, item("charlie", Some("Alpha@lab.example"))),
        ];
        mark_duplicates(&mut items);
        assert!(items[0].1.spec.is_ok() && items[1].1.spec.is_ok());
        for (at, of) in [(2, 2), (3, 2)] {
            let error = items[at].1.spec.as_ref().unwrap_err();
            assert_eq!(error.code, "duplicate");
            assert!(
                error
                    .message
                    .ends_with(&format!("the same account as line {of}")),
                "{}",
                error.message
            );
        }
    }
}
