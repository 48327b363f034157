"""Featured comments; articles closed to new comments, by hand or after a site's
auto_close_days.

Revision ID: c3e8a9d1f4b2
Revises: b7d41f6c2e58
Create Date: 2026-12-07 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

from service.extensions import UtcDateTime


# revision identifiers, used by Alembic.
revision = 'c3e8a9d1f4b2'
down_revision = 'b7d41f6c2e58'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('featured', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reopened_at', UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auto_close_days', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('auto_close_days')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('reopened_at')
        batch_op.drop_column('closed_at')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_column('featured')
