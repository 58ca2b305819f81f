//! The simulator's view of the directory: users and groups of the lab DC with their SID, mail,
//! display name and mailbox type, read with OpenLDAP's `ldapsearch` (not with ad-tool's code)
//! and cached; a name not in the cache is looked up again, so accounts created during a test
//! are found.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use common::sid::Sid;

/// A user, group or contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Its DN.
    pub dn: String,
    /// `objectSid` as text (empty for a contact, which has none).
    pub sid: String,
    /// `sAMAccountName`.
    pub sam: String,
    /// `mail`.
    pub mail: Option<String>,
    /// `displayName` (or the sAMAccountName).
    pub display_name: String,
    /// `msExchRecipientTypeDetails`: what kind of recipient it is, if it is one.
    pub mailbox: Option<i64>,
    /// It is a group.
    pub group: bool,
    /// It is a contact.
    pub contact: bool,
    /// A group's direct members (DNs).
    pub members: Vec<String>,
}

/// `msExchRecipientTypeDetails` values that are mailboxes: user, linked, shared, room,
/// equipment.
const MAILBOX_TYPES: [i64; 5] = [1, 2, 4, 16, 32];

impl Principal {
    /// Whether it has a mailbox here (its folders can be opened).
    pub fn has_mailbox(&self) -> bool {
        self.mail.is_some() && self.mailbox.is_some_and(|t| MAILBOX_TYPES.contains(&t))
    }

    /// Whether it is a recipient Exchange knows: mail-enabled (a mailbox, a mail user, a mail
    /// contact, a mail-enabled group). A group or user with a `mail` attribute alone is not;
    /// only recipients can be given folder permissions or resolve by name.
    pub fn is_recipient(&self) -> bool {
        self.mail.is_some() && self.mailbox.is_some()
    }

    /// Whether it is a mail-enabled group (a distribution list to Exchange).
    pub fn is_distribution_list(&self) -> bool {
        self.group && self.is_recipient()
    }
}

/// How to reach the directory.
#[derive(Debug, Clone)]
pub struct DirectorySettings {
    /// `ldaps://host`.
    pub uri: String,
    /// The bind DN or UPN.
    pub user: String,
    /// A file with the password.
    pub password_file: PathBuf,
    /// The CA certificate.
    pub ca_file: PathBuf,
    /// The search base.
    pub base: String,
}

/// The principals read so far, indexed by what requests look them up by (a simulated
/// organisation holds 100,000 of them).
#[derive(Debug, Default)]
struct Cache {
    all: Vec<Principal>,
    /// Lower-case mail, SID, sAMAccountName and DN → index in `all`.
    by_mail: HashMap<String, usize>,
    by_sid: HashMap<String, usize>,
    by_sam: HashMap<String, usize>,
    by_dn: HashMap<String, usize>,
}

impl Cache {
    fn new(all: Vec<Principal>) -> Self {
        let mut cache = Self::default();
        for principal in all {
            cache.push(principal);
        }
        cache
    }

    fn push(&mut self, principal: Principal) {
        let i = self.all.len();
        if let Some(mail) = &principal.mail {
            self.by_mail.entry(mail.to_ascii_lowercase()).or_insert(i);
        }
        if !principal.sid.is_empty() {
            self.by_sid
                .entry(principal.sid.to_ascii_lowercase())
                .or_insert(i);
        }
        if !principal.sam.is_empty() {
            self.by_sam
                .entry(principal.sam.to_ascii_lowercase())
                .or_insert(i);
        }
        self.by_dn
            .entry(principal.dn.to_ascii_lowercase())
            .or_insert(i);
        self.all.push(principal);
    }

    fn retain(&mut self, keep: impl Fn(&Principal) -> bool) {
        let all = std::mem::take(&mut self.all);
        *self = Self::new(all.into_iter().filter(|p| keep(p)).collect());
    }

    fn get(index: &HashMap<String, usize>, all: &[Principal], key: &str) -> Option<Principal> {
        index
            .get(&key.to_ascii_lowercase())
            .and_then(|&i| all.get(i))
            .cloned()
    }
}

/// The address of the `i`-th synthetic mailbox with `prefix`.
pub fn synthetic_address(prefix: &str, i: u32) -> String {
    format!("{prefix}{i:06}@{}", crate::seed::DNS_DOMAIN)
}

/// The cached directory.
#[derive(Debug)]
pub struct Directory {
    settings: DirectorySettings,
    cache: Mutex<Cache>,
}

impl Directory {
    /// Loads every user and group.
    pub fn load(settings: DirectorySettings) -> Result<Self, String> {
        let directory = Directory {
            settings,
            cache: Mutex::new(Cache::default()),
        };
        let all =
            directory.search("(|(objectClass=user)(objectClass=group)(objectClass=contact))")?;
        *directory.cache.lock().map_err(|_| "cache poisoned")? = Cache::new(all);
        Ok(directory)
    }

    /// Adds `count` mailbox users that exist only here ([`synthetic_address`]), each with a
    /// SID of its own.
    pub fn add_synthetic(&self, prefix: &str, count: u32) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        for i in 0..count {
            let name = format!("{prefix}{i:06}");
            cache.push(Principal {
                dn: format!("CN={name},OU=Synthetic,{}", crate::seed::DOMAIN_DN),
                sid: format!("S-1-5-21-4000000001-4000000002-4000000003-{}", 200_000 + i),
                sam: name.clone(),
                mail: Some(synthetic_address(prefix, i)),
                display_name: format!("Synthetic Mailbox {i}"),
                mailbox: Some(1),
                group: false,
                contact: false,
                members: Vec::new(),
            });
        }
    }

    fn search(&self, filter: &str) -> Result<Vec<Principal>, String> {
        let s = &self.settings;
        let output = Command::new("ldapsearch")
            .env("LDAPTLS_CACERT", &s.ca_file)
            .args([
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-x",
                "-H",
                &s.uri,
                "-D",
                &s.user,
                "-y",
            ])
            .arg(&s.password_file)
            .args([
                "-E",
                "pr=500/noprompt",
                "-b",
                &s.base,
                filter,
                "objectSid",
                "sAMAccountName",
                "mail",
                "displayName",
                "msExchRecipientTypeDetails",
                "objectClass",
                "member",
            ])
            .output()
            .map_err(|e| format!("cannot run ldapsearch: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "ldapsearch failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(parse_ldif(&String::from_utf8_lossy(&output.stdout)))
    }

    fn find(
        &self,
        cached: impl Fn(&Cache) -> Option<Principal>,
        matches: impl Fn(&Principal) -> bool,
        filter: impl FnOnce() -> String,
    ) -> Option<Principal> {
        if let Some(found) = cached(&*self.cache.lock().ok()?) {
            return Some(found);
        }
        let found = self
            .search(&filter())
            .ok()?
            .into_iter()
            .find(|p| matches(p))?;
        self.cache.lock().ok()?.push(found.clone());
        Some(found)
    }

    /// By `mail`.
    pub fn by_mail(&self, address: &str) -> Option<Principal> {
        self.find(
            |c| Cache::get(&c.by_mail, &c.all, address),
            |p| {
                p.mail
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(address))
            },
            || format!("(mail={})", ldap3::ldap_escape(address)),
        )
    }

    /// By `mail`, read from the directory now (the cache may hold it from before a change,
    /// such as a group being mail-enabled); the cache is updated.
    pub fn by_mail_fresh(&self, address: &str) -> Option<Principal> {
        let found = self
            .search(&format!("(mail={})", ldap3::ldap_escape(address)))
            .ok()?
            .into_iter()
            .find(|p| {
                p.mail
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(address))
            })?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|p| !p.dn.eq_ignore_ascii_case(&found.dn));
            cache.push(found.clone());
        }
        Some(found)
    }

    /// By `sAMAccountName`.
    pub fn by_sam(&self, sam: &str) -> Option<Principal> {
        self.find(
            |c| Cache::get(&c.by_sam, &c.all, sam),
            |p| p.sam.eq_ignore_ascii_case(sam),
            || format!("(sAMAccountName={})", ldap3::ldap_escape(sam)),
        )
    }

    /// By a UPN, or `DOMAIN\name`, as a logon names the account.
    pub fn by_logon(&self, name: &str) -> Option<Principal> {
        let sam = name.rsplit('\\').next().unwrap_or(name);
        let sam = sam.split('@').next().unwrap_or(sam);
        self.by_sam(sam)
    }

    /// By SID (from the cache only: a SID the directory does not hold does not resolve).
    pub fn by_sid(&self, sid: &str) -> Option<Principal> {
        if sid.is_empty() {
            return None;
        }
        let cache = self.cache.lock().ok()?;
        Cache::get(&cache.by_sid, &cache.all, sid)
    }

    /// By DN (from the cache).
    pub fn by_dn(&self, dn: &str) -> Option<Principal> {
        let cache = self.cache.lock().ok()?;
        Cache::get(&cache.by_dn, &cache.all, dn)
    }

    /// The recipients whose name, address or account name starts with `text` (Exchange's
    /// ambiguous name resolution, over the address book: recipients only), by display name.
    pub fn resolve(&self, text: &str) -> Vec<Principal> {
        let text = text.trim();
        if text.contains('@') {
            return self
                .by_mail_fresh(text)
                .filter(Principal::is_recipient)
                .into_iter()
                .collect();
        }
        let wanted = text.to_lowercase();
        let Ok(cache) = self.cache.lock() else {
            return Vec::new();
        };
        let mut found: Vec<Principal> = cache
            .all
            .iter()
            .filter(|p| p.is_recipient())
            .filter(|p| {
                let mail = p.mail.as_deref().unwrap_or("").to_lowercase();
                let name = p.display_name.to_lowercase();
                name.starts_with(&wanted)
                    || name
                        .split([' ', ','])
                        .any(|w| !w.is_empty() && w.starts_with(&wanted))
                    || (!p.sam.is_empty() && p.sam.to_lowercase().starts_with(&wanted))
                    || mail.starts_with(&wanted)
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        found
    }

    /// Forgets an account (a test deletes it: its SID stops resolving).
    pub fn forget(&self, sid: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|p| !p.sid.eq_ignore_ascii_case(sid));
        }
    }
}

fn parse_ldif(text: &str) -> Vec<Principal> {
    let mut principals = Vec::new();
    for block in text.split("\n\n") {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for line in block.lines() {
            if let Some((name, value)) = line.split_once(":: ") {
                // dn:: carries a base64 DN (non-ASCII names); other values the same way.
                let bytes = common::base64::decode(value).unwrap_or_default();
                let text = if name.eq_ignore_ascii_case("objectSid") {
                    Sid::from_bytes(&bytes)
                        .map(|(sid, _)| sid.to_string())
                        .unwrap_or_default()
                } else {
                    String::from_utf8_lossy(&bytes).into_owned()
                };
                values
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .push(text);
            } else if let Some((name, value)) = line.split_once(": ") {
                values
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .push(value.to_owned());
            }
        }
        let first = |name: &str| values.get(name).and_then(|v| v.first()).cloned();
        let is = |class: &str| {
            values
                .get("objectclass")
                .is_some_and(|c| c.iter().any(|c| c.eq_ignore_ascii_case(class)))
        };
        let contact = is("contact");
        let (sid, sam) = match (first("objectsid"), first("samaccountname")) {
            (Some(sid), Some(sam)) => (sid, sam),
            // A contact is no security principal: no SID, no sAMAccountName.
            _ if contact => (String::new(), String::new()),
            _ => continue,
        };
        let Some(dn) = first("dn") else { continue };
        principals.push(Principal {
            display_name: first("displayname").unwrap_or_else(|| sam.clone()),
            mail: first("mail"),
            mailbox: first("msexchrecipienttypedetails").and_then(|v| v.parse().ok()),
            group: is("group"),
            contact,
            members: values.get("member").cloned().unwrap_or_default(),
            dn,
            sid,
            sam,
        });
    }
    principals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldif_with_binary_sids() {
        let sid = Sid::new(5, &[21, 1, 2, 3, 1105]).to_bytes();
        let text = format!(
            "dn: CN=Anna,OU=Staff,DC=lab,DC=example\nobjectClass: top\nobjectClass: user\nsAMAccountName: adevries\nobjectSid:: {}\nmail: anna@lab.example\ndisplayName:: {}\nmsExchRecipientTypeDetails: 1\n\ndn: CN=G,DC=x\nobjectClass: group\nsAMAccountName: g\nobjectSid:: {}\n",
            common::base64::encode(&sid),
            common::base64::encode("Anna de Vriës".as_bytes()),
            common::base64::encode(&sid)
        );
        let principals = parse_ldif(&text);
        assert_eq!(principals.len(), 2);
        assert_eq!(principals[0].sid, "S-1-5-21-1-2-3-1105");
        assert_eq!(principals[0].display_name, "Anna de Vriës");
        assert_eq!(principals[0].mailbox, Some(1));
        assert!(principals[1].group && principals[1].mail.is_none());
        assert_eq!(principals[0].dn, "CN=Anna,OU=Staff,DC=lab,DC=example");
        assert!(principals[0].has_mailbox() && principals[0].is_recipient());
        assert!(!principals[1].is_recipient());
    }
}
