"""Caption metrics against values from the reference implementations (NLTK's BLEU, COCO's CIDEr-D)."""

import pytest

from pipeline.data.scenes import Scene, SceneObject
from pipeline.metrics.bleu import corpus_bleu
from pipeline.metrics.ceiling import human_bleu
from pipeline.metrics.cider import corpus_cider_d
from pipeline.metrics.content import content_scores

# NLTK's corpus_bleu docstring example; nltk 3.10.4 gives these four values.
HYP1 = "It is a guide to action which ensures that the military always obeys the commands of the party".split()
REF1A = "It is a guide to action that ensures that the military will forever heed Party commands".split()
REF1B = ("It is the guiding principle which guarantees the military forces always being under the command of "
         "the Party").split()
REF1C = "It is the practical guide for the army always to heed the directions of the party".split()
HYP2 = "he read the book because he was interested in world history".split()
REF2A = "he was interested in world history because he read the book".split()


def test_corpus_bleu_matches_nltk():
    scores = corpus_bleu([[REF1A, REF1B, REF1C], [REF2A]], [HYP1, HYP2])
    assert scores == pytest.approx([0.9655172413793104, 0.8242803277698696, 0.7069430098960677,
                                    0.5920778868801042], abs=1e-12)


def test_bleu_edge_cases():
    assert corpus_bleu([["a b c d".split()]], ["a b c d".split()]) == pytest.approx([1, 1, 1, 1])
    assert corpus_bleu([["a b c d".split()]], ["x y z w".split()]) == [0, 0, 0, 0]
    short = corpus_bleu([["a b c d e f".split()]], ["a b c".split()])
    assert short[0] == pytest.approx(0.36787944, abs=1e-6)  # precision 1, brevity penalty e^(1 - 6/3)
    assert corpus_bleu([["a".split()]], [[]]) == [0, 0, 0, 0]
    with pytest.raises(ValueError):
        corpus_bleu([], [["a"]])


CIDER_CORPUS = [
    (["a red circle to the left of a blue square", "a blue square right of a red circle",
      "there is a red circle and a blue square"], "a red circle left of a blue square"),
    (["three green stars", "a group of three green stars", "there are three green stars on a striped background"],
     "three green stars"),
    (["a small yellow cross", "one yellow cross on a dotted background", "a picture of a yellow cross"],
     "a yellow cross on a plain background"),
]


def test_cider_d_matches_coco_caption():
    refs = [[r.split() for r in rs] for rs, _ in CIDER_CORPUS]
    hyps = [h.split() for _, h in CIDER_CORPUS]
    mean, per = corpus_cider_d(refs, hyps)
    # pycocoevalcap 1.2's Cider().compute_score on the same corpus
    assert mean == pytest.approx(4.234855624344982, abs=1e-9)
    assert per == pytest.approx([4.783349798875665, 4.804763001757347, 3.1164540724019356], abs=1e-9)


def test_human_ceiling_leaves_each_reference_out_in_turn():
    refs = [["a b c d".split(), "a b c d".split(), "a b c d".split()]]
    assert human_bleu(refs) == pytest.approx([1, 1, 1, 1])
    refs = [["a b c d".split(), "w x y z".split()]]
    assert human_bleu(refs) == [0, 0, 0, 0]


def test_content_scores_overall_and_per_type():
    red = SceneObject("circle", "red", "small", 0.2, 0.5, 0.1)
    blue = SceneObject("square", "blue", "small", 0.8, 0.5, 0.1)
    scenes = {"a": Scene("one", (red,), "plain"), "b": Scene("relation", (red, blue), "plain", "left"),
              "c": Scene("relation", (red, blue), "plain", "left")}
    captions = {"a": "a red circle", "b": "a blue square to the right of a red circle",
                "c": "a red circle to the right of a blue square"}
    scores = content_scores(captions, scenes)
    assert scores == {"content": pytest.approx(2 / 3), "content_one": 1.0, "content_relation": 0.5}
