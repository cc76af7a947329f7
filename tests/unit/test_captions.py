"""Caption files in both layouts: parsing, cleaning, and counting what is skipped."""

import pytest

from pipeline.data.captions import clean_caption, read_captions
from pipeline.data.layout import Layout, LayoutError, find_layout
from pipeline.data.skips import Skips


@pytest.mark.parametrize("raw, clean", [
    ("A dog runs through the grass .", "a dog runs through the grass"),
    ("Two  kids,  playing in a 3-foot pool!", "two kids playing in a foot pool"),
    ("The dog’s ball", "the dog's ball"),
    (" ' ", ""),
])
def test_clean_caption(raw, clean):
    assert clean_caption(raw) == clean


def test_token_file_skips_and_counts_malformed_lines(tmp_path):
    token = tmp_path / "Flickr8k.token.txt"
    token.write_text("a.jpg#0\tA cat .\n"
                     "no tab here\n"
                     "b.jpg#x\tA dog .\n"
                     "c.jpg#1\t   \n"
                     "\n"
                     "d.jpg#4\t!!!\n"
                     "2258277193_586949ec62.jpg.1#0\tA dog runs .\n")
    skips = Skips()
    table = read_captions(Layout("official", token, tmp_path), skips)
    assert list(table["image"]) == ["a.jpg", "2258277193_586949ec62.jpg.1"]
    assert skips.counts == {"malformed_caption_line": 3, "caption_empty_after_cleaning": 1}
    assert "no tab here" in skips.report()["malformed_caption_line"]["examples"][0]


def test_kaggle_csv_keeps_commas_and_rejects_a_wrong_header(tmp_path):
    csv = tmp_path / "captions.txt"
    csv.write_text('image,caption\na.jpg,"A cat, sitting ."\nb.jpg,A dog, running .\nc.jpg\n')
    skips = Skips()
    table = read_captions(Layout("kaggle", csv, tmp_path), skips)
    assert list(table["caption"]) == ["a cat sitting", "a dog running"]
    assert skips.counts == {"malformed_caption_line": 1}
    csv.write_text("name;text\na.jpg;A cat\n")
    with pytest.raises(ValueError, match="image,caption"):
        read_captions(Layout("kaggle", csv, tmp_path), Skips())


def test_a_file_with_no_good_line_is_an_error(tmp_path):
    token = tmp_path / "Flickr8k.token.txt"
    token.write_text("garbage\nmore garbage\n")
    with pytest.raises(ValueError, match="no well-formed caption line"):
        read_captions(Layout("official", token, tmp_path), Skips())


def test_layouts_are_recognised_anywhere_below_the_root(tmp_path):
    (tmp_path / "a/Flicker8k_Dataset").mkdir(parents=True)
    (tmp_path / "a/Flicker8k_Dataset/x.jpg").write_bytes(b"")
    (tmp_path / "__MACOSX/b").mkdir(parents=True)
    (tmp_path / "__MACOSX/b/captions.txt").write_text("")
    (tmp_path / "t").mkdir()
    (tmp_path / "t/Flickr8k.token.txt").write_text("")
    (tmp_path / "t/Flickr_8k.trainImages.txt").write_text("")
    layout = find_layout(tmp_path)
    assert layout.kind == "official" and layout.images_dir == tmp_path / "a/Flicker8k_Dataset"
    assert set(layout.split_files) == {"train"} and layout.scenes_file is None


def test_kaggle_layout_and_an_unknown_folder(tmp_path):
    (tmp_path / "Images").mkdir()
    (tmp_path / "Images/x.jpg").write_bytes(b"")
    (tmp_path / "captions.txt").write_text("image,caption\n")
    assert find_layout(tmp_path).kind == "kaggle"
    (tmp_path / "captions.txt").unlink()
    with pytest.raises(LayoutError, match="neither Flickr8k layout"):
        find_layout(tmp_path)
