"""The offline engine: espeak-ng from the ``espeakng-loader`` wheel, driven through ctypes."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from .encode import Audio
from .errors import EngineError
from .languages import Voice

log = logging.getLogger(__name__)

# From espeak-ng's speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2  # synthesise in the calling thread, hand PCM to the callback
INITIALIZE_DONT_EXIT = 0x8000  # without it a bad data path calls exit() on the whole process
# Milliseconds of audio handed to the callback at a time (0 means 60). Each callback needs the GIL while this
# thread holds espeak's lock, so under load a sentence in one to three calls, not dozens (docs/benchmarks.md).
BUFFER_MS = 10_000
CHARS_UTF8 = 1
POS_CHARACTER = 1
PARAM_RATE = 1
PATH_MAX_BYTES = 159  # espeak copies the data path into char path_home[160]

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _short_data_path(data_path: str) -> str:
    """Return ``data_path``, or a short temporary link (or copy) to it if espeak cannot take it."""
    if len(os.fsencode(data_path)) <= PATH_MAX_BYTES:
        return data_path
    link = Path(tempfile.mkdtemp(prefix="espeak-")) / "espeak-ng-data"
    try:
        link.symlink_to(data_path, target_is_directory=True)
    except OSError:  # e.g. Windows without the symlink privilege
        shutil.copytree(data_path, link)
    log.debug("espeak data path is %d bytes; using %s", len(os.fsencode(data_path)), link)
    return str(link)


class _Library:
    """libespeak-ng, initialised once per process, with the voice and rate it was last given."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise EngineError("the espeak engine needs `pip install espeakng-loader`") from exc
        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data_path = _short_data_path(espeakng_loader.get_data_path())
        except (OSError, RuntimeError) as exc:
            raise EngineError(f"cannot load espeak-ng from espeakng-loader: {exc}") from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        self.sample_rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MS, os.fsencode(data_path), INITIALIZE_DONT_EXIT
        )
        # A bad data path still returns a sample rate; only loading a voice tells.
        if self.sample_rate <= 0 or lib.espeak_SetVoiceByName(b"en") != 0:
            raise EngineError(f"espeak-ng failed to initialise with data at {data_path}")
        self.lib = lib
        self.voice: str | None = "en"
        self.rate_wpm: int | None = None
        self.chunks: list[bytes] = []
        self._callback = _SYNTH_CALLBACK(self._on_audio)  # kept referenced: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        log.info("espeak-ng ready: %d Hz, data at %s", self.sample_rate, data_path)

    def _on_audio(self, wav: ctypes._Pointer, count: int, _events: int) -> int:
        if wav and count > 0:
            self.chunks.append(ctypes.string_at(wav, count * 2))
        return 0  # 0: go on synthesising

    def synthesize(self, text: str, voice: str, rate_wpm: int) -> bytes:
        """Return 16-bit PCM for ``text``; the caller holds ``_lock``."""
        if self.voice != voice:
            self.voice = self.rate_wpm = None  # unknown until set again
            if self.lib.espeak_SetVoiceByName(voice.encode("ascii")) != 0:
                raise EngineError(f"espeak-ng has no voice named {voice!r}")
            self.voice = voice
        if self.rate_wpm != rate_wpm:
            self.lib.espeak_SetParameter(PARAM_RATE, rate_wpm, 0)
            self.rate_wpm = rate_wpm
        encoded = text.encode("utf-8") + b"\0"
        self.chunks.clear()
        status = self.lib.espeak_Synth(encoded, len(encoded), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        pcm = b"".join(self.chunks)
        self.chunks.clear()
        if status != 0:
            raise EngineError(f"espeak_Synth failed with status {status}")
        return pcm


# espeak-ng keeps one voice, one rate and one callback per process: every use holds this lock.
_lock = threading.Lock()
_library: _Library | None = None


def _get_library() -> _Library:
    """Return the process's library, initialising it on first use; the caller holds ``_lock``."""
    global _library
    if _library is None:
        _library = _Library()
    return _library


class EspeakEngine:
    """Offline speech with espeak-ng: 16-bit mono PCM at the library's rate (22050 Hz)."""

    name = "espeak"

    def warm_up(self) -> None:
        """Load and initialise the library now rather than on the first call."""
        with _lock:
            _get_library()

    def speak(self, text: str, voice: Voice, rate_wpm: int) -> Audio:
        """Synthesise ``text`` with ``voice.espeak`` (a voice file name) at ``rate_wpm`` words per minute.

        Raises:
            EngineError: The library cannot be loaded, the voice is missing or synthesis fails.
        """
        with _lock:
            library = _get_library()
            pcm = library.synthesize(text, voice.espeak, rate_wpm)
        return Audio(pcm, "pcm", library.sample_rate)
