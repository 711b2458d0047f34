"""Log formatters: one JSON object per line (`LOG_FORMAT=json`), or one plain line.

Either way a record is one line (a traceback aside): characters that would start a new line
or steer a terminal are escaped, so a request path with `%0A` in it cannot forge a line.
"""

import re
from datetime import datetime
from logging import Formatter, LogRecord
from typing import Any

from pythonjsonlogger.json import JsonFormatter as LibraryJsonFormatter

# Fields that callers attach with `extra=` (the access log's, mostly) and are worth keeping.
EXTRA_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user_id")
FIELDS = ("time", "level", "logger", "message", *EXTRA_FIELDS, "exception", "stack")

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# What JSON encoding leaves as it is (with ensure_ascii off), yet some readers take for a line
# break (U+2028, U+2029) or a terminal command (C1 controls).
RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")


def escape_control_characters(text: str) -> str:
    """`\\n`, `\\r`, `\\x1b`, ... spelled out, so the text stays on one line."""
    return CONTROL_CHARACTERS.sub(lambda match: match[0].encode("unicode_escape").decode(), text)


class PlainFormatter(Formatter):
    """The standard formatter, with control characters in the formatted line escaped.

    Only the line itself: a traceback that follows it keeps its own line breaks.
    """

    def formatMessage(self, record: LogRecord) -> str:
        return escape_control_characters(super().formatMessage(record))


class JsonFormatter(LibraryJsonFormatter):
    """Time, level, logger, message, the request fields present, and any traceback.

    python-json-logger does the record handling and the encoding; only the fields above
    are kept (Django's own loggers attach objects such as the request, which a log store
    has no use for), in that order, and the time in milliseconds.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
                "stack_info": "stack",
            },
            timestamp="time",
            json_default=str,
            json_ensure_ascii=False,
        )

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        text = super().jsonify_log_record(log_data)
        return RAW_IN_JSON.sub(lambda match: f"\\u{ord(match[0]):04x}", text)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        moment = log_data.get("time")
        if isinstance(moment, datetime):
            log_data["time"] = moment.isoformat(timespec="milliseconds")
        return {field: log_data[field] for field in FIELDS if log_data.get(field) is not None}
