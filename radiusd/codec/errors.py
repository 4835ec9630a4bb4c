"""The codec's one error type: a datagram that is not a well-formed RADIUS packet."""


class MalformedPacket(ValueError):
    """Raised by :func:`radiusd.codec.packet.decode` for input that must be dropped.

    ``reason`` is a short, stable, machine-friendly label (used as a metric label and log
    field); the message adds detail for humans.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class DictionaryError(ValueError):
    """A dictionary file could not be parsed; names the file and line."""
