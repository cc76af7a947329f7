"""Speech latency per engine and format, and what each MP3 setting costs and keeps; prints markdown tables.

    python bench/bench_speech.py [--runs 50] [--cold-runs 5] [--encode-rounds 15]

Rows:
- cold: the first call in a fresh process (library load, voice load, first connection),
  after ``import pipeline.speech``; one sample per process.
- uncached: a warm engine, a caption not seen before (cache miss): the real synthesis cost.
- cached: the same caption again (cache hit).
- fallback, circuit open: gtts requested while its circuit is open, so espeak speaks at once.

Google is not reachable from here: gtts rows run against a local fake of Google's endpoint
(testkit/speech_servers.py), which builds a 24 kHz MP3 per request, so they
measure gTTS's client path plus loopback HTTP, not Google's latency.

MP3 settings: espeak-ng's 22050 Hz PCM of ten captions encoded with LAME (lameenc) at each setting, the settings
taking turns; per setting the median encode time per caption, the bit rate, and what the decoded MP3 keeps of
the WAV: the share of energy above 4 kHz (where the consonants s, f, th and t live: speech needs it to stay
intelligible), the share above 8 kHz, the correlation with the WAV and the signal-to-noise ratio (both after
aligning on the encoder's delay). "streaming" feeds the encoder espeak's chunks as they come (as encoding while
synthesising would), to show what that costs.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lameenc  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.speech import Speaker, SpeechSettings  # noqa: E402
from pipeline.speech.encode import pcm_to_mp3, pcm_to_wav  # noqa: E402
from pipeline.speech.espeak import EspeakEngine, _get_library, _lock  # noqa: E402
from pipeline.speech.languages import resolve_language  # noqa: E402
from testkit.speech_servers import FakeGoogleServer, closed_port  # noqa: E402

SUBJECTS = ["dog", "girl", "man", "child", "cat", "boy", "woman", "horse", "bird", "skier"]
ACTIONS = ["runs across", "jumps over", "sits beside", "walks along", "plays near"]
PLACES = ["the green grass", "a small wooden fence", "the sandy beach", "a snowy hill", "the red door"]

COLD_SCRIPT = """
import json, sys, time
from pipeline.speech import Speaker, SpeechSettings
settings = SpeechSettings(**json.loads(sys.argv[1]))
speaker = Speaker(settings)
start = time.perf_counter()
result = speaker.synthesize(sys.argv[2], engine=sys.argv[3], fmt=sys.argv[4])
print(json.dumps({"ms": (time.perf_counter() - start) * 1000, "engine": result.engine}))
"""


def captions(count: int, offset: int = 0) -> list[str]:
    """Return ``count`` distinct ten-word captions such as 'a dog runs across the green grass number 0 today'."""
    out = []
    for i in range(offset, offset + count):
        subject, action, place = SUBJECTS[i % 10], ACTIONS[i // 10 % 5], PLACES[i // 50 % 5]
        out.append(f"a {subject} {action} {place} number {i} today")
    return out


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """Return (p50, p95) in milliseconds."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def time_calls(speaker: Speaker, texts: list[str], engine: str, fmt: str) -> tuple[list[float], str]:
    """Time ``synthesize`` for each text; returns milliseconds and the engine that spoke last."""
    times, spoke = [], ""
    for text in texts:
        start = time.perf_counter()
        result = speaker.synthesize(text, engine=engine, fmt=fmt)
        times.append((time.perf_counter() - start) * 1000)
        spoke = result.engine
    return times, spoke


def cold_runs(settings: dict, engine: str, fmt: str, runs: int) -> list[float]:
    """Time the first call in ``runs`` fresh interpreter processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for i in range(runs):
        args = [sys.executable, "-c", COLD_SCRIPT, json.dumps(settings), captions(1, 900 + i)[0], engine, fmt]
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True)
        times.append(json.loads(done.stdout.strip().splitlines()[-1])["ms"])
    return times


# (label, constant bit rate kbps, LAME quality, VBR quality or None, output sample rate or None for the input's)
MP3_SETTINGS = [
    ("CBR 64 kbps, q 7", 64, 7, None, None), ("CBR 64 kbps, q 5", 64, 5, None, None),
    ("CBR 64 kbps, q 2", 64, 2, None, None), ("CBR 48 kbps, q 7", 48, 7, None, None),
    ("CBR 40 kbps, q 7", 40, 7, None, None), ("CBR 32 kbps, q 7", 32, 7, None, None),
    ("CBR 24 kbps, q 7", 24, 7, None, None), ("VBR V4, q 7", 64, 7, 4, None), ("VBR V6, q 7", 64, 7, 6, None),
    ("CBR 32 kbps, q 7, resampled to 16 kHz", 32, 7, None, 16000),
]


def encode_with(pcm: bytes, rate: int, bitrate: int, quality: int, vbr: int | None, out_rate: int | None,
                chunks: list[int] | None = None) -> bytes:
    """MP3 of 16-bit mono ``pcm`` at one setting; with ``chunks``, fed in pieces of those byte lengths."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate)
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(out_rate or rate)
    encoder.set_channels(1)
    encoder.set_quality(quality)
    if vbr is not None:
        encoder.set_vbr(4)  # vbr_default (mtrh)
        encoder.set_vbr_quality(vbr)
    encoder.silence()
    out, start = bytearray(), 0
    for size in chunks or [len(pcm)]:
        out += encoder.encode(pcm[start : start + size])
        start += size
    return bytes(out + encoder.flush())


def energy_above(samples: np.ndarray, rate: int, hertz: float) -> float:
    """The share of ``samples``' energy above ``hertz``."""
    power = np.abs(np.fft.rfft(samples)) ** 2
    return float(power[np.fft.rfftfreq(len(samples), 1 / rate) >= hertz].sum() / power.sum())


def against_wav(pcm: bytes, rate: int, mp3: bytes) -> dict[str, float]:
    """What the decoded ``mp3`` keeps of ``pcm``: energy shares above 4 and 8 kHz, correlation, SNR in dB."""
    import soundfile

    reference = np.frombuffer(pcm, "<i2") / 32768.0
    decoded, decoded_rate = soundfile.read(io.BytesIO(mp3), dtype="float64")
    figures = {"above 4 kHz": energy_above(decoded, decoded_rate, 4000),
               "above 8 kHz": energy_above(decoded, decoded_rate, 8000)}
    if decoded_rate != rate:
        return {**figures, "correlation": float("nan"), "snr": float("nan")}
    size = 1 << int(np.ceil(np.log2(len(reference) + len(decoded))))
    lags = np.fft.irfft(np.fft.rfft(decoded, size) * np.conj(np.fft.rfft(reference, size)), size)
    lag = int(np.argmax(lags[: size // 2]))  # the encoder's delay: the decoded audio starts later
    decoded = decoded[lag : lag + len(reference)]
    reference = reference[: len(decoded)]
    noise = np.sum((reference - decoded) ** 2)
    return {**figures, "correlation": float(np.corrcoef(reference, decoded)[0, 1]),
            "snr": float(10 * np.log10(np.sum(reference**2) / noise))}


def espeak_pcm(texts: list[str]) -> tuple[list[bytes], list[list[int]], int, list[float]]:
    """espeak-ng's PCM for each text, the byte lengths of the chunks it handed over, its rate, synthesis ms."""

    class Recording(list):
        def append(self, chunk: bytes) -> None:
            sizes.append(len(chunk))
            super().append(chunk)

    engine, voice = EspeakEngine(), resolve_language("en")
    engine.warm_up()
    pcms, chunk_sizes, times = [], [], []
    with _lock:
        library = _get_library()
        library.chunks = Recording()
    for text in texts:
        sizes: list[int] = []
        start = time.perf_counter()
        pcms.append(engine.speak(text, voice, SpeechSettings().rate_wpm).data)
        times.append((time.perf_counter() - start) * 1000)
        chunk_sizes.append(sizes)
    return pcms, chunk_sizes, library.sample_rate, times


def mp3_settings(rounds: int) -> None:
    """Print the MP3 settings table (see the module's docstring)."""
    texts = captions(10, 700)
    pcms, chunks, rate, synth = espeak_pcm(texts)
    seconds = sum(len(p) for p in pcms) / 2 / rate
    rows = [*MP3_SETTINGS, ("CBR 64 kbps, q 7, streaming", 64, 7, None, None)]
    times: dict[str, list[float]] = {row[0]: [] for row in rows}
    load_before = os.getloadavg()[0]
    for n in range(rounds):
        for label, bitrate, quality, vbr, out_rate in rows if n % 2 else rows[::-1]:
            streaming = "streaming" in label
            for pcm, sizes in zip(pcms, chunks):
                start = time.perf_counter()
                encode_with(pcm, rate, bitrate, quality, vbr, out_rate, sizes if streaming else None)
                times[label].append((time.perf_counter() - start) * 1000)
    wav_ms = statistics.median([_timed(lambda p=p: pcm_to_wav(p, rate)) for p in pcms])
    load_after = os.getloadavg()[0]
    joined = b"".join(pcms)
    reference = np.frombuffer(joined, "<i2") / 32768.0
    print(f"\nMP3 settings: ten captions, {seconds:.1f} s of espeak-ng speech at {rate} Hz; espeak-ng synthesis "
          f"{statistics.median(synth):.2f} ms a caption (median), WAV container {wav_ms:.2f} ms; "
          f"{rounds} rounds, settings in turn; load {load_before:.2f} / {load_after:.2f}; the WAV's energy above "
          f"4 kHz {energy_above(reference, rate, 4000):.2%}, above 8 kHz {energy_above(reference, rate, 8000):.3%}\n")
    print("| setting | encode ms a caption (p50) | kbit/s | energy above 4 kHz | above 8 kHz | correlation with WAV "
          "| SNR dB |\n|---|---:|---:|---:|---:|---:|---:|")
    for label, bitrate, quality, vbr, out_rate in rows:
        mp3 = encode_with(joined, rate, bitrate, quality, vbr, out_rate)
        kept = against_wav(joined, rate, mp3)
        print(f"| {label} | {statistics.median(times[label]):.2f} | {len(mp3) * 8 / seconds / 1000:.1f} "
              f"| {kept['above 4 kHz']:.2%} | {kept['above 8 kHz']:.3%} | {kept['correlation']:.4f} "
              f"| {kept['snr']:.1f} |")
    served = pcm_to_mp3(joined, rate, SpeechSettings().mp3_bitrate_kbps)
    print(f"\nThe service's setting now: CBR {SpeechSettings().mp3_bitrate_kbps} kbps "
          f"({len(served) * 8 / seconds / 1000:.1f} kbit/s).")


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="calls per warm row")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes per cold row")
    parser.add_argument("--encode-rounds", type=int, default=15, help="rounds of the MP3 settings table")
    parser.add_argument("--only-mp3-settings", action="store_true", help="print only the MP3 settings table")
    args = parser.parse_args()
    if args.only_mp3_settings:
        mp3_settings(args.encode_rounds)
        return
    logging.basicConfig(level=logging.ERROR)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        os.environ.pop(name, None)  # gTTS sends through the environment's proxies; keep loopback direct
    rows = []

    with FakeGoogleServer() as google:
        targets = [("espeak", "espeak", {}), ("gtts (local fake server)", "gtts", {"gtts_base_url": google.base_url})]
        for label, engine, extra in targets:
            for fmt in ("mp3", "wav"):
                cold = cold_runs(extra, engine, fmt, args.cold_runs)
                speaker = Speaker(SpeechSettings(**extra))
                speaker.synthesize("warming up the engine", engine=engine, fmt=fmt)
                texts = captions(args.runs)
                uncached, spoke = time_calls(speaker, texts, engine, fmt)
                cached, _ = time_calls(speaker, texts[:1] * args.runs, engine, fmt)
                assert spoke == engine, f"{engine} did not speak ({spoke} did)"
                rows += [(label, fmt, "cold (first call, new process)", cold), (label, fmt, "uncached", uncached),
                         (label, fmt, "cached", cached)]

    refused = {"gtts_base_url": f"http://127.0.0.1:{closed_port()}", "breaker_failures": 1, "breaker_reset_s": 3600}
    speaker = Speaker(SpeechSettings(**refused))
    speaker.synthesize("open the circuit", engine="gtts")
    fallback, spoke = time_calls(speaker, captions(args.runs, 500), "gtts", "mp3")
    assert spoke == "espeak" and speaker.breaker.state == "open"
    rows.append(("gtts -> espeak fallback", "mp3", "circuit open, uncached", fallback))

    print("| engine | format | case | n | p50 ms | p95 ms |")
    print("|---|---|---|---:|---:|---:|")
    for label, fmt, case, samples in rows:
        p50, p95 = percentiles(samples)
        print(f"| {label} | {fmt} | {case} | {len(samples)} | {p50:.2f} | {p95:.2f} |")
    print(f"\nTen-word captions; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; load {os.getloadavg()[0]:.2f}.")
    mp3_settings(args.encode_rounds)


if __name__ == "__main__":
    main()
