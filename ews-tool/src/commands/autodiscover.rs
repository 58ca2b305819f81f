//! `ews-tool autodiscover ADDRESS`: find the EWS URL for an address and say how, step by step
//! (what was asked and what came of it), as the other commands do silently without `--url`.
//! The answer refreshes the cache they use.

use std::io::{self, Write};

use clap::Args;
use common::output::{Shape, Table, write_error};
use common::{CommandError, ExitStatus};

use crate::autodiscover::Discovery;
use crate::context::Context;

/// Options of `autodiscover`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ews-tool autodiscover anna@corp.example
  ews-tool --domain corp.example autodiscover anna@corp.example -o json
  ews-tool --directory ldaps://dc1.corp.example --user 'CORP\\svc-mytt' \\
      --password-file svc-mytt.password autodiscover anna@corp.example"
))]
pub struct AutodiscoverArgs {
    /// The mailbox address to find the EWS URL for
    #[arg(value_name = "ADDRESS")]
    pub address: common::address::SmtpAddress,
}

fn write_human(discovery: &Discovery, out: &mut impl Write) -> io::Result<()> {
    match &discovery.url {
        Some(url) => writeln!(out, "{}: {url}", discovery.address)?,
        None => writeln!(out, "{}: no EWS URL found", discovery.address)?,
    }
    if let Some(found_by) = &discovery.found_by {
        writeln!(out, "found by {found_by}")?;
    }
    for (name, url) in [
        ("internal", &discovery.internal_url),
        ("external", &discovery.external_url),
    ] {
        if let Some(url) = url {
            writeln!(out, "{name} EWS URL: {url}")?;
        }
    }
    let mut table = Table::new(["STEP", "METHOD", "ASKED", "RESULT"]);
    for (n, step) in discovery.steps.iter().enumerate() {
        table.row([
            (n + 1).to_string(),
            step.method.to_owned(),
            step.target.clone(),
            step.result.clone(),
        ]);
    }
    out.write_all(table.render().as_bytes())
}

/// Runs `autodiscover`.
pub async fn run(args: AutodiscoverArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let discovery = ctx.discover_for(args.address.as_str()).await?;
    let mut output = ctx.global.stdout(Shape::Single);
    output
        .record(&discovery, |w| write_human(&discovery, w))
        .map_err(write_error)?;
    output.finish().map_err(write_error)?;
    match &discovery.url {
        Some(_) => Ok(ExitStatus::Success),
        None => Err(CommandError::new(
            ExitStatus::Connect,
            format!(
                "Autodiscover found no EWS URL for {} ({} steps tried, above)",
                discovery.address,
                discovery.steps.len()
            ),
        )
        .with_hint("each failed step names its cause; or pass --url https://HOST/EWS/Exchange.asmx")
        .with_code("autodiscover")),
    }
}
