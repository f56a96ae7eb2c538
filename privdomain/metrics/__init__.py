"""Pool metrics: the three core metrics of a healthy pool and the figures around them."""

from privdomain.metrics._overview import PoolOverview, overview

__all__ = ["PoolOverview", "overview"]
