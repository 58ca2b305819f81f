//! The lab directory's contents: OUs, the people and mailboxes of `fixtures/lab/people.csv`,
//! groups, and the operator accounts the tests log on with. Written as LDIF and loaded with
//! `ldbadd` before the DC starts (50 accounts load in about a second that way).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use ad_tool::ldif;

/// The lab's DNS domain.
pub const DNS_DOMAIN: &str = "lab.example";
/// The lab's Kerberos realm.
pub const REALM: &str = "LAB.EXAMPLE";
/// The lab's NetBIOS domain name.
pub const NETBIOS_DOMAIN: &str = "LAB";
/// The domain's DN.
pub const DOMAIN_DN: &str = "DC=lab,DC=example";
/// Where the seed's service accounts go.
pub const SERVICE_ACCOUNTS_OU: &str = "OU=Service Accounts,DC=lab,DC=example";
/// The group of the calendar integration's users (nests `Utrecht Planners`).
pub const TIMETABLE_GROUP: &str = "Timetable Users";
/// Its address: a mail-enabled group, usable as a calendar grantee.
pub const TIMETABLE_GROUP_MAIL: &str = "timetable-users@lab.example";
/// Where the seed's recipients from outside the organisation go.
pub const EXTERNAL_OU: &str = "OU=External,DC=lab,DC=example";
/// A mail contact (`msExchRecipientTypeDetails` 64): in the address book, no account.
pub const CONTACT_MAIL: &str = "planning@partner.example";
/// A mail user (`msExchRecipientTypeDetails` 128): an account with an outside address and no
/// mailbox here.
pub const MAIL_USER_MAIL: &str = "jos.freelancer@partner.example";
/// `msExchRecipientTypeDetails` of a mail-enabled universal security group.
pub const MAIL_UNIVERSAL_SECURITY_GROUP: u32 = 1024;

/// An account of the lab's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// `sAMAccountName`.
    pub sam: String,
    /// The CN.
    pub cn: String,
    /// `givenName`.
    pub given: String,
    /// `sn`.
    pub surname: String,
    /// `mail`, empty for accounts without a mailbox.
    pub mail: String,
    /// The OU below the domain (`OU=Amsterdam,OU=Staff`).
    pub ou: String,
    /// The mailbox type: user, shared, room, equipment, or empty.
    pub mailbox_type: String,
    /// The mailbox's language (`nl-NL`), empty for English: its folders are named in it.
    pub culture: String,
}

impl Person {
    /// The account's DN.
    pub fn dn(&self) -> String {
        format!(
            "CN={},{},{DOMAIN_DN}",
            ad_tool::dn::escape_value(&self.cn),
            self.ou
        )
    }

    /// `msExchRecipientTypeDetails` of the mailbox, if it has one.
    pub fn recipient_type_details(&self) -> Option<u32> {
        match self.mailbox_type.as_str() {
            "user" => Some(1),
            "shared" => Some(4),
            "room" => Some(16),
            "equipment" => Some(32),
            _ => None,
        }
    }
}

/// Reads `people.csv`.
pub fn people(fixtures: &Path) -> Result<Vec<Person>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(fixtures.join("lab/people.csv"))?;
    let data =
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .fold(String::new(), |mut data, line| {
                data.push_str(line);
                data.push('\n');
                data
            });
    let mut reader = csv::Reader::from_reader(data.as_bytes());
    let mut people = Vec::new();
    for row in reader.records() {
        let row = row?;
        let field = |i: usize| row.get(i).unwrap_or_default().to_owned();
        people.push(Person {
            sam: field(0),
            cn: field(1),
            given: field(2),
            surname: field(3),
            mail: field(4),
            ou: field(5),
            mailbox_type: field(6),
            culture: field(7),
        });
    }
    Ok(people)
}

/// A password as an LDIF `unicodePwd::` value: quoted, UTF-16LE, base64.
pub fn unicode_pwd_base64(password: &str) -> String {
    let encoded = ad_tool::password::unicode_pwd(&common::secret::Secret::new(password.to_owned()));
    ldif::base64(&encoded)
}

/// Accounts the tests log on with, besides Administrator.
pub mod operators {
    /// A delegated operator: may create, manage and delete users in the Service Accounts OU.
    pub const HELPDESK: &str = "helpdesk";
    /// A plain user without any delegated rights (also a mailbox owner).
    pub const PLAIN_USER: &str = "adevries";
    /// The calendar integration's service account: no mailbox of its own, as usual.
    pub const CALENDAR_SERVICE: &str = "svc-calendar";
}

fn user_entry(
    out: &mut String,
    dn: &str,
    sam: &str,
    attrs: &[(&str, String)],
    password_b64: &str,
    uac: u32,
) {
    let _ = writeln!(
        out,
        "{}\nobjectClass: user\n{}",
        ldif::line("dn", dn),
        ldif::line("sAMAccountName", sam)
    );
    for (name, value) in attrs {
        if !value.is_empty() {
            let _ = writeln!(out, "{}", ldif::line(name, value));
        }
    }
    let _ = writeln!(
        out,
        "unicodePwd:: {password_b64}\nuserAccountControl: {uac}\n"
    );
}

/// The seed as LDIF: OUs (parents first), people, operators and groups.
pub fn seed_ldif(people: &[Person], user_password: &str) -> String {
    let password_b64 = unicode_pwd_base64(user_password);
    let mut out = String::new();
    let mut ous: BTreeSet<Vec<String>> = BTreeSet::new();
    for ou in people.iter().map(|p| p.ou.as_str()).chain([
        "OU=Service Accounts",
        "OU=Groups",
        "OU=External",
    ]) {
        let parts: Vec<String> = ou.split(',').map(str::to_owned).collect();
        for i in (0..parts.len()).rev() {
            ous.insert(parts[i..].to_vec());
        }
    }
    let mut ous: Vec<Vec<String>> = ous.into_iter().collect();
    ous.sort_by_key(Vec::len);
    for ou in ous {
        let _ = writeln!(
            out,
            "dn: {},{DOMAIN_DN}\nobjectClass: organizationalUnit\n",
            ou.join(",")
        );
    }
    for person in people {
        let mut attrs = vec![
            ("displayName", person.cn.clone()),
            ("givenName", person.given.clone()),
            ("sn", person.surname.clone()),
            ("mail", person.mail.clone()),
        ];
        if !person.mail.is_empty() {
            attrs.push(("userPrincipalName", format!("{}@{DNS_DOMAIN}", person.sam)));
        }
        if let Some(t) = person.recipient_type_details() {
            attrs.push(("msExchRecipientTypeDetails", t.to_string()));
        }
        // Room, equipment and shared mailboxes are disabled accounts, as Exchange makes them.
        let uac = if matches!(
            person.mailbox_type.as_str(),
            "room" | "equipment" | "shared"
        ) {
            514
        } else {
            512
        };
        user_entry(
            &mut out,
            &person.dn(),
            &person.sam,
            &attrs,
            &password_b64,
            uac,
        );
    }
    user_entry(
        &mut out,
        &format!("CN=Helpdesk Operator,OU=Staff,{DOMAIN_DN}"),
        operators::HELPDESK,
        &[
            (
                "userPrincipalName",
                format!("{}@{DNS_DOMAIN}", operators::HELPDESK),
            ),
            ("displayName", "Helpdesk Operator".into()),
        ],
        &password_b64,
        512,
    );
    user_entry(
        &mut out,
        &format!("CN={},{SERVICE_ACCOUNTS_OU}", operators::CALENDAR_SERVICE),
        operators::CALENDAR_SERVICE,
        &[
            (
                "userPrincipalName",
                format!("{}@{DNS_DOMAIN}", operators::CALENDAR_SERVICE),
            ),
            ("displayName", "Calendar integration".into()),
        ],
        &password_b64,
        66048,
    );
    let group = |out: &mut String, cn: &str, group_type: i32, members: &[String]| {
        let _ = writeln!(
            out,
            "dn: CN={cn},OU=Groups,{DOMAIN_DN}\nobjectClass: group\nsAMAccountName: {cn}\ngroupType: {group_type}"
        );
        if cn == TIMETABLE_GROUP {
            // What Exchange's Enable-DistributionGroup leaves in the directory for a universal
            // security group (the lab has no Exchange to run it): its address and its
            // recipient type. A group with a mail attribute alone is not a recipient.
            let _ = writeln!(
                out,
                "mail: {TIMETABLE_GROUP_MAIL}\nmsExchRecipientTypeDetails: {MAIL_UNIVERSAL_SECURITY_GROUP}"
            );
        }
        for member in members {
            let _ = writeln!(out, "{}", ldif::line("member", member));
        }
        out.push('\n');
    };
    // Recipients from outside: a mail contact and a mail user, as New-MailContact and
    // New-MailUser would leave them.
    let _ = writeln!(
        out,
        "dn: CN=Partner Planning,{EXTERNAL_OU}\nobjectClass: contact\ndisplayName: Partner Planning\nmail: {CONTACT_MAIL}\nmsExchRecipientTypeDetails: 64\n"
    );
    user_entry(
        &mut out,
        &format!("CN=Jos Freelancer,{EXTERNAL_OU}"),
        "jfreelancer",
        &[
            ("displayName", "Jos Freelancer".into()),
            ("mail", MAIL_USER_MAIL.into()),
            ("msExchRecipientTypeDetails", "128".into()),
        ],
        &password_b64,
        512,
    );
    let utrecht_planners: Vec<String> = people
        .iter()
        .filter(|p| p.ou.starts_with("OU=Utrecht") && p.recipient_type_details().is_some())
        .take(3)
        .map(Person::dn)
        .collect();
    group(
        &mut out,
        "Utrecht Planners",
        ad_tool::group::group_type(
            ad_tool::group::Scope::Global,
            ad_tool::group::Category::Security,
        ),
        &utrecht_planners,
    );
    let mut timetable: Vec<String> = people
        .iter()
        .filter(|p| p.ou.starts_with("OU=Amsterdam") && p.recipient_type_details().is_some())
        .map(Person::dn)
        .collect();
    timetable.push(format!("CN=Utrecht Planners,OU=Groups,{DOMAIN_DN}"));
    group(
        &mut out,
        TIMETABLE_GROUP,
        ad_tool::group::group_type(
            ad_tool::group::Scope::Universal,
            ad_tool::group::Category::Security,
        ),
        &timetable,
    );
    out
}
