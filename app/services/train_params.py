"""The parameters a training request may override: one table, checked by type and range.

Each entry maps a request field to a params.yaml path that ``dvc exp run -S ++path=value`` sets (``++``
adds the key when params.yaml lacks it). The fit settings go to ``train.fit``, which both decoders share,
and to each decoder's own ``train.<decoder>.fit`` too, whose keys (the Transformer's learning rate, the
LSTM's epochs) would otherwise win; with ``decoder`` they go to that decoder's own only, so DVC retrains
only it.
``decoder`` cannot drop the other decoder from a run: ``evaluate`` in dvc.yaml reads both models' folders.
Extend ``OVERRIDES`` when a stage gains a parameter; nothing else needs to change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import ApiError


@dataclass(frozen=True)
class Override:
    """One overridable parameter: its params.yaml path, type, and allowed range or choices."""

    param: str
    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    per_decoder: str | None = None  # the path when a decoder is chosen, with "{decoder}" for it

    def check(self, field: str, value: Any) -> Any:
        """Return ``value`` if it has the right type and lies in range; else raise a 400 saying why."""
        if self.kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type: 3.0 is the integer 3 (to JSON Schema too), 2.5 is not
        kind_ok = isinstance(value, self.kind) and not isinstance(value, bool)
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, kind_ok = float(value), True
        if not kind_ok or (self.kind is float and not math.isfinite(value)):
            raise InvalidOverride(f"{field} must be {self.describe()}")
        if self.choices and value not in self.choices:
            raise InvalidOverride(f"{field} must be one of {', '.join(self.choices)}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise InvalidOverride(f"{field} must be {self.describe()}")
        return value

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        name = {int: "an integer", float: "a number", str: "a string"}[self.kind]
        return f"{name} from {self.low:g} to {self.high:g}" if self.low is not None else name


class InvalidOverride(ApiError):
    status, code = 400, "invalid_override"


def _fit(key: str, kind: type, low: float, high: float) -> Override:
    """A ``train.fit`` setting, or the chosen decoder's own (``train.<decoder>.fit``)."""
    return Override(f"train.fit.{key}", kind, low, high, per_decoder=f"train.{{decoder}}.fit.{key}")


DECODERS = ("lstm", "transformer")
OVERRIDES: dict[str, Override] = {
    "epochs": _fit("epochs", int, 1, 500),
    "learning_rate": _fit("learning_rate", float, 1e-6, 1.0),
    "batch_size": _fit("batch_size", int, 1, 1024),
    "decoder": Override("train.{decoder}.fit", str, choices=DECODERS),  # chooses where fit goes
    "seed": _fit("seed", int, 0, 2**31 - 1),
    "dataset_size": Override("download.synthetic.num_images", int, 10, 100_000),
}


def check_overrides(body: Any, table: Mapping[str, Override] = OVERRIDES) -> dict[str, Any]:
    """The request body's overrides, each checked; unknown fields are refused, naming the known ones."""
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise InvalidOverride("the body must be a JSON object of parameter overrides, e.g. {\"epochs\": 3}")
    unknown = sorted(set(body) - set(table))
    if unknown:
        raise InvalidOverride(f"unknown parameter: the parameters allowed are {', '.join(table)}")
    checked = {field: table[field].check(field, value) for field, value in body.items()}
    if "decoder" in checked and not any(table[field].per_decoder for field in checked):
        scoped = ", ".join(field for field, override in table.items() if override.per_decoder)
        raise InvalidOverride(f"decoder only says which decoder the fit settings apply to: give one of {scoped} "
                              "with it")
    return checked


def dvc_set_arguments(overrides: Mapping[str, Any], table: Mapping[str, Override] = OVERRIDES) -> list[str]:
    """``["-S", "++train.fit.epochs=3", ...]`` for checked overrides (one argument each: no shell ever sees them)."""
    decoder, arguments = overrides.get("decoder"), []
    for field, value in overrides.items():
        override = table[field]
        if field == "decoder":
            continue
        if not override.per_decoder:
            paths = [override.param]
        elif decoder:
            paths = [override.per_decoder.format(decoder=decoder)]
        else:  # both decoders: each one's own key too, or it would win over train.fit's
            paths = [override.param, *(override.per_decoder.format(decoder=name) for name in DECODERS)]
        arguments += [part for path in paths for part in ("-S", f"++{path}={value}")]
    return arguments
