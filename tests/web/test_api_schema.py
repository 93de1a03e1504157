"""Property-based run over the whole OpenAPI document (schemathesis): no request, valid or
not, gets a 5xx, and every JSON error has the one error body."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from clearpixel.audience import access
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list

EXAMPLES_PER_OPERATION = 12


def test_no_request_gets_a_server_error(ctx):
    _, secret = access.create_api_key(ctx, "schemathesis")
    headers = {"Authorization": f"Bearer {secret}"}
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, [None, 0, 1, 3, 7], locale="fr")
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(ctx))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def run(case):  # type: ignore[no-untyped-def]
                response = case.call(headers=headers)
                where = f"{case.method} {case.formatted_path}"
                assert response.status_code < 500, f"{where}: {response.text}"
                if response.status_code >= 400 and "json" in response.headers.get(
                    "content-type", ""
                ):
                    assert set(response.json()) == {"error"}, f"{where}: {response.text}"

            run()
