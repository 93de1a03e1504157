"""Property-based run over the whole OpenAPI document (schemathesis): no request, valid or
not, gets a 5xx, and every JSON error has the one error body. Requests are generated three
ways: valid by the schema, invalid, and valid aimed at resources that exist."""

from __future__ import annotations

from typing import Any

import schemathesis
import schemathesis.specs.openapi.schemas  # imported up front: see below
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from clearpixel.accounts import api_keys
from clearpixel.sending.campaigns import create_campaign
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list

EXAMPLES_PER_OPERATION = 6
# schemathesis imports its OpenAPI checks on first use; importing them here, while no server
# thread runs, avoids Python 3.11's "AST constructor recursion depth mismatch", raised when a
# module is compiled while another thread compiles one (it failed CI once).


def test_no_request_gets_a_server_error(ctx):
    _, secret = api_keys.create_api_key(ctx, "schemathesis")
    headers = {"Authorization": f"Bearer {secret}"}
    list_id = make_list(ctx)
    contact_ids = make_contacts(ctx, list_id, [None, 0, 1, 3, 7], locale="fr")
    campaign = create_campaign(
        ctx,
        list_name="newsletter",
        kind="marketing",
        subject="News",
        html='<p>Hi <a href="https://example.org/x">x</a></p>',
    )
    existing = {"list_id": list_id, "contact_id": contact_ids[2], "campaign_id": campaign.id}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(ctx))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18

    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        pinned = {name: value for name, value in existing.items() if name in names}
        plans: list[tuple[GenerationMode, dict[str, Any] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if pinned:
            plans.append((GenerationMode.POSITIVE, pinned))
        for mode, path_parameters in plans:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @given(case=strategy)
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
