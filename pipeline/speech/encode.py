"""Audio containers: 16-bit mono PCM to WAV or MP3, and MP3 inspection and decoding."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import lameenc

from .errors import EngineError


@dataclass(frozen=True)
class Audio:
    """Audio as an engine returns it: raw PCM (16-bit little-endian mono) or an MP3 stream."""

    data: bytes
    kind: str  # "pcm" or "mp3"
    sample_rate: int


def pcm_to_wav(pcm: bytes, sample_rate: int) -> bytes:
    """Wrap 16-bit mono PCM in a WAV container."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def pcm_to_mp3(pcm: bytes, sample_rate: int, bitrate_kbps: int) -> bytes:
    """Encode 16-bit mono PCM as constant-bit-rate MP3 with LAME, at ``sample_rate`` (not resampled).

    Constant bit rate because lameenc writes no Xing header, without which players misjudge a variable-bit-rate
    file's duration. LAME's quality 7 (its fast mode; 2 is its best) costs the same at every bit rate.
    """
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate_kbps)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_out_sample_rate(sample_rate)  # else LAME may resample to suit the bit rate
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())


def mp3_to_pcm(mp3: bytes) -> tuple[bytes, int]:
    """Decode an MP3 stream to 16-bit mono PCM and its sample rate.

    Needs ``soundfile`` (its wheels bundle libsndfile with mpg123); imported only here
    so that the rest of the package works without it.

    Raises:
        EngineError: soundfile is missing, or the stream does not decode.
    """
    try:
        import soundfile
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EngineError("decoding MP3 (for WAV output from gtts) needs `pip install soundfile`") from exc
    try:
        samples, sample_rate = soundfile.read(io.BytesIO(mp3), dtype="int16", always_2d=True)
    except RuntimeError as exc:  # soundfile.LibsndfileError is one
        raise EngineError(f"cannot decode MP3 from the engine: {exc}") from exc
    mono = samples.mean(axis=1).astype("<i2") if samples.shape[1] > 1 else samples[:, 0].astype("<i2")
    return mono.tobytes(), int(sample_rate)


# MPEG audio Layer III tables: kbit/s by bitrate index, Hz by sample-rate index.
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
# The bit rates an MP3 can have at 16 to 24 kHz (MPEG-2), where espeak-ng's 22050 Hz and gTTS's 24 kHz fall.
MP3_BITRATES_KBPS = _BITRATES[2][1:]


def _frame(header: bytes) -> tuple[int, int, int] | None:
    """Return (frame length in bytes, samples, sample rate) for a Layer III header, or None."""
    b1, b2 = header[1], header[2]
    if header[0] != 0xFF or b1 & 0xE0 != 0xE0:
        return None
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES[1 if mpeg1 else 2][bitrate_index] * 1000
    sample_rate = _SAMPLE_RATES[version][rate_index]
    samples = 1152 if mpeg1 else 576
    return samples // 8 * bitrate // sample_rate + padding, samples, sample_rate


def mp3_info(data: bytes) -> tuple[int, float, int]:
    """Count the MP3 frames in ``data``: returns (frames, duration in seconds, sample rate).

    Skips ID3v2 tags and resynchronises over junk; concatenated streams (gTTS sends
    one per 100-character chunk) add up.
    """
    pos, frames, samples, sample_rate = 0, 0, 0, 0
    while pos + 4 <= len(data):
        if data[pos : pos + 3] == b"ID3" and pos + 10 <= len(data):
            size = (data[pos + 6] << 21) | (data[pos + 7] << 14) | (data[pos + 8] << 7) | data[pos + 9]
            pos += 10 + size
            continue
        frame = _frame(data[pos : pos + 4])
        if frame is None or pos + frame[0] > len(data):
            pos += 1
            continue
        length, count, sample_rate = frame
        frames, samples, pos = frames + 1, samples + count, pos + length
    return frames, (samples / sample_rate if sample_rate else 0.0), sample_rate
