"""Faults with the real component stopped, slowed or killed (issue 11, item 5).

Each test starts what it breaks (PostgreSQL, Redis, clamd, a stalling proxy in
front of localstripe, uvicorn processes), so none of them depends on the
database the rest of the suite runs on.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(check: Callable[[], object], seconds: float = 30) -> bool:
    """Poll ``check`` until it is true; a generous bound, never a measured duration."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False
