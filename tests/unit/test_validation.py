"""Great Expectations: good data passes; each broken rule fails with a report naming example rows."""

import pandas as pd
import pytest

from pipeline.data.validation import DataValidationError, ValidationRules, validate

RULES = ValidationRules(caption_words=(1, 8), captions_per_image=(5, 5), captions_per_image_mostly=0.9,
                        split_fractions={"train": (0.5, 0.9), "dev": (0.05, 0.3), "test": (0.05, 0.3)})


def _data(images=20):
    splits = ["train"] * (images - 4) + ["dev"] * 2 + ["test"] * 2
    rows = [(f"{i}.jpg", f"a caption number {k}", splits[i]) for i in range(images) for k in range(5)]
    table = pd.DataFrame(rows, columns=["image", "caption", "split"])
    frame = pd.DataFrame({"image": [f"{i}.jpg" for i in range(images)], "split": splits, "captions": 5,
                          "exists": True, "decodes": True})
    return table, frame


def test_good_data_passes_and_the_result_is_json_ready():
    import json

    report = validate(*_data(), RULES)
    assert report["success"] is True
    assert set(report["suites"]) == {"captions", "images"}
    json.dumps(report)


@pytest.mark.parametrize("breakage, expected", [
    (lambda t, f: (t.assign(caption=t["caption"].where(t.index != 3, "one two three four five six seven eight nine")),
                   f), "words"),
    (lambda t, f: (pd.concat([t, t.iloc[[0]]]), f), "expect_compound_columns_to_be_unique"),
    (lambda t, f: (t, f.assign(decodes=f.index != 4)), "decodes"),
    (lambda t, f: (t, f.assign(exists=f.index != 2)), "exists"),
    (lambda t, f: (t, f.assign(captions=f["captions"].where(f.index > 5, 4))), "captions"),
    (lambda t, f: (t, f.assign(split="train")), "in_dev"),
])
def test_each_rule_fails_readably(breakage, expected):
    table, frame = breakage(*_data())
    with pytest.raises(DataValidationError) as caught:
        validate(table, frame, RULES)
    message = str(caught.value)
    assert "data validation failed" in message and expected in message
    assert caught.value.report["success"] is False
