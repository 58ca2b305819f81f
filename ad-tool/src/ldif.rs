//! LDIF text (RFC 2849) for `--dry-run` output: values that are not safe strings are written in
//! base64.

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
