//! What an Exchange installation publishes about itself in the lab's directory and DNS, for
//! Autodiscover: service connection points under the configuration partition (one for the
//! DC's site, pointing at [`WEB_HOST`], and one for a far site that must not be tried first),
//! the `_autodiscover._tcp` SRV record, and `webmail`, a CNAME alias of [`WEB_HOST`].

use std::fmt::Write as _;

use crate::kerberos::WEB_HOST;
use crate::samba::SambaDc;
use crate::seed::{DNS_DOMAIN, DOMAIN_DN};

/// The Autodiscover URL the site's SCP names.
pub fn scp_url() -> String {
    format!("https://{WEB_HOST}/autodiscover/autodiscover.xml")
}

/// The far site's Autodiscover URL (a host no resolver knows).
pub const FAR_SCP_URL: &str = "https://far-site.lab.example/autodiscover/autodiscover.xml";

/// The keyword of an Autodiscover URL SCP.
pub const AUTODISCOVER_KEYWORD: &str = "77378F46-2C66-4aa9-A6A6-3E7A48B19596";

/// The DC's site (Samba's provisioning names it as Windows does).
pub const SITE: &str = "Default-First-Site-Name";

/// The alias of [`WEB_HOST`] in the lab's DNS.
pub const ALIAS: &str = "webmail.lab.example";

fn exchange_dn() -> String {
    format!("CN=Microsoft Exchange,CN=Services,CN=Configuration,{DOMAIN_DN}")
}

/// The LDIF adding the containers Exchange's setup makes and one SCP per server (`name`,
/// URL, site); containers stand in for Exchange's own classes, which Samba's schema lacks.
fn ldif() -> String {
    let organisation = format!("CN=Lab,{}", exchange_dn());
    let group = format!(
        "CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,{organisation}"
    );
    let mut containers = vec![
        exchange_dn(),
        organisation.clone(),
        format!("CN=Administrative Groups,{organisation}"),
        group.clone(),
        format!("CN=Servers,{group}"),
    ];
    let mut scps = Vec::new();
    for (server, url, site) in [
        ("MAIL", scp_url(), SITE),
        ("FAR", FAR_SCP_URL.to_owned(), "Far-Away-Site"),
    ] {
        let server_dn = format!("CN={server},CN=Servers,{group}");
        let protocol = format!("CN=Autodiscover,CN=Protocols,{server_dn}");
        containers.extend([
            server_dn.clone(),
            format!("CN=Protocols,{server_dn}"),
            protocol.clone(),
        ]);
        scps.push(format!(
            "dn: CN={server},{protocol}\nchangetype: add\nobjectClass: serviceConnectionPoint\nkeywords: {AUTODISCOVER_KEYWORD}\nkeywords: Site={site}\nserviceBindingInformation: {url}\n"
        ));
    }
    let mut text = String::new();
    for dn in containers {
        let _ = write!(
            text,
            "dn: {dn}\nchangetype: add\nobjectClass: container\n\n"
        );
    }
    text.push_str(&scps.join("\n"));
    text
}

/// Publishes the records in `dc` (once per DC).
pub(crate) fn publish(dc: &SambaDc) -> Result<(), String> {
    let out = dc.ldapmodify(&dc.admin_upn(), &dc.admin_password_file, &ldif());
    if !out.status.success() {
        return Err(format!(
            "adding the Autodiscover SCPs failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let server = dc.server();
    let srv = format!("{WEB_HOST} 443 0 0");
    let alias = ALIAS.trim_end_matches(&format!(".{DNS_DOMAIN}"));
    let steps: [&[&str]; 2] = [
        &[
            "dns",
            "add",
            &server,
            DNS_DOMAIN,
            "_autodiscover._tcp",
            "SRV",
            &srv,
        ],
        &["dns", "add", &server, DNS_DOMAIN, alias, "CNAME", WEB_HOST],
    ];
    for step in steps {
        let out = dc.samba_tool_remote(step);
        if !out.status.success() {
            return Err(format!(
                "samba-tool {} failed: {}",
                step[..2].join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scp_sits_under_its_server_with_the_keyword_and_site() {
        let text = ldif();
        assert!(text.contains(&format!(
            "dn: CN=MAIL,CN=Autodiscover,CN=Protocols,CN=MAIL,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Lab,CN=Microsoft Exchange,CN=Services,CN=Configuration,{DOMAIN_DN}"
        )));
        assert_eq!(
            text.matches("objectClass: serviceConnectionPoint").count(),
            2
        );
        assert!(text.contains(&format!("keywords: Site={SITE}")));
    }
}
