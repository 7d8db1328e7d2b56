"""What this machine lets the build use."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity where the system reports one (`taskset`, a container's
    cpuset, a batch scheduler's allocation), else every core (`os.cpu_count`). The render pool and the annotation
    beside the model are sized by it, so that a build confined to fewer cores does not start more processes than
    it has cores."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return os.cpu_count() or 1
