"""The Spark pattern of the guide (co-grouped ``applyInPandas``) gives the single-machine answers.

Runs where pyspark and a Java runtime are installed (the benchmark environment
``.venv-bench-scale``); skipped elsewhere.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - depends on the machine
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

import pandas as pd  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from privdomain.dask import referral_groups  # noqa: E402
from privdomain.frames import pool_from_frames, to_frame  # noqa: E402
from privdomain.lifecycle import Lifecycle  # noqa: E402
from privdomain.simulate import simulate_pool  # noqa: E402
from privdomain.strategy import merge  # noqa: E402

K = 3
# PySpark warns that it does not fully support pandas 3 yet, and its own code calls pandas in
# ways pandas 3 deprecates; neither is this library's, and what this test uses works
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    # Spark's Python workers run this interpreter (with privdomain), not the first on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.sql.shuffle.partitions", str(K))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_cogrouped_apply_in_pandas_gives_the_single_machine_stages(spark: Any) -> None:
    sim = simulate_pool(400, seed=9)
    people = to_frame(sim.customers, "pandas")
    touches = to_frame(sim.touchpoints, "pandas")
    # Spark frames hold plain columns: ids as text, no tag or attribute columns here
    people = people[["customer_id", "joined_at", "source", "consent", "referrer_id"]]
    touches = touches.astype(dict.fromkeys(("customer_id", "channel", "kind"), str)).drop(
        columns=["tenant", "currency", "agent_id"]
    )
    touches["related_customer_id"] = touches["related_customer_id"].astype(object)
    customers = spark.createDataFrame(people)
    touchpoints = spark.createDataFrame(touches)

    # 1. the referral graph on the driver: every group one key
    links = customers.where("referrer_id is not null").select("customer_id", "referrer_id")
    invites = touchpoints.where("related_customer_id is not null")
    links = links.union(invites.select("customer_id", "related_customer_id")).toPandas()
    ids, keys = referral_groups(links.iloc[:, 0], links.iloc[:, 1])
    groups = spark.createDataFrame(
        pd.DataFrame({"customer_id": ids.astype(str), "group": keys.astype(np.int64)})
    )

    def keyed(frame: Any) -> Any:
        with_group = frame.join(F.broadcast(groups), "customer_id", "left")
        key = F.coalesce(F.col("group"), F.xxhash64("customer_id"))
        return with_group.withColumn("_partition", F.pmod(key, F.lit(K))).drop("group")

    cogrouped = (
        keyed(customers).groupBy("_partition").cogroup(keyed(touchpoints).groupBy("_partition"))
    )
    spec: dict[str, Any] = {
        "tenant": sim.params.tenant,
        "utc_offset": sim.params.utc_offset,
        "customer_columns": {
            "source": "source",
            "consent": "consent",
            "referrer_id": "referrer_id",
        },
        "touchpoint_columns": {
            "amount": "amount_minor",
            "minor_units": True,
            "related_customer_id": "related_customer_id",
        },
    }
    as_of = sim.as_of
    strategy = Lifecycle()

    def summarize(p: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
        pool, reports = pool_from_frames(p, t, **spec)
        assert all(r.ok for r in reports)
        return pd.DataFrame({"summary": [pickle.dumps(strategy.summarize(pool.snapshot(as_of)))]})

    rows = cogrouped.applyInPandas(summarize, "summary binary").collect()
    assert len(rows) == K
    fitted = strategy.fit_summary(merge(pickle.loads(r.summary) for r in rows))

    def apply(p: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
        pool, _ = pool_from_frames(p, t, **spec)
        frame = to_frame(fitted.apply(pool.snapshot(as_of)), "pandas")
        return frame[["customer_id", "relationship"]].astype(str)

    got = cogrouped.applyInPandas(apply, "customer_id string, relationship string").toPandas()

    # the same pool on one machine, from the same plain columns
    pool, _ = pool_from_frames(people, touches, **spec)
    snap = pool.snapshot(as_of)
    want = Lifecycle().fit(snap).apply(snap)
    assert sorted(zip(got["customer_id"], got["relationship"], strict=True)) == sorted(
        zip(
            want.customer_ids.tolist(),
            [str(v) for v in want.columns()["relationship"]],
            strict=True,
        )
    )
    assert isinstance(as_of, dt.datetime)
