"""Request bodies of `/fees` (the contract's FeeUpdateInput)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict

from lagoon.models import LagoonModel

FeePaymentStatus = Literal["pending", "succeeded", "failed", "refunded"]
FeeType = Literal["charge", "add_on", "subscription", "credit", "commitment"]


class FeeUpdateInput(LagoonModel):
    """`fee` of `PUT /fees/{lago_id}`."""

    model_config = ConfigDict(extra="ignore")

    payment_status: FeePaymentStatus
