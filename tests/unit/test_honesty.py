"""The judge's parts: flip agreement, the logistic fit, the hedge level, calibration, and what it says."""

import numpy as np
import pytest

from pipeline.models.honesty import Judge, calibration_error, fit_logistic, flip_agreement, hedge_level


class Domain:
    """A domain check that gives fixed ratios."""

    def __init__(self, ratios):
        self.values = np.asarray(ratios, float)

    def ratios(self, images):
        return self.values[: len(images)]


def test_a_mirrored_caption_agrees_when_only_left_and_right_swap():
    caption = "a red circle left of a blue star"
    assert flip_agreement(caption, "a red circle right of a blue star", "content") == 1.0
    assert flip_agreement(caption, "one red circle to the right of one blue star", "content") == 1.0  # phrasing
    assert flip_agreement(caption, "a red circle left of a blue star", "content") == 0.0  # it moved
    assert flip_agreement("", "", "content") == 0.0


def test_word_agreement_is_a_multiset_jaccard_index():
    assert flip_agreement("a dog runs left", "a dog runs right", "words") == 1.0
    assert flip_agreement("a dog runs", "a cat runs", "words") == pytest.approx(2 / 4)
    assert flip_agreement("", "", "words") == 0.0


def test_the_logistic_fit_ranks_by_the_informative_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.1 * rng.normal(size=400)) > 0
    intercept, first, second = fit_logistic(x, y)
    assert first > 5 * abs(second)


def test_the_hedge_level_keeps_the_most_captions_whose_accuracy_is_shown_often_enough():
    confidence = np.linspace(1.0, 0.5, 300)
    right = np.arange(300) < 200  # the 200 most confident are right, the rest wrong
    # 200 of 200 right bounds the accuracy at 0.9886 with 90% assurance, 200 of 201 at 0.9808, 200 of 202 at 0.974
    assert hedge_level(confidence, right, 0.98, 0.9) == confidence[200]
    assert hedge_level(confidence, np.ones(300, bool), 0.98, 0.9) == 0.5  # 300 of 300: every caption is said
    # 50 of 50 right is an observed 1.0 but shows only 0.955 with that assurance: all are hedged
    assert hedge_level(confidence[:50], np.ones(50, bool), 0.98, 0.9) > 1
    assert hedge_level(np.array([0.9, 0.9]), np.array([True, False]), 0.4, 0.5) > 1  # ties go together or not at all


def test_calibration_error_is_zero_when_confidence_matches_accuracy():
    confidence = np.array([0.75] * 4 + [0.25] * 4)
    right = np.array([True, True, True, False, True, False, False, False])
    assert calibration_error(confidence, right) == pytest.approx(0.0)
    assert calibration_error(np.ones(4), np.zeros(4, bool)) == pytest.approx(1.0)


def test_the_judge_says_out_of_domain_and_hedges_below_its_level():  # a judge that reads the mean only
    judge = Judge(Domain([0.5, 0.5, 3.0]), "content", (0.0, 0.0, 4.0, 0.0), hedge_below=0.9)
    captions = ["a red circle left of a blue star"] * 3
    mirrored = ["a red circle right of a blue star", "a green square", "a red circle right of a blue star"]
    described = judge.describe(captions, mirrored, np.zeros(3), np.zeros((3, 8, 8, 3), np.uint8))
    assert [d.in_domain for d in described] == [True, True, False]
    assert [d.sure for d in described] == [True, False, True]  # sigmoid(4) = 0.98; sigmoid(0) = 0.5
    assert described[0].confidence == pytest.approx(1 / (1 + np.exp(-4)))


def test_the_judge_reads_the_least_likely_word_beside_the_mean():
    judge = Judge(Domain([0.5, 0.5]), "content", (4.0, 0.0, 2.0, 0.0, 0.0), hedge_below=0.9)
    scores = np.array([[-0.2, -0.1], [-0.2, -4.0]])  # the same mean; one word of the second is a guess
    described = judge.describe(["a red circle"] * 2, ["a red circle"] * 2, scores, np.zeros((2, 8, 8, 3), np.uint8))
    assert [d.sure for d in described] == [True, False]
    assert described[1].confidence == pytest.approx(1 / (1 + np.exp(4.0)))
