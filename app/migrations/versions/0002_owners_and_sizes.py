"""Each result's owner (a hash of the owner cookie; NULL: kept before owners, seen only by the admin) and its
size in bytes (NULL until the service measures it at start).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("results", sa.Column("owner", sa.Text(), nullable=True))
    op.add_column("results", sa.Column("size_bytes", sa.Integer(), nullable=True))
    op.create_index("results_owner_newest", "results", ["owner", sa.text("created_at DESC")])


def downgrade() -> None:
    op.drop_index("results_owner_newest", table_name="results")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("size_bytes")
        batch.drop_column("owner")
