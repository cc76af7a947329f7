"""gunicorn settings, taken from the app's own config (``IMAGE_TO_AUDIO_HOST``, ``_PORT``, ``_WORKERS``, ...).

    gunicorn -c app/gunicorn_config.py app.wsgi:app

Each worker imports the app, then loads the models once in ``post_worker_init`` (after the fork,
so no worker inherits TensorFlow's threads or an open database from a parent).
"""

from flask import Config

from app.config import default_instance_path, load_config

_config = Config(str(default_instance_path()))
load_config(_config)

bind = f"{_config['HOST']}:{_config['PORT']}"
workers = int(_config["WORKERS"])
threads = int(_config["THREADS"])
worker_class = "gthread"
timeout = int(_config["WORKER_TIMEOUT_S"])
graceful_timeout = 30
keepalive = int(_config["KEEPALIVE_S"])
preload_app = False
control_socket_disable = True  # gunicorn 26's default socket (~/.gunicorn/gunicorn.ctl) is shared by every server
accesslog = "-"
errorlog = "-"


def post_worker_init(worker) -> None:
    """Load this worker's models and speech engine before it takes a request."""
    from app import start

    start(worker.wsgi)
