"""Peak resident memory of this process, as the bench's child processes report it."""

from __future__ import annotations

import resource


def high_water() -> int:
    """Peak RSS in bytes. VmHWM belongs to this process image; ru_maxrss survives exec and would report the
    parent's peak."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
