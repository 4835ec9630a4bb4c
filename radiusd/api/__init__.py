"""HTTP admin API of the daemon.

Served by ``radiusd serve --api-bind ADDR:PORT`` (or ``api_bind`` in the config) in the
daemon's own event loop, so it reads live pool, session and counter state; disabled when not
configured. Interactive documentation (Swagger UI) at ``/docs``, the OpenAPI spec at
``/openapi.json``. HTTPS with ``--api-tls-cert``/``--api-tls-key``.

Authentication: every route needs ``Authorization: Bearer TOKEN``, the documentation too
unless ``api_public_docs`` is set. The token is checked before a request body is read; bodies
are bounded in size (``api_max_body``, 413) and time (``api_body_timeout``, 408), headers in
time (``api_header_timeout``); see radiusd.api.guard. Tokens are created with
``radiusd api-token create NAME [--read-only]`` (printed once; only a SHA-256 hash is stored),
listed with ``radiusd api-token list`` and revoked with ``radiusd api-token revoke NAME``.
No token or an unknown one: 401. A read-only token (dashboards, Prometheus) may only GET: 403
on POST. A revoked token stops working within 5 seconds.

Routes:

- ``GET|POST /network/routers`` (the NAS list), ``GET /network/routers/{name}``,
  ``GET|POST /network/sites``, ``/network/sectors``, ``/network/devices``, ``/network/connections``
- ``GET /ipam/pools`` (live utilisation), ``GET /ipam/pools/{name}``,
  ``GET /ipam/pools/{name}/leases?state=&user=&limit=&offset=&cursor=``
- ``GET /radius/sessions/online?nas=&user=&limit=&offset=&cursor=``,
  ``POST /radius/sessions/{id}/disconnect?wait=`` (id or Acct-Unique-Session-Id; 202 with a
  job when the NAS has not answered within ``wait`` seconds), ``GET /radius/disconnects/{job}``,
  ``POST /radius/sessions/{id}/coa?wait=`` (body ``{"plan": NAME}``: a CoA-Request with that
  plan, a disconnect where it cannot apply live), ``GET /radius/coa/{job}``
- ``GET /subscribers?status=&plan=&limit=&offset=&cursor=`` (never the credential),
  ``POST /subscribers``, ``GET|PATCH|DELETE /subscribers/{username}`` (``?disconnect=true``),
  ``POST /subscribers/{username}/suspend|resume|set-plan``, ``POST /subscribers/provision``
- ``GET|POST /plans``, ``GET|PATCH|DELETE /plans/{name}`` (``?replace=`` / ``?force=true``);
  ``GET|POST /nas``, ``GET|PATCH|DELETE /nas/{name}`` (secret write-only)
- ``POST /ipam/pools``, ``PATCH|DELETE /ipam/pools/{name}``, ``POST|DELETE /ipam/pools/{name}/ranges``,
  ``GET|POST /ipam/reservations``, ``GET|DELETE /ipam/reservations/{address}``,
  ``GET /ipam/history/{address}?at=`` (who held it, and when)
- ``PATCH|DELETE`` for ``/network/sites|routers|devices/{name}``, ``/network/sectors/{router}/{name}``,
  ``/network/connections/{id}``

POST is idempotent on the natural key: an identical stored object answers 200 (a retry creates
nothing), a different one 409; with an ``Idempotency-Key`` header a retry (same token, same
body) gets the first reply again for a day. PATCH sends only the fields to change (``null`` clears).
- ``GET /metrics``: Prometheus text format (names in radiusd.api.metrics)

Lists are pages: ``{"items": [...], "limit": N, "offset": N, "next_cursor": "..."}``; pass
``next_cursor`` back as ``cursor`` for the next page (``limit`` at most 1000, ``offset`` at
most 100000).
Errors are JSON ``{"detail": ...}``: 422 invalid input (FastAPI's validation errors name the
field in ``detail[].loc``), 404 unknown name or id, 409 conflict (duplicate, still in use),
503 database unavailable; never 500 for any input.
"""
