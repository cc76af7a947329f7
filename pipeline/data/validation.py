"""Great Expectations checks of the caption table and the images, run inside ``preprocess``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from pipeline.errors import UserError

log = logging.getLogger(__name__)


class DataValidationError(UserError, RuntimeError):
    """The data failed one or more expectations; the message is a readable report."""

    def __init__(self, message: str, report: dict) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class ValidationRules:
    """Bounds the data must keep (``preprocess.validation`` in params.yaml)."""

    caption_words: tuple[int, int] = (1, 50)
    captions_per_image: tuple[int, int] = (5, 5)
    captions_per_image_mostly: float = 0.99  # a few images may lose a malformed caption line
    split_fractions: dict | None = None  # split -> (min, max) fraction of images


def _suites(rules: ValidationRules):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    lo, hi = rules.captions_per_image
    captions = gx.ExpectationSuite(name="captions", expectations=[
        gxe.ExpectColumnValuesToNotBeNull(column="caption"),
        gxe.ExpectColumnValueLengthsToBeBetween(column="caption", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="words", min_value=rules.caption_words[0],
                                          max_value=rules.caption_words[1]),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["image", "caption"]),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "dev", "test"]),
    ])
    images = gx.ExpectationSuite(name="images", expectations=[
        gxe.ExpectColumnValuesToBeUnique(column="image"),
        gxe.ExpectColumnValuesToBeInSet(column="exists", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="decodes", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="captions", min_value=lo, max_value=hi,
                                          mostly=rules.captions_per_image_mostly),
        gxe.ExpectColumnValuesToBeBetween(column="captions", min_value=1, max_value=hi),
        *[gxe.ExpectColumnMeanToBeBetween(column=f"in_{split}", min_value=low, max_value=high)
          for split, (low, high) in (rules.split_fractions or {}).items()],
    ])
    return captions, images


def _run(context, name: str, frame: pd.DataFrame, suite, index_column: str):
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas(name).add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5,
                                                "unexpected_index_column_names": [index_column]})


def validate(table: pd.DataFrame, images: pd.DataFrame, rules: ValidationRules) -> dict:
    """Validate the caption table and the per-image table; return the JSON result, raise on failure.

    ``table`` has ``image``, ``caption``, ``split``; ``images`` has ``image``, ``split``, ``exists``,
    ``decodes`` and ``captions`` (its number of captions).
    """
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    captions_frame = table.assign(words=table["caption"].str.split().str.len())
    images_frame = images.assign(**{f"in_{s}": (images["split"] == s).astype(float) for s in ("train", "dev", "test")})
    captions_suite, images_suite = _suites(rules)
    results = {"captions": _run(context, "captions", captions_frame, captions_suite, "image"),
               "images": _run(context, "images", images_frame, images_suite, "image")}
    report = {"success": all(r.success for r in results.values()),
              "suites": {name: r.to_json_dict() for name, r in results.items()}}
    failures = [_describe(name, r) for name, res in results.items() for r in res.results if not r.success]
    for name, res in results.items():
        log.info("data validation %s: %s", name, res.statistics)
    if failures:
        raise DataValidationError("data validation failed:\n" + "\n".join(failures), report)
    return report


def _describe(suite: str, result) -> str:
    """One readable paragraph about a failed expectation, with example rows."""
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    found = result.result or {}
    lines = [f"- [{suite}] {config.type} {kwargs}"]
    if "observed_value" in found:
        lines.append(f"    observed: {found['observed_value']}")
    if found.get("unexpected_count"):
        lines.append(f"    {found['unexpected_count']} unexpected of {found.get('element_count')} "
                     f"({found.get('unexpected_percent', 0):.2f}%)")
        examples = found.get("partial_unexpected_index_list") or found.get("partial_unexpected_list") or []
        lines.extend(f"    e.g. {example}" for example in examples[:5])
    return "\n".join(lines)
