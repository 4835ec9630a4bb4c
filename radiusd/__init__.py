"""radiusd: a RADIUS server with built-in IP address management for ISPs."""

__version__ = "0.1.0"
