from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class HeaderLimitOffsetPagination(LimitOffsetPagination):
    """`limit`/`offset` paging that keeps the body a plain array.

    The total goes in `X-Total-Count` and the neighbouring pages in an RFC 8288 `Link` header
    (`rel="next"` only when there are more tasks, `rel="prev"` only when offset > 0), so a
    seed frontend that expects an array keeps working. Unlike DRF's class, a bad `limit` or
    `offset` is a 400 naming it, never silently replaced by the default or clamped.
    """

    default_limit = 100
    max_limit = 500

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: APIView | None = None):
        """DRF's, but for the COUNT: one row past the page tells whether this is the last
        page. When it is, and it is not past the end, the total is the rows before it plus
        those on it: most users' whole list fits on the first page, and their lists need no
        COUNT query (docs/performance.md has what this saves)."""
        self.request = request
        # Both validated before any query, so a bad value costs no database work.
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        page = rows[: self.limit]
        if len(rows) <= self.limit and (page or self.offset == 0):
            self.count = self.offset + len(page)
        else:
            self.count = self.get_count(queryset)
        return page

    def get_limit(self, request: Request) -> int:
        return self.parse_int(
            request, self.limit_query_param, self.default_limit, 1, self.max_limit
        )

    def get_offset(self, request: Request) -> int:
        return self.parse_int(request, self.offset_query_param, 0, 0, None)

    @staticmethod
    def parse_int(request: Request, name: str, default: int, low: int, high: int | None) -> int:
        raw = request.query_params.get(name, "").strip()
        if not raw:
            return default
        allowed = f"from {low} to {high}" if high is not None else f"{low} or more"
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise ValidationError({name: [f"Must be a whole number {allowed}."]})
        value = int(raw)
        if value < low or (high is not None and value > high):
            raise ValidationError({name: [f"Must be a whole number {allowed}."]})
        return value

    def get_paginated_response(self, data) -> Response:
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", self.get_next_link()), ("prev", self.get_previous_link()))
            if url
        ]
        headers = {"X-Total-Count": str(self.count)}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(data, headers=headers)

    def get_previous_link(self) -> str | None:
        if self.offset <= 0:
            return None
        # Past the end, "prev" leads back to the last page rather than to another empty one.
        last_page_offset = max(0, (self.count - 1) // self.limit * self.limit)
        return self.page_link(max(0, min(self.offset - self.limit, last_page_offset)))

    def get_next_link(self) -> str | None:
        if self.offset + self.limit >= self.count:
            return None
        return self.page_link(self.offset + self.limit)

    def page_link(self, offset: int) -> str:
        params = self.request.query_params.copy()
        params[self.limit_query_param] = str(self.limit)
        params[self.offset_query_param] = str(offset)
        return self.request.build_absolute_uri(f"{self.request.path}?{params.urlencode()}")

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return schema

    def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Page size, 1 to {self.max_limit} (default {self.default_limit}).",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_limit,
                    "default": self.default_limit,
                },
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "How many tasks to skip (default 0).",
                "schema": {"type": "integer", "minimum": 0, "default": 0},
            },
        ]
