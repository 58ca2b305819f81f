//! Conformance: every request ews-tool sends and every answer the simulator writes, across all
//! the operations, error messages and faults the other tests exercise, validated by `xmllint`
//! against Microsoft's EWS schemas (Exchange 2016 and, where the request version allows, 2010
//! SP2). Faults are checked against SOAP 1.1's fault structure (fixtures/schema) and their
//! ResponseCode against the schema's ResponseCodeType.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use lab::fake_ews::FakeEws;
use serde_json::json;

use crate::support::{NO_ACCESS_MAILBOX, dc, ews_as, ews_to, exchange_with, invalid, schema_dir};

/// Sends a hand-written request the way a third-party client's start-up probe does (Basic
/// over TLS with curl; the credentials go in a header file, not in argv). Returns the answer,
/// which must be HTTP 200.
fn raw_request(fake: &FakeEws, body: &str) -> String {
    let (ok, answer) = send_raw(fake, body);
    assert!(ok, "{answer}");
    answer
}

/// The same for an answer that may be a fault (HTTP 500).
fn raw_request_status(fake: &FakeEws, body: &str) -> String {
    send_raw(fake, body).1
}

fn send_raw(fake: &FakeEws, body: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let password = std::fs::read_to_string(&dc().user_password_file).unwrap();
    let token = common::base64::encode(format!("LAB\\svc-calendar:{}", password.trim()).as_bytes());
    let headers = dir.path().join("headers");
    let mut file = std::fs::File::create(&headers).unwrap();
    writeln!(file, "Authorization: Basic {token}").unwrap();
    writeln!(file, "Content-Type: text/xml; charset=utf-8").unwrap();
    drop(file);
    let request = dir.path().join("request.xml");
    std::fs::write(&request, body).unwrap();
    let output = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&dc().pki.ca_file)
        .arg("-H")
        .arg(format!("@{}", headers.display()))
        .arg("--data-binary")
        .arg(format!("@{}", request.display()))
        .arg(&fake.url)
        .output()
        .expect("curl (run tests/setup)");
    let answer = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{answer} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (!answer.contains("<s:Fault>"), answer)
}

/// Everything the tool does against Exchange 2016, successes and failures.
fn exercise_2016(fake: &FakeEws) {
    let mailbox = "lotte.peters@lab.example";
    let custom = json!({"create_items": true, "create_subfolders": false, "folder_owner": false,
        "folder_visible": true, "folder_contact": false, "edit_items": "Owned",
        "delete_items": "Owned", "read_items": "TimeOnly"});
    fake.preload(
        mailbox,
        &json!([
            {"user": "Default", "level": "FreeBusyTimeOnly"},
            {"user": "Anonymous", "level": "None"},
            {"user": "milan.hendriks@lab.example", "rights": custom},
            {"user": lab::seed::TIMETABLE_GROUP_MAIL, "level": "Reviewer"},
            {"user": "S-1-5-21-1111111111-2222222222-3333333333-4343", "level": "Editor"},
        ]),
    );
    let run = |args: &[&str], code: i32| {
        ews_to(fake)
            .args(args.iter().copied())
            .run()
            .expect_code(code);
    };
    run(&["check", "--mailbox", mailbox], 0);
    run(&["list", "--mailbox", mailbox], 0);
    run(
        &[
            "grant",
            "--to",
            "noor.vanleeuwen@lab.example",
            "--level",
            "Editor",
            "--mailbox",
            mailbox,
            "--drop-unknown-entries",
        ],
        0,
    );
    run(
        &[
            "grant",
            "--to",
            "noor.vanleeuwen@lab.example",
            "--level",
            "LimitedDetails",
            "--mailbox",
            mailbox,
        ],
        0,
    );
    run(
        &[
            "grant",
            "--to",
            "Default",
            "--level",
            "Reviewer",
            "--mailbox",
            mailbox,
        ],
        0,
    );
    run(
        &[
            "grant",
            "--to",
            "Anonymous",
            "--level",
            "AvailabilityOnly",
            "--mailbox",
            mailbox,
        ],
        0,
    );
    run(
        &[
            "revoke",
            "--from",
            "noor.vanleeuwen@lab.example",
            "--mailbox",
            mailbox,
        ],
        0,
    );
    run(
        &[
            "--server-version",
            "Exchange2016",
            "grant",
            "--to",
            "olaf.dekker@lab.example",
            "--level",
            "Owner",
            "--mailbox",
            mailbox,
        ],
        0,
    );
    run(
        &[
            "--server-version",
            "V2017_07_11",
            "list",
            "--mailbox",
            mailbox,
        ],
        0,
    );
    // Names with characters XML must escape travel as the schema wants them.
    run(
        &[
            "grant",
            "--to",
            "sean.obrien@lab.example",
            "--level",
            "Contributor",
            "--mailbox",
            "zoe.kuipers@lab.example",
        ],
        0,
    );
    // Error messages and faults.
    run(&["list", "--mailbox", "nobody@lab.example"], 1);
    run(&["list", "--mailbox", NO_ACCESS_MAILBOX], 4);
    // A grantee Exchange does not know: by address, refused once after ResolveNames; by SID,
    // refused by each UpdateFolder.
    run(
        &[
            "grant",
            "--to",
            "nobody@lab.example",
            "--level",
            "Editor",
            "--mailbox",
            mailbox,
        ],
        2,
    );
    run(
        &[
            "grant",
            "--to",
            "S-1-5-21-1111111111-2222222222-3333333333-9999",
            "--level",
            "Editor",
            "--mailbox",
            mailbox,
        ],
        1,
    );
    run(
        &["--impersonate", "list", "--mailbox", NO_ACCESS_MAILBOX],
        4,
    );
    ews_as(&fake.url, "helpdesk@lab.example")
        .args([
            "--impersonate",
            "grant",
            "--to",
            "puck.brouwer@lab.example",
            "--level",
            "Author",
            "--mailbox",
            NO_ACCESS_MAILBOX,
        ])
        .run()
        .expect_code(0);
    fake.set_faults(&json!({"busy": 1, "errors": [
        {"operation": "GetFolder", "code": "ErrorMailboxStoreUnavailable", "text": "The mailbox database is temporarily unavailable."},
        {"operation": "UpdateFolder", "code": "ErrorInvalidPermissionSettings", "text": "The permission settings were not valid.", "back_off_ms": 10},
    ]}));
    run(&["list", "--mailbox", mailbox], 1);
    run(&["list", "--mailbox", mailbox], 0);
    run(
        &[
            "grant",
            "--to",
            "puck.brouwer@lab.example",
            "--level",
            "Author",
            "--mailbox",
            mailbox,
        ],
        1,
    );
    fake.set_faults(&json!({"busy": 1, "busy_as_message": true,
        "conflicts": [{"mailbox": mailbox, "times": 1, "user": "quinten.dewit@lab.example", "level": "Reviewer"}]}));
    run(
        &[
            "grant",
            "--to",
            "puck.brouwer@lab.example",
            "--level",
            "Author",
            "--mailbox",
            mailbox,
        ],
        0,
    );
    exercise_peer_operations(fake);
}

/// A request envelope of `version` around `body`.
fn request(version: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header><t:RequestServerVersion Version="{version}"/></soap:Header>
  <soap:Body>{body}</soap:Body>
</soap:Envelope>"#
    )
}

/// The value of the first `attribute="…"` after `after` in `xml`.
fn attribute_after<'a>(xml: &'a str, after: &str, attribute: &str) -> &'a str {
    let from = xml
        .find(after)
        .unwrap_or_else(|| panic!("no {after} in {xml}"));
    let rest = &xml[from..];
    let start = rest.find(&format!(r#"{attribute}=""#)).unwrap() + attribute.len() + 2;
    &rest[start..start + rest[start..].find('"').unwrap()]
}

/// What a third-party client does at start-up and around the calendars: folders by
/// distinguished name and by id, the folder tree a page at a time, id conversions, name
/// resolution and list expansion, and an operation the simulator does not offer.
fn exercise_peer_operations(fake: &FakeEws) {
    let dutch = "lotte.peters@lab.example";
    let german = "jurgen.muller@lab.example";
    let mailbox = |address: &str| {
        format!("<t:Mailbox><t:EmailAddress>{address}</t:EmailAddress></t:Mailbox>")
    };
    // exchangelib's first request for account.root (Exchange 2016's schema).
    let root = raw_request(
        fake,
        &request(
            "Exchange2016",
            &format!(
                r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:ChildFolderCount"/><t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURI FieldURI="folder:DistinguishedFolderId"/><t:FieldURI FieldURI="folder:EffectiveRights"/><t:FieldURI FieldURI="folder:FolderClass"/><t:FieldURI FieldURI="folder:FolderId"/><t:FieldURI FieldURI="folder:ParentFolderId"/><t:FieldURI FieldURI="folder:TotalCount"/><t:FieldURI FieldURI="folder:UnreadCount"/></t:AdditionalProperties></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="root">{}</t:DistinguishedFolderId></m:FolderIds></m:GetFolder>"#,
                mailbox(dutch)
            ),
        ),
    );
    assert!(
        root.contains("<t:DistinguishedFolderId>root</t:DistinguishedFolderId>"),
        "{root}"
    );
    assert!(
        root.contains("<t:ChildFolderCount>1</t:ChildFolderCount>"),
        "{root}"
    );
    // Every well-known folder with all its properties, in the 2010 schema.
    let all = raw_request(
        fake,
        &request(
            "Exchange2010_SP2",
            &format!(
                r#"<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar">{0}</t:DistinguishedFolderId><t:DistinguishedFolderId Id="inbox">{0}</t:DistinguishedFolderId><t:DistinguishedFolderId Id="contacts">{0}</t:DistinguishedFolderId><t:DistinguishedFolderId Id="tasks">{0}</t:DistinguishedFolderId><t:DistinguishedFolderId Id="sentitems">{0}</t:DistinguishedFolderId></m:FolderIds></m:GetFolder>"#,
                mailbox(german)
            ),
        ),
    );
    for name in [
        "Kalender",
        "Posteingang",
        "Kontakte",
        "Aufgaben",
        "Gesendete Elemente",
    ] {
        assert!(
            all.contains(&format!("<t:DisplayName>{name}</t:DisplayName>")),
            "{name}: {all}"
        );
    }
    assert!(
        all.contains("<t:FolderClass>IPF.Appointment</t:FolderClass>"),
        "{all}"
    );
    // The tree below the root, a page at a time, from both ends.
    let first = raw_request(
        fake,
        &request(
            "Exchange2016",
            &format!(
                r#"<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURI FieldURI="folder:DistinguishedFolderId"/><t:FieldURI FieldURI="folder:PermissionSet"/></t:AdditionalProperties></m:FolderShape><m:IndexedPageFolderView MaxEntriesReturned="5" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="root">{}</t:DistinguishedFolderId></m:ParentFolderIds></m:FindFolder>"#,
                mailbox(dutch)
            ),
        ),
    );
    assert!(
        first.contains(
            r#"IndexedPagingOffset="5" TotalItemsInView="12" IncludesLastItemInRange="false""#
        ),
        "{first}"
    );
    assert!(
        first.contains("<t:DisplayName>Agenda</t:DisplayName>"),
        "{first}"
    );
    let last = raw_request(
        fake,
        &request(
            "Exchange2010_SP2",
            &format!(
                r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:IndexedPageFolderView MaxEntriesReturned="4" Offset="0" BasePoint="End"/><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot">{}</t:DistinguishedFolderId></m:ParentFolderIds></m:FindFolder>"#,
                mailbox(dutch)
            ),
        ),
    );
    assert!(
        last.contains(r#"IncludesLastItemInRange="false""#)
            && last.contains("<t:DisplayName>Logboek</t:DisplayName>"),
        "{last}"
    );
    // The calendar's id converts to every format and back.
    let id = attribute_after(&first, "<t:CalendarFolder>", "Id").to_owned();
    let hex = raw_request(
        fake,
        &request(
            "Exchange2010_SP2",
            &format!(
                r#"<m:ConvertId DestinationFormat="HexEntryId"><m:SourceIds><t:AlternateId Format="EwsId" Id="{id}" Mailbox="{dutch}"/></m:SourceIds></m:ConvertId>"#
            ),
        ),
    );
    let hex_id = attribute_after(&hex, "<m:AlternateId", "Id").to_owned();
    let back = raw_request(
        fake,
        &request(
            "Exchange2010_SP2",
            &format!(
                r#"<m:ConvertId DestinationFormat="EwsId"><m:SourceIds><t:AlternateId Format="HexEntryId" Id="{hex_id}" Mailbox="{dutch}"/><t:AlternateId Format="EwsId" Id="DUMMY" Mailbox="DUMMY"/></m:SourceIds></m:ConvertId>"#
            ),
        ),
    );
    assert_eq!(attribute_after(&back, "<m:AlternateId", "Id"), id);
    assert!(back.contains("ErrorInvalidIdMalformed"), "{back}");
    // The id opens the folder.
    let by_id = raw_request(
        fake,
        &request(
            "Exchange2016",
            &format!(
                r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="{id}"/></m:FolderIds></m:GetFolder>"#
            ),
        ),
    );
    assert!(
        by_id.contains("<t:DisplayName>Agenda</t:DisplayName>"),
        "{by_id}"
    );
    // Names: one, several (with contact data), a mail contact, a group, none, and a group
    // that is not mail-enabled (not in the address book).
    // Odd texts in the 2010 schema, even ones in 2016's: both schema sets see every kind.
    let counter = std::cell::Cell::new(0u32);
    let version = || {
        counter.set(counter.get() + 1);
        if counter.get().is_multiple_of(2) {
            "Exchange2016"
        } else {
            "Exchange2010_SP2"
        }
    };
    let resolve = |text: &str, full: bool| {
        raw_request(
            fake,
            &request(
                version(),
                &format!(
                    r#"<m:ResolveNames ReturnFullContactData="{full}"><m:UnresolvedEntry>{text}</m:UnresolvedEntry></m:ResolveNames>"#
                ),
            ),
        )
    };
    assert!(resolve(dutch, true).contains(r#"ResponseClass="Success""#));
    let several = resolve("j", true);
    assert!(
        several.contains("ErrorNameResolutionMultipleResults"),
        "{several}"
    );
    assert!(resolve("Partner", false).contains("<t:MailboxType>Contact</t:MailboxType>"));
    assert!(
        resolve(&format!("SMTP:{}", lab::seed::TIMETABLE_GROUP_MAIL), false)
            .contains("<t:MailboxType>PublicDL</t:MailboxType>")
    );
    assert!(resolve("nobody-at-all", false).contains("ErrorNameResolutionNoResults"));
    assert!(resolve("Utrecht Planners", false).contains("ErrorNameResolutionNoResults"));
    let expand = |address: &str| {
        raw_request(
            fake,
            &request(
                version(),
                &format!(
                    "<m:ExpandDL><m:Mailbox><t:EmailAddress>{address}</t:EmailAddress></m:Mailbox></m:ExpandDL>"
                ),
            ),
        )
    };
    let members = expand(lab::seed::TIMETABLE_GROUP_MAIL);
    assert!(
        members.contains("<t:EmailAddress>anna.devries@lab.example</t:EmailAddress>"),
        "{members}"
    );
    assert!(
        !members.contains("Utrecht Planners"),
        "only recipients: {members}"
    );
    assert!(expand(dutch).contains("ErrorNameResolutionNoResults"));
    // An operation the simulator does not offer: a fault that is no version problem.
    let unknown = raw_request_status(
        fake,
        &request(
            "Exchange2016",
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
        ),
    );
    assert!(unknown.contains("a:ErrorInvalidOperation"), "{unknown}");
}

#[test]
fn every_request_and_answer_validates_against_the_ews_schemas() {
    let Some(schemas) = schema_dir() else {
        return;
    };
    let exchange_2016 = exchange_with(&json!({"basic": true}));
    exercise_2016(&exchange_2016);
    // Exchange 2010 SP2: a newer request version is refused with a fault, then stepped down.
    let exchange_2010 = exchange_with(&json!({"profile": "2010"}));
    ews_to(&exchange_2010)
        .args([
            "--server-version",
            "Exchange2013_SP1",
            "check",
            "--mailbox",
            "roos.dijkstra@lab.example",
        ])
        .run()
        .expect_code(0);
    ews_to(&exchange_2010)
        .args([
            "grant",
            "--to",
            "sem.smits@lab.example",
            "--level",
            "Editor",
            "--mailbox",
            "roos.dijkstra@lab.example",
        ])
        .run()
        .expect_code(0);

    let mut files: Vec<PathBuf> = exchange_2016.captured();
    files.extend(exchange_2010.captured());
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    let (faults, envelopes): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|p| name(p).ends_with("-fault.xml"));
    // Every kind of exchange happened, so the validation below covers them.
    for kind in [
        "GetFolder-request",
        "GetFolder-response",
        "UpdateFolder-request",
        "UpdateFolder-response",
        "FindFolder-request",
        "FindFolder-response",
        "ConvertId-request",
        "ConvertId-response",
        "ResolveNames-request",
        "ResolveNames-response",
        "ExpandDL-request",
        "ExpandDL-response",
        "busy-response",
    ] {
        assert!(
            envelopes.iter().any(|p| name(p).contains(kind)),
            "no {kind} captured"
        );
    }
    let fault_codes: Vec<String> = faults
        .iter()
        .map(|p| {
            let xml = std::fs::read_to_string(p).unwrap();
            let start = xml
                .find("ResponseCode")
                .and_then(|i| xml[i..].find('>').map(|j| i + j + 1))
                .unwrap();
            let end = start + xml[start..].find('<').unwrap();
            xml[start..end].to_owned()
        })
        .collect();
    for code in [
        "ErrorServerBusy",
        "ErrorInvalidServerVersion",
        "ErrorImpersonateUserDenied",
        "ErrorInvalidOperation",
    ] {
        assert!(
            fault_codes.iter().any(|c| c == code),
            "no {code} fault: {fault_codes:?}"
        );
    }

    // All against Exchange 2016's schema.
    let failures = invalid(&schemas.join("envelope-exchange2016.xsd"), &envelopes);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Against 2010 SP2's: what names Exchange2010_SP2 (or is an answer to it).
    let for_2010: Vec<PathBuf> = envelopes
        .iter()
        .filter(|p| {
            let request =
                PathBuf::from(p.to_string_lossy().replace("-response.xml", "-request.xml"));
            std::fs::read_to_string(request)
                .is_ok_and(|x| x.contains(r#"RequestServerVersion Version="Exchange2010_SP2""#))
        })
        .cloned()
        .collect();
    assert!(
        for_2010.len() > envelopes.len() / 2,
        "most traffic uses the default version"
    );
    let failures = invalid(&schemas.join("envelope-exchange2010sp2.xsd"), &for_2010);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Faults: SOAP 1.1 structure, and a ResponseCode the schema knows.
    let fault_schema = lab::samba::fixtures_dir().join("schema/soap11-fault.xsd");
    let failures = invalid(&fault_schema, &faults);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let messages = std::fs::read_to_string(schemas.join("exchange2016/messages.xsd")).unwrap();
    for code in &fault_codes {
        assert!(
            messages.contains(&format!(r#"<xs:enumeration value="{code}"/>"#)),
            "{code} is not a ResponseCodeType"
        );
    }
}

#[test]
fn the_schema_check_catches_what_it_should() {
    // The validation above is only worth something if a wrong request fails it: the rights of
    // a CalendarPermission out of the schema's order, and a Folder where a CalendarFolder
    // belongs.
    let Some(schemas) = schema_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let envelope = |permission: &str, folder: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header><t:RequestServerVersion Version="Exchange2010_SP2"/></soap:Header><soap:Body><m:UpdateFolder><m:FolderChanges><t:FolderChange><t:FolderId Id="AAMk" ChangeKey="AQ"/><t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:PermissionSet"/><t:{folder}><t:PermissionSet><t:CalendarPermissions><t:CalendarPermission>{permission}</t:CalendarPermission></t:CalendarPermissions></t:PermissionSet></t:{folder}></t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder></soap:Body></soap:Envelope>"#
        )
    };
    let user = "<t:UserId><t:DistinguishedUser>Default</t:DistinguishedUser></t:UserId>";
    let good = format!("{user}<t:CalendarPermissionLevel>Reviewer</t:CalendarPermissionLevel>");
    let out_of_order = format!(
        "{user}<t:CanCreateSubFolders>false</t:CanCreateSubFolders><t:CanCreateItems>false</t:CanCreateItems><t:IsFolderOwner>false</t:IsFolderOwner><t:IsFolderVisible>true</t:IsFolderVisible><t:IsFolderContact>false</t:IsFolderContact><t:EditItems>None</t:EditItems><t:DeleteItems>None</t:DeleteItems><t:ReadItems>FullDetails</t:ReadItems><t:CalendarPermissionLevel>Custom</t:CalendarPermissionLevel>"
    );
    let cases = [
        ("good.xml", envelope(&good, "CalendarFolder"), true),
        (
            "order.xml",
            envelope(&out_of_order, "CalendarFolder"),
            false,
        ),
        ("folder.xml", envelope(&good, "Folder"), false),
    ];
    for (file, xml, valid) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, xml).unwrap();
        let failures = invalid(&schemas.join("envelope-exchange2016.xsd"), &[path]);
        assert_eq!(failures.is_empty(), valid, "{file}: {failures:?}");
    }
}
