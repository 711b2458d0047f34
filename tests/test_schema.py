"""The OpenAPI document: valid, warning-free, clean paths, and usable by client generators."""

import re

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core.schema_view import CachedSchemaView
from tasks.serializers import TaskSerializer

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_schema_validates_with_no_warnings(tmp_path):
    # Same as CI's `manage.py spectacular --validate --fail-on-warn`: raises on any warning.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "s.yaml")


def test_paths_are_documented_once_without_the_optional_trailing_slash(schema):
    assert "/api/{user_id}/tasks" in schema["paths"]
    assert "/api/{user_id}/tasks/{id}/complete" in schema["paths"]
    assert not [path for path in schema["paths"] if path.endswith("/")]


def test_operation_ids_are_unique_camel_case_names(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", operation_id) for operation_id in ids)
    assert {"listTasks", "createTask", "getTask", "completeTask", "getReadiness"} <= set(ids)


def test_every_operation_is_tagged(schema):
    assert all(operation.get("tags") for _, _, operation in operations(schema))


TASK_FIELDS = set(TaskSerializer.Meta.fields)
WRITABLE_TASK_FIELDS = {
    name for name, field in TaskSerializer().fields.items() if not field.read_only
}
TASK_REF = "#/components/schemas/Task"
TASK_REQUEST_REFS = {"#/components/schemas/TaskRequest", "#/components/schemas/PatchedTaskRequest"}


def json_examples(body: dict) -> list:
    return [example["value"] for example in body.get("examples", {}).values()]


def tasks_in(schema: dict, body: dict) -> list | None:
    """The tasks that a response body's examples show, or None when it is not a task body."""
    ref = body.get("schema", {}).get("$ref", "")
    component = schema["components"]["schemas"].get(ref.rpartition("/")[2], {})
    if ref == TASK_REF:
        return json_examples(body)
    if component.get("type") == "array" and component["items"].get("$ref") == TASK_REF:
        return [task for page in json_examples(body) for task in page]
    return None


def test_task_response_examples_show_every_field_the_api_answers(schema):
    """An example is what Swagger UI shows as the answer: a field added to TaskSerializer
    without adding it to the examples in tasks/schema.py fails here."""
    shown = set()
    for _, _, operation in operations(schema):
        for status, response in operation["responses"].items():
            tasks = tasks_in(schema, response.get("content", {}).get("application/json", {}))
            if tasks is None:
                continue
            assert tasks, f"{operation['operationId']} {status} answers tasks, with no example"
            for task in tasks:
                assert isinstance(task, dict), f"{operation['operationId']} {status}: {task!r}"
                assert set(task) == TASK_FIELDS, f"{operation['operationId']} {status}"
            shown.add(operation["operationId"])
    assert shown == {
        "listTasks",
        "createTask",
        "getTask",
        "updateTask",
        "patchTask",
        "completeTask",
        "moveTask",
    }


def test_task_request_examples_send_only_writable_fields(schema):
    shown = set()
    for _, _, operation in operations(schema):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        if body.get("schema", {}).get("$ref") not in TASK_REQUEST_REFS:
            continue
        examples = json_examples(body)
        assert examples, f"{operation['operationId']} takes a task, with no example"
        for example in examples:
            assert set(example) <= WRITABLE_TASK_FIELDS, operation["operationId"]
        shown.add(operation["operationId"])
    assert shown == {"createTask", "updateTask", "patchTask"}


def test_task_routes_require_the_bearer_scheme(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    list_tasks = schema["paths"]["/api/{user_id}/tasks"]["get"]
    assert list_tasks["security"] == [{"bearerAuth": []}]


def test_probes_need_no_authentication(schema):
    assert schema["paths"]["/healthz"]["get"]["security"] == [{}]
    assert schema["paths"]["/readyz"]["get"]["security"] == [{}]


def test_error_responses_use_the_detail_shapes(schema):
    create = schema["paths"]["/api/{user_id}/tasks"]["post"]["responses"]

    def ref(status):
        return create[status]["content"]["application/json"]["schema"]["$ref"]

    assert ref("400") == "#/components/schemas/ValidationError"
    assert {ref(status) for status in ("401", "403", "404", "413", "415")} == {
        "#/components/schemas/Error"
    }
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    assert components["ValidationError"]["required"] == ["detail"]
    assert "errors" in components["ValidationError"]["properties"]


def test_reads_document_no_body_errors(schema):
    get_task = schema["paths"]["/api/{user_id}/tasks/{id}"]["get"]["responses"]
    assert set(get_task) == {"200", "304", "401", "403", "404", "429"}


def test_created_task_documents_its_location_header(schema):
    created = schema["paths"]["/api/{user_id}/tasks"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_every_asset_from_this_server(url):
    response = APIClient().get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


@pytest.mark.parametrize("url", ["/api/schema", "/api/docs", "/api/redoc"])
def test_docs_routes_answer_without_the_slash_too(url):
    assert APIClient().get(url).status_code == 200


def test_the_schema_ignores_a_stale_token():
    """Swagger UI keeps sending the token it was given, also after it expired."""
    response = APIClient().get("/api/schema/", HTTP_AUTHORIZATION="Bearer expired.or.garbage")

    assert response.status_code == 200


def component(schema: dict, reference: dict) -> dict:
    return schema["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]]


def test_refresh_documents_its_answer_as_access_alone(schema):
    operation = schema["paths"]["/api/auth/token/refresh"]["post"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]

    assert component(schema, body)["required"] == ["access"]
    assert set(component(schema, body)["properties"]) == {"access"}


def test_the_schema_is_generated_once_per_process(monkeypatch):
    CachedSchemaView.forget()
    generated = []
    real_get_schema = SchemaGenerator.get_schema

    def counting_get_schema(self, *args, **kwargs):
        generated.append(1)
        return real_get_schema(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting_get_schema)
    client = APIClient()

    first = client.get("/api/schema/")
    again = client.get("/api/schema/?version=2&lang=de")
    as_json = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    json_again = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert len(generated) == 1
    assert first.content == again.content
    assert first["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert as_json.json()["openapi"].startswith("3.")
    assert as_json.content == json_again.content
    assert "X-Request-ID" in json_again


def test_sign_in_documents_its_answer_and_its_401(schema):
    operation = schema["paths"]["/api/auth/token"]["post"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]

    assert set(component(schema, body)["required"]) == {"access", "refresh", "user_id"}
    assert "401" in operation["responses"]
    assert "401" in schema["paths"]["/api/auth/token/refresh"]["post"]["responses"]
