"""EAP over RADIUS (RFC 3579, RFC 3748): PEAPv0/MSCHAPv2, EAP-TTLS (PAP, MS-CHAPv2), EAP-TLS
(RFC 5216, RFC 9190) and, when allowed, EAP-MD5.

Layers, bottom up: :mod:`.packet` (EAP bytes), :mod:`.tls` (TLS over memory buffers, EAP-TLS
framing), :mod:`.methods` and :mod:`.tunnels` (one state machine per method),
:mod:`.engine` (conversations keyed by State), :mod:`.settings` (the ``[eap]`` section),
:mod:`.certs` (a lab CA). The access policy calls the engine; nothing here reads the
database or touches a socket.
"""
