//! Text that goes into a directory or a server: characters an operator cannot see are refused,
//! so a name pasted from a chat window with a zero-width space in it, or a CSV cell with a
//! stray control character, never becomes an account nobody can find by typing its name.

/// The first character of `text` that has no place in an attribute value: C0 and C1 control
/// characters, DEL, and invisible format characters (zero-width spaces and joiners, bidi
/// controls, the byte-order mark, soft hyphen, tags), with the reason in words.
pub fn forbidden_character(text: &str) -> Option<(char, &'static str)> {
    text.chars().find_map(|c| describe(c).map(|why| (c, why)))
}

fn describe(c: char) -> Option<&'static str> {
    match u32::from(c) {
        0x00..=0x1F | 0x7F | 0x80..=0x9F => Some("a control character"),
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E | 0x3164 | 0xFFA0 => {
            Some("an invisible character")
        }
        0x200B..=0x200F | 0x2060..=0x2064 | 0xFEFF => Some("a zero-width character"),
        0x202A..=0x202E | 0x2066..=0x2069 => Some("a bidirectional-text control"),
        0x206A..=0x206F | 0xFFF9..=0xFFFB | 0xE0000..=0xE007F => {
            Some("an invisible format character")
        }
        _ => None,
    }
}

/// Checks `text` for [`forbidden_character`]; the error names the character by its code point
/// (printing it would show nothing) and where it is.
pub fn check_visible(text: &str) -> Result<(), String> {
    match forbidden_character(text) {
        None => Ok(()),
        Some((c, why)) => {
            let position = text.chars().take_while(|x| *x != c).count() + 1;
            Err(format!(
                "it contains {why} (U+{:04X}) at character {position}",
                u32::from(c)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_passes() {
        for text in [
            "Anna de Vries",
            "Jürgen Müller",
            "北京",
            "O'Brien-Smith",
            "calendar sync",
        ] {
            assert_eq!(check_visible(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn controls_and_invisible_characters_are_named() {
        for (text, code) in [
            ("a\0b", "U+0000"),
            ("line\nbreak", "U+000A"),
            ("x\u{1}", "U+0001"),
            ("del\u{7f}", "U+007F"),
            ("c1\u{85}", "U+0085"),
            ("svc\u{200B}account", "U+200B"),
            ("\u{202E}evil", "U+202E"),
            ("\u{FEFF}bom", "U+FEFF"),
            ("soft\u{AD}hyphen", "U+00AD"),
        ] {
            let error = check_visible(text).unwrap_err();
            assert!(error.contains(code), "{text:?}: {error}");
        }
        assert_eq!(
            check_visible("svc\u{200B}"),
            Err("it contains a zero-width character (U+200B) at character 4".into())
        );
    }
}
