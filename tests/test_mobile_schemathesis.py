"""schemathesis over the citizen API's OpenAPI document, against a running server: generated
requests (valid and invalid) never get a server error, and every response conforms to the
document — status, content type, headers and body schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks as core_checks
from schemathesis.specs.openapi import checks as openapi_checks

from geo.enums import Role
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import user_with_role
from tests.running_server import running_server

CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


def test_generated_requests_conform_and_never_fail(
    server: str, tokens: TokenService, database_url: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{server}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 58
    # Every role at once (as an admin citizen): role checks pass, so the handlers run.
    token = tokens.issue_access(user_with_role(database_url, "citizen"), [r.value for r in Role])
    statuses: list[int] = []

    @given(data=st.data())
    @settings(max_examples=600, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(operations))
        case = data.draw(operation.as_strategy())
        response = case.call_and_validate(
            base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {token}"},
            checks=CHECKS, timeout=30,
        )  # fmt: skip
        statuses.append(response.status_code)

    check()
    # Not only refusals: a fair share of the generated requests were served.
    assert sum(s < 300 for s in statuses) >= len(statuses) // 10, sorted(set(statuses))
