"""The schema as it stood before migrations: results and training jobs.

Databases made before Alembic have these tables already, some without the columns added later; this
revision creates what is missing and adds those columns, so every older file upgrades from here. Times are
REAL on SQLite (8 bytes) and DOUBLE PRECISION elsewhere: PostgreSQL's REAL has 4 bytes, a time to about two minutes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RESULTS = """
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY,
    created_at {real} NOT NULL,
    caption TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    engine TEXT NOT NULL,
    lang TEXT NOT NULL,
    format TEXT NOT NULL,
    processing_time {real} NOT NULL
)
"""
# Columns older files lack: name -> definition (their rows take the default)
ADDED = {"spoken": "TEXT NOT NULL DEFAULT ''", "in_domain": "INTEGER", "confidence": "{real}",
         "text": "TEXT NOT NULL DEFAULT ''"}
TRAIN_JOBS = """
CREATE TABLE IF NOT EXISTS train_jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, params TEXT NOT NULL, command TEXT NOT NULL,
    created_at {real} NOT NULL, finished_at {real}, exit_code INTEGER, error TEXT,
    mlflow_run_id TEXT, model_name TEXT, model_version TEXT, promoted INTEGER, promotion_reason TEXT
)
"""


def upgrade() -> None:
    real = "REAL" if op.get_bind().dialect.name == "sqlite" else "DOUBLE PRECISION"
    op.execute(RESULTS.format(real=real))
    op.execute("CREATE INDEX IF NOT EXISTS results_newest ON results (created_at DESC)")
    have = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("results")}
    for name, definition in ADDED.items():
        if name not in have:
            op.execute(f"ALTER TABLE results ADD COLUMN {name} {definition.format(real=real)}")
    op.execute(TRAIN_JOBS.format(real=real))


def downgrade() -> None:
    op.execute("DROP TABLE train_jobs")
    op.execute("DROP TABLE results")
