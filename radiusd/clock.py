"""Steps of the wall clock, noticed between two looks.

Lease and session expiry are wall-clock times (they are stored, and other nodes and the
database read them), but a step of the wall clock (NTP correcting a wrong clock, ``date -s``)
is not time passing: without a guard, a step of 20 minutes forward would expire every live
lease at the next sweep and hand the addresses to others. A :class:`ClockWatch` compares
how far the wall clock moved between two looks with how far the monotonic clock did; the
difference beyond ``threshold`` is a step, which the sweeps log and absorb (leases keep the
time they had left; sessions are judged stale on the time that really passed).
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: steps remembered for judging older timestamps (older ones are rare and forgotten)
KEPT_STEPS = 16


class ClockWatch:
    """Notices wall-clock steps larger than ``threshold`` seconds between two :meth:`look` calls."""

    def __init__(
        self,
        threshold: float,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self._wall = wall
        self._mono = mono
        self._last = (wall(), mono())
        #: (wall time just before the step, the step in seconds), oldest first
        self.steps: list[tuple[float, float]] = []

    @classmethod
    def for_clock(cls, threshold: float, clock: Callable[[], float]) -> ClockWatch:
        """A watch of ``clock``: the wall clock against the monotonic one, or, for a clock a
        test or simulation drives (anything but ``time.time``), one that never sees a step:
        there every move of the clock is time passing."""
        return cls(threshold, wall=clock, mono=time.monotonic if clock is time.time else clock)

    def look(self) -> float:
        """The step since the last look (seconds, negative backwards), 0.0 when there was none
        larger than the threshold."""
        wall, mono = self._wall(), self._mono()
        last_wall, last_mono = self._last
        self._last = (wall, mono)
        step = (wall - last_wall) - (mono - last_mono)
        if abs(step) <= self.threshold:
            return 0.0
        self.steps.append((last_wall + (mono - last_mono), step))
        del self.steps[:-KEPT_STEPS]
        return step

    def stepped_since(self, when: float) -> float:
        """Seconds the wall clock stepped after wall time ``when`` (to subtract from an age
        measured across those steps)."""
        return sum(step for at, step in self.steps if when <= at)
