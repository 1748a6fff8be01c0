"""department speaker default: whether a department's transcriptions label
speakers when the request does not say

Revision ID: 0009_department_speaker_default
Revises: 0008_fairshare
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_department_speaker_default"
down_revision = "0008_fairshare"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.add_column(
            sa.Column("speaker_labels_default", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("speaker_labels_default")
