"""parts of split jobs wait in the database for the fair dispatcher; jobs
record their work (OCR pages, audio minutes) for the quotas

Revision ID: 0011_ocr_parts
Revises: 0008_fairshare
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_ocr_parts"
down_revision = "0010_ocr_entry_link"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("work_amount", sa.Float(), nullable=True))
    op.create_table(
        "job_parts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(16), nullable=False),
        sa.Column("department_code", sa.String(32), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("job_id", "attempt", "idx", name="uq_job_part"),
    )
    op.create_index("ix_job_parts_job_id", "job_parts", ["job_id"])
    op.create_index("ix_job_parts_waiting", "job_parts", ["queue", "released_at", "department_code"])


def downgrade() -> None:
    op.drop_index("ix_job_parts_waiting", table_name="job_parts")
    op.drop_index("ix_job_parts_job_id", table_name="job_parts")
    op.drop_table("job_parts")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("work_amount")
