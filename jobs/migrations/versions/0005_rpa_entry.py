"""rpa entry: exactly-once record ledger, target slots, approved scripts

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rpa_records",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("row_number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("captured", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rpa_references",
        sa.Column("target", sa.String(64), primary_key=True),
        sa.Column("reference", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("captured", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rpa_references_job_id", "rpa_references", ["job_id"])
    op.create_table(
        "rpa_target_slots",
        sa.Column("target", sa.String(64), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(36), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rpa_scripts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("script_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("approved_by", sa.String(100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("script_id", "version", name="uq_rpa_script_version"),
    )
    op.create_index("ix_rpa_scripts_script_id", "rpa_scripts", ["script_id"])


def downgrade() -> None:
    op.drop_table("rpa_scripts")
    op.drop_table("rpa_target_slots")
    op.drop_index("ix_rpa_references_job_id", table_name="rpa_references")
    op.drop_table("rpa_references")
    op.drop_table("rpa_records")
