"""OCR into entry: an entry job created from a reviewed OCR job points at it

Revision ID: 0010_ocr_entry_link
Revises: 0008_fairshare
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_ocr_entry_link"
down_revision = "0009_department_speaker_default"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("source_job_id", sa.String(36), nullable=True))
        batch.create_foreign_key("fk_jobs_source_job", "jobs", ["source_job_id"], ["id"])
    # One entry job per OCR job: the unique index is the guard a second
    # finish of the same OCR job (it cannot happen, but a bug could) runs into.
    op.create_index("uq_jobs_source_job", "jobs", ["source_job_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_jobs_source_job", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("fk_jobs_source_job", type_="foreignkey")
        batch.drop_column("source_job_id")
