//! Finding a user, group or member by the names admins use: sAMAccountName, UPN or mail, or DN.

use common::{CommandError, ExitStatus};
use ldap3::Scope;

use ldap3::ldap_escape;

use crate::directory::{Directory, Entry};
use crate::dn::Dn;
use crate::failure;

/// What kind of object a name must resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user account (not a computer, not a contact).
    User,
    /// A group.
    Group,
    /// Anything that can be a group member: user, group, computer or contact.
    Member,
}

impl Kind {
    fn filter(self) -> &'static str {
        match self {
            Kind::User => "(&(objectCategory=person)(objectClass=user))",
            Kind::Group => "(objectClass=group)",
            Kind::Member => "(|(objectClass=user)(objectClass=group)(objectClass=contact))",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Member => "user or group",
        }
    }

    /// How an object of this kind can be named.
    fn naming_hint(self) -> &'static str {
        match self {
            Kind::User => "give its sAMAccountName, UPN or DN",
            Kind::Group => "give its sAMAccountName, mail address or DN",
            Kind::Member => "give its sAMAccountName, UPN, mail address or DN",
        }
    }
}

/// The search filter for `name` as a sAMAccountName, or a UPN or mail address when it holds '@'.
pub fn name_filter(kind: Kind, name: &str) -> String {
    let value = ldap_escape(name);
    let by_name = if name.contains('@') {
        format!("(|(userPrincipalName={value})(mail={value}))")
    } else {
        format!("(sAMAccountName={value})")
    };
    format!("(&{}{by_name})", kind.filter())
}

/// Finds exactly one object by name; `Ok(None)` when there is none.
pub async fn find(
    directory: &mut Directory,
    kind: Kind,
    name: &str,
    attrs: &[&str],
) -> Result<Option<Entry>, CommandError> {
    if name.contains('=')
        && let Ok(dn) = name.parse::<Dn>()
    {
        let found = directory
            .search(&dn, Scope::Base, kind.filter(), attrs)
            .await;
        return match found {
            Ok(mut entries) => Ok(entries.pop()),
            Err(crate::directory::DirectoryError::Operation { failure: f, .. })
                if f.rc == crate::diagnostic::rc::NO_SUCH_OBJECT =>
            {
                Ok(None)
            }
            Err(e) => Err(failure::explain(&e)),
        };
    }
    let base = directory.naming_context.clone();
    let mut entries = directory
        .search(&base, Scope::Subtree, &name_filter(kind, name), attrs)
        .await
        .map_err(|e| failure::explain(&e))?;
    match entries.len() {
        0 | 1 => Ok(entries.pop()),
        n => Err(CommandError::new(
            ExitStatus::ItemsFailed,
            format!(
                "{name} matches {n} {}s: {}",
                kind.word(),
                entries
                    .iter()
                    .map(|e| e.dn.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
        .with_hint("give the distinguished name instead")
        .with_code("ambiguous")),
    }
}

/// Like [`find`], but a missing object is an error naming the domain.
pub async fn require(
    directory: &mut Directory,
    kind: Kind,
    name: &str,
    attrs: &[&str],
) -> Result<Entry, CommandError> {
    let domain = directory
        .naming_context
        .dns_domain()
        .unwrap_or_else(|| directory.naming_context.to_string());
    find(directory, kind, name, attrs).await?.ok_or_else(|| {
        CommandError::new(
            ExitStatus::ItemsFailed,
            format!("there is no {} {name} in {domain}", kind.word()),
        )
        .with_hint(kind.naming_hint())
        .with_code("not-found")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_name_form() {
        assert_eq!(
            name_filter(Kind::User, "jdoe"),
            "(&(&(objectCategory=person)(objectClass=user))(sAMAccountName=jdoe))"
        );
        assert_eq!(
            name_filter(Kind::Group, "cal@corp.example"),
            "(&(objectClass=group)(|(userPrincipalName=cal@corp.example)(mail=cal@corp.example)))"
        );
        assert_eq!(
            name_filter(Kind::User, "a*)(x"),
            "(&(&(objectCategory=person)(objectClass=user))(sAMAccountName=a\\2a\\29\\28x))"
        );
    }
}
