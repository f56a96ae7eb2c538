"""Recording touchpoints with a guess of each customer's pool row: the guess is checked, so
any guess (right, wrong, out of range) leaves the same pool and report as a plain ingest."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain import Pool
from privdomain.domain.encoded import EncodedIds
from privdomain.domain.touchpoint_columns import TouchpointColumns
from privdomain.errors import ValidationError

N_CUSTOMERS = 12
T0 = 1_767_225_600_000_000  # 2026-01-01 in microseconds


def _pool() -> Pool:
    pool = Pool("brand")
    ids = [f"c{i}" for i in range(N_CUSTOMERS)]
    from privdomain.domain.customer_columns import CustomerColumns

    pool.ingest(
        CustomerColumns.from_arrays(
            id=ids,
            tenant="brand",
            joined_at=np.full(N_CUSTOMERS, T0 - 86_400_000_000, dtype=np.int64),
            source="WECHAT",
            epoch_unit="us",
        )
    )
    assert len(pool) == N_CUSTOMERS
    return pool


def _state(pool: Pool) -> Any:
    log = pool.events
    return (
        log.customer.tolist(),
        log.at.tolist(),
        log.kind.tolist(),
        log.channel.tolist(),
        log.flags.tolist(),
    )


names = st.sampled_from([f"c{i}" for i in range(N_CUSTOMERS)] + ["ghost", "c99", ""])


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    values=st.lists(names, min_size=0, max_size=8),
    rows=st.integers(0, 12),
    replay=st.booleans(),
)
def test_any_hint_gives_the_plain_ingest(
    data: st.DataObject, values: list[str], rows: int, replay: bool
) -> None:
    codes = (
        data.draw(st.lists(st.integers(-1, len(values) - 1), min_size=rows, max_size=rows))
        if values
        else [-1] * rows
    )
    hint = np.array(
        data.draw(
            st.lists(
                st.one_of(
                    st.integers(-3, N_CUSTOMERS + 3),
                    st.just(-1),
                ),
                min_size=len(values),
                max_size=len(values),
            )
        ),
        dtype=np.int64,
    )
    right: bool = data.draw(st.booleans())
    if values and right:  # the right rows, as the daily cycle passes them
        hint = np.array([int(v[1:]) if v[1:].isdigit() else -1 for v in values], dtype=np.int64)
    cols = TouchpointColumns.from_arrays(
        id=[f"t{i}" for i in range(rows)],
        tenant="brand",
        customer_id=EncodedIds(np.array(codes, dtype=np.int64), np.array(values, dtype=object)),
        at=T0 + np.arange(rows, dtype=np.int64) * 1_000_000,
        channel="WECHAT",
        kind="SENT",
        epoch_unit="us",
    )
    plain, hinted = _pool(), _pool()
    if replay:  # some ids already recorded: duplicates and conflicts go through the same checks
        early = cols.take(np.arange(0, rows, 2))
        plain.ingest(early)
        hinted.ingest(early)
    want = plain.ingest(cols)
    got = hinted._ingest_touchpoints(cols, hint)
    assert got.touchpoints_accepted == want.touchpoints_accepted
    assert got.duplicate_touchpoints.tolist() == want.duplicate_touchpoints.tolist()
    assert [(r.index, r.reason, r.detail) for r in got.rejected] == [
        (r.index, r.reason, r.detail) for r in want.rejected
    ]
    assert _state(hinted) == _state(plain)
    # idempotent the same way: the hinted pool takes the batch again as duplicates only
    again = hinted._ingest_touchpoints(cols, hint)
    assert again.touchpoints_accepted == 0
    assert pickle.loads(pickle.dumps(hinted)).n_touchpoints == plain.n_touchpoints


def test_a_hint_of_another_length_is_ignored_and_bad_input_is_refused() -> None:
    pool = _pool()
    cols = TouchpointColumns.from_arrays(
        id=["a", "b"],
        tenant="brand",
        customer_id=["c1", "c2"],
        at=np.array([T0, T0 + 1], dtype=np.int64),
        channel="SMS",
        kind="SENT",
        epoch_unit="us",
    )
    report = pool._ingest_touchpoints(cols, np.array([5], dtype=np.int64))
    assert report.touchpoints_accepted == 2
    assert pool.events.customer.tolist()[-2:] == [1, 2]
    with pytest.raises(ValidationError):
        pool._ingest_touchpoints([], np.zeros(0, dtype=np.int64))  # type: ignore[arg-type]
