"""Accepts one Kerberos (SPNEGO) logon for the Exchange simulator, as IIS does for a site with
Extended Protection: through the system's GSSAPI with the keytab named by KRB5_KTNAME, and with
the TLS channel binding the client must have put in its ticket.

Reads two lines on stdin: the client's token (base64), and the expected channel binding
application data (base64; empty when the site does not ask for one). Writes one line:
"OK <principal> bound|unbound" or "NO <reason>". MIT Kerberos 1.19 and later report whether the
binding was verified (the channel-bound flag); a client that sent none is "unbound".
"""

import base64
import sys

import gssapi
from gssapi.raw import ChannelBindings


def main():
    token = base64.b64decode(sys.stdin.readline().strip())
    binding = sys.stdin.readline().strip()
    bindings = ChannelBindings(application_data=base64.b64decode(binding)) if binding else None
    try:
        context = gssapi.SecurityContext(usage="accept", channel_bindings=bindings)
        context.step(token)
    except gssapi.exceptions.GSSError as error:
        print("NO", " ".join(str(error).split()))
        return
    if not context.complete:
        print("NO the logon needs more than one step")
        return
    bound = gssapi.RequirementFlag.channel_bound in context.actual_flags
    print("OK", context.initiator_name, "bound" if bound else "unbound")


if __name__ == "__main__":
    main()
