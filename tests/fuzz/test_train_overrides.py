"""Fuzzed training overrides (the body of POST /api/train), checked without starting anything: any JSON value
is either refused with ``InvalidOverride`` (a 400) or becomes in-range ``-S ++param=value`` arguments."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from app.services.train_params import DECODERS, OVERRIDES, InvalidOverride, check_overrides, dvc_set_arguments
from tests.fuzz import FUZZ

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=8)
# Values near and beyond each field's bounds, of its own type and of others (3.0 for an integer field, ...)
VALUES = st.one_of(st.integers(-5, 2**31 + 5), st.integers(-(10**30), 10**30), st.floats(), st.floats(1e-7, 1.1),
                   st.floats(0, 2000), st.integers(-5, 2000).map(float), st.sampled_from(["lstm", "transformer"]),
                   st.text(max_size=12), st.booleans(), st.none(), JSON)


def in_range(override) -> st.SearchStrategy:
    """Values a field accepts: its choices, or numbers between its bounds (integers also as 3.0)."""
    if override.choices:
        return st.sampled_from(override.choices)
    if override.kind is int:
        return st.integers(int(override.low), int(override.high)).flatmap(lambda n: st.sampled_from([n, float(n)]))
    return st.floats(override.low, override.high)


FITTING = st.fixed_dictionaries({}, optional={field: in_range(override) for field, override in OVERRIDES.items()})
BODIES = st.one_of(FITTING, st.dictionaries(st.sampled_from(list(OVERRIDES)), VALUES, max_size=len(OVERRIDES)),
                   st.dictionaries(st.text(max_size=12), VALUES, max_size=3), JSON)
ARGUMENT = re.compile(r"\+\+[a-z_.]+=[0-9a-z.e+-]+")


@settings(FUZZ, max_examples=400)
@given(body=BODIES)
def test_any_body_is_refused_or_in_range(body):
    """Any JSON body: a 400 with a message, or checked values of the field's own type, in range, that become
    ``-S ++param=value`` arguments, one per params.yaml path (nothing a shell or DVC could read as more than a
    value)."""
    try:
        checked = check_overrides(body)
    except InvalidOverride as refused:
        assert refused.status == 400 and refused.message.strip()
        event("refused")
        return
    event("accepted")
    for field, value in checked.items():
        override = OVERRIDES[field]
        assert type(value) is override.kind  # 3.0 for an integer field came back as 3
        assert value == body[field]  # the value the client sent (as a number)
        if override.low is not None:
            assert override.low <= value <= override.high
        if override.choices:
            assert value in override.choices
    arguments = dvc_set_arguments(checked)
    assert arguments[::2] == ["-S"] * (len(arguments) // 2)
    assert all(ARGUMENT.fullmatch(argument) for argument in arguments[1::2]), arguments
    per_field = {field: 1 if "decoder" in checked or not OVERRIDES[field].per_decoder else 1 + len(DECODERS)
                 for field in set(checked) - {"decoder"}}  # without decoder: train.fit and each decoder's own
    assert len(arguments) // 2 == sum(per_field.values())
    json.dumps(checked, allow_nan=False)  # what the job row records: plain finite JSON


@settings(FUZZ, max_examples=200)
@given(body=FITTING)
def test_values_in_range_are_accepted(body):
    """Every field in range is accepted, in any combination, except decoder alone (it only says where the fit
    settings go)."""
    scoped = [field for field in body if OVERRIDES[field].per_decoder]
    if "decoder" in body and not scoped:
        with pytest.raises(InvalidOverride, match="decoder only says"):
            check_overrides(body)
    else:
        assert check_overrides(body) == body


INTEGER_FIELDS = [field for field, override in OVERRIDES.items() if override.kind is int]


@settings(FUZZ, max_examples=100)
@given(field=st.sampled_from(INTEGER_FIELDS), data=st.data())
def test_an_integral_number_is_an_integer(field, data):
    """JSON has one number type, and JSON Schema counts 3.0 as an integer: so does the service."""
    override = OVERRIDES[field]
    number = data.draw(st.integers(int(override.low), int(override.high)))
    assert check_overrides({field: float(number)}) == check_overrides({field: number}) == {field: number}
