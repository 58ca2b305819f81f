"""Reads the calendar permissions of many mailboxes with exchangelib, the way a script built on
it would: one Account per mailbox on a shared Configuration, a pool of worker threads.

Settings from the environment: PEER_EWS_URL, PEER_EWS_USER, PEER_EWS_PASSWORD_FILE,
PEER_THREADS, REQUESTS_CA_BUNDLE (the lab's CA). Mailbox addresses on stdin, one per line.
Prints one JSON document: mailboxes read, entries seen, failures (with the first error) and
the seconds the reads took (after start-up and the first request, which learns the version).
"""

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from exchangelib import DELEGATE, NTLM, Account, Configuration, Credentials


def main():
    password = open(os.environ["PEER_EWS_PASSWORD_FILE"], encoding="utf-8").read().strip()
    threads = int(os.environ.get("PEER_THREADS", "10"))
    config = Configuration(
        service_endpoint=os.environ["PEER_EWS_URL"],
        credentials=Credentials(os.environ["PEER_EWS_USER"], password),
        auth_type=NTLM,
        max_connections=threads,
    )
    mailboxes = [line.strip() for line in sys.stdin if line.strip()]

    def read(address):
        account = Account(address, config=config, autodiscover=False, access_type=DELEGATE)
        permissions = account.calendar.permission_set
        return len(permissions.calendar_permissions or []) if permissions is not None else 0

    started = time.monotonic()
    entries, failures, first_error = 0, 0, None
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for result in pool.map(lambda a: _safely(read, a), mailboxes):
            if isinstance(result, Exception):
                failures += 1
                first_error = first_error or f"{type(result).__name__}: {result}"
            else:
                entries += result
    json.dump(
        {
            "mailboxes": len(mailboxes),
            "entries": entries,
            "failures": failures,
            "first_error": first_error,
            "seconds": time.monotonic() - started,
        },
        sys.stdout,
    )


def _safely(read, address):
    try:
        return read(address)
    except Exception as error:  # reported, counted, never hidden
        return error


if __name__ == "__main__":
    main()
