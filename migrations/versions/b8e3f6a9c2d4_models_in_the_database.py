"""Models in the database (MODEL_STORE=database): each version's artifact and metadata, and
the active pointer, so replicas on several hosts serve the same model without a shared disk.

Revision ID: b8e3f6a9c2d4
Revises: a7d2e5c8f3b1
Create Date: 2026-12-07 07:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

from service.extensions import UtcDateTime


# revision identifiers, used by Alembic.
revision = 'b8e3f6a9c2d4'
down_revision = 'a7d2e5c8f3b1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "model_artifacts",
        sa.Column("version", sa.String(length=40), primary_key=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "active_model",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("changed_at", UtcDateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("active_model")
    op.drop_table("model_artifacts")
