"""Sessions that can be ended: each user's session epoch (sign-out, a new password or
disabling raises it, ending every session), and disabled accounts.

Revision ID: d5a7c2e9b1f4
Revises: c3e8a9d1f4b2
Create Date: 2026-12-07 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

from service.extensions import UtcDateTime


# revision identifiers, used by Alembic.
revision = 'd5a7c2e9b1f4'
down_revision = 'c3e8a9d1f4b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('disabled_at', UtcDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
        batch_op.drop_column('session_epoch')
