"""The ASGI application (uvicorn, the process that serves the live stream and `./dev.sh serve`).

`/mcp` and `/mcp/` go to the MCP endpoint (agents/http.py), both answering and neither
redirecting; every other request, and every other kind of scope, goes to Django's own ASGI
handler unchanged.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

# Imported once Django is set up: the endpoint uses models and settings.
from agents.http import MCPEndpoint  # noqa: E402

MCP_PATHS = frozenset({"/mcp", "/mcp/"})

mcp_application = MCPEndpoint()

# This process holds every open stream's objects, and a full garbage collection walks them
# all while no event goes out. What start-up loaded is never garbage, so it is frozen out of
# the collections, and collecting less often keeps full ones out of most minutes; the
# figures are in docs/performance.md ("Live streams").
gc.freeze()
gc.set_threshold(50_000, 20, 20)


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] in MCP_PATHS:
        await mcp_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
