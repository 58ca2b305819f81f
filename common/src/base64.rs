//! Standard base64 (RFC 4648, with padding): LDIF values, HTTP authentication tokens.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes with padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3F) as usize])
            } else {
                '='
            });
        }
    }
    out
}

/// Decodes; whitespace is ignored. `None` for anything that is not base64, including padding
/// anywhere but at the end.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let groups = clean.len() / 4;
    let mut out = Vec::with_capacity(groups * 3);
    for (index, chunk) in clean.chunks(4).enumerate() {
        let data: Vec<u8> = chunk.iter().copied().take_while(|b| *b != b'=').collect();
        let padded = data.len() < 4;
        if data.len() < 2
            || (padded && index + 1 != groups)
            || chunk[data.len()..].iter().any(|b| *b != b'=')
        {
            return None;
        }
        let mut n = 0u32;
        for (i, b) in data.iter().enumerate() {
            let value = u32::try_from(ALPHABET.iter().position(|c| c == b)?).ok()?;
            n |= value << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..data.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4648_vectors() {
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
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
    }

    #[test]
    fn junk_is_refused() {
        for junk in ["Zg", "Z===", "Zm9v!", "Zg==Zg=="] {
            assert_eq!(decode(junk), None, "{junk}");
        }
        assert_eq!(decode("Zm9v\nYmFy").as_deref(), Some(&b"foobar"[..]));
    }
}
