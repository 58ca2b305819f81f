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
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3F) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 decoding; `None` for anything that is not base64. Whitespace is ignored.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let last = clean.len() / 4;
    for (index, chunk) in clean.chunks(4).enumerate() {
        let data: Vec<u8> = chunk.iter().copied().take_while(|b| *b != b'=').collect();
        // Padding only ends the last group, and a group carries at least one byte.
        let padded = data.len() < 4;
        if data.len() < 2
            || (padded && index + 1 != last)
            || chunk[data.len()..].iter().any(|b| *b != b'=')
        {
            return None;
        }
        let mut n = 0u32;
        for (i, b) in data.iter().enumerate() {
            n |= value(*b)? << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..data.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn decoding_inverts_encoding_and_refuses_junk() {
        for plain in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "Jürgen"] {
            assert_eq!(
                base64_decode(&base64(plain.as_bytes())).as_deref(),
                Some(plain.as_bytes())
            );
        }
        for junk in ["Zg", "Z===", "Zm9v!", "Zg==Zg=="] {
            assert_eq!(base64_decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn unsafe_values_are_base64() {
        assert_eq!(line("cn", "Jane"), "cn: Jane");
        assert_eq!(line("cn", "Jürgen"), "cn:: SsO8cmdlbg==");
        assert_eq!(line("description", " lead"), "description:: IGxlYWQ=");
        assert_eq!(line("description", ":x"), "description:: Ong=");
    }
}
