"""Import merge/replace against the pure bit arithmetic of domain.flags (hypothesis)."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearpixel.audience.csv_import import FlagsMode, import_csv
from clearpixel.consent.integrity import check_flags, verify_ledger
from clearpixel.domain.flags import grant
from clearpixel.store.contacts import get_contact
from tests.helpers import make_contacts, make_list

counter = itertools.count()
flags = st.none() | st.integers(0, 7)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(flags, flags), min_size=1, max_size=6),
    mode=st.sampled_from([FlagsMode.MERGE, FlagsMode.REPLACE, FlagsMode.IGNORE]),
)
def test_import_sets_what_the_bit_arithmetic_says(ctx, tmp_path, rows, mode):
    name = f"list{next(counter)}"
    ids = make_contacts(ctx, make_list(ctx, name), [stored for stored, _ in rows])
    path = tmp_path / f"{name}.csv"
    lines = ["email,privacy_flags"]
    lines += [f"person{i}@example.org,{'' if v is None else v}" for i, (_, v) in enumerate(rows)]
    lines.append("newcomer@example.org,5")
    path.write_text("\n".join(lines) + "\n")

    import_csv(ctx, path, list_name=name, flags_mode=mode, basis="property test")

    with ctx.db.connect() as conn:
        for cid, (stored, value) in zip(ids, rows, strict=True):
            if value is None or mode is FlagsMode.IGNORE:
                expected = stored
            elif mode is FlagsMode.MERGE:
                expected = grant(stored, value)
            else:
                expected = value
            assert get_contact(conn, cid).privacy_flags == expected
    assert check_flags(ctx).mismatch is None
    assert verify_ledger(ctx).fault is None
