//! Autodiscover's answers kept in the state directory (`autodiscover.json`), so a run does not
//! walk the whole discovery again: one entry per address, with the URL, how it was found and
//! when it expires. A missing, unreadable or expired cache only means discovering again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How long an answer is kept: a day, as Outlook keeps its own.
pub const LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// One cached answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cached {
    /// The EWS URL.
    pub url: String,
    /// How it was found (the method and the Autodiscover URL that answered).
    pub found_by: String,
    /// Seconds since the Unix epoch after which it is found again.
    pub expires: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    entries: BTreeMap<String, Cached>,
}

/// The cache file.
#[derive(Debug, Clone)]
pub struct Cache {
    path: PathBuf,
}

fn domain_of(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, d)| d)
}

impl Cache {
    /// The cache in the state directory, when there is one.
    pub fn in_state_dir() -> Option<Self> {
        common::files::state_dir().map(|dir| Self::at(dir.join("autodiscover.json")))
    }

    /// The cache at `path`.
    pub fn at(path: PathBuf) -> Self {
        Self { path }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> File {
        std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The unexpired answer for `address` (`now` in Unix seconds), else one for another address
    /// of its domain: every mailbox of a domain is reached through the same EWS front end.
    pub fn get(&self, address: &str, now: i64) -> Option<Cached> {
        let address = address.to_ascii_lowercase();
        let file = self.read();
        let fresh = |c: &&Cached| c.expires > now;
        if let Some(hit) = file.entries.get(&address).filter(fresh) {
            return Some(hit.clone());
        }
        let domain = domain_of(&address)?;
        file.entries
            .iter()
            .filter(|(a, c)| domain_of(a) == Some(domain) && fresh(c))
            .max_by_key(|(_, c)| c.expires)
            .map(|(_, c)| c.clone())
    }

    /// Keeps `entry` for `address`, dropping expired entries; written to a new file renamed
    /// over the old one, readable by the user alone.
    pub fn put(&self, address: &str, entry: Cached, now: i64) -> std::io::Result<()> {
        let mut file = self.read();
        file.entries.retain(|_, c| c.expires > now);
        file.entries.insert(address.to_ascii_lowercase(), entry);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        let temporary = self
            .path
            .with_extension(format!("json.{}", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        common::secret::write_private_file(&temporary, text)?;
        std::fs::rename(&temporary, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, expires: i64) -> Cached {
        Cached {
            url: url.into(),
            found_by: "SCP".into(),
            expires,
        }
    }

    #[test]
    fn answers_are_kept_until_they_expire_and_serve_their_domain() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("state/autodiscover.json"));
        assert_eq!(cache.get("anna@corp.example", 100), None);
        cache
            .put("Anna@corp.example", entry("https://mail/EWS", 200), 100)
            .unwrap();
        assert_eq!(
            cache.get("anna@corp.example", 150).unwrap().url,
            "https://mail/EWS"
        );
        assert_eq!(
            cache.get("bob@corp.example", 150).unwrap().url,
            "https://mail/EWS"
        );
        assert_eq!(cache.get("bob@other.example", 150), None);
        assert_eq!(cache.get("anna@corp.example", 200), None);
        // An expired entry is dropped at the next write.
        cache
            .put("x@other.example", entry("https://other/EWS", 500), 300)
            .unwrap();
        let text = std::fs::read_to_string(cache.path()).unwrap();
        assert!(!text.contains("anna@corp.example"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(cache.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
        // A damaged file is no answer, and is replaced at the next write.
        std::fs::write(cache.path(), "{not json").unwrap();
        assert_eq!(cache.get("x@other.example", 300), None);
        cache
            .put("x@other.example", entry("https://other/EWS", 500), 300)
            .unwrap();
        assert!(cache.get("x@other.example", 300).is_some());
    }
}
