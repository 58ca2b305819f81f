"""Drives the lab's Exchange simulator with exchangelib, a client written elsewhere.

Reads its settings from the environment (PEER_EWS_URL, PEER_EWS_USER, PEER_EWS_PASSWORD_FILE,
PEER_MAILBOXES as comma-separated addresses, PEER_GROUP_MAIL, PEER_WRITE_MAILBOX, PEER_GRANTEE,
REQUESTS_CA_BUNDLE for the lab's CA) and prints one
JSON document with what it saw: the server version, the folder tree below the root, each
mailbox's calendar name and permission entries, name resolutions, and the outcome of
exchangelib's own permission write. The Rust test compares that with ews-tool and the
simulator's state; this script only reports.
"""

import json
import os
import sys

from exchangelib import DELEGATE, NTLM, Account, Configuration, Credentials
from exchangelib.errors import EWSError
from exchangelib.properties import CalendarPermission, UserId


def entry_of(permission):
    user = permission.user_id
    who = None
    if user is not None:
        who = user.distinguished_user or user.primary_smtp_address or user.sid
    return {"user": who, "level": permission.calendar_permission_level}


def main():
    password = open(os.environ["PEER_EWS_PASSWORD_FILE"], encoding="utf-8").read().strip()
    credentials = Credentials(os.environ["PEER_EWS_USER"], password)
    config = Configuration(
        service_endpoint=os.environ["PEER_EWS_URL"],
        credentials=credentials,
        auth_type=NTLM,
        max_connections=2,
    )
    mailboxes = os.environ["PEER_MAILBOXES"].split(",")
    report = {"mailboxes": {}}
    first = None
    for address in mailboxes:
        account = Account(address, config=config, autodiscover=False, access_type=DELEGATE)
        if first is None:
            first = account
            report["version"] = {
                "build": str(account.version.build),
                "api": account.version.api_version,
            }
            report["tree"] = [
                {"name": folder.name, "class": folder.folder_class}
                for folder in account.root.walk()
            ]
        calendar = account.calendar
        permissions = calendar.permission_set
        report["mailboxes"][address] = {
            "calendar": calendar.name,
            "inbox": account.inbox.name,
            "entries": [entry_of(p) for p in (permissions.calendar_permissions or [])]
            if permissions is not None
            else None,
            "unknown": list(permissions.unknown_entries or []) if permissions is not None else [],
        }
    resolved = {}
    for text in ["lotte", "j", "nobody-at-all", os.environ["PEER_GROUP_MAIL"]]:
        try:
            found = first.protocol.resolve_names([text], return_full_contact_data=False)
        except EWSError as error:
            resolved[text] = {"error": type(error).__name__}
            continue
        # exchangelib hands back a failed resolution as an exception object in the list.
        errors = [type(m).__name__ for m in found if isinstance(m, Exception)]
        resolved[text] = (
            {"error": errors[0]}
            if errors
            else sorted(m.email_address for m in found)
        )
    report["resolved"] = resolved
    # exchangelib's own write of a permission set (on a calendar without free/busy-only
    # entries: exchangelib refuses TimeOnly read access before sending anything).
    account = Account(
        os.environ["PEER_WRITE_MAILBOX"], config=config, autodiscover=False, access_type=DELEGATE
    )
    calendar = account.calendar
    permissions = calendar.permission_set
    permissions.calendar_permissions = list(permissions.calendar_permissions or []) + [
        CalendarPermission(
            user_id=UserId(primary_smtp_address=os.environ["PEER_GRANTEE"]),
            calendar_permission_level="Reviewer",
        )
    ]
    try:
        calendar.save(update_fields=["permission_set"])
        report["write"] = {"ok": True}
    except Exception as error:  # report what the server answered, whatever it was
        report["write"] = {"ok": False, "error": type(error).__name__, "text": str(error)[:500]}
    json.dump(report, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
