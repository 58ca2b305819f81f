//! A SOAP request's way in: the version and impersonation checks, injected errors, and the
//! dispatch to the operations ([`super::folder_ops`], [`super::permission_ops`],
//! [`super::names`]); anything else is answered as an operation this server does not offer.

use http::StatusCode;

use super::super::directory::Principal;
use super::super::responses;
use super::super::soap::{self, Element};
use super::{Simulator, lock};

impl Simulator {
    /// Handles one SOAP request; returns the status, the body and the operation's name.
    pub(super) fn soap(
        &self,
        envelope: &Result<Element, String>,
        account: &Principal,
    ) -> (StatusCode, String, String) {
        let settings = self.settings();
        let fault = |code: &str, text: &str| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                soap::fault(code, text, None),
                "fault".to_owned(),
            )
        };
        let envelope = match envelope {
            Ok(envelope) => envelope,
            Err(e) => {
                return fault(
                    "ErrorSchemaValidation",
                    &format!("The request failed schema validation: {e}"),
                );
            }
        };
        let version = envelope
            .path(&["Header", "RequestServerVersion"])
            .and_then(|v| v.attribute("Version"))
            .unwrap_or("Exchange2007_SP1");
        if let Err(code) = settings.profile.accepts(version) {
            return fault(code, "The specified server version is invalid.");
        }
        let impersonated = match envelope.path(&[
            "Header",
            "ExchangeImpersonation",
            "ConnectingSID",
        ]) {
            None => None,
            Some(sid) => {
                let allowed = lock(&self.state)
                    .access
                    .impersonation
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&account.sam));
                if !allowed {
                    return fault(
                        "ErrorImpersonateUserDenied",
                        "The account does not have permission to impersonate the requested user.",
                    );
                }
                let target = sid.children.first().and_then(|c| match c.name.as_str() {
                    "PrimarySmtpAddress" | "SmtpAddress" => self.directory.by_mail(c.text.trim()),
                    "PrincipalName" => self.directory.by_logon(c.text.trim()),
                    "SID" => self.directory.by_sid(c.text.trim()),
                    _ => None,
                });
                match target {
                    Some(t) => Some(t),
                    None => {
                        return fault(
                            "ErrorNonExistentMailbox",
                            "The impersonated user could not be found.",
                        );
                    }
                }
            }
        };
        let Some(operation) = envelope.child("Body").and_then(|b| b.children.first()) else {
            return fault("ErrorSchemaValidation", "The request has no operation.");
        };
        let name = operation.name.clone();
        let server = settings.profile.server_version();
        let injected = lock(&self.state).faults.take_error(&name);
        if let Some(error) = injected {
            return (
                StatusCode::OK,
                soap::envelope(
                    &server,
                    &responses::folder_response(
                        &name,
                        &[Err((error.code, error.text))],
                        error.back_off_ms,
                    ),
                ),
                name,
            );
        }
        // The Exchange 2013 schema on: what 2010 requests cannot carry or be answered with.
        let modern = !(version.starts_with("Exchange2007") || version.starts_with("Exchange2010"));
        let body = match name.as_str() {
            "GetFolder" => {
                let mut results =
                    match self.get_folder(operation, account, impersonated.as_ref(), modern) {
                        Ok(results) => results,
                        Err(schema) => return fault("ErrorSchemaValidation", &schema),
                    };
                if lock(&self.state).faults.take_omit_change_key() {
                    for view in results.iter_mut().flatten() {
                        view.change_key.clear();
                    }
                }
                responses::folder_response("GetFolder", &results, None)
            }
            "UpdateFolder" => match self.update_folder(operation, account, impersonated.as_ref()) {
                Ok(results) => responses::folder_response("UpdateFolder", &results, None),
                Err(schema) => {
                    return fault(
                        "ErrorSchemaValidation",
                        &format!("The request failed schema validation: {schema}"),
                    );
                }
            },
            "FindFolder" => {
                match self.find_folder(operation, account, impersonated.as_ref(), modern) {
                    Ok(pages) => responses::find_folder_response(&pages),
                    Err(schema) => return fault("ErrorSchemaValidation", &schema),
                }
            }
            "ConvertId" => responses::convert_id_response(&self.convert_id(operation)),
            "ResolveNames" => self.resolve_names(operation),
            "ExpandDL" => self.expand_dl(operation),
            // Not a version problem: clients that step the version down on
            // ErrorInvalidRequest or ErrorInvalidServerVersion must not retry this.
            other => {
                return fault(
                    "ErrorInvalidOperation",
                    &format!(
                        "The operation {other} is not available on this server: the lab's Exchange simulator answers GetFolder, FindFolder, UpdateFolder, ConvertId, ResolveNames and ExpandDL."
                    ),
                );
            }
        };
        (StatusCode::OK, soap::envelope(&server, &body), name)
    }
}
