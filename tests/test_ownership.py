"""Ownership is structural: every view under /api/{user_id}/ derives from PathUserMixin."""

from django.urls import URLPattern, URLResolver, get_resolver

from accounts.permissions import PathUserMixin


def routes(patterns: list, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += routes(pattern.url_patterns, route)
        else:
            found.append((route, pattern))
    return found


def test_every_view_under_a_user_path_is_scoped_to_that_user():
    user_routes = [
        (route, pattern)
        for route, pattern in routes(get_resolver().url_patterns)
        if "(?P<user_id>" in route
    ]

    assert len(user_routes) >= 4  # tasks, task, its actions, tags: the walk sees them
    unscoped = [
        route
        for route, pattern in user_routes
        if not issubclass(getattr(pattern.callback, "cls", object), PathUserMixin)
    ]
    assert unscoped == []
