"""The captioning models: the registry's aliased versions, loaded once, re-checked, swapped atomically.

The contract a registered model fulfils: an MLflow pyfunc whose ``unwrap_python_model()`` has
``caption_images(list[PIL.Image.Image]) -> list[str]`` (RGB, any size) and a dict ``info`` with
``architecture``, ``description`` and ``decoder`` (and ``languages``, comma-separated; English if absent); its run
may log the metric ``test_bleu4``. A model that also has ``describe_images`` (returning ``Description``s) says
whether each picture is in its domain and how sure it is; one without it is treated as knowing neither. One that
also has ``prepare(image) -> array`` and ``describe_arrays(stacked arrays)`` is batched when its runtime is on
BATCH_RUNTIMES: each request prepares its own picture, and concurrent requests' pictures are described together
(``app.services.batching``). It is loaded with the model config ``{"precision": MODEL_PRECISION, "runtime":
MODEL_RUNTIME}`` and must say it honoured the precision (its ``precision`` attribute; absent means float32): a
version that cannot load as float16 is not served, rather than served as float32. Its ``runtime`` attribute says
what runs it (absent: keras); a model asked for ``lite`` that serves Keras (an inexact export, or none) is
served, and the log and the API say why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from flask import Flask
from PIL import Image

from app.config import BEST_MODEL
from app.services.batching import Arrival, Batcher
from pipeline.models.honesty import Description

log = logging.getLogger(__name__)
# MLflow's error codes for a name (RESOURCE_DOES_NOT_EXIST) or an alias (INVALID_PARAMETER_VALUE) it does not have
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")
STORE_CONNECT_TIMEOUT_S = 3.0  # a tracking server that does not accept a connection in this time is down


@dataclass(frozen=True)
class ServedModel:
    """A loaded version of a registered model and what the API says about it."""

    name: str
    version: str
    captioner: Any
    info: Mapping[str, str]
    aliases: tuple[str, ...]
    test_bleu4: float | None
    gate: tuple[str, float] | None   # the metric the promotion gate compared (its run's tag) and its value
    run_id: str | None
    loaded_at: float
    precision: str
    runtime: str = "keras"
    runtime_note: str | None = None  # why it runs on another runtime than MODEL_RUNTIME asked for
    batcher: Batcher | None = None   # None: not batched (BATCH_RUNTIMES, or no prepare/describe_arrays)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages this model's captions are in."""
        return tuple(code.strip() for code in self.info.get("languages", "en").split(",") if code.strip())

    def caption(self, image: Image.Image) -> str:
        """Caption one picture by calling the model itself (no pyfunc DataFrame round trip)."""
        return self.describe(image).caption

    def arriving(self) -> contextlib.AbstractContextManager[Arrival | None]:
        """Announce a request on its way to ``describe`` (so a batch about to run waits for it)."""
        return self.batcher.arriving() if self.batcher is not None else contextlib.nullcontext()

    def describe(self, image: Image.Image, arrival: Arrival | None = None) -> Description:
        """Caption one picture, with whether it is in the model's domain and how sure the model is (in a batch
        with concurrent requests' pictures when the model allows it)."""
        describe = getattr(self.captioner, "describe_images", None)
        if self.batcher is not None:
            answers = [self.batcher.submit(self.captioner.prepare(image), arrival)]
        elif describe is None:  # logged before models carried a judge: it knows nothing of its domain
            answers = [Description(c, False, 0.0, False) if isinstance(c, str) else c
                       for c in self.captioner.caption_images([image])]
        else:
            answers = describe([image])
        if len(answers) != 1 or not isinstance(getattr(answers[0], "caption", None), str):
            raise RuntimeError(f"{self.name} v{self.version} returned {answers!r} for one image")
        return answers[0]


class ModelRefused(Exception):
    """A version that breaks the contract; its message is fit to show to clients."""


@dataclass(frozen=True)
class Outcome:
    """What one check of a model's alias did."""

    version: str | None
    changed: bool
    error: str | None = None


class ModelRegistry:
    """Serves the ``alias`` version of each name; ``refresh`` loads a new one beside the old, then swaps."""

    def __init__(self, tracking_uri: str, names: list[str], alias: str, poll_s: float, warm_up: bool,
                 precision: str, runtime: str = "keras", batch_max_size: int = 1, batch_window_ms: float = 0.0,
                 batch_runtimes: tuple[str, ...] = ("keras",)) -> None:
        self.tracking_uri, self.names, self.alias = tracking_uri, list(names), alias
        self.poll_s, self.warm_up, self.precision, self.runtime = float(poll_s), warm_up, precision, runtime
        self.batch_max_size, self.batch_window_ms = int(batch_max_size), float(batch_window_ms)
        self.batch_runtimes = tuple(batch_runtimes)
        self.errors: dict[str, str] = {}
        self._served: Mapping[str, ServedModel] = MappingProxyType({})
        self._swap_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._started_in: int | None = None

    def get(self, name: str) -> ServedModel | None:
        """The version served under ``name`` now, or None if none is loaded."""
        return self._served.get(name)

    def default(self, setting: str) -> tuple[str, str]:
        """The model a request without ``model`` gets, and why: ``setting`` (``DEFAULT_MODEL``) when it names one;
        for ``best``, the loaded model with the best gate score (the same metric, on the same test set), first
        in ``names`` on a tie or when none has one. Every worker with the same versions loaded decides alike."""
        if setting != BEST_MODEL:
            return setting, "set by DEFAULT_MODEL"
        scored = [(m.gate, name) for name in self.names if (m := self.get(name)) is not None and m.gate]
        metrics = {gate[0] for gate, _ in scored}
        if not scored or len(metrics) != 1:
            return self.names[0], "the first model (no gate scores to compare)"
        (metric, score), name = max(scored, key=lambda item: (item[0][1], -self.names.index(item[1])))
        return name, f"the best {metric} of the production models ({score:.3f})"

    def ready(self) -> bool:
        """True when every configured name has a version loaded."""
        served = self._served
        return all(name in served for name in self.names)

    def start(self) -> None:
        """Load the models and start the watcher, once per process (call it after a fork)."""
        with self._start_lock:
            if self._started_in == os.getpid():
                return
            self.refresh()
            if self.poll_s > 0:
                threading.Thread(target=self._watch, name="model-watcher", daemon=True).start()
            self._started_in = os.getpid()

    @property
    def started(self) -> bool:
        return self._started_in == os.getpid()

    def stop(self) -> None:
        self._stop.set()
        for model in self._served.values():
            if model.batcher is not None:
                model.batcher.close()

    def refresh(self) -> dict[str, Outcome]:
        """Check every alias now; load what changed. One refresh at a time; serving never waits for it."""
        with self._refresh_lock:
            down = _unreachable(self.tracking_uri)
            return {name: self._refresh_one(name, down) for name in self.names}

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception:  # the watcher must outlive a bad check; the next one may succeed
                log.exception("model watcher: refresh failed")

    def _refresh_one(self, name: str, down: str | None = None) -> Outcome:
        current = self._served.get(name)
        served = current.version if current else None
        if down is not None:
            return self._failed(name, served, f"{name}@{self.alias}: the model store is unreachable",
                                f"the tracking server {self.tracking_uri} is unreachable ({down})")
        try:
            version = self._client().get_model_version_by_alias(name, self.alias)
        except Exception as exc:  # MlflowException (no such model or alias) or the store unreachable
            if getattr(exc, "error_code", None) in NOT_FOUND:
                return self._failed(name, served, f"{name}@{self.alias} is not in the model store", _first_line(exc))
            return self._failed(name, served, f"{name}@{self.alias}: the model store could not be read",
                                _first_line(exc))
        if current is not None and current.version == str(version.version):
            if tuple(version.aliases) != current.aliases:
                self._swap(name, dataclasses.replace(current, aliases=tuple(version.aliases)))
            self.errors.pop(name, None)
            return Outcome(served, changed=False)
        try:
            loaded = self._load(version)  # outside any lock: requests go on with the old version
        except Exception as exc:  # anything a model's loading code raises: keep serving the old one
            log.exception("could not load %s version %s; still serving %s", name, version.version, served)
            why = str(exc) if isinstance(exc, ModelRefused) else "the service's log says why"
            return self._failed(name, served, f"version {version.version} failed to load: {why}")
        self._swap(name, loaded)
        self.errors.pop(name, None)
        log.info("serving %s version %s (was %s)", name, loaded.version, served)
        return Outcome(loaded.version, changed=True)

    def _failed(self, name: str, served: str | None, public: str, detail: str | None = None) -> Outcome:
        """Log the whole story; keep (and answer) only ``public``, which names no path, URI or credential."""
        log.warning("%s%s", public, f" ({detail})" if detail else "")
        self.errors[name] = public
        return Outcome(served, changed=False, error=public)

    def _swap(self, name: str, model: ServedModel) -> None:
        with self._swap_lock:
            self._served = MappingProxyType({**self._served, name: model})

    def _client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def _load(self, version) -> ServedModel:
        import mlflow

        client = self._client()
        # Resolved here rather than by MLflow from models:/..., which would ask the *global* registry URI.
        location = client.get_model_version_download_uri(version.name, version.version)
        if location.startswith("models:/"):  # a logged model's id: its artifacts lie elsewhere
            location = client.get_logged_model(location.removeprefix("models:/").strip("/")).artifact_location
        path = mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=self.tracking_uri)
        try:
            config = {"precision": self.precision, "runtime": self.runtime}
            captioner = mlflow.pyfunc.load_model(path, model_config=config).unwrap_python_model()
        except FileNotFoundError as exc:  # the pipeline's own words when the export is missing; a path otherwise
            if f"no {self.precision} export" in str(exc):
                raise ModelRefused(str(exc)) from exc
            raise
        info = getattr(captioner, "info", None)
        if not callable(getattr(captioner, "caption_images", None)) or not isinstance(info, Mapping):
            raise ModelRefused("it lacks the contract: caption_images(images) and a dict `info`")
        if (getattr(captioner, "precision", None) or "float32") != self.precision:  # logged before float16 existed
            raise ModelRefused(f"it cannot load as {self.precision}: it was logged without a {self.precision} export "
                               "(evaluate.float16)")
        runtime = getattr(captioner, "runtime", None) or "keras"
        note = None
        if self.precision == "float32" and runtime != self.runtime:
            note = getattr(captioner, "fallback_reason", None) or "it was logged before float32 TFLite exports existed"
            log.warning("%s version %s runs on %s, not %s: %s", version.name, version.version, runtime, self.runtime,
                        note)
        run = client.get_run(version.run_id).data if version.run_id else None
        metrics, tags = (run.metrics, run.tags) if run else ({}, {})
        gate = (tags["gate.metric"], metrics["gate_score"]) if "gate.metric" in tags and "gate_score" in metrics else None
        model = ServedModel(version.name, str(version.version), captioner, MappingProxyType(dict(info)),
                            tuple(version.aliases), metrics.get("test_bleu4"), gate, version.run_id, time.time(),
                            self.precision, runtime, note, self._batcher(captioner, runtime))
        if self.warm_up:  # the first call builds and traces the graph: pay it here, not in a request
            model.caption(Image.new("RGB", (64, 64), (127, 127, 127)))
        return model

    def _batcher(self, captioner: Any, runtime: str) -> Batcher | None:
        """A batcher of ``describe_arrays`` calls, for a model on a batched runtime that prepares its own
        pictures; else None."""
        if runtime not in self.batch_runtimes:
            return None
        if not all(callable(getattr(captioner, method, None)) for method in ("prepare", "describe_arrays")):
            return None
        return Batcher(lambda arrays: captioner.describe_arrays(np.stack(arrays)), self.batch_max_size,
                       self.batch_window_ms / 1000)


def _unreachable(uri: str) -> str | None:
    """Why the tracking server at an http(s) ``uri`` refuses a connection now, or None (other stores: None).

    MLflow's client retries a refused connection with back-off for about four minutes per call, which
    would hold a worker's start past gunicorn's time-out (and again at every restart); one connect decides first.
    """
    import requests

    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname or requests.utils.get_environ_proxies(uri):
        return None  # not a server, or reached through a proxy: MLflow's own call decides
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname, port), timeout=STORE_CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def init_app(app: Flask) -> None:
    """Attach the registry; ``create_app`` or the gunicorn worker hook starts it."""
    app.extensions["models"] = ModelRegistry(app.config["MLFLOW_TRACKING_URI"], app.config["MODEL_NAMES"],
                                             app.config["MODEL_ALIAS"], app.config["MODEL_POLL_SECONDS"],
                                             app.config["MODEL_WARM_UP"], app.config["MODEL_PRECISION"],
                                             app.config["MODEL_RUNTIME"], app.config["BATCH_MAX_SIZE"],
                                             app.config["BATCH_WINDOW_MS"], app.config["BATCH_RUNTIMES"])
