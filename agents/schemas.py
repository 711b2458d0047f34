"""The tools' input schemas, derived from the REST API's own OpenAPI document.

drf-spectacular builds that document from the serializers and the filter set, so a tool's
schema is what the corresponding route documents: `create_task` takes the body of
`POST …/tasks`, `update_task` that of `PATCH …/tasks/{id}`, `list_tasks` the query parameters
of `GET …/tasks`, and so on. A field or filter added to the API appears in the tools without
another edit here. OpenAPI 3.0 is not quite JSON Schema, so each schema is converted: `$ref`s
are inlined, `nullable` becomes a `null` type, read-only members (answers, not input) are
left out, and query parameters that are booleans in disguise (`true`/`false`) become
booleans.
"""

import copy
import functools
from typing import Any

from drf_spectacular.generators import SchemaGenerator

TASKS = "/api/{user_id}/tasks"

TASK_ID = {"type": "integer", "description": "The task's id (the `id` of a task)."}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document `GET /api/schema/` serves, built once per process (about 0.3 s)."""
    return SchemaGenerator().get_schema(request=None, public=True)


def to_json_schema(node: Any, components: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: references inlined, `nullable` as a null type,
    read-only members dropped."""
    if isinstance(node, list):
        return [to_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return to_json_schema(components[node["$ref"].rsplit("/", 1)[-1]], components)
    schema = {
        key: to_json_schema(value, components) for key, value in node.items() if key != "nullable"
    }
    if "properties" in schema:
        # Read-only members are answers, not input: what a tool's caller sends omits them.
        schema["properties"] = {
            name: member
            for name, member in schema["properties"].items()
            if not (isinstance(member, dict) and member.get("readOnly"))
        }
    if node.get("nullable"):
        if isinstance(schema.get("type"), str):
            schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def body_schema(component: str, *, task_id: bool = False) -> dict[str, Any]:
    """The request body `component` as a tool's input; first a required `task_id` if asked."""
    document = openapi_document()
    components = document["components"]["schemas"]
    body = to_json_schema(components[component], components)
    properties = {"task_id": TASK_ID} if task_id else {}
    properties.update(body.get("properties", {}))
    required = (["task_id"] if task_id else []) + body.get("required", [])
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def query_schema(path: str) -> dict[str, Any]:
    """The query parameters of `GET path` as a tool's input."""
    document = openapi_document()
    components = document["components"]["schemas"]
    properties: dict[str, Any] = {}
    for parameter in document["paths"][path]["get"]["parameters"]:
        if parameter["in"] != "query":
            continue
        schema = to_json_schema(parameter["schema"], components)
        if schema.get("type") == "string" and sorted(schema.get("enum", [])) == ["false", "true"]:
            schema = {"type": "boolean"}
        if "description" in parameter:
            schema["description"] = parameter["description"]
        properties[parameter["name"]] = schema
    return {"type": "object", "properties": dict(sorted(properties.items()))}


def task_id_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"task_id": TASK_ID}, "required": ["task_id"]}


def no_arguments() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


@functools.cache
def input_schemas() -> dict[str, dict[str, Any]]:
    """Every tool's input schema by tool name (callers get copies to change as they like)."""
    return {
        "list_tasks": query_schema(TASKS),
        "get_task": task_id_schema(),
        "create_task": body_schema("TaskRequest"),
        "update_task": body_schema("PatchedTaskRequest", task_id=True),
        "complete_task": body_schema("PatchedCompleteRequest", task_id=True),
        "delete_task": task_id_schema(),
        "move_task": body_schema("TaskMoveRequest", task_id=True),
        "list_lists": no_arguments(),
        "create_list": body_schema("TaskListRequest"),
        "task_stats": no_arguments(),
    }


def input_schema(name: str) -> dict[str, Any] | None:
    schema = input_schemas().get(name)
    return copy.deepcopy(schema) if schema is not None else None
