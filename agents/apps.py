from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """Tools for AI agents: the task API as Model Context Protocol tools, at `/mcp` (Streamable
    HTTP, config/asgi.py) and over stdio (`manage.py mcp_stdio`). It calls what the API calls
    (tasks.services, the views' querysets, serializers and filters); tasks knows nothing of it.
    """

    name = "agents"
    verbose_name = "Tools for AI agents"
