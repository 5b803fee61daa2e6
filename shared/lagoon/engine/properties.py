"""Charge `properties`, named and validated exactly as Lago names them.

One model per charge model (spec: `components.schemas.ChargeProperties`). Amounts are decimal strings in
Lago's API; Lagoon accepts strings or numbers, keeps them as `Decimal` and serialises them back as strings
(`dump_charge_properties`). Properties that do not belong to the charge model are dropped, as Lago filters
them per charge model instead of rejecting them.

Validation error codes follow Lago's charge validators (the public docs do not list them):
- standard / package: `amount` → `invalid_amount` (also when missing);
- package: `package_size` → `invalid_package_size` (integer > 0), `free_units` → `invalid_free_units`;
- graduated / volume / graduated_percentage: `missing_<name>_ranges` when empty, `invalid_<name>_ranges`
  when the bounds are not contiguous, `per_unit_amount` / `flat_amount` → `invalid_amount`,
  graduated percentage `rate` → `invalid_rate`;
- percentage: `rate` → `invalid_rate`, `fixed_amount` → `invalid_fixed_amount`,
  `free_units_per_events` → `invalid_free_units_per_events`, `free_units_per_total_aggregation` →
  `invalid_free_units_per_total_aggregation`, `per_transaction_min_amount` / `per_transaction_max_amount` →
  `invalid_amount`, and a max below the min → `per_transaction_max_amount`:
  `per_transaction_max_lower_than_per_transaction_min`;
- `grouped_by` / `pricing_group_keys` not a list of strings → `invalid_type`.

Range bounds follow lago-api's `Validators::RangeBoundsValidator`, which accepts more than the spec's "0 or
the previous range's `to_value + 1`": a graduated or graduated percentage tier starts at the previous
`to_value` (adjacent, decimal bounds allowed) or at `to_value + 1`, the first one at 0 or 1; a volume tier at
`to_value + 1` or `to_value + 2` (its validator expects `to_value + 1` and then allows one more). `to_value`
"must be higher than the from_value of the same tier" and "must be null for the last tier". Bounds are
numbers: integral ones are echoed as integers, others as the JSON number they came as.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, FieldSerializationInfo, field_serializer

from lagoon.engine.numbers import property_number

CHARGE_MODELS: tuple[str, ...] = (
    "standard",
    "graduated",
    "volume",
    "package",
    "percentage",
    "graduated_percentage",
    "dynamic",
)
"""Charge models Lago accepts (spec: `ChargeModelEnum`)."""

AGGREGATION_TYPES: tuple[str, ...] = (
    "count_agg",
    "sum_agg",
    "max_agg",
    "unique_count_agg",
    "weighted_sum_agg",
    "latest_agg",
)
"""Billable metric aggregation types (spec: `BillableMetricObject.aggregation_type`). `custom_agg` (custom
SQL expressions) is deferred to a later wave (DECISIONS.md)."""

ROUNDING_FUNCTIONS: tuple[str, ...] = ("round", "ceil", "floor")
"""Billable metric `rounding_function` values (spec: `BillableMetricObject.rounding_function`)."""


class ChargePropertiesError(ValueError):
    """Charge properties Lago would refuse; `details` maps a property to Lago error codes.

    Shaped like Lago's 422 `validation_errors` body: `{"graduated_ranges": ["invalid_graduated_ranges"]}`.
    """

    def __init__(self, details: dict[str, list[str]]) -> None:
        super().__init__(f"invalid charge properties: {details}")
        self.details = details


def _decimal_text(value: Decimal) -> str:
    """Lago returns amounts as plain decimal strings ("0.5", never "5E-1")."""
    return format(value, "f")


_BOUND_FIELDS = frozenset({"from_value", "to_value"})


def bound_number(value: Decimal | None) -> int | float | None:
    """A range bound as Lago echoes it, a JSON number: 10 for 10 or 10.0, 0.5 for 0.5.

    Exact: `_parse_bound` only keeps bounds a JSON number carries exactly."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


# A plain BaseModel, not lagoon.models.LagoonModel: with a deferred schema, pydantic 2.13 fails to dump a
# validated subclass of this base and its "*" field serializer ("'MockValSer' object is not an instance of
# 'SchemaSerializer'" on model_dump); every function that prices a charge needs these models anyway.
class _PropertiesModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @field_serializer("*", when_used="always")
    def _serialise_decimals(self, value: Any, info: FieldSerializationInfo) -> Any:
        if info.field_name in _BOUND_FIELDS:
            return bound_number(value)
        if isinstance(value, Decimal):
            return _decimal_text(value)
        return value


class _GroupKeys(_PropertiesModel):
    """Group keys every charge model accepts.

    `grouped_by` is deprecated in the spec in favour of `pricing_group_keys`; both are echoed as sent and
    `group_keys` gives the effective list (pricing_group_keys first).
    """

    grouped_by: list[str] | None = None
    pricing_group_keys: list[str] | None = None

    @property
    def group_keys(self) -> tuple[str, ...]:
        """The event properties whose values split this charge into separate fees."""
        return tuple(self.pricing_group_keys or self.grouped_by or ())


class StandardProperties(_GroupKeys):
    """standard: `amount` per unit."""

    amount: Decimal


class GraduatedRange(_PropertiesModel):
    """One tier of a graduated or volume charge; `to_value` is None for the last, open tier."""

    from_value: Decimal
    to_value: Decimal | None
    per_unit_amount: Decimal
    flat_amount: Decimal


class GraduatedProperties(_GroupKeys):
    """graduated: each tier prices the units that fall inside it, plus its flat amount once reached."""

    graduated_ranges: list[GraduatedRange]


class VolumeRange(GraduatedRange):
    """One tier of a volume charge (same fields as a graduated tier)."""


class VolumeProperties(_GroupKeys):
    """volume: the single tier containing the total units prices all of them."""

    volume_ranges: list[VolumeRange]


class PackageProperties(_GroupKeys):
    """package: `amount` per started pack of `package_size` units, after `free_units`."""

    amount: Decimal
    package_size: int
    free_units: int = 0


class PercentageProperties(_GroupKeys):
    """percentage: `rate` % of the aggregated amount plus `fixed_amount` per transaction, with free units."""

    rate: Decimal
    fixed_amount: Decimal | None = None
    free_units_per_events: int | None = None
    free_units_per_total_aggregation: Decimal | None = None
    per_transaction_min_amount: Decimal | None = None
    per_transaction_max_amount: Decimal | None = None


class GraduatedPercentageRange(_PropertiesModel):
    """One tier of a graduated_percentage charge: `rate` % of the amount inside it plus `flat_amount`."""

    from_value: Decimal
    to_value: Decimal | None
    rate: Decimal
    flat_amount: Decimal


class GraduatedPercentageProperties(_GroupKeys):
    """graduated_percentage: a percentage rate per tier of the aggregated amount."""

    graduated_percentage_ranges: list[GraduatedPercentageRange]


class DynamicProperties(_GroupKeys):
    """dynamic: the price comes with each event (`precise_total_amount_cents`); no pricing properties."""


ChargeProperties = (
    StandardProperties
    | GraduatedProperties
    | VolumeProperties
    | PackageProperties
    | PercentageProperties
    | GraduatedPercentageProperties
    | DynamicProperties
)


class _ErrorCollector:
    """Collects Lago error codes per property, each code once, in the order found."""

    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, field: str, code: str) -> None:
        codes = self.details.setdefault(field, [])
        if code not in codes:
            codes.append(code)

    def raise_if_any(self) -> None:
        if self.details:
            raise ChargePropertiesError(self.details)


def parse_decimal(value: object) -> Decimal | None:
    """A bounded, finite Decimal from a Lago decimal string or a JSON number; None when it is not one.

    ASCII digits only, at most 20 integer digits and 26 decimals (`lagoon.engine.numbers`), so "1e400",
    "NaN", "١٢٣" or "1_000" are refused. Floats go through `repr` so 0.1 becomes Decimal("0.1").
    """
    return property_number(value)


def _parse_amount(value: object) -> Decimal | None:
    """A non-negative decimal amount (Lago's `DecimalAmountService.valid_amount?`)."""
    parsed = parse_decimal(value)
    if parsed is None or parsed < 0:
        return None
    return parsed


def _parse_integer(value: object) -> int | None:
    """An integer given as a JSON integer, an integral number or an integral string, within the engine's
    bounded numbers (a 4,000-digit `free_units` or `package_size` was accepted)."""
    if isinstance(value, bool):
        return None
    parsed = parse_decimal(value)
    if parsed is None or parsed != parsed.to_integral_value():
        return None
    return int(parsed)


def _parse_bound(value: object) -> Decimal | None:
    """A range bound: a bounded number that a JSON number carries exactly (lago-api reads bounds as
    `BigDecimal(value.to_s)` of the JSON number), so the bound priced is the bound echoed."""
    parsed = parse_decimal(value)
    if parsed is None:
        return None
    if parsed != parsed.to_integral_value() and Decimal(repr(float(parsed))) != parsed:
        return None
    return parsed


def _bounds_ok(
    from_value: Decimal | None, to_value: Decimal | None, raw_to: object, expected_from: Decimal, last: bool
) -> bool:
    """lago-api `RangeBoundsValidator#valid_bounds?`: `from_value` is the expected one or one above it; the
    last tier is open, the others end above their start."""
    if from_value is None or from_value not in (expected_from, expected_from + 1):
        return False
    if last:
        return raw_to is None
    return to_value is not None and to_value > from_value


def _read_group_keys(properties: Mapping[str, Any], errors: _ErrorCollector) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for field in ("grouped_by", "pricing_group_keys"):
        if field not in properties or properties[field] is None:
            continue
        value = properties[field]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            errors.add(field, "invalid_type")
            continue
        keys[field] = list(value)
    return keys


def _read_ranges(
    properties: Mapping[str, Any],
    field: str,
    amount_fields: tuple[str, ...],
    errors: _ErrorCollector,
) -> list[dict[str, Any]]:
    """Tiers with contiguous bounds from 0 (or 1), the last one open, as lago-api's validators accept them
    (module docstring): a volume tier starts one above the previous `to_value` (`+1` or `+2`), the others at
    it or one above."""
    short_name = field.removesuffix("_ranges")
    step = Decimal(1) if field == "volume_ranges" else Decimal(0)
    ranges = properties.get(field)
    if not ranges:
        errors.add(field, f"missing_{field}")
        return []
    if not isinstance(ranges, list) or not all(isinstance(item, Mapping) for item in ranges):
        errors.add(field, f"invalid_{short_name}_ranges")
        return []
    cleaned: list[dict[str, Any]] = []
    expected_from = Decimal(0)
    last_index = len(ranges) - 1
    for index, tier in enumerate(ranges):
        row: dict[str, Any] = {}
        for amount_field in amount_fields:
            if amount_field == "rate":
                amount = _parse_amount(tier.get("rate"))
                if amount is None:
                    errors.add("rate", "invalid_rate")
            else:
                amount = _parse_amount(tier.get(amount_field))
                if amount is None:
                    errors.add(amount_field, "invalid_amount")
            row[amount_field] = amount
        from_value = _parse_bound(tier.get("from_value"))
        raw_to = tier.get("to_value")
        to_value = None if raw_to is None else _parse_bound(raw_to)
        if not _bounds_ok(from_value, to_value, raw_to, expected_from, index == last_index):
            errors.add(field, f"invalid_{short_name}_ranges")
        # The next tier is checked against what this one claimed (lago-api: `to_value || 0`), so each error
        # is reported once; an unreadable bound keeps the previous expectation.
        if raw_to is None:
            expected_from = step
        elif to_value is not None:
            expected_from = to_value + step
        row["from_value"] = from_value
        row["to_value"] = to_value
        cleaned.append(row)
    return cleaned


def _validate_standard(properties: Mapping[str, Any], errors: _ErrorCollector) -> dict[str, Any]:
    amount = _parse_amount(properties.get("amount"))
    if amount is None:
        errors.add("amount", "invalid_amount")
    return {"amount": amount}


def _validate_package(properties: Mapping[str, Any], errors: _ErrorCollector) -> dict[str, Any]:
    amount = _parse_amount(properties.get("amount"))
    if amount is None:
        errors.add("amount", "invalid_amount")
    package_size = _parse_integer(properties.get("package_size"))
    if package_size is None or package_size <= 0:
        errors.add("package_size", "invalid_package_size")
    raw_free_units = properties.get("free_units")
    free_units = 0 if raw_free_units is None else _parse_integer(raw_free_units)
    if free_units is None or free_units < 0:
        errors.add("free_units", "invalid_free_units")
    return {"amount": amount, "package_size": package_size, "free_units": free_units}


def _validate_percentage(properties: Mapping[str, Any], errors: _ErrorCollector) -> dict[str, Any]:
    values: dict[str, Any] = {}
    rate = _parse_amount(properties.get("rate"))
    if rate is None:
        errors.add("rate", "invalid_rate")
    values["rate"] = rate

    optional_amounts = {
        "fixed_amount": "invalid_fixed_amount",
        "free_units_per_total_aggregation": "invalid_free_units_per_total_aggregation",
        "per_transaction_min_amount": "invalid_amount",
        "per_transaction_max_amount": "invalid_amount",
    }
    for field, code in optional_amounts.items():
        raw = properties.get(field)
        if raw is None:
            continue
        amount = _parse_amount(raw)
        if amount is None:
            errors.add(field, code)
        values[field] = amount

    raw_free_events = properties.get("free_units_per_events")
    if raw_free_events is not None:
        free_events = _parse_integer(raw_free_events)
        if free_events is None or free_events < 0:
            errors.add("free_units_per_events", "invalid_free_units_per_events")
        values["free_units_per_events"] = free_events

    minimum = values.get("per_transaction_min_amount")
    maximum = values.get("per_transaction_max_amount")
    if minimum is not None and maximum is not None and maximum < minimum:
        errors.add("per_transaction_max_amount", "per_transaction_max_lower_than_per_transaction_min")
    return values


def validate_charge_properties(charge_model: str, properties: Mapping[str, Any] | None) -> ChargeProperties:
    """Validate a charge's `properties` for `charge_model` as Lago does and return the typed model.

    Raises `ChargePropertiesError` with Lago's error codes keyed by property name; an unknown charge model
    is reported as `{"charge_model": ["value_is_invalid"]}`.
    """
    if charge_model not in CHARGE_MODELS:
        raise ChargePropertiesError({"charge_model": ["value_is_invalid"]})
    given: Mapping[str, Any] = properties or {}
    if not isinstance(given, Mapping):
        raise ChargePropertiesError({"properties": ["invalid_type"]})

    errors = _ErrorCollector()
    values = _read_group_keys(given, errors)
    model: type[ChargeProperties]
    if charge_model == "standard":
        values.update(_validate_standard(given, errors))
        model = StandardProperties
    elif charge_model == "graduated":
        fields = ("per_unit_amount", "flat_amount")
        values["graduated_ranges"] = _read_ranges(given, "graduated_ranges", fields, errors)
        model = GraduatedProperties
    elif charge_model == "volume":
        fields = ("per_unit_amount", "flat_amount")
        values["volume_ranges"] = _read_ranges(given, "volume_ranges", fields, errors)
        model = VolumeProperties
    elif charge_model == "package":
        values.update(_validate_package(given, errors))
        model = PackageProperties
    elif charge_model == "percentage":
        values.update(_validate_percentage(given, errors))
        model = PercentageProperties
    elif charge_model == "graduated_percentage":
        fields = ("rate", "flat_amount")
        ranges = _read_ranges(given, "graduated_percentage_ranges", fields, errors)
        values["graduated_percentage_ranges"] = ranges
        model = GraduatedPercentageProperties
    else:
        model = DynamicProperties
    errors.raise_if_any()
    return model.model_validate(values)


def dump_charge_properties(properties: ChargeProperties) -> dict[str, Any]:
    """The `properties` object as Lago returns it: amounts as decimal strings, unset optional keys omitted.

    A last tier keeps `"to_value": null`, as the spec requires it.
    """
    dumped: dict[str, Any] = properties.model_dump()
    return {key: value for key, value in dumped.items() if value is not None}
