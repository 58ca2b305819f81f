//! An Exchange-only licence, decided from the tenant's live data: the SKU found by its part
//! number among `subscribedSkus`, its service plans split into the ones asked for (`--only`)
//! and every other (`disabledPlans`), and what the account's current assignment means: nothing
//! to do, or one `assignLicense` that adds the SKU with those disabled plans. A plan Microsoft
//! adds to the SKU later is disabled on the next run, because the list is never hard-coded.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// A service plan of a SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `servicePlanId`.
    pub id: String,
    /// `servicePlanName` (`EXCHANGE_S_ENTERPRISE`).
    pub name: String,
}

/// A SKU the tenant has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku {
    /// `skuId`.
    pub id: String,
    /// `skuPartNumber` (`ENTERPRISEPACK`).
    pub part_number: String,
    /// Its plans that apply to users.
    pub plans: Vec<Plan>,
    /// `prepaidUnits.enabled`.
    pub enabled_units: i64,
    /// `consumedUnits`.
    pub consumed_units: i64,
}

/// Why a licence cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    /// No SKU with that part number.
    #[error("the tenant has no SKU {asked} (it has: {available})")]
    NoSuchSku {
        /// Asked for.
        asked: String,
        /// What there is.
        available: String,
    },
    /// A plan the SKU does not have.
    #[error("{sku} has no service plan {asked} (it has: {available})")]
    NoSuchPlan {
        /// The SKU.
        sku: String,
        /// Asked for.
        asked: String,
        /// What there is.
        available: String,
    },
    /// Every unit is taken.
    #[error("{sku} has no free licence: {consumed} of {enabled} are assigned")]
    NoFreeUnits {
        /// The SKU.
        sku: String,
        /// Units assigned.
        consumed: i64,
        /// Units bought.
        enabled: i64,
    },
}

/// Reads `subscribedSkus`.
pub fn read_skus(answer: &Value) -> Vec<Sku> {
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    answer
        .get("value")
        .and_then(Value::as_array)
        .map(|skus| {
            skus.iter()
                .map(|sku| Sku {
                    id: text(sku, "skuId"),
                    part_number: text(sku, "skuPartNumber"),
                    plans: sku
                        .get("servicePlans")
                        .and_then(Value::as_array)
                        .map(|plans| {
                            plans
                                .iter()
                                .filter(|p| {
                                    p.get("appliesTo")
                                        .and_then(Value::as_str)
                                        .is_none_or(|a| a.eq_ignore_ascii_case("User"))
                                })
                                .map(|p| Plan {
                                    id: text(p, "servicePlanId"),
                                    name: text(p, "servicePlanName"),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    enabled_units: sku
                        .pointer("/prepaidUnits/enabled")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    consumed_units: sku
                        .get("consumedUnits")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The licence to give: the SKU, and its plans split into enabled and disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    /// The SKU.
    pub sku: Sku,
    /// The plans left on (`--only`).
    pub enabled: Vec<Plan>,
    /// Every other plan.
    pub disabled: Vec<Plan>,
}

/// Finds the SKU `part_number` and splits its plans by `only` (names, any case).
pub fn plan(skus: &[Sku], part_number: &str, only: &[String]) -> Result<Licence, LicenseError> {
    let sku = skus
        .iter()
        .find(|s| s.part_number.eq_ignore_ascii_case(part_number))
        .ok_or_else(|| LicenseError::NoSuchSku {
            asked: part_number.to_owned(),
            available: skus
                .iter()
                .map(|s| s.part_number.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    for name in only {
        if !sku.plans.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
            return Err(LicenseError::NoSuchPlan {
                sku: sku.part_number.clone(),
                asked: name.clone(),
                available: sku
                    .plans
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let (enabled, disabled): (Vec<Plan>, Vec<Plan>) = sku
        .plans
        .iter()
        .cloned()
        .partition(|p| only.is_empty() || only.iter().any(|o| p.name.eq_ignore_ascii_case(o)));
    Ok(Licence {
        sku: sku.clone(),
        enabled,
        disabled,
    })
}

/// What the account's current licences mean for `licence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It has the SKU with exactly these plans disabled.
    Unchanged,
    /// It has the SKU with other plans disabled: assign again.
    Update,
    /// It does not have the SKU: a free unit is needed.
    Add,
}

/// Compares the account's `assignedLicenses` with `licence`.
pub fn decide(assigned: &Value, licence: &Licence) -> Decision {
    let Some(current) = assigned.as_array().and_then(|a| {
        a.iter().find(|l| {
            l.get("skuId")
                .and_then(Value::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(&licence.sku.id))
        })
    }) else {
        return Decision::Add;
    };
    let have: BTreeSet<String> = current
        .get("disabledPlans")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default();
    let want: BTreeSet<String> = licence
        .disabled
        .iter()
        .map(|p| p.id.to_ascii_lowercase())
        .collect();
    if have == want {
        Decision::Unchanged
    } else {
        Decision::Update
    }
}

/// Refuses an addition when no unit is free.
pub fn check_units(licence: &Licence) -> Result<(), LicenseError> {
    if licence.sku.consumed_units >= licence.sku.enabled_units {
        return Err(LicenseError::NoFreeUnits {
            sku: licence.sku.part_number.clone(),
            consumed: licence.sku.consumed_units,
            enabled: licence.sku.enabled_units,
        });
    }
    Ok(())
}

/// The `assignLicense` body: the SKU with its disabled plans, and nothing removed (Graph wants
/// both lists).
pub fn assign_body(licence: &Licence) -> Value {
    json!({
        "addLicenses": [{
            "skuId": licence.sku.id,
            "disabledPlans": licence.disabled.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        }],
        "removeLicenses": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skus() -> Vec<Sku> {
        read_skus(&json!({"value": [{
        "skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900",
        "skuPartNumber": "ENTERPRISEPACK",
        "consumedUnits": 3,
        "prepaidUnits": {"enabled": 5},
        "servicePlans": [
            {"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "servicePlanName": "EXCHANGE_S_ENTERPRISE", "appliesTo": "User"},
            {"servicePlanId": "5dbe027f-2339-4123-9542-606e4d348a72", "servicePlanName": "SHAREPOINTENTERPRISE", "appliesTo": "User"},
            {"servicePlanId": "57ff2da0-773e-42df-b2af-ffb7a2317929", "servicePlanName": "TEAMS1", "appliesTo": "User"},
            {"servicePlanId": "00000000-0000-0000-0000-00000000c0de", "servicePlanName": "TENANT_ONLY", "appliesTo": "Company"}
        ]}]}))
    }

    #[test]
    fn every_other_user_plan_is_disabled() {
        let licence = plan(&skus(), "enterprisepack", &["exchange_s_enterprise".into()]).unwrap();
        assert_eq!(licence.enabled.len(), 1);
        assert_eq!(
            licence
                .disabled
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["SHAREPOINTENTERPRISE", "TEAMS1"]
        );
        let body = assign_body(&licence);
        assert_eq!(body["removeLicenses"], json!([]));
        assert_eq!(
            body["addLicenses"][0]["disabledPlans"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn unknown_skus_and_plans_name_what_there_is() {
        let error = plan(&skus(), "SPE_E5", &[]).unwrap_err();
        assert!(
            error.to_string().contains("it has: ENTERPRISEPACK"),
            "{error}"
        );
        let error = plan(&skus(), "ENTERPRISEPACK", &["EXCHANGE".into()]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("EXCHANGE_S_ENTERPRISE, SHAREPOINTENTERPRISE, TEAMS1"),
            "{error}"
        );
    }

    #[test]
    fn the_current_assignment_decides() {
        let licence = plan(&skus(), "ENTERPRISEPACK", &["EXCHANGE_S_ENTERPRISE".into()]).unwrap();
        assert_eq!(decide(&json!([]), &licence), Decision::Add);
        let same = json!([{"skuId": licence.sku.id, "disabledPlans": [
            "57FF2DA0-773E-42DF-B2AF-FFB7A2317929", "5dbe027f-2339-4123-9542-606e4d348a72"]}]);
        assert_eq!(decide(&same, &licence), Decision::Unchanged);
        // A plan added to the SKU since is not yet disabled: assign again.
        let older = json!([{"skuId": licence.sku.id, "disabledPlans": ["5dbe027f-2339-4123-9542-606e4d348a72"]}]);
        assert_eq!(decide(&older, &licence), Decision::Update);
        assert!(check_units(&licence).is_ok());
        let mut full = licence.clone();
        full.sku.consumed_units = 5;
        assert!(
            check_units(&full)
                .unwrap_err()
                .to_string()
                .contains("5 of 5")
        );
    }
}
