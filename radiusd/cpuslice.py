"""A short CPU time slice for the daemon's threads (Linux EEVDF custom slice, 6.12 and later).

With the EEVDF scheduler a task that wakes (a datagram for the event loop) gets a CPU when its
virtual deadline comes first, and a busy neighbour may run up to its whole slice (the kernel's
base slice, 0.75-3 ms) before a woken task of the default slice preempts it. A task that asks
for a short slice (``sched_setattr`` with ``sched_runtime``, SCHED_OTHER) gets earlier
deadlines and preempts sooner, at the price of more context switches under contention; its
share of the CPU (nice) does not change. Threads and child processes inherit it, so the
daemon sets it on its main thread before any other starts. No privilege is needed; older
kernels refuse or ignore it and nothing changes.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

#: sched_setattr / sched_getattr syscall numbers by machine
_SYSCALLS = {"x86_64": (314, 315), "aarch64": (274, 275)}
#: struct sched_attr (include/uapi/linux/sched/types.h), with the utilisation clamps
_ATTR = struct.Struct("=IIQiIQQQII")
#: the range the kernel accepts for a custom slice, in µs
MIN_SLICE_US, MAX_SLICE_US = 100, 100_000


def _syscalls() -> tuple[ctypes.CDLL, int, int] | None:
    """libc and the (sched_setattr, sched_getattr) numbers here; None off Linux or on a
    machine this module does not know."""
    calls = _SYSCALLS.get(platform.machine())
    if calls is None or platform.system() != "Linux":
        return None
    return ctypes.CDLL(None, use_errno=True), *calls


def set_slice(microseconds: int) -> str:
    """Ask for a ``microseconds`` slice for this thread and the threads and processes it
    starts (0: the kernel's own again); '' when done, else why not."""
    if microseconds and not MIN_SLICE_US <= microseconds <= MAX_SLICE_US:
        return f"a slice is {MIN_SLICE_US} to {MAX_SLICE_US} µs"
    found = _syscalls()
    if found is None:
        return f"not on {platform.system()} {platform.machine()}"
    libc, setattr_nr, _ = found
    nice = os.getpriority(os.PRIO_PROCESS, 0)  # sched_setattr sets it too: keep it
    attr = _ATTR.pack(_ATTR.size, os.SCHED_OTHER, 0, nice, 0, microseconds * 1000, 0, 0, 0, 0)
    if libc.syscall(setattr_nr, 0, ctypes.create_string_buffer(attr), 0) != 0:
        return f"sched_setattr: {os.strerror(ctypes.get_errno())}"
    if microseconds and current_slice_us() != microseconds:
        return "the kernel keeps its own slice (before Linux 6.12)"
    return ""


def current_slice_us() -> int | None:
    """This thread's slice as the kernel reports it (None where it cannot be read)."""
    found = _syscalls()
    if found is None:
        return None
    libc, _, getattr_nr = found
    buf = ctypes.create_string_buffer(_ATTR.size)
    if libc.syscall(getattr_nr, 0, buf, _ATTR.size, 0) != 0:
        return None
    return int(_ATTR.unpack(buf.raw)[5]) // 1000
