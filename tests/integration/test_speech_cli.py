"""``python -m pipeline.speech``: writes real audio atomically, and fails cleanly on bad input."""

import io
import os
import subprocess
import sys

import pytest

from pipeline.speech.__main__ import main

sf = pytest.importorskip("soundfile", reason="decoding MP3 in tests needs soundfile")


@pytest.mark.parametrize("name", ["out.mp3", "out.WAV"])
def test_writes_the_format_named_by_the_extension(tmp_path, name):
    out = tmp_path / name
    assert main(["a dog runs on the grass", "-o", str(out), "--lang", "en", "--rate", "160"]) == 0
    samples, rate = sf.read(io.BytesIO(out.read_bytes()))
    assert rate == 22050 and 0.8 < len(samples) / rate < 4
    assert (out.read_bytes()[:4] == b"RIFF") == name.lower().endswith(".wav")
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary file left behind
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)


def test_makes_missing_folders(tmp_path):
    out = tmp_path / "new" / "folder" / "out.mp3"
    assert main(["a dog", "-o", str(out)]) == 0
    assert sf.read(str(out))[1] == 22050


def test_replaces_an_existing_file(tmp_path):
    out = tmp_path / "out.mp3"
    out.write_bytes(b"old")
    assert main(["a dog", "-o", str(out)]) == 0
    assert out.read_bytes() != b"old" and sf.read(io.BytesIO(out.read_bytes()))[1] == 22050


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   ", "-o", "{tmp}/x.mp3"], "text is empty"),
        (["a dog", "-o", "{tmp}/x.mp3", "--lang", "xx"], "unsupported language 'xx'; supported: de, en, es, fr"),
        (["a dog", "-o", "{tmp}/x.mp3", "--rate", "1000"], "from 80 to 450"),
        (["a dog", "-o", "{tmp}/x.ogg"], "name it .mp3 or .wav"),
        (["a dog", "-o", "{tmp}/x.mp3", "--engine", "piper"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path, args, message):
    argv = [a.format(tmp=tmp_path) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.speech", *argv], capture_output=True, text=True, timeout=60, cwd=os.getcwd()
    )
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.mp3").exists()


def test_reads_text_from_stdin(tmp_path):
    out = tmp_path / "out.wav"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.speech", "-", "-o", str(out)],
        input="a cat on a sofa\n", capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "spoken by espeak" in proc.stderr and proc.stdout == ""
    assert sf.read(str(out))[1] == 22050
