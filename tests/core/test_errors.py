"""One error hierarchy, one shape: every refusal renders as ``{"error": {"message", "type", "code", "param"}}``."""

from __future__ import annotations

import json

from accounts.exceptions import InvalidInput, TooManyAttempts
from core.errors import (
    ApplicationError,
    HttpError,
    error_response,
    method_not_allowed,
    sse_error_event,
)


def test_a_named_refusal_renders_its_class_attributes_and_the_param_at_fault():
    response = error_response(InvalidInput("Name is required.", param="name"))
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error": {
            "message": "Name is required.",
            "type": "invalid_request_error",
            "code": "invalid_value",
            "param": "name",
        }
    }


def test_a_one_off_answer_is_an_application_error_with_its_headers():
    error = method_not_allowed("GET", "POST")
    assert isinstance(error, ApplicationError)
    response = error_response(error)
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert json.loads(response.content)["error"]["code"] == "method_not_allowed"


def test_a_one_off_answer_keeps_its_message_even_when_empty():
    error = HttpError(400, "", code="request_refused")
    assert error.message == "" and str(error) == ""
    assert error.code == "request_refused" and error.type == "invalid_request_error"


def test_too_many_attempts_carries_its_retry_after_header():
    assert TooManyAttempts(retry_after=30).headers == {"Retry-After": "30"}


def test_an_error_after_the_first_byte_is_a_final_sse_event():
    event = sse_error_event(HttpError(502, "The upstream broke off.", type="upstream_error", code="upstream_error"))
    assert event.startswith(b"data: {") and event.endswith(b"\n\n")
    assert json.loads(event[6:])["error"]["type"] == "upstream_error"
