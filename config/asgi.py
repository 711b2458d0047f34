"""The ASGI application (uvicorn, the process that serves the live stream and `./dev.sh serve`).

`/mcp` and `/mcp/` go to the MCP endpoint (agents/http.py), both answering and neither
redirecting; every other request, and every other kind of scope, goes to Django's own ASGI
handler unchanged.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

# Imported once Django is set up: the endpoint uses models and settings.
from agents.http import MCPEndpoint  # noqa: E402

MCP_PATHS = frozenset({"/mcp", "/mcp/"})

mcp_application = MCPEndpoint()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] in MCP_PATHS:
        await mcp_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
