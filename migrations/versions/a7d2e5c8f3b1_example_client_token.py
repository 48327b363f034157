"""Training examples: the site's client token (Perspective's suggestscore clientToken).

A site that sends its verdict on a comment through the Perspective API names it with a
clientToken; one example per token and site, so a later verdict replaces the earlier one.

Revision ID: a7d2e5c8f3b1
Revises: f1c4a7e2d9b6
Create Date: 2026-12-07 06:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7d2e5c8f3b1'
down_revision = 'f1c4a7e2d9b6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("training_examples") as batch:
        batch.add_column(sa.Column("client_token", sa.String(length=200), nullable=True))
    op.create_index("ix_training_examples_site_id_client_token", "training_examples",
                    ["site_id", "client_token"])


def downgrade():
    op.drop_index("ix_training_examples_site_id_client_token", table_name="training_examples")
    with op.batch_alter_table("training_examples") as batch:
        batch.drop_column("client_token")
