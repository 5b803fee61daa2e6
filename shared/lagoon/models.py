"""The one base of every pydantic model in lagoon: schemas are built when a model is first used, not at import.

A Lambda function imports many more models than it ever validates (the invoices function loads the catalog's
plan, add-on and coupon documents through `data/`, and never parses one on most requests). Pydantic builds a
model's validator and serializer when its class is created unless `defer_build` is set; with it, the cost moves
to the first validation of the models a request actually uses, and the import (the cold start) pays nothing for
the rest. Measured with `python -m bench.cold_start` (restructure issue).
"""

from pydantic import BaseModel, ConfigDict


class LagoonModel(BaseModel):
    """A pydantic model whose schema is built on first use. Subclasses' `model_config` merges with this one."""

    model_config = ConfigDict(defer_build=True)
