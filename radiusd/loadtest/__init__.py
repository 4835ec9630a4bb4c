"""``radiusd loadtest``: a RADIUS load generator (sessions, sockets, pacing, statistics)."""
