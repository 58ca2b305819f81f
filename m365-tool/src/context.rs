//! What every command gets: the parsed shared options and a way to a signed-in Graph client.

use std::time::Duration;

use common::args::GlobalArgs;
use common::output::Shape;
use common::secret::read_secret;
use common::{CommandError, ExitStatus};

use crate::assertion::Certificate;
use crate::cli::{PASSWORD_ENV, TenantArgs};
use crate::graph::{Graph, GraphSettings};
use crate::signin::{Credential, SignIn};

/// The shared options of one run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Options shared with the other tools.
    pub global: GlobalArgs,
    /// The tenant and the app.
    pub tenant: TenantArgs,
    /// Where each setting came from.
    pub provenance: common::settings::Provenance,
}

fn missing(what: &str, option: &str, variable: &str) -> CommandError {
    CommandError::usage(format!("no {what} given"))
        .with_hint(format!(
            "pass {option} (or set {variable}, or {} in a config profile)",
            option.trim_start_matches("--")
        ))
        .with_code("config")
}

impl Context {
    /// A Graph client for the tenant, signed in (a refused sign-in is said before anything
    /// else is done).
    pub async fn graph(&self) -> Result<Graph, CommandError> {
        let t = &self.tenant;
        let tenant = t
            .tenant
            .clone()
            .ok_or_else(|| missing("tenant", "--tenant", "M365_TOOL_TENANT"))?;
        let client_id = t
            .client_id
            .clone()
            .ok_or_else(|| missing("app (client) ID", "--client-id", "M365_TOOL_CLIENT_ID"))?;
        let (authority, graph_url) = t.cloud.hosts();
        let authority = t.authority.clone().unwrap_or_else(|| authority.to_owned());
        let graph_url = t.graph_url.clone().unwrap_or_else(|| graph_url.to_owned());
        let credential = if t.device_code {
            Credential::DeviceCode
        } else if let Some(path) = &t.certificate {
            Credential::Certificate(Certificate::load(path).map_err(|e| {
                CommandError::usage(format!("--certificate {e}")).with_code("certificate")
            })?)
        } else {
            let what = format!("client secret of app {client_id}");
            let request = self.global.operator_password_request(
                &what,
                PASSWORD_ENV,
                "--certificate FILE.pem, or a secret from --password-file FILE, --password-stdin or M365_TOOL_CLIENT_SECRET",
            );
            Credential::Secret(
                read_secret(&request)
                    .map_err(|e| CommandError::usage(e.to_string()).with_code("credential"))?,
            )
        };
        let options = self.global.tls_options();
        options.warn_if_insecure("m365-tool");
        let graph = Graph::new(GraphSettings {
            graph_url: graph_url.clone(),
            signin: SignIn::new(&authority, &tenant, &client_id, &graph_url, credential),
            tls: options,
            timeout: Duration::from_secs(t.timeout),
            max_backoff: t.max_backoff,
        })
        .map_err(|e| e.explain())?;
        graph.sign_in().await.map_err(|e| e.explain())?;
        Ok(graph)
    }
}

impl Context {
    /// A reporter of `noun`s (one record each) on stdout in the chosen format.
    pub fn reporter(&self, noun: (&'static str, &'static str)) -> common::report::Reporter {
        self.global.reporter("m365-tool", Shape::Many, noun)
    }
}

/// Exit status for a record's outcome.
pub fn status_of(failed: bool) -> ExitStatus {
    if failed {
        ExitStatus::ItemsFailed
    } else {
        ExitStatus::Success
    }
}
