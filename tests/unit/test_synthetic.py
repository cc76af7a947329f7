"""The embedded dataset: deterministic, in Flickr8k's layout, and faithful to its scenes."""

import hashlib
import json

import numpy as np
import pytest

from pipeline.data.layout import IMAGES_DIR, SCENES_FILE, SPLIT_FILES, TEXT_DIR, TOKEN_FILE, ZIP_DIR, find_layout
from pipeline.data.scenes import SCENE_TYPES, Scene, sample_scene
from pipeline.data.synthetic import SyntheticConfig, assign_splits, generate


def _digest(root):
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    config = SyntheticConfig(num_images=50, seed=3)
    counts = generate(root, config, workers=1)
    return root, config, counts


def test_written_in_flickr8k_layout(dataset):
    root, config, counts = dataset
    layout = find_layout(root)
    assert layout.kind == "official"
    assert layout.images_dir == root / ZIP_DIR / IMAGES_DIR
    assert layout.captions_file == root / TEXT_DIR / TOKEN_FILE
    assert set(layout.split_files) == set(SPLIT_FILES)
    assert layout.scenes_file == root / TEXT_DIR / SCENES_FILE
    assert len(list(layout.images_dir.glob("*.jpg"))) == 50
    assert sum(counts.values()) == 50 and counts == {"train": 40, "dev": 5, "test": 5}


def test_five_distinct_captions_per_image_in_token_format(dataset):
    root, _, _ = dataset
    lines = (root / TEXT_DIR / TOKEN_FILE).read_text().splitlines()
    assert len(lines) == 250
    by_image = {}
    for line in lines:
        key, caption = line.split("\t")
        name, number = key.split("#")
        by_image.setdefault(name, []).append((int(number), caption))
    assert all(sorted(n for n, _ in caps) == [0, 1, 2, 3, 4] for caps in by_image.values())
    assert all(len({c for _, c in caps}) == 5 for caps in by_image.values())


def test_scene_file_matches_images_and_types(dataset):
    root, _, _ = dataset
    scenes = [json.loads(line) for line in (root / TEXT_DIR / SCENES_FILE).read_text().splitlines()]
    assert len(scenes) == 50
    assert {s["kind"] for s in scenes} == set(SCENE_TYPES)
    assert all((root / ZIP_DIR / IMAGES_DIR / s["image"]).is_file() for s in scenes)


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, dataset):
    root, config, _ = dataset
    generate(tmp_path / "again", config, workers=2)
    assert _digest(tmp_path / "again") == _digest(root)
    generate(tmp_path / "other", SyntheticConfig(num_images=50, seed=4), workers=1)
    assert _digest(tmp_path / "other") != _digest(root)


def test_splits_spread_every_scene_type():
    splits = assign_splits(1000, SyntheticConfig(num_images=1000))
    for k in range(len(SCENE_TYPES)):
        of_type = splits[k::len(SCENE_TYPES)]
        assert of_type.count("test") == 20 and of_type.count("dev") == 20


@pytest.mark.parametrize("kind", SCENE_TYPES)
def test_objects_do_not_overlap_and_relations_hold(kind):
    rng = np.random.default_rng(5)
    for _ in range(100):
        scene = sample_scene(rng, kind)
        objs = scene.objects
        for i, a in enumerate(objs):
            assert a.radius < a.x < 1 - a.radius and a.radius < a.y < 1 - a.radius
            for b in objs[i + 1:]:
                assert np.hypot(a.x - b.x, a.y - b.y) > a.radius + b.radius
        if scene.relation:
            a, b = objs
            dx, dy = b.x - a.x, b.y - a.y
            expected = {"left": dx > 0, "right": dx < 0, "above": dy > 0, "below": dy < 0}[scene.relation]
            along, across = (dx, dy) if scene.relation in ("left", "right") else (dy, dx)
            assert expected and abs(across) < abs(along)


def test_scene_round_trips_through_dict():
    scene = sample_scene(np.random.default_rng(0), "relation")
    assert Scene.from_dict(json.loads(json.dumps(scene.to_dict()))) == scene


@pytest.mark.parametrize("bad", [{"num_images": 3}, {"image_size": 8}, {"splits": (0.5, 0.5, 0.5)}])
def test_bad_config_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="download.synthetic"):
        SyntheticConfig(**bad)


@pytest.mark.parametrize("num_images", [10, 13, 30, 47])
def test_small_datasets_still_fill_every_split_in_proportion(num_images):
    splits = assign_splits(num_images, SyntheticConfig(num_images=num_images))
    assert splits.count("train") == round(0.8 * num_images)
    assert splits.count("test") == num_images - round(0.9 * num_images) >= 1
    assert splits.count("dev") >= 1
