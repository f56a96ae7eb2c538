"""The one result base: rows aligned to a snapshot, one policy for missing values, row selection,
concatenation of partitions, data frames and previews."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from numpy.typing import NDArray

from privdomain import F
from privdomain.errors import PrivdomainError, UnknownCustomerError, ValidationError
from privdomain.layering import Segmentation
from privdomain.result import Result, plain_column, row_numbers


@attrs.frozen(eq=False, repr=False)
class Scores(Result):
    """A small result: a score, a time and a note per customer."""

    _row_fields: ClassVar[tuple[str, ...]] = ("customer_ids", "score", "when", "note")

    customer_ids: NDArray[np.object_]
    score: NDArray[np.float64]
    when: NDArray[np.datetime64]
    note: NDArray[np.object_]
    model: str = "demo"

    def columns(self) -> dict[str, NDArray[Any]]:
        return {
            "customer_id": self.customer_ids,
            "score": self.score,
            "when": self.when,
            "note": self.note,
        }


def scores() -> Scores:
    return Scores(
        customer_ids=np.array(["a", "b", "c", "d"], dtype=object),
        score=np.array([1.5, np.nan, 3.0, 0.25]),
        when=np.array(["2026-01-02T03:04:05", "NaT", "2026-02-01", "2026-03-01"], "datetime64[ns]"),
        note=np.array([np.int64(3), float("nan"), None, "x"], dtype=object),
    )


def test_one_policy_for_missing_values() -> None:
    records = scores().to_records()
    assert records[0] == {
        "customer_id": "a",
        "score": 1.5,
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "note": 3,
    }
    assert type(records[0]["note"]) is int  # a numpy scalar becomes a Python value
    assert records[1] == {"customer_id": "b", "score": None, "when": None, "note": None}
    assert records[2]["note"] is None
    assert records[3]["note"] == "x"
    # every kind of column, by the same rule
    assert plain_column(np.array([1.0, np.nan], dtype=np.float32)) == [1.0, None]
    assert plain_column(np.array([1, 2], dtype=np.int8)) == [1, 2]
    assert plain_column(np.array([True, False])) == [True, False]
    assert plain_column(np.array([np.datetime64("NaT"), np.float64(2.0)], dtype=object)) == [
        None,
        2.0,
    ]


def test_a_segmentation_follows_the_same_policy() -> None:
    seg = Segmentation(
        "s",
        np.array(["a", "b"], dtype=object),
        np.array([0, 1]),
        ("p", "q"),
        (F("x") >= 1, F("x") < 1),
        columns={"x": [2.0, np.nan], "city": np.array(["上海", None], dtype=object)},
    )
    assert seg.to_records() == [
        {"customer_id": "a", "segment_code": 0, "segment": "p", "x": 2.0, "city": "上海"},
        {"customer_id": "b", "segment_code": 1, "segment": "q", "x": None, "city": None},
    ]
    assert list(seg.columns()) == ["customer_id", "segment_code", "segment", "x", "city"]


def test_frame() -> None:
    pd = pytest.importorskip("pandas")
    frame = scores().to_frame()
    assert frame.index.name == "customer_id"
    assert frame.index.tolist() == ["a", "b", "c", "d"]
    assert str(frame["when"].dt.tz) == "UTC"
    assert pd.isna(frame.loc["b", "score"])
    assert pd.isna(frame.loc["b", "when"])
    assert list(frame.columns) == ["score", "when", "note"]


@pytest.mark.parametrize(
    ("rows", "ids"),
    [
        ([True, False, True, False], ["a", "c"]),
        ([3, 0], ["d", "a"]),
        ([-1], ["d"]),
        (np.array([2, 1], dtype=np.uint8), ["c", "b"]),
        (slice(1, 3), ["b", "c"]),
        ([], []),
    ],
)
def test_take_selects_rows_in_order(rows: Any, ids: list[str]) -> None:
    result = scores()
    taken = result.take(rows)
    assert taken.customer_ids.tolist() == ids
    assert len(taken) == len(ids)
    picked = [result.row(c) for c in ids]
    np.testing.assert_array_equal(taken.score, result.score[picked])
    np.testing.assert_array_equal(taken.when, result.when[picked])
    assert taken.model == "demo"
    assert not taken.score.flags.writeable
    assert result[rows].customer_ids.tolist() == ids


@pytest.mark.parametrize(
    "rows",
    [
        [True, False],  # a mask of the wrong length
        [4],  # out of range
        [-5],
        [0, 0],  # a customer twice
        [0, -4],
        [0.5],
        ["a"],
        "a",
        3,
        None,
        {"a": 1},
        np.zeros((2, 2), dtype=int),
        [[0], [1, 2]],
    ],
)
def test_bad_rows_are_refused(rows: Any) -> None:
    with pytest.raises(ValidationError) as info:
        scores().take(rows)
    assert isinstance(info.value, PrivdomainError)


def test_row_numbers() -> None:
    assert row_numbers([True, False, True], 3).tolist() == [0, 2]
    assert row_numbers([-1, 0], 3).tolist() == [2, 0]
    assert row_numbers(slice(None, None, -1), 3).tolist() == [2, 1, 0]


def test_concat_joins_partitions() -> None:
    result = scores()
    parts = [result.take([2]), result.take([0, 3]), result.take([1])]
    joined = Scores.concat(parts)
    assert joined.customer_ids.tolist() == ["c", "a", "d", "b"]
    np.testing.assert_array_equal(joined.score, result.score[[2, 0, 3, 1]])
    assert Scores.concat([result]).to_records() == result.to_records()
    for bad in ([], [result, result], [result.take([0]), "x"], 5):
        with pytest.raises(ValidationError):
            Scores.concat(bad)


def test_segmentations_take_and_concat() -> None:
    rules = (F("x") >= 1, F("x") < 1)
    seg = Segmentation(
        "s",
        np.array(["a", "b", "c"], dtype=object),
        np.array([0, 1, 0]),
        ("p", "q"),
        rules,
        columns={"x": [2.0, 0.0, 5.0]},
        notes=("learned",),
    )
    taken = seg[seg.mask("p")]
    assert taken.customer_ids.tolist() == ["a", "c"]
    assert taken.counts() == {"p": 2, "q": 0}
    assert taken.columns()["x"].tolist() == [2.0, 5.0]
    assert taken.notes == ("learned",)
    assert "rule: x=5 >= 1: yes" in taken.explain("c")
    joined = Segmentation.concat([seg.take([2]), seg.take([0, 1])])
    assert joined.segment_names.tolist() == ["p", "p", "q"]
    other = attrs.evolve(seg, notes=("learned elsewhere",))
    with pytest.raises(ValidationError, match="configured and fitted alike"):
        Segmentation.concat([seg.take([0]), other.take([1])])


def test_rows_and_explanations() -> None:
    result = scores()
    assert result.row("c") == 2
    with pytest.raises(UnknownCustomerError):
        result.row("zz")
    with pytest.raises(ValidationError):
        result.row(3)  # type: ignore[arg-type]
    text = result.explain("b")
    assert text.splitlines()[0] == "customer 'b' in Scores (4 customers)"
    assert "  score = NaN" in text
    with pytest.raises(TypeError):
        iter(result)  # rows are selected by index, not iterated one by one


def test_previews() -> None:
    result = Scores.concat([scores(), scores().take([])])
    text = repr(result)
    assert text.splitlines()[0] == "Scores (4 customers)"
    assert "score" in text
    assert "NaN" in text
    html = result._repr_html_()
    assert html.startswith("<div><strong>Scores (4 customers)</strong><table>")
    many = Scores(
        customer_ids=np.array([f"c{i}" for i in range(8)], dtype=object),
        score=np.arange(8.0),
        when=np.full(8, "2026-01-01", "datetime64[s]"),
        note=np.full(8, None, dtype=object),
    )
    assert "... (3 more rows)" in repr(many)
    assert "3 more rows" in many._repr_html_()
