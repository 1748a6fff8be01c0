"""the fair dispatcher's waiting jobs in their release order: one index
answers both its count per department and a department's oldest jobs

Revision ID: 0012_release_order_index
Revises: 0011_ocr_parts
"""

from alembic import op

revision = "0012_release_order_index"
down_revision = "0011_ocr_parts"
branch_labels = None
depends_on = None

COLUMNS = ["queue", "state", "released_at", "department_code", "urgent", "submitted_at", "id"]


def upgrade() -> None:
    # Its columns start with the old index's, which it replaces.
    op.drop_index("ix_jobs_waiting", table_name="jobs")
    op.create_index("ix_jobs_release_order", "jobs", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_jobs_release_order", table_name="jobs")
    op.create_index("ix_jobs_waiting", "jobs", ["queue", "state", "released_at", "department_code"])
