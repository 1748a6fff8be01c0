"""fair dispatch: a job is released to its pool's queue by the dispatcher;
operators mark jobs urgent

Revision ID: 0008_fairshare
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_fairshare"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Jobs queued or running before this revision were already sent to
    # Celery: the dispatcher must not send them a second time.
    op.execute(
        "UPDATE jobs SET released_at = COALESCE(enqueued_at, submitted_at) "
        "WHERE state IN ('queued', 'running')"
    )
    op.create_index("ix_jobs_waiting", "jobs", ["queue", "state", "released_at", "department_code"])


def downgrade() -> None:
    op.drop_index("ix_jobs_waiting", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("urgent")
        batch.drop_column("released_at")
