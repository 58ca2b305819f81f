//! Stands in for Exchange's `Enable-DistributionGroup`, which the lab cannot run (it has no
//! Exchange Management Shell): it writes what that cmdlet leaves in the directory for a
//! universal security group, `msExchRecipientTypeDetails` 1024 (MailUniversalSecurityGroup),
//! beside the `mail` address ad-tool set. Exchange also writes proxyAddresses,
//! legacyExchangeDN and the address-book attributes; the simulator reads only this one.

use crate::samba::SambaDc;
use crate::seed::MAIL_UNIVERSAL_SECURITY_GROUP;

/// Makes the group at `dn` a recipient, as `Enable-DistributionGroup -Identity DN` would.
pub fn enable_distribution_group(dc: &SambaDc, dn: &str) -> Result<(), String> {
    let ldif = format!(
        "{}\nchangetype: modify\nreplace: msExchRecipientTypeDetails\nmsExchRecipientTypeDetails: {MAIL_UNIVERSAL_SECURITY_GROUP}\n-\n",
        ad_tool::ldif::line("dn", dn)
    );
    let output = dc.ldapmodify(&dc.admin_upn(), &dc.admin_password_file, &ldif);
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mail-enabling {dn}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
