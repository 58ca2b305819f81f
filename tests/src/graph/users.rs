//! `/users`, `subscribedSkus` and `assignLicense` as Graph answers them: a creation checked
//! for its required properties, a verified domain, a unique UPN and the tenant's password
//! rules; reads with `$select`; updates; licences refused without a usage location or a free
//! unit, and with plans the SKU does not have.

use std::collections::HashMap;

use common::sync::lock;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::server::{Handled, Simulator};
use super::tenant::DOMAINS;

const CONTEXT_USER: &str = "https://graph.microsoft.com/v1.0/$metadata#users/$entity";

/// What `GET /users/{id}` returns without `$select`.
const DEFAULT_PROPERTIES: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Properties a creation or update may set here.
const WRITABLE: [&str; 8] = [
    "accountEnabled",
    "displayName",
    "mailNickname",
    "userPrincipalName",
    "usageLocation",
    "passwordPolicies",
    "passwordProfile",
    "givenName",
];

/// A user by id or by UPN (any case).
pub fn find<'a, S: std::hash::BuildHasher>(
    users: &'a HashMap<String, Value, S>,
    key: &str,
) -> Option<&'a Value> {
    users.get(key).or_else(|| {
        users.values().find(|u| {
            u.get("userPrincipalName")
                .and_then(Value::as_str)
                .is_some_and(|upn| upn.eq_ignore_ascii_case(key))
        })
    })
}

fn bad(message: &str) -> Handled {
    Handled::error(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

fn not_found(key: &str) -> Handled {
    Handled::error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// Microsoft Entra ID's rule: 8 to 256 characters, three of four kinds.
fn complex_enough(password: &str) -> bool {
    let kinds = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    (8..=256).contains(&password.chars().count()) && kinds.iter().filter(|k| **k).count() >= 3
}

fn select(query: &str) -> Option<Vec<String>> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let name = super::server::decode(name);
        (name == "$select").then(|| {
            super::server::decode(value)
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect()
        })
    })
}

fn check_writable(body: &Map<String, Value>) -> Result<(), Handled> {
    for key in body.keys() {
        if !WRITABLE.contains(&key.as_str()) {
            return Err(bad(&format!(
                "Property '{key}' does not exist on type 'microsoft.graph.user' or is read-only here."
            )));
        }
    }
    if let Some(password) = body
        .get("passwordProfile")
        .and_then(|p| p.get("password"))
        .and_then(Value::as_str)
        && !complex_enough(password)
    {
        return Err(bad(
            "The specified password does not comply with password complexity requirements. Please provide a different password.",
        ));
    }
    Ok(())
}

impl Simulator {
    pub(super) fn subscribed_skus(&self) -> Handled {
        let skus = lock(&self.state).skus.clone();
        Handled::typed(
            StatusCode::OK,
            Some(
                json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus", "value": skus}),
            ),
            None,
            Some("collection.graph.subscribedSku"),
        )
    }

    pub(super) fn create_user(&self, body: &[u8]) -> Handled {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return bad("Invalid JSON in the request body.");
        };
        for required in [
            "accountEnabled",
            "displayName",
            "mailNickname",
            "userPrincipalName",
            "passwordProfile",
        ] {
            if !body.contains_key(required) {
                return bad(&format!(
                    "Invalid value specified for property '{required}' of resource 'User'."
                ));
            }
        }
        if let Err(refused) = check_writable(&body) {
            return refused;
        }
        let upn = body["userPrincipalName"].as_str().unwrap_or("").to_owned();
        let domain = upn.rsplit_once('@').map_or("", |(_, d)| d);
        if !DOMAINS.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
            return bad(
                "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
            );
        }
        let mut state = lock(&self.state);
        if find(&state.users, &upn).is_some() {
            return bad(
                "Another object with the same value for property userPrincipalName already exists.",
            );
        }
        let id = super::guid();
        let mut user = Map::new();
        user.insert("id".into(), json!(id));
        for (key, value) in &body {
            if key != "passwordProfile" {
                user.insert(key.clone(), value.clone());
            }
        }
        user.insert("mail".into(), json!(upn));
        user.insert("assignedLicenses".into(), json!([]));
        user.insert("businessPhones".into(), json!([]));
        user.entry("passwordPolicies").or_insert(json!("None"));
        user.entry("usageLocation").or_insert(Value::Null);
        let user = Value::Object(user);
        state.created.insert(id.clone(), std::time::Instant::now());
        state.users.insert(id, user.clone());
        let mut answer = user;
        answer["@odata.context"] = json!(CONTEXT_USER);
        if let Some(map) = answer.as_object_mut() {
            map.remove("assignedLicenses");
            map.remove("passwordPolicies");
        }
        Handled::typed(
            StatusCode::CREATED,
            Some(answer),
            Some("graph.user"),
            Some("graph.user"),
        )
    }

    pub(super) fn read_user(&self, key: &str, query: &str) -> Handled {
        let state = lock(&self.state);
        let Some(user) = find(&state.users, key).filter(|u| state.visible(u)) else {
            return not_found(key);
        };
        let wanted: Vec<String> =
            select(query).unwrap_or_else(|| DEFAULT_PROPERTIES.map(str::to_owned).to_vec());
        let mut answer = Map::new();
        answer.insert("@odata.context".into(), json!(CONTEXT_USER));
        for name in wanted {
            answer.insert(
                name.clone(),
                user.get(&name).cloned().unwrap_or(Value::Null),
            );
        }
        Handled::typed(
            StatusCode::OK,
            Some(Value::Object(answer)),
            None,
            Some("graph.user"),
        )
    }

    pub(super) fn update_user(&self, key: &str, body: &[u8]) -> Handled {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return bad("Invalid JSON in the request body.");
        };
        if let Err(refused) = check_writable(&body) {
            return refused;
        }
        let mut state = lock(&self.state);
        let Some(id) = find(&state.users, key)
            .and_then(|u| u.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return not_found(key);
        };
        if let Some(user) = state.users.get_mut(&id) {
            for (name, value) in body {
                if name != "passwordProfile" {
                    user[name.as_str()] = value;
                }
            }
        }
        Handled::typed(StatusCode::NO_CONTENT, None, Some("graph.user"), None)
    }

    pub(super) fn assign_license(&self, key: &str, body: &[u8]) -> Handled {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return bad("Invalid JSON in the request body.");
        };
        let (Some(add), Some(remove)) = (
            body.get("addLicenses").and_then(Value::as_array),
            body.get("removeLicenses").and_then(Value::as_array),
        ) else {
            return bad(
                "Invalid value specified for property 'addLicenses' or 'removeLicenses' of resource 'User': both are required.",
            );
        };
        let mut state = lock(&self.state);
        let Some(user) = find(&state.users, key)
            .filter(|u| state.visible(u))
            .cloned()
        else {
            return not_found(key);
        };
        if user
            .get("usageLocation")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return bad("License assignment cannot be done for user with invalid usage location.");
        }
        let id = user["id"].as_str().unwrap_or("").to_owned();
        let mut assigned: Vec<Value> = user
            .get("assignedLicenses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for licence in add {
            let sku_id = licence.get("skuId").and_then(Value::as_str).unwrap_or("");
            let Some(sku) = state
                .skus
                .iter()
                .position(|s| s["skuId"].as_str() == Some(sku_id))
            else {
                return bad(&format!(
                    "License {sku_id} does not correspond to a valid company License."
                ));
            };
            let plans: Vec<&str> = state.skus[sku]["servicePlans"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(|p| p["servicePlanId"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let disabled = licence
                .get("disabledPlans")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(stray) = disabled
                .iter()
                .filter_map(Value::as_str)
                .find(|d| !plans.iter().any(|p| p.eq_ignore_ascii_case(d)))
            {
                return bad(&format!(
                    "Service plan {stray} is not part of license {sku_id}."
                ));
            }
            let had = assigned.iter().any(|a| a["skuId"].as_str() == Some(sku_id));
            if !had {
                let consumed = state.skus[sku]["consumedUnits"].as_i64().unwrap_or(0);
                let enabled = state.skus[sku]["prepaidUnits"]["enabled"]
                    .as_i64()
                    .unwrap_or(0);
                if consumed >= enabled {
                    return bad(
                        "License assignment failed because there are no available licenses.",
                    );
                }
                state.skus[sku]["consumedUnits"] = json!(consumed + 1);
            }
            assigned.retain(|a| a["skuId"].as_str() != Some(sku_id));
            assigned.push(json!({"skuId": sku_id, "disabledPlans": disabled}));
            // An enabled Exchange plan provisions the mailbox.
            let exchange = state.skus[sku]["servicePlans"]
                .as_array()
                .is_some_and(|plans| {
                    plans.iter().any(|p| {
                        p["servicePlanName"].as_str().is_some_and(|n| {
                            n.starts_with("EXCHANGE_S_") && n != "EXCHANGE_S_FOUNDATION"
                        }) && !disabled
                            .iter()
                            .any(|d| d.as_str() == p["servicePlanId"].as_str())
                    })
                });
            if exchange {
                state
                    .licensed
                    .entry(id.clone())
                    .or_insert_with(std::time::Instant::now);
            }
        }
        for sku_id in remove.iter().filter_map(Value::as_str) {
            assigned.retain(|a| a["skuId"].as_str() != Some(sku_id));
        }
        if let Some(stored) = state.users.get_mut(&id) {
            stored["assignedLicenses"] = json!(assigned);
        }
        let answer = json!({"@odata.context": CONTEXT_USER, "id": id,
            "displayName": user["displayName"], "userPrincipalName": user["userPrincipalName"],
            "businessPhones": [], "mail": user["mail"]});
        Handled::typed(
            StatusCode::OK,
            Some(answer),
            Some("action.assignLicense"),
            Some("graph.user"),
        )
    }
}
