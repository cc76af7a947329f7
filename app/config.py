"""The service's settings: the one place that holds their defaults, and the order they are read in.

Order, later wins: ``DEFAULTS``; the instance folder's ``config.py``; environment variables
``IMAGE_TO_AUDIO_<KEY>`` (values parsed as JSON when they parse, e.g. ``IMAGE_TO_AUDIO_PORT=8000``,
``IMAGE_TO_AUDIO_MODEL_NAMES='["captioner-lstm"]'``); the plain variables ``ADMIN_TOKEN`` and
``MLFLOW_TRACKING_URI``; then the mapping a test passes to ``create_app``. ``SPEECH_*`` keys
(e.g. ``IMAGE_TO_AUDIO_SPEECH_ENGINE=gtts``) go to ``pipeline.speech``, which holds their defaults.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config

from app.limits import check_rate, check_storage
from app.services import redis_client
from pipeline.models import PRECISIONS, RUNTIMES
from pipeline.names import MODELS
from pipeline.tracking import PRODUCTION

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "IMAGE_TO_AUDIO"
PLAIN_ENV = ("ADMIN_TOKEN", "MLFLOW_TRACKING_URI")
BEST_MODEL = "best"  # DEFAULT_MODEL's choice of the production model with the best gate score
ADMIN_TOKEN_MIN_CHARS = 32
# Settings no longer read, and what took over from them
REPLACED = {"DATABASE_NAME": "DATABASE_URL (e.g. sqlite:////path/to/instance/name.sqlite3)",
            "RESULTS_DIR_NAME": "RESULTS_URL (a folder, e.g. /path/to/instance/results)"}

DEFAULTS: dict[str, Any] = {
    "DEBUG": False,
    # Uploads
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,  # bytes in a request; more gets 413
    "MAX_IMAGE_PIXELS": 50_000_000,  # width x height; more (a decompression bomb?) gets 400
    # Uploads are decoded at most this many px on the long side: the largest any consumer needs (the text reader
    # reads at 2000 px, pipeline/reading.py; the kept picture is smaller; the captioners take 32 to 96 px)
    "DECODE_MAX_SIDE": 2000,
    "DECODE_CONCURRENCY": 2,  # uploads one worker decodes at once; the others wait their turn
    # Models: registered MLflow models served under an alias, re-checked on a schedule. The store is the
    # project's own mlflow.db (pipeline.tracking's default), made absolute so the working folder does not matter.
    "MLFLOW_TRACKING_URI": f"sqlite:///{ROOT / 'mlflow.db'}",
    "MODEL_NAMES": list(MODELS),
    # The model a request without `model` gets: one of MODEL_NAMES, or best: the production model with the best
    # gate score, decided again whenever a version is loaded (GET /api/models says which and why)
    "DEFAULT_MODEL": BEST_MODEL,
    "MODEL_ALIAS": PRODUCTION,
    "MODEL_POLL_SECONDS": 60.0,  # 0 turns the watcher off (POST /api/models/reload still works)
    "MODEL_WARM_UP": True,  # caption one small image before serving a newly loaded version
    # float32: the Keras models; float16: each version's float16 TFLite export (evaluate.float16 in params.yaml).
    # A version logged without one is not served (its error says so); the float32 one is never swapped in.
    "MODEL_PRECISION": "float32",
    # What runs a float32 model: lite, its float32 TFLite export (2 to 3x faster, and checked at load to describe
    # pictures exactly as Keras does; Keras is served instead when it is not exact or missing, GET /api/models
    # says why), or keras. MODEL_PRECISION=float16 always runs on TFLite.
    "MODEL_RUNTIME": "lite",
    # Dynamic batching: conversions in flight together are captioned in one call of the model, at most
    # BATCH_MAX_SIZE pictures. A batch about to run waits at most BATCH_WINDOW_MS milliseconds for the others
    # on their way (none when no other conversion is in flight). BATCH_MAX_SIZE 1 turns batching off.
    # Only models on BATCH_RUNTIMES are batched: Keras captions a picture 1.2 to 1.8x faster in a batch of 8;
    # TFLite runs one thread per interpreter and gains nothing (0.7 to 1.0x), so its requests run side by side
    # on interpreters of their own instead (docs/benchmarks.md#keras-against-tflite).
    "BATCH_MAX_SIZE": 8,
    "BATCH_WINDOW_MS": 5.0,
    "BATCH_RUNTIMES": ["keras"],
    # Reading the text in pictures (form field text=on|off): 0.06 s for a 600x400 picture to 1.3 s for a
    # 3000x2000 photo on 2 cores, against ~25 ms for a caption (docs/reading.md), so off unless asked;
    # TEXT_WARM_UP loads and warms the reader at start instead of at the first text=on request
    "TEXT_DEFAULT": "off",
    "TEXT_WARM_UP": True,
    # Admin endpoints: POST /api/train, GET /api/train/<id>, POST /api/models/reload, every result in
    # /api/history; None turns them off (403). At least ADMIN_TOKEN_MIN_CHARS characters.
    "ADMIN_TOKEN": None,
    # Requests per client (its address, and its owner cookie) for conversions and for failed admin
    # authentication, in Flask-Limiter's notation ("60/minute", "5 per second"); "off" turns the limit off.
    "RATE_LIMIT": "60/minute",
    # Where the counts live: "memory://" in each worker's own memory; "redis://host:port/db" shares them between
    # the workers and replicas on that Redis. While Redis is unreachable each worker counts in its own memory
    # (logged), and goes back to Redis when it answers again.
    "RATE_LIMIT_STORAGE_URL": "memory://",
    # Host headers answered (any other gets 400); None: localhost, 127.0.0.1 and HOST
    "TRUSTED_HOSTS": None,
    # Reverse proxies in front of the service whose X-Forwarded-For/-Proto/-Host are believed (werkzeug's
    # ProxyFix); 0: none, the client's address is the connection's
    "TRUSTED_PROXIES": 0,
    # Results and history. DATABASE_URL: the database of the history and the training jobs, a SQLAlchemy URL
    # (sqlite:////abs/path.sqlite3, or postgresql+psycopg://user:password@host:5432/db for replicas that share it);
    # None: image_to_audio.sqlite3 in the instance folder.
    "DATABASE_URL": None,
    # RESULTS_URL: where the results' files are kept: a folder (a path or file:///path), or s3://bucket/prefix
    # (boto3's AWS_* variables; AWS_ENDPOINT_URL for an S3 API other than AWS's); None: results/ in the instance folder
    "RESULTS_URL": None,
    # Retention: results older than this go, then the oldest past the total, and each owner's oldest past their
    # quota (an owner's newest result always stays; the text read in a picture goes with its result).
    # A kept result is about 0.2 to 0.5 MB (a picture of at most RESULT_IMAGE_MAX_SIDE px and its audio).
    "HISTORY_MAX_AGE_DAYS": 30,
    "HISTORY_MAX_BYTES": 2 * 1024**3,
    "HISTORY_OWNER_QUOTA_BYTES": 100 * 1024**2,
    "HISTORY_SWEEP_SECONDS": 3600,  # how often each worker applies the retention without an upload; 0: never
    "HISTORY_PAGE_SIZE": 20,
    "HISTORY_MAX_PAGE_SIZE": 100,
    "RESULT_IMAGE_QUALITY": 90,  # JPEG quality of the kept (decoded, upright, sRGB, metadata-free) image
    "RESULT_IMAGE_MAX_SIDE": 1280,  # px on the kept image's long side
    # Training jobs: the command gets "-S param=value" per override appended; run from TRAIN_CWD
    "TRAIN_COMMAND": [sys.executable, "-m", "dvc", "exp", "run"],
    "TRAIN_CWD": str(ROOT),
    "TRAIN_TIMEOUT_S": 6 * 3600,
    "TRAIN_DEFAULT_ESTIMATE_S": 900,  # estimate before any job has finished
    "TRAIN_LOG_TAIL_LINES": 20,
    # None: jobs run here as subprocesses, one at a time across this machine's workers (a file lock).
    # "redis://host:port/db": POST /api/train hands each job to a Celery worker on that Redis
    # (`celery -A app.worker worker --concurrency 1`, with its own TRAIN_COMMAND and TRAIN_CWD), one at a time
    # across every replica and worker on it; each job's state and log tail are kept there for any replica.
    "TRAIN_BROKER_URL": None,
    "TRAIN_LEASE_S": 30,  # the deployment's job lock lasts this long unless its worker renews it (every third)
    "TRAIN_QUEUE_TIMEOUT_S": 300,  # a job no worker has taken within this many seconds fails
    # Serving through gunicorn (app/gunicorn_config.py)
    "HOST": "127.0.0.1",
    "PORT": 5000,
    # One worker, eight threads: half the memory of 2 x 4 and one rate-limit count; 2 x 4 serves more
    # conversions per second at 8 clients on 2 cores (docs/benchmarks.md).
    "WORKERS": 1,
    "THREADS": 8,
    "WORKER_TIMEOUT_S": 120,  # a worker silent this long is restarted; covers loading the models
    # gunicorn 26.2's gthread worker waits the whole graceful timeout at shutdown while a client (a browser does)
    # holds a kept-alive connection open: off by default. On loopback it saves about 1 ms a conversion
    # (docs/benchmarks.md#where-a-conversions-time-goes).
    "KEEPALIVE_S": 0,
    # Answer every request with a Server-Timing header: milliseconds per phase (app/timing.py); for profiling,
    # since it tells any client how long each phase took
    "SERVER_TIMING": False,
}


def default_instance_path() -> Path:
    """The instance folder: ``IMAGE_TO_AUDIO_INSTANCE_PATH`` or ``instance/`` at the repository root."""
    return Path(os.environ.get(f"{ENV_PREFIX}_INSTANCE_PATH") or ROOT / "instance").resolve()


def load_config(config: Config, test_config: Mapping[str, Any] | None = None) -> None:
    """Fill ``config`` (rooted at the instance folder) in the documented order, then check it."""
    config.from_mapping(DEFAULTS)
    config.from_pyfile("config.py", silent=True)
    config.from_prefixed_env(ENV_PREFIX)
    for key in PLAIN_ENV:
        if os.environ.get(key):
            config[key] = os.environ[key]
    if test_config:
        config.from_mapping(test_config)
    check_config(config)


def check_config(config: Config) -> None:
    """Fail loudly on settings the service cannot run with."""
    if config["ADMIN_TOKEN"] is not None:
        config["ADMIN_TOKEN"] = str(config["ADMIN_TOKEN"]) or None
    if config["ADMIN_TOKEN"] is not None and len(config["ADMIN_TOKEN"]) < ADMIN_TOKEN_MIN_CHARS:
        raise ValueError(f"ADMIN_TOKEN must be at least {ADMIN_TOKEN_MIN_CHARS} characters long (it is "
                         f"{len(config['ADMIN_TOKEN'])}): make one with `python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))'`, or leave it unset to turn the admin endpoints off")
    if not isinstance(config["HISTORY_MAX_AGE_DAYS"], (int, float)) or config["HISTORY_MAX_AGE_DAYS"] <= 0:
        raise ValueError(f"HISTORY_MAX_AGE_DAYS must be a positive number, not {config['HISTORY_MAX_AGE_DAYS']!r}")
    check_rate(config["RATE_LIMIT"])
    for old, new in REPLACED.items():
        if old in config:
            raise ValueError(f"{old} is no longer read: set {new} instead")
    check_storage(config["RATE_LIMIT_STORAGE_URL"])
    if config["TRAIN_BROKER_URL"] is not None:
        redis_client.check_url("TRAIN_BROKER_URL", config["TRAIN_BROKER_URL"])
    if config["TRUSTED_HOSTS"] is None:
        config["TRUSTED_HOSTS"] = sorted({"localhost", "127.0.0.1", config["HOST"]})
    if isinstance(config["TRUSTED_HOSTS"], str) or not all(isinstance(h, str) for h in config["TRUSTED_HOSTS"]):
        raise ValueError("TRUSTED_HOSTS must be a list of host names, e.g. [\"example.org\", \"localhost\"]")
    if not isinstance(config["TRUSTED_PROXIES"], int) or config["TRUSTED_PROXIES"] < 0:
        raise ValueError(f"TRUSTED_PROXIES must be the number of proxies in front (0 or more), "
                         f"not {config['TRUSTED_PROXIES']!r}")
    names = config["MODEL_NAMES"]
    if isinstance(names, str) or not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f"MODEL_NAMES must be a non-empty list of model names, not {names!r}")
    if config["DEFAULT_MODEL"] not in (BEST_MODEL, *names):
        raise ValueError(f"DEFAULT_MODEL {config['DEFAULT_MODEL']!r} is neither {BEST_MODEL} nor one of MODEL_NAMES {names}")
    if config["MODEL_PRECISION"] not in PRECISIONS:
        raise ValueError(f"MODEL_PRECISION must be one of {', '.join(PRECISIONS)}, not {config['MODEL_PRECISION']!r}")
    if config["MODEL_RUNTIME"] not in RUNTIMES:
        raise ValueError(f"MODEL_RUNTIME must be one of {', '.join(RUNTIMES)}, not {config['MODEL_RUNTIME']!r}")
    batched = config["BATCH_RUNTIMES"]
    if isinstance(batched, str) or not isinstance(batched, (list, tuple)) or not set(batched) <= set(RUNTIMES):
        raise ValueError(f"BATCH_RUNTIMES must be a list of runtimes among {', '.join(RUNTIMES)}, not {batched!r}")
    window = config["BATCH_WINDOW_MS"]
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not 0 <= window <= 1000:
        raise ValueError(f"BATCH_WINDOW_MS must be a number of milliseconds from 0 to 1000, not {window!r}")
    if config["TEXT_DEFAULT"] not in ("on", "off"):
        raise ValueError(f"TEXT_DEFAULT must be 'on' or 'off', not {config['TEXT_DEFAULT']!r}")
    if isinstance(config["TRAIN_COMMAND"], str) or not config["TRAIN_COMMAND"]:
        raise ValueError("TRAIN_COMMAND must be a list of arguments (no shell), e.g. [\"dvc\", \"exp\", \"run\"]")
    for key in ("MAX_CONTENT_LENGTH", "MAX_IMAGE_PIXELS", "DECODE_MAX_SIDE", "DECODE_CONCURRENCY",
                "RESULT_IMAGE_MAX_SIDE", "HISTORY_MAX_BYTES", "HISTORY_OWNER_QUOTA_BYTES",
                "HISTORY_PAGE_SIZE", "PORT", "BATCH_MAX_SIZE", "TRAIN_LEASE_S", "TRAIN_QUEUE_TIMEOUT_S"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ValueError(f"{key} must be a positive integer, not {config[key]!r}")
