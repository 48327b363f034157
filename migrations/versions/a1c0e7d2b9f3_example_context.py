"""Training examples keep their context: the article's title and the parent comment's text.

Both nullable: the seed corpus, most imports and top-level comments have none.

Revision ID: a1c0e7d2b9f3
Revises: 6f6446e04888
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c0e7d2b9f3'
down_revision = '6f6446e04888'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('training_examples', schema=None) as batch_op:
        batch_op.add_column(sa.Column('article_title', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('parent_text', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('training_examples', schema=None) as batch_op:
        batch_op.drop_column('parent_text')
        batch_op.drop_column('article_title')
