"""JSON request bodies parsed with orjson, no deeper than `MAX_JSON_DEPTH`.

The standard library's parser, which DRF's JSONParser uses, raises RecursionError on a body of
deeply nested arrays, which DRF does not catch (a 500); it also accepts lone surrogates, which
cannot be encoded again when a validation message quotes them. orjson refuses both, as
malformed JSON (a 400).

orjson itself accepts up to 1024 levels, and that is still too deep for what comes after it:
DRF's field validation and the standard library's `json.dumps` recurse once or more per level
and hit Python's recursion limit (1000) first. No body of this API nests more than a few
levels, so anything deeper than `MAX_JSON_DEPTH` is refused here, as a 400, before any of
that code sees it.
"""

from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 64


def nesting_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` deep (without recursing)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class ORJSONParser(JSONParser):
    def parse(self, stream, media_type: str | None = None, parser_context=None) -> Any:
        try:
            data = orjson.loads(stream.read())
        except orjson.JSONDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if nesting_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        return data
