"""radiusd.codec.scanning's scan and first_fields in C (radiusd/codec/_speedups.c)."""

from .scanning import Scanned

def scan(data: bytes) -> Scanned: ...
def first_fields(
    data: bytes, offs: list[int], raw: bytes, u32: bytes
) -> tuple[tuple[bytes | None, ...], tuple[int | None, ...]]: ...
