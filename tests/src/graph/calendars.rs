//! Calendars and their `calendarPermissions` as Exchange Online shows them through Graph: a
//! mailbox's calendar exists once the account has a licence with an Exchange plan and the
//! mailbox has been provisioned (before that: `Request_ResourceNotFound` for a new account,
//! then `MailboxNotEnabledForRESTAPI`), starts with the non-removable "My Organization" entry,
//! and takes new entries (POST), role changes (PATCH of `role` only) and removals (DELETE).

use std::time::{Duration, Instant};

use common::sync::lock;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::server::{Handled, Simulator, State};

/// When a new account's parts appear (eventual consistency), in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Delays {
    /// After its creation, the account is not found for this long.
    pub visible_after_ms: u64,
    /// After its licence, its mailbox is not enabled for this long.
    pub mailbox_after_ms: u64,
}

const MY_ORGANIZATION_ID: &str = "RGVmYXVsdA==";

const ALL_ROLES: [&str; 7] = [
    "none",
    "freeBusyRead",
    "limitedRead",
    "read",
    "write",
    "delegateWithoutPrivateEventAccess",
    "delegateWithPrivateEventAccess",
];

/// The calendar's first entry.
pub fn my_organization() -> Value {
    json!({"id": MY_ORGANIZATION_ID, "emailAddress": {"name": "My Organization"},
        "isRemovable": false, "isInsideOrganization": true, "role": "freeBusyRead",
        "allowedRoles": ALL_ROLES[..5]})
}

fn entry_id(address: &str) -> String {
    common::base64::encode(address.to_ascii_lowercase().as_bytes())
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

fn not_enabled() -> Handled {
    Handled::error(
        StatusCode::NOT_FOUND,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    )
}

fn invalid(message: &str) -> Handled {
    Handled::error(StatusCode::BAD_REQUEST, "ErrorInvalidRequest", message)
}

impl State {
    /// Whether Graph shows `user` yet (a new account is not found for a while).
    pub fn visible(&self, user: &Value) -> bool {
        let id = user["id"].as_str().unwrap_or("");
        self.created.get(id).is_none_or(|t| {
            Instant::now() >= *t + Duration::from_millis(self.delays.visible_after_ms)
        })
    }

    /// The id of the account `key` names whose calendar Graph shows, or the answer Graph gives
    /// while it does not (yet).
    fn calendar_owner(&self, key: &str) -> Result<String, Handled> {
        let Some(user) = super::users::find(&self.users, key) else {
            return Err(not_found(key));
        };
        let id = user["id"].as_str().unwrap_or("").to_owned();
        let now = Instant::now();
        if self
            .created
            .get(&id)
            .is_some_and(|t| now < *t + Duration::from_millis(self.delays.visible_after_ms))
        {
            return Err(not_found(key));
        }
        match self.licensed.get(&id) {
            Some(t) if now >= *t + Duration::from_millis(self.delays.mailbox_after_ms) => Ok(id),
            _ => Err(not_enabled()),
        }
    }

    /// The entries of `key`'s calendar and the index of the entry `permission`, or Graph's
    /// answer when either is not there.
    fn permission(
        &mut self,
        key: &str,
        permission: &str,
    ) -> Result<(&mut Vec<Value>, usize), Handled> {
        let id = self.calendar_owner(key)?;
        let entries = self
            .calendars
            .entry(id)
            .or_insert_with(|| vec![my_organization()]);
        match entries
            .iter()
            .position(|e| e["id"].as_str() == Some(permission))
        {
            Some(at) => Ok((entries, at)),
            None => Err(Handled::error(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified permission was not found.",
            )),
        }
    }
}

impl Simulator {
    pub(super) fn permissions(&self, key: &str) -> Handled {
        let state = lock(&self.state);
        let id = match state.calendar_owner(key) {
            Ok(id) => id,
            Err(answer) => return answer,
        };
        let entries = state
            .calendars
            .get(&id)
            .cloned()
            .unwrap_or_else(|| vec![my_organization()]);
        Handled::typed(
            StatusCode::OK,
            Some(
                json!({"@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#users('{id}')/calendar/calendarPermissions"), "value": entries}),
            ),
            None,
            Some("collection.graph.calendarPermission"),
        )
    }

    pub(super) fn add_permission(&self, key: &str, body: &[u8]) -> Handled {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return invalid("Invalid JSON.");
        };
        let mut state = lock(&self.state);
        let id = match state.calendar_owner(key) {
            Ok(id) => id,
            Err(answer) => return answer,
        };
        let Some(address) = body
            .pointer("/emailAddress/address")
            .and_then(Value::as_str)
        else {
            return invalid("The emailAddress of a new permission is required.");
        };
        let role = body["role"].as_str().unwrap_or("");
        if !ALL_ROLES.contains(&role) {
            return invalid(&format!("The role '{role}' cannot be given."));
        }
        let inside = super::tenant::DOMAINS
            .iter()
            .any(|d| address.to_ascii_lowercase().ends_with(&format!("@{d}")));
        let name = super::users::find(&state.users, address)
            .and_then(|u| u["displayName"].as_str())
            .unwrap_or(address)
            .to_owned();
        let entries = state
            .calendars
            .entry(id)
            .or_insert_with(|| vec![my_organization()]);
        if entries
            .iter()
            .any(|e| e["id"].as_str() == Some(entry_id(address).as_str()))
        {
            return invalid(&format!("A permission for {address} already exists."));
        }
        let entry = json!({"id": entry_id(address), "emailAddress": {"name": name, "address": address},
            "isRemovable": true, "isInsideOrganization": inside, "role": role,
            "allowedRoles": if inside { &ALL_ROLES[..] } else { &ALL_ROLES[..4] }});
        entries.push(entry.clone());
        Handled::typed(
            StatusCode::CREATED,
            Some(entry),
            Some("graph.calendarPermission"),
            Some("graph.calendarPermission"),
        )
    }

    pub(super) fn change_permission(&self, key: &str, permission: &str, body: &[u8]) -> Handled {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return invalid("Invalid JSON.");
        };
        if body.keys().any(|k| k != "role") {
            return invalid("Only the role of a calendar permission can be updated.");
        }
        let role = body
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut state = lock(&self.state);
        let (entries, at) = match state.permission(key, permission) {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        let entry = &mut entries[at];
        let allowed = entry["allowedRoles"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r == role.as_str()));
        if !allowed {
            return invalid(&format!(
                "The role '{role}' is not allowed for this permission."
            ));
        }
        entry["role"] = json!(role);
        Handled::typed(
            StatusCode::OK,
            Some(entry.clone()),
            Some("graph.calendarPermission"),
            Some("graph.calendarPermission"),
        )
    }

    pub(super) fn remove_permission(&self, key: &str, permission: &str) -> Handled {
        let mut state = lock(&self.state);
        let (entries, index) = match state.permission(key, permission) {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        if entries[index]["isRemovable"] == false {
            return invalid("The default permission cannot be removed.");
        }
        entries.remove(index);
        Handled::typed(StatusCode::NO_CONTENT, None, None, None)
    }
}
