"""One JSON object per log line, so log collectors need no parsing rules."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Never written, even if someone passes them in ``extra``.
_SECRET_KEYS = frozenset({"password", "secret", "token", "authorization", "cookie", "request"})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            if key.lower() in _SECRET_KEYS:
                continue
            entry[key] = _plain(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        # JSON escapes control characters, but with ensure_ascii=False it leaves these
        # as they are, and some log viewers start a new line at each of them.
        return line.translate(_LINE_BREAKS)


# Characters other than \n and \r that str.splitlines() and some viewers break lines at.
_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


def _plain(value: Any) -> Any:
    """A value as JSON can hold it; dicts keep their shape, minus secret-named keys."""
    if isinstance(value, str | int | float | bool | None):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if str(k).lower() not in _SECRET_KEYS}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)
