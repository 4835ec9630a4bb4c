"""Owner keys: who holds an item, including a subscriber's Simultaneous-Use slots.

The owner of a lease is the username. A subscriber allowed several simultaneous sessions
(Simultaneous-Use > 1) gets one owner key per slot: the username for the first, then
``username<US>2``, ``username<US>3``... (US = ``\\x1f``, which no username contains), the
first slot without a live lease being used. Each slot is sticky on its own; accounting maps a
slot back to its username with :func:`username_of`.
"""

from __future__ import annotations

from ipam.pool import Pool

SLOT_SEP = "\x1f"  # owner key of a Simultaneous-Use slot: username + SLOT_SEP + n


def username_of(owner: str | None) -> str | None:
    """The username in an owner key (a slot key ``user<US>2`` -> ``user``)."""
    return None if owner is None else owner.split(SLOT_SEP, 1)[0]


def slot_owner(username: str, limit: int | None, pool: Pool | None) -> str:
    """The owner key of a new login of ``username`` allowed ``limit`` simultaneous sessions:
    its first slot without a live item in ``pool`` (the username when every slot is taken, when
    one session is allowed, or without a pool to look in)."""
    if limit is None or limit <= 1 or pool is None:
        return username
    for slot in range(1, limit + 1):
        owner = username if slot == 1 else f"{username}{SLOT_SEP}{slot}"
        if pool.live(owner) is None:
            return owner
    return username
