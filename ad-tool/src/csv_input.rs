//! ad-tool's `create-user --from-csv` file (`common::csv_input`): one column per long option
//! of an account but `--disabled`, a `name` column required.

use std::path::Path;

use common::CommandError;

pub use common::csv_input::resolve_password_file;

use crate::account::AccountArgs;

/// The options that are no column.
const LEFT_OUT: &[&str] = &["disabled"];

/// One data row of the file.
pub type Row = common::csv_input::Row<AccountArgs>;

/// Reads and checks the whole file.
pub fn read(path: &Path) -> Result<Vec<Row>, CommandError> {
    common::csv_input::read(path, "name", LEFT_OUT)
}

/// The column names, for the `--help` of `--from-csv`.
pub fn column_names() -> String {
    common::csv_input::column_names::<AccountArgs>(LEFT_OUT)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn file(text: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn refused(text: &[u8]) -> String {
        let (_dir, path) = file(text);
        read(&path).unwrap_err().to_string()
    }

    #[test]
    fn an_unterminated_quote_is_refused_at_its_line() {
        let error = refused(b"name,display-name\na,\"Alpha\nb,Bravo\nc,Charlie\n");
        assert!(
            error.contains("line 2: a quoted value starts here"),
            "{error}"
        );
        assert!(error.contains("nothing was created"), "{error}");
    }

    #[test]
    fn more_fields_than_the_header_is_refused_at_the_real_line() {
        // Blank lines before the bad row do not shift the number.
        let error = refused(b"name,upn\n\na,a@lab.example\n\n\nb,b@lab.example,extra\n");
        assert!(
            error.contains("line 6: 3 fields where the header has 2"),
            "{error}"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_at_their_line() {
        let error = refused(b"name\nalpha\nbr\xe9vo\n");
        assert!(error.contains("line 3 is not UTF-8"), "{error}");
    }

    #[test]
    fn an_unknown_column_is_refused_with_the_closest_name() {
        let error = refused(b"name,dispaly-name\na,Alpha\n");
        assert!(
            error.contains("there is no column \"dispaly-name\"; did you mean \"display-name\"?"),
            "{error}"
        );
    }

    #[test]
    fn rows_keep_their_real_lines_and_bad_values_fail_alone() {
        let (_dir, path) = file(b"name,upn\n\nalpha,alpha@lab.example\n\nbravo,not an address\n");
        let rows = read(&path).unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 5]);
        assert!(rows[0].args.is_ok());
        let error = rows[1].args.as_ref().unwrap_err();
        assert!(
            error.contains("\"not an address\" is not a valid user principal name"),
            "{error}"
        );
    }

    #[test]
    fn password_files_stay_in_the_csv_folder_and_never_name_the_operators_file() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("accounts.csv");
        std::fs::write(dir.path().join("a.pw"), "x").unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(
            resolve_password_file(&csv, Path::new("a.pw"), None, false).unwrap(),
            dir.path().join("a.pw").canonicalize().unwrap()
        );
        let error = resolve_password_file(&csv, outside.path(), None, false).unwrap_err();
        assert!(error.contains("outside the CSV file's folder"), "{error}");
        assert!(resolve_password_file(&csv, outside.path(), None, true).is_ok());
        let error = resolve_password_file(
            &csv,
            Path::new("a.pw"),
            Some(&dir.path().join("a.pw")),
            true,
        )
        .unwrap_err();
        assert!(error.contains("operator's own password file"), "{error}");
        let escape = resolve_password_file(&csv, Path::new("../../etc/hostname"), None, false);
        assert!(escape.is_err());
    }
}
