//! An entry as a search returns it, with typed readers for its values.

use std::collections::HashMap;

use ldap3::SearchEntry;

use crate::dn::Dn;

/// One entry of a search result; attribute names compare case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The entry's DN as the server wrote it.
    pub dn: String,
    values: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    pub(super) fn from_search(entry: SearchEntry) -> Self {
        let mut values: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for (name, texts) in entry.attrs {
            values
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(texts.into_iter().map(String::into_bytes));
        }
        for (name, bytes) in entry.bin_attrs {
            values
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(bytes);
        }
        Self {
            dn: entry.dn,
            values,
        }
    }

    /// The first value of an attribute as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.bytes(name)
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
    }

    /// Every value of an attribute as text.
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.values
            .get(&name.to_ascii_lowercase())
            .map(|v| {
                v.iter()
                    .filter_map(|b| String::from_utf8(b.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every value of an attribute as bytes.
    pub fn all_bytes(&self, name: &str) -> &[Vec<u8>] {
        self.values
            .get(&name.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// An entry with the given values (for tests and fakes).
    pub fn from_values(dn: &str, values: &[(&str, Vec<Vec<u8>>)]) -> Self {
        Self {
            dn: dn.to_owned(),
            values: values
                .iter()
                .map(|(name, v)| (name.to_ascii_lowercase(), v.clone()))
                .collect(),
        }
    }

    /// The first value of an attribute as bytes.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.values
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(Vec::as_slice)
    }

    /// The first value of an attribute as a number.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.text(name).and_then(|t| t.trim().parse().ok())
    }

    /// The entry's DN, parsed.
    pub fn parsed_dn(&self) -> Option<Dn> {
        self.dn.parse().ok()
    }
}
