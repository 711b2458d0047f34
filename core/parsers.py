"""JSON request bodies parsed with orjson.

The standard library's parser, which DRF's JSONParser uses, raises RecursionError on a body of
deeply nested arrays, which DRF does not catch (a 500); it also accepts lone surrogates, which
cannot be encoded again when a validation message quotes them. orjson refuses both, as
malformed JSON (a 400).
"""

from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class ORJSONParser(JSONParser):
    def parse(self, stream, media_type: str | None = None, parser_context=None) -> Any:
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
