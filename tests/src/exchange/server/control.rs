//! The control API tests use: JSON over plain HTTP on loopback to read counts and calendars,
//! preload calendars, change settings and access, inject faults and forget SIDs.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};

use super::super::model::{self, Member, Rights};
use super::{Access, Body, Faults, Settings, Simulator, lock, respond};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalendarDump {
    /// The change key.
    pub change_key: String,
    /// The entries: `user` is Default, Anonymous, the address or the SID.
    pub entries: Vec<EntryDump>,
    /// Entries whose SID does not resolve.
    pub unknown: Vec<String>,
}

/// An entry as the control API shows and takes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryDump {
    /// Default, Anonymous, an address, a SID, or `external:IDENTITY` for a user outside the
    /// organisation.
    pub user: String,
    /// The level (on input: a named level, unless `rights` is given).
    #[serde(default)]
    pub level: Option<String>,
    /// The rights.
    #[serde(default)]
    pub rights: Option<Rights>,
}

impl Simulator {
    fn dump(&self, mailbox: &str) -> CalendarDump {
        let calendar = self.calendar_of(mailbox);
        let (entries, unknown) = self.render(&calendar);
        CalendarDump {
            change_key: calendar.change_key(),
            entries: entries
                .into_iter()
                .map(|e| EntryDump {
                    user: e
                        .distinguished
                        .map(str::to_owned)
                        .or(e.address)
                        .or(e.sid)
                        .or(e.external.map(|x| format!("external:{x}")))
                        .unwrap_or_default(),
                    level: Some(e.level.to_owned()),
                    rights: Some(e.rights),
                })
                .collect(),
            unknown,
        }
    }

    fn preload(&self, mailbox: &str, entries: &[EntryDump]) -> Result<(), String> {
        let mut stored = Vec::new();
        for entry in entries {
            let member = match entry.user.as_str() {
                "Default" => Member::Default,
                "Anonymous" => Member::Anonymous,
                user if user.starts_with("S-1-") => Member::Sid(user.to_owned()),
                user if user.starts_with("external:") => {
                    Member::External(user.trim_start_matches("external:").to_owned())
                }
                user => Member::Sid(
                    self.directory
                        .by_mail(user)
                        .ok_or_else(|| format!("{user} is not in the directory"))?
                        .sid,
                ),
            };
            let rights = match (&entry.rights, entry.level.as_deref()) {
                (Some(rights), _) => *rights,
                (None, Some(level)) => {
                    model::level_rights(level).ok_or_else(|| format!("{level} is not a level"))?
                }
                (None, None) => return Err(format!("{} needs a level or rights", entry.user)),
            };
            stored.push((member, rights));
        }
        self.with_calendar(mailbox, |calendar| {
            calendar.entries = stored;
            calendar.change += 1;
        });
        Ok(())
    }

    /// The control API: JSON over plain HTTP on loopback.
    pub(super) async fn control(self: &Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let body = request
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let json = |value: serde_json::Value| {
            respond(
                StatusCode::OK,
                "application/json",
                serde_json::to_vec(&value).unwrap_or_default(),
            )
        };
        let bad = |message: String| respond(StatusCode::BAD_REQUEST, "text/plain", message);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            (Method::GET, ["stats"]) => {
                json(serde_json::to_value(&lock(&self.state).stats).unwrap_or_default())
            }
            (Method::GET, ["calendars", mailbox]) => {
                json(serde_json::to_value(self.dump(mailbox)).unwrap_or_default())
            }
            (Method::PUT, ["calendars", mailbox]) => {
                match serde_json::from_slice::<Vec<EntryDump>>(&body)
                    .map_err(|e| e.to_string())
                    .and_then(|e| self.preload(mailbox, &e))
                {
                    Ok(()) => json(serde_json::to_value(self.dump(mailbox)).unwrap_or_default()),
                    Err(e) => bad(e),
                }
            }
            (Method::PUT, ["settings"]) => match serde_json::from_slice::<Settings>(&body) {
                Ok(settings) => {
                    lock(&self.state).settings = settings;
                    json(serde_json::json!({"ok": true}))
                }
                Err(e) => bad(e.to_string()),
            },
            (Method::PUT, ["faults"]) => match serde_json::from_slice::<Faults>(&body) {
                Ok(faults) => {
                    lock(&self.state).faults = faults;
                    json(serde_json::json!({"ok": true}))
                }
                Err(e) => bad(e.to_string()),
            },
            (Method::PUT, ["access"]) => match serde_json::from_slice::<Access>(&body) {
                Ok(mut access) => {
                    // Looked up by lower-case address.
                    access.full_access = access
                        .full_access
                        .into_iter()
                        .map(|(mailbox, accounts)| (mailbox.to_ascii_lowercase(), accounts))
                        .collect();
                    lock(&self.state).access = access;
                    json(serde_json::json!({"ok": true}))
                }
                Err(e) => bad(e.to_string()),
            },
            (Method::POST, ["synthetic", prefix, count]) => match count.parse::<u32>() {
                Ok(count) => {
                    self.directory.add_synthetic(prefix, count);
                    json(serde_json::json!({"ok": true}))
                }
                Err(e) => bad(e.to_string()),
            },
            (Method::POST, ["forget", sid]) => {
                self.directory.forget(sid);
                json(serde_json::json!({"ok": true}))
            }
            _ => respond(StatusCode::NOT_FOUND, "text/plain", "no such control"),
        }
    }
}
