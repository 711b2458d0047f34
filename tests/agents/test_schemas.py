"""The tools' schemas come from the OpenAPI document, generated in-process."""

import pytest
from rest_framework.test import APIClient

from agents import schemas


@pytest.fixture
def fresh_schemas():
    schemas.openapi_document.cache_clear()
    schemas.input_schemas.cache_clear()
    yield
    schemas.openapi_document.cache_clear()
    schemas.input_schemas.cache_clear()


def test_they_are_derived_also_after_the_document_route_was_served(fresh_schemas, db):
    assert APIClient().get("/api/schema/").status_code == 200

    assert schemas.input_schema("create_task")["required"] == ["title"]


def test_each_caller_gets_its_own_copy(fresh_schemas):
    schemas.input_schema("get_task")["properties"].clear()

    assert "task_id" in schemas.input_schema("get_task")["properties"]
