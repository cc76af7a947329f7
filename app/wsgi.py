"""The WSGI entry point for gunicorn: ``gunicorn -c app/gunicorn_config.py app.wsgi:app``.

The models are not loaded here but in each worker after the fork (the config's ``post_worker_init``).
"""

from app import create_app
from pipeline.logs import setup_logging

setup_logging()
app = create_app(start_models=False)
