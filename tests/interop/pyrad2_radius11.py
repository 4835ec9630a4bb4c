"""A third-party RADIUS/1.1 client against radiusd: pyrad2 (PyPI, 3.2: "client, server,
RadSec, RADIUS/1.1"), which needs Python 3.12 and loguru, so it runs in its own interpreter.

Run by tests/integration/test_radsec_radius11.py (``test_pyrad2_interop``) when
``RADIUSD_PYRAD2_PYTHON`` names an interpreter that can import pyrad2; by hand:

    python3.12 tests/interop/pyrad2_radius11.py PORT CA CERT KEY USER PASSWORD [1.0,1.1]

Prints one JSON object: the ALPN pyrad2 negotiated and the reply codes of a PAP login, a
wrong password, an Accounting Start and Stop and a Status-Server.
"""

import asyncio
import json
import sys
import tempfile

from pyrad2.dictionary import Dictionary
from pyrad2.radsec.client import RadSecClient
from pyrad2.radsec.v11 import RadiusVersion

DICTIONARY = """
ATTRIBUTE User-Name 1 string
ATTRIBUTE User-Password 2 string encrypt=1
ATTRIBUTE NAS-IP-Address 4 ipaddr
ATTRIBUTE Framed-IP-Address 8 ipaddr
ATTRIBUTE Reply-Message 18 string
ATTRIBUTE Vendor-Specific 26 octets
ATTRIBUTE Acct-Status-Type 40 integer
ATTRIBUTE Acct-Session-Id 44 string
ATTRIBUTE Message-Authenticator 80 octets
VALUE Acct-Status-Type Start 1
VALUE Acct-Status-Type Stop 2
"""


async def main(port: int, ca: str, cert: str, key: str, user: str, password: str, versions: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".dict") as f:
        f.write(DICTIONARY)
        f.flush()
        dictionary = Dictionary(f.name)
    wanted = tuple(RadiusVersion.V1_1 if v == "1.1" else RadiusVersion.V1_0 for v in versions.split(","))
    out: dict[str, object] = {}
    async with RadSecClient(
        server="127.0.0.1",
        port=port,
        dict=dictionary,
        certfile=cert,
        keyfile=key,
        certfile_server=ca,
        check_hostname=False,
        radius_versions=wanted,
    ) as client:
        for name, pw in (("pap", password), ("wrong", "wrong-password")):
            req = client.create_auth_packet(User_Name=user, NAS_IP_Address="192.0.2.12")
            req.set_obfuscated("User-Password", pw)
            reply = await client.send_packet(req)
            out[name] = None if reply is None else reply.code
            out["version"] = int(client._negotiated_version)
        for name, status in (("start", "Start"), ("stop", "Stop")):
            req = client.create_acct_packet(
                User_Name=user,
                Acct_Status_Type=status,
                Acct_Session_Id="pyrad2-r11",
                NAS_IP_Address="192.0.2.12",
                Framed_IP_Address="100.64.0.12",
            )
            reply = await client.send_packet(req)
            out[name] = None if reply is None else reply.code
        reply = await client.send_packet(client.create_status_packet(NAS_IP_Address="192.0.2.12"))
        out["status_server"] = None if reply is None else reply.code
        out["error"] = repr(client.last_error) if client.last_error else None
    print(json.dumps(out))


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(int(a[0]), a[1], a[2], a[3], a[4], a[5], a[6] if len(a) > 6 else "1.0,1.1"))
