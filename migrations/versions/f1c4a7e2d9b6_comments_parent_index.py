"""Comments: an index on parent_id, so an article page reads its threads' replies directly.

An article's read API used to read every published comment of the article to build one page;
it now reads the page's top-level comments, then their replies through this index.

Revision ID: f1c4a7e2d9b6
Revises: e6b8d3f0a2c5
Create Date: 2026-12-07 06:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f1c4a7e2d9b6'
down_revision = 'e6b8d3f0a2c5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_comments_parent_id_status", "comments", ["parent_id", "status"])


def downgrade():
    op.drop_index("ix_comments_parent_id_status", table_name="comments")
