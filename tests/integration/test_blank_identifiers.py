"""An empty id or code names nothing: it gets the 404 of what it names, as an unknown one does. DynamoDB refuses an
empty key value even in a read, which answered 500 (found by the API fuzz, tests/fuzz)."""

import pytest


@pytest.mark.parametrize(
    ("applies_to", "code"),
    [
        ({"billable_metric_codes": [""]}, "billable_metrics_not_found"),
        ({"plan_codes": [""]}, "plans_not_found"),
    ],
)
def test_a_coupon_limited_to_an_empty_code_is_limited_to_an_unknown_one(api, applies_to, code):
    # Given a percentage coupon whose limits name an empty code
    coupon = {
        "name": "Launch",
        "code": "launch",
        "coupon_type": "percentage",
        "percentage_rate": "10",
        "frequency": "once",
        "expiration": "no_expiration",
        "applies_to": applies_to,
    }
    # When it is created
    response = api.post("/coupons", {"coupon": coupon})
    # Then it is refused as a limit to a code that does not exist
    assert (response.status, response.json) == (404, {"status": 404, "error": "Not Found", "code": code})


@pytest.mark.parametrize("usage", ["current_usage", "past_usage"])
def test_the_usage_of_an_empty_subscription_id_is_that_of_an_unknown_subscription(api, usage):
    # Given a customer
    assert api.post("/customers", {"customer": {"external_id": "cus_1"}}).status == 200
    # When its usage is asked for an empty external_subscription_id
    response = api.get(f"/customers/cus_1/{usage}", query={"external_subscription_id": ""})
    # Then no subscription has that id
    assert (response.status, response.json["code"]) == (404, "subscription_not_found")
