//! LDIF text (RFC 2849) for `--dry-run` output: values that are not safe strings are written in
//! base64.

use std::fmt::Write as _;

use crate::plan::{Change, Op};

/// One `name: value` line, or `name:: base64` when the value needs it.
pub fn line(name: &str, value: &str) -> String {
    if is_safe(value) {
        format!("{name}: {value}")
    } else {
        format!("{name}:: {}", base64(value.as_bytes()))
    }
}

/// RFC 2849 SAFE-STRING: ASCII without NUL, CR, LF, not starting with space, ':' or '<', and
/// (as LDIF readers expect) not ending with a space.
fn is_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii() && b != 0 && b != b'\r' && b != b'\n')
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ')
}

/// The operations of a plan as LDIF change records, the password shown as `<redacted>` and
/// descriptors also as SDDL comments, for `--dry-run`.
pub fn render(ops: &[Op]) -> String {
    let mut out = String::new();
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match op {
            Op::Add {
                dn,
                attributes,
                uac,
                with_password,
                descriptor,
            } => {
                let _ = writeln!(out, "{}\nchangetype: add", line("dn", &dn.to_string()));
                for (name, value) in attributes {
                    let _ = writeln!(out, "{}", line(name, value));
                }
                if *with_password {
                    out.push_str("unicodePwd: <redacted>\n");
                }
                if let Some(uac) = uac {
                    let _ = writeln!(
                        out,
                        "userAccountControl: {}\n# {}",
                        uac.0,
                        uac.names().join(" | ")
                    );
                }
                if let Some(descriptor) = descriptor {
                    let _ = writeln!(
                        out,
                        "# control {SD_FLAGS} (SD flags: DACL only)\n# {}\nnTSecurityDescriptor:: {}",
                        descriptor.to_sddl(),
                        base64(&descriptor.to_bytes())
                    );
                }
            }
            Op::Modify { dn, changes } => {
                let _ = writeln!(out, "{}\nchangetype: modify", line("dn", &dn.to_string()));
                for change in changes {
                    render_change(&mut out, change);
                }
            }
            Op::WriteDacl { dn, edits, .. } => {
                let _ = writeln!(
                    out,
                    "{}\nchangetype: modify\n# control {SD_FLAGS} (SD flags: DACL only)\nreplace: nTSecurityDescriptor",
                    line("dn", &dn.to_string())
                );
                for edit in edits {
                    let _ = writeln!(out, "# {edit}");
                }
                out.push_str("-\n");
            }
            Op::Delete { dn } => {
                let _ = writeln!(out, "{}\nchangetype: delete", line("dn", &dn.to_string()));
            }
        }
    }
    out
}

/// The SD-flags control's OID.
const SD_FLAGS: &str = "1.2.840.113556.1.4.801";

fn render_change(out: &mut String, change: &Change) {
    match change {
        Change::Attribute { name, to, .. } => {
            let _ = writeln!(out, "replace: {name}\n{}\n-", line(name, to));
        }
        Change::UserAccountControl { to, .. } => {
            let _ = writeln!(
                out,
                "replace: userAccountControl\nuserAccountControl: {}\n# {}\n-",
                to.0,
                to.names().join(" | ")
            );
        }
        Change::AccountExpires { to, .. } => {
            let _ = writeln!(
                out,
                "replace: accountExpires\naccountExpires: {}\n# {to}\n-",
                to.stored()
            );
        }
        Change::PwdLastSet { to, .. } => {
            let _ = writeln!(out, "replace: pwdLastSet\npwdLastSet: {to}\n-");
        }
        Change::ResetPassword => out.push_str("replace: unicodePwd\nunicodePwd: <redacted>\n-\n"),
        Change::AddValue { name, value } => {
            let _ = writeln!(out, "add: {name}\n{}\n-", line(name, value));
        }
        Change::CannotChangePassword { .. } => {}
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    common::base64::encode(bytes)
}

/// Standard base64 decoding; `None` for anything that is not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    common::base64::decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_values_are_base64() {
        assert_eq!(line("cn", "Jane"), "cn: Jane");
        assert_eq!(line("cn", "Jürgen"), "cn:: SsO8cmdlbg==");
        assert_eq!(line("description", " lead"), "description:: IGxlYWQ=");
        assert_eq!(line("description", ":x"), "description:: Ong=");
    }
}
