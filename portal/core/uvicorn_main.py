"""uvicorn's command line, where a stop that was asked for ends with exit status 0.

On SIGTERM (or Ctrl+C) uvicorn stops taking connections, lets the requests
under way finish, and then raises the signal again so that the process dies
of it (status -15), which a supervisor reading exit statuses takes for a
crash. Here that last signal ends the process normally instead:

    python -m portal.core.uvicorn_main portal.asgi:application [uvicorn's options]

``manage.py serve`` and the tests' server processes run uvicorn this way.
Unless ``--http`` says otherwise it serves with the portal's HTTP protocol,
uvicorn's own plus the hand-off of open live streams to the hub
(``portal/live/protocol.py``).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn.main

HTTP_PROTOCOL = "portal.live.protocol:LiveHttpProtocol"


def _stopped(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main() -> None:
    # uvicorn installs its own handlers while it serves and puts these back
    # before it raises the signal again.
    signal.signal(signal.SIGTERM, _stopped)
    signal.signal(signal.SIGINT, _stopped)
    if not any(arg == "--http" or arg.startswith("--http=") for arg in sys.argv[1:]):
        sys.argv += ["--http", HTTP_PROTOCOL]  # uvicorn imports a dotted path given here
    uvicorn.main.main()


if __name__ == "__main__":
    main()
