"""ocr template versions

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ocr_templates",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("template_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.Integer(), nullable=False),
        sa.Column("seconds_per_form", sa.Float(), nullable=False),
        sa.Column("stored", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("template_id", "version", name="uq_ocr_template_version"),
    )
    op.create_index("ix_ocr_templates_template_id", "ocr_templates", ["template_id"])


def downgrade() -> None:
    op.drop_index("ix_ocr_templates_template_id", table_name="ocr_templates")
    op.drop_table("ocr_templates")
