//! `m365-tool assign-license ACCOUNT --sku PART --only PLAN…`: the SKU found among the tenant's
//! `subscribedSkus`, every plan of it but the named ones disabled, from live data. Re-running
//! converges: a plan Microsoft added to the SKU since is disabled then.

use std::io::{self, Write};

use clap::Args;
use common::{CommandError, ExitStatus};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::context::Context;
use crate::graph::{Call, segment};
use crate::license::{self, Decision};

/// Options of `assign-license`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  m365-tool assign-license svc-mytt@contoso.onmicrosoft.com --sku ENTERPRISEPACK \\
      --only EXCHANGE_S_ENTERPRISE
  m365-tool assign-license svc-mytt@contoso.onmicrosoft.com --sku EXCHANGESTANDARD \\
      --only EXCHANGE_S_STANDARD --dry-run -o json"
))]
pub struct AssignLicenseArgs {
    /// The account: its user principal name or object id
    #[arg(value_name = "ACCOUNT")]
    pub account: String,

    /// The licence, by its SKU part number (ENTERPRISEPACK is Office 365 E3)
    #[arg(long, value_name = "PART-NUMBER")]
    pub sku: String,

    /// The service plan to leave enabled (EXCHANGE_S_ENTERPRISE); repeat for more; every other
    /// plan of the SKU is disabled
    #[arg(long = "only", value_name = "PLAN", required = true)]
    pub only: Vec<String>,

    /// Say what would be assigned; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// The longest to wait for an account Graph does not show yet (one just created): 30s, 5m
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = common::args::parse_duration)]
    pub wait_for_account: std::time::Duration,
}

/// What became of the licence.
#[derive(Debug, Clone, Serialize)]
pub struct LicenseRecord {
    /// The account.
    pub account: String,
    /// The SKU's part number.
    pub sku: String,
    /// `assigned`, `updated`, `unchanged`, `would-assign`, `would-update`.
    pub action: &'static str,
    /// The plans enabled.
    pub enabled_plans: Vec<String>,
    /// The plans disabled.
    pub disabled_plans: Vec<String>,
}

impl LicenseRecord {
    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}: {} {}", self.account, self.sku, self.action)?;
        writeln!(out, "  enabled   {}", self.enabled_plans.join(", "))?;
        writeln!(out, "  disabled  {}", self.disabled_plans.join(", "))
    }
}

/// Runs `assign-license`.
pub async fn run(args: AssignLicenseArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let graph = ctx.graph().await?;
    let item = |e: CommandError| e.with_item(&args.account);
    let skus = graph
        .get(
            "/subscribedSkus".into(),
            "reading the tenant's licences".into(),
            "Organization.Read.All",
        )
        .await
        .map_err(|e| item(e.explain()))?;
    let licence = license::plan(&license::read_skus(&skus), &args.sku, &args.only)
        .map_err(|e| item(CommandError::usage(e.to_string()).with_code("license")))?;
    let user = graph
        .get_eventually(
            format!(
                "/users/{}?$select=id,userPrincipalName,usageLocation,assignedLicenses",
                segment(&args.account)
            ),
            format!("reading {}", args.account),
            "User.Read.All",
            (args.wait_for_account, "--wait-for-account"),
        )
        .await
        .map_err(|e| {
            if e.status() == Some(404) {
                item(
                    CommandError::new(ExitStatus::ItemsFailed, "no such account in the tenant")
                        .with_hint("check the name, or create it with m365-tool create-user")
                        .with_code("not-found"),
                )
            } else {
                item(e.explain())
            }
        })?;
    if user
        .get("usageLocation")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(item(
            CommandError::new(
                ExitStatus::ItemsFailed,
                "the account has no usage location, which a licence needs",
            )
            .with_hint(format!(
                "set one: m365-tool create-user --upn {} --usage-location CC --if-exists update",
                args.account
            ))
            .with_code("usage-location"),
        ));
    }
    let decision = license::decide(
        user.get("assignedLicenses").unwrap_or(&Value::Null),
        &licence,
    );
    if decision == Decision::Add {
        license::check_units(&licence).map_err(|e| {
            item(
                CommandError::new(ExitStatus::ItemsFailed, e.to_string())
                    .with_hint("buy more, or free one from an account that no longer needs it")
                    .with_code("no-licence"),
            )
        })?;
    }
    let action = match (&decision, args.dry_run) {
        (Decision::Unchanged, _) => "unchanged",
        (Decision::Add, true) => "would-assign",
        (Decision::Update, true) => "would-update",
        (Decision::Add, false) => "assigned",
        (Decision::Update, false) => "updated",
    };
    if !args.dry_run && decision != Decision::Unchanged {
        let id = user
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(&args.account)
            .to_owned();
        let body = license::assign_body(&licence);
        graph
            .send(&Call {
                method: Method::POST,
                path: format!("/users/{}/assignLicense", segment(&id)),
                body: Some(&body),
                what: format!("assigning {} to {}", licence.sku.part_number, args.account),
                permission: "LicenseAssignment.ReadWrite.All",
            })
            .await
            .map_err(|e| item(e.explain()))?;
    }
    let names = |plans: &[license::Plan]| plans.iter().map(|p| p.name.clone()).collect();
    let record = LicenseRecord {
        account: args.account.clone(),
        sku: licence.sku.part_number.clone(),
        action,
        enabled_plans: names(&licence.enabled),
        disabled_plans: names(&licence.disabled),
    };
    ctx.global.print_one(&record, |w| record.write_human(w))?;
    Ok(ExitStatus::Success)
}
