//! The simulated tenant: its id and verified domains, the app registration the tool signs in
//! as (its secret, certificate and granted application permissions), the SKUs it bought with
//! their real service plans, and its users.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The lab tenant's id.
pub const TENANT_ID: &str = "4d1c6a1e-2f0a-4c55-9e34-7b1a6c0f5e21";

/// The lab tenant's verified domains.
pub const DOMAINS: [&str; 2] = ["lab.example", "labexample.onmicrosoft.com"];

/// The tenant's administrator, who signs in with a device code.
pub const ADMIN_UPN: &str = "admin@labexample.onmicrosoft.com";

/// The app registration's client id.
pub const CLIENT_ID: &str = "9b2f6c1d-51a4-4b6e-8f0d-3c7e2a9d1b44";

/// What the app may do, and how it proves who it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct App {
    /// The client secret.
    pub secret: String,
    /// The registered certificate's SHA-1 thumbprint (base64url), as `x5t` carries it.
    pub x5t: String,
    /// The registered certificate's public key (PEM).
    pub public_key_pem: String,
    /// Application permissions granted with admin consent.
    pub roles: Vec<String>,
}

impl Default for App {
    fn default() -> Self {
        Self {
            secret: String::new(),
            x5t: String::new(),
            public_key_pem: String::new(),
            roles: [
                "User.ReadWrite.All",
                "Organization.Read.All",
                "LicenseAssignment.ReadWrite.All",
                "Calendars.ReadWrite",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

/// One plan of a SKU: (id, name).
const E3_PLANS: [(&str, &str); 12] = [
    (
        "efb87545-963c-4e0d-99df-69c6916d9eb0",
        "EXCHANGE_S_ENTERPRISE",
    ),
    (
        "5dbe027f-2339-4123-9542-606e4d348a72",
        "SHAREPOINTENTERPRISE",
    ),
    ("0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "MCOSTANDARD"),
    ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"),
    ("43de0ff5-c92c-492b-9116-175376d08c38", "OFFICESUBSCRIPTION"),
    ("a23b959c-7ce8-4e57-9140-b90eb88a9e97", "SWAY"),
    ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YAMMER_ENTERPRISE"),
    ("882e1d05-acd1-4ccb-8708-6ee03664b117", "INTUNE_O365"),
    ("2789c901-c14e-48ab-a76a-be334d9d793a", "FORMS_PLAN_E3"),
    (
        "b737dad2-2f6c-4c65-90e3-ca563267e8b9",
        "PROJECTWORKMANAGEMENT",
    ),
    ("bea4c11e-220a-4e6d-8eb8-8ea15d019f90", "RMS_S_ENTERPRISE"),
    ("c87f142c-d1e9-4363-8630-aaea9c4d9ae5", "BPOS_S_TODO_2"),
];

/// Office 365 E3's SKU id.
pub const E3_SKU: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

/// A SKU as `subscribedSkus` lists it.
pub fn sku(id: &str, part: &str, plans: &[(&str, &str)], enabled: i64, consumed: i64) -> Value {
    json!({
        "accountId": TENANT_ID,
        "accountName": "Lab",
        "appliesTo": "User",
        "capabilityStatus": "Enabled",
        "consumedUnits": consumed,
        "id": format!("{TENANT_ID}_{id}"),
        "skuId": id,
        "skuPartNumber": part,
        "subscriptionIds": [super::guid()],
        "prepaidUnits": {"enabled": enabled, "lockedOut": 0, "suspended": 0, "warning": 0},
        "servicePlans": plans.iter().map(|(id, name)| json!({
            "servicePlanId": id,
            "servicePlanName": name,
            "provisioningStatus": "Success",
            "appliesTo": "User",
        })).chain(std::iter::once(json!({
            "servicePlanId": "113feb6c-3fe4-4440-bddc-54d774bf0318",
            "servicePlanName": "EXCHANGE_S_FOUNDATION",
            "provisioningStatus": "Success",
            "appliesTo": "Company",
        }))).collect::<Vec<_>>(),
    })
}

/// The SKUs the lab tenant bought: Office 365 E3 (25 units) and Exchange Online Plan 1 (none
/// free).
pub fn default_skus() -> Vec<Value> {
    vec![
        sku(E3_SKU, "ENTERPRISEPACK", &E3_PLANS, 25, 3),
        sku(
            "4b9405b0-7788-4568-add1-99614e613b69",
            "EXCHANGESTANDARD",
            &[(
                "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
                "EXCHANGE_S_STANDARD",
            )],
            2,
            2,
        ),
    ]
}
