//! `ad-tool create-group`: a group (universal security by default) with its first members.

use std::io::{self, Write};

use clap::Args;
use common::args::IfExists;
use common::sid::Sid;
use common::{CommandError, ExitStatus};
use ldap3::{Scope as SearchScope, ldap_escape};
use serde::Serialize;

use crate::account::{CommonName, SamAccountName};
use crate::context::{Context, batch_status};
use crate::directory::Directory;
use crate::dn::Dn;
use crate::group::{self, Category, Scope};
use crate::lookup::{self, Kind};
use crate::membership::{self, MemberAction, MemberRecord};
use crate::plan::Op;
use crate::plan::group::{FoundGroup, GroupConflict, GroupPlan, GroupSpec, plan_group};
use crate::record::{Action, ChangeRecord, ErrorRecord};
use crate::{execute, failure, ldif};
use common::address::SmtpAddress;

/// Options of `create-group`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ad-tool create-group --name \"MyTimetable Service Accounts\" \\
      --path \"OU=Groups,DC=corp,DC=example\" --mail mytt-service@corp.example \\
      --member sa-mytt-exch-1 --member sa-mytt-exch-2 --if-exists update
  ad-tool create-group --name \"Timetable Readers\" --scope global --dry-run"
))]
pub struct CreateGroupArgs {
    /// The group's name (its CN)
    #[arg(long, value_name = "CN")]
    pub name: CommonName,

    /// Parent container or OU as a DN [default: the domain's Users container]
    #[arg(long, value_name = "DN")]
    pub path: Option<Dn>,

    /// Pre-Windows 2000 name [default: --name]
    #[arg(long, value_name = "NAME", value_parser = SamAccountName::for_group)]
    pub sam_account_name: Option<SamAccountName>,

    /// Group scope
    #[arg(long, value_enum, default_value_t = Scope::Universal)]
    pub scope: Scope,

    /// Group category
    #[arg(long, value_enum, default_value_t = Category::Security)]
    pub category: Category,

    /// Description
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// The mail attribute (Exchange routes mail to the group only once it is mail-enabled)
    #[arg(long, value_name = "ADDRESS")]
    pub mail: Option<SmtpAddress>,

    /// A member to add: sAMAccountName, UPN or DN (repeat); existing members are never removed
    #[arg(long = "member", value_name = "NAME")]
    pub members: Vec<String>,

    /// What to do when the group exists
    #[arg(long, value_enum, default_value_t = IfExists::Fail, value_name = "fail|skip|update")]
    pub if_exists: IfExists,

    /// Print the planned changes and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Also change a privileged group (Domain Admins, Administrators, adminCount=1, …)
    #[arg(long)]
    pub allow_privileged: bool,
}

/// A group as reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupRecord {
    /// Its DN.
    pub dn: String,
    /// `sAMAccountName`.
    pub sam_account_name: String,
    /// `objectSid`.
    pub sid: Option<String>,
    /// `groupType`.
    pub group_type: Option<i64>,
    /// Its scope.
    pub scope: Option<Scope>,
    /// Its category.
    pub category: Option<Category>,
    /// `mail`.
    pub mail: Option<String>,
    /// Whether Exchange knows the group as a recipient (`msExchRecipientTypeDetails` is set,
    /// as Enable-DistributionGroup leaves it); only then does mail reach it and can it be
    /// given calendar permissions.
    pub mail_enabled: Option<bool>,
    /// What happened.
    pub action: Option<Action>,
    /// What changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeRecord>,
    /// Each member named on the command line.
    pub members: Vec<MemberRecord>,
    /// The planned changes (`--dry-run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
}

impl GroupRecord {
    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        let action = self.action.map_or("", Action::name);
        writeln!(out, "{action}  {}  {}", self.sam_account_name, self.dn)?;
        if let Some(plan) = &self.plan {
            write!(out, "{plan}")?;
        }
        let scope = self
            .scope
            .map_or("-".into(), |s| format!("{s:?}").to_lowercase());
        let category = self
            .category
            .map_or("-".into(), |c| format!("{c:?}").to_lowercase());
        writeln!(
            out,
            "  {:<14}{scope} {category} ({})",
            "type",
            self.group_type.map_or("-".into(), |t| t.to_string())
        )?;
        writeln!(out, "  {:<14}{}", "SID", self.sid.as_deref().unwrap_or("-"))?;
        for change in &self.changes {
            writeln!(
                out,
                "  changed {}: {} -> {}",
                change.attribute,
                change.from.as_deref().unwrap_or("(none)"),
                change.to
            )?;
        }
        for member in &self.members {
            write!(out, "  ")?;
            member.write_line(out)?;
        }
        Ok(())
    }
}

const GROUP_ATTRIBUTES: [&str; 7] = [
    "sAMAccountName",
    "objectSid",
    "groupType",
    "mail",
    "description",
    "objectClass",
    "msExchRecipientTypeDetails",
];

/// Runs `create-group`.
pub async fn run(args: CreateGroupArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let item = args.name.to_string();
    let sam = match &args.sam_account_name {
        Some(sam) => sam.clone(),
        None => SamAccountName::for_group(args.name.as_str()).map_err(|e| {
            CommandError::usage(format!("{e}; give --sam-account-name")).with_item(&item)
        })?,
    };
    let mut directory = ctx.connect().await?;
    let parent = match &args.path {
        Some(path) => path.clone(),
        None => directory
            .users_container()
            .await
            .map_err(|e| failure::explain(&e))?,
    };
    let dn = parent.child("CN", args.name.as_str());
    let wanted_type = i64::from(group::group_type(args.scope, args.category));

    let filter = format!(
        "(|(sAMAccountName={})(distinguishedName={}))",
        ldap_escape(sam.as_str()),
        ldap_escape(dn.to_string())
    );
    let base = directory.naming_context.clone();
    let entries = directory
        .search(&base, SearchScope::Subtree, &filter, &GROUP_ATTRIBUTES)
        .await
        .map_err(|e| failure::explain(&e).with_item(&item))?;
    let found: Vec<FoundGroup> = entries.iter().filter_map(found_group).collect();
    let spec = GroupSpec {
        dn: dn.clone(),
        sam_account_name: sam.to_string(),
        group_type: wanted_type,
        description: args.description.clone(),
        mail: args.mail.as_ref().map(ToString::to_string),
    };
    let mut record = GroupRecord {
        dn: dn.to_string(),
        sam_account_name: sam.to_string(),
        ..Default::default()
    };
    // A new group's members are resolved first: a wrong name creates nothing.
    let mut member_dns = Vec::new();
    if found.is_empty() {
        for name in &args.members {
            let entry = lookup::require(&mut directory, Kind::Member, name, &["objectClass"])
                .await
                .map_err(|e| e.with_item(name))?;
            let member_dn = entry.parsed_dn().ok_or_else(|| unreadable(&entry.dn))?;
            record.members.push(MemberRecord {
                group: dn.to_string(),
                member: name.clone(),
                dn: Some(entry.dn.clone()),
                action: if args.dry_run {
                    MemberAction::WouldAdd
                } else {
                    MemberAction::Added
                },
                error: None,
            });
            member_dns.push(member_dn);
        }
    }
    match plan_group(&spec, &found, args.if_exists, &member_dns) {
        GroupPlan::Create(op) => {
            if args.dry_run {
                record.plan = Some(ldif::render(std::slice::from_ref(&op)));
                record.action = Some(Action::WouldCreate);
                record.group_type = Some(wanted_type);
                (record.scope, record.category) = (Some(args.scope), Some(args.category));
            } else {
                run_ops(&mut directory, std::slice::from_ref(&op), &item).await?;
                read_back(&mut directory, &dn, &mut record).await?;
                record.action = Some(Action::Created);
            }
        }
        GroupPlan::Skip => {
            read_back(&mut directory, &dn, &mut record).await?;
            record.action = Some(Action::Skipped);
        }
        GroupPlan::Update { changes, ops } => {
            crate::guard::refuse_privileged(&mut directory, &dn, args.allow_privileged, "changing")
                .await
                .map_err(|e| e.with_item(&item))?;
            if args.dry_run {
                record.plan = Some(ldif::render(&ops));
            } else {
                run_ops(&mut directory, &ops, &item).await?;
            }
            let outcomes =
                membership::add_members(&mut directory, &dn, &args.members, args.dry_run).await;
            for (member, error) in outcomes {
                if let Some(error) = error {
                    error.report("ad-tool", ctx.verbose());
                }
                record.members.push(member);
            }
            let member_changed = record
                .members
                .iter()
                .any(|m| matches!(m.action, MemberAction::Added | MemberAction::WouldAdd));
            record.action = Some(
                match (changes.is_empty() && !member_changed, args.dry_run) {
                    (true, _) => Action::Unchanged,
                    (false, true) => Action::WouldUpdate,
                    (false, false) => Action::Updated,
                },
            );
            record.changes = changes.iter().map(ChangeRecord::from).collect();
            match (
                args.dry_run,
                entries.iter().find(|e| e.parsed_dn().as_ref() == Some(&dn)),
            ) {
                (true, Some(entry)) => fill_from(entry, &mut record),
                _ => read_back(&mut directory, &dn, &mut record).await?,
            }
        }
        GroupPlan::Conflict(conflict) => {
            return Err(conflict_error(&sam, conflict).with_item(&item));
        }
    }
    if let (Some(mail), Some(false) | None) = (&args.mail, record.mail_enabled) {
        log::warn!("{}", exchange_step(&record.dn, mail.as_str()));
    }
    let any_failed = record.members.iter().any(|m| m.error.is_some());
    ctx.global.print_one(&record, |w| record.write_human(w))?;
    directory.unbind().await;
    Ok(batch_status(any_failed))
}

/// What the directory holds under the group's names, as the plan reads it.
fn found_group(entry: &crate::directory::Entry) -> Option<FoundGroup> {
    Some(FoundGroup {
        dn: entry.parsed_dn()?,
        is_group: entry
            .texts("objectClass")
            .iter()
            .any(|c| c.eq_ignore_ascii_case("group")),
        group_type: entry.int("groupType"),
        description: entry.text("description"),
        mail: entry.text("mail"),
    })
}

fn conflict_error(sam: &SamAccountName, conflict: GroupConflict) -> CommandError {
    match conflict {
        GroupConflict::NameTaken { holder, is_group } => CommandError::new(
            ExitStatus::Exists,
            format!("{sam} already exists at {holder}"),
        )
        .with_hint(if is_group {
            "give the --path it is in"
        } else {
            "choose another --name or --sam-account-name"
        })
        .with_code("exists"),
        GroupConflict::Exists { dn } => CommandError::new(
            ExitStatus::Exists,
            format!("the group already exists: {dn}"),
        )
        .with_hint("use --if-exists skip or update")
        .with_code("exists"),
    }
}

async fn run_ops(directory: &mut Directory, ops: &[Op], item: &str) -> Result<(), CommandError> {
    execute::run(directory, ops, None)
        .await
        .map_err(|failed| failure::explain(&failed.error).with_item(item))
}

fn unreadable(dn: &str) -> CommandError {
    CommandError::new(
        ExitStatus::ItemsFailed,
        format!("the server returned an unreadable DN {dn}"),
    )
}

async fn read_back(
    directory: &mut Directory,
    dn: &Dn,
    record: &mut GroupRecord,
) -> Result<(), CommandError> {
    let entry = directory
        .read(dn, &GROUP_ATTRIBUTES)
        .await
        .map_err(|e| failure::explain(&e))?
        .ok_or_else(|| {
            CommandError::new(
                ExitStatus::ItemsFailed,
                format!("{dn} vanished while it was being worked on"),
            )
        })?;
    fill_from(&entry, record);
    Ok(())
}

fn fill_from(entry: &crate::directory::Entry, record: &mut GroupRecord) {
    // The group as it is: found at its DN, it may carry another sAMAccountName than asked.
    if let Some(sam) = entry.text("sAMAccountName") {
        record.sam_account_name = sam;
    }
    record.sid = entry
        .bytes("objectSid")
        .and_then(|b| Sid::from_bytes(b).ok())
        .map(|(s, _)| s.to_string());
    record.group_type = entry.int("groupType");
    if let Some(t) = record.group_type {
        let (scope, category) = group::decode(t);
        record.scope = scope;
        record.category = Some(category);
    }
    record.mail = entry.text("mail");
    record.mail_enabled = Some(entry.int("msExchRecipientTypeDetails").is_some());
}

/// What only Exchange can do for a group with a `mail` attribute: make it a recipient.
fn exchange_step(dn: &str, mail: &str) -> String {
    format!(
        "--mail sets only the group's mail attribute: Exchange delivers to the group, and accepts it as a calendar grantee, once it is mail-enabled, which only Exchange can do; run in the Exchange Management Shell: Enable-DistributionGroup -Identity \"{dn}\" -PrimarySmtpAddress {mail}"
    )
}
