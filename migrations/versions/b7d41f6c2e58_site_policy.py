"""Per-site decision policy: a preset and per-label rules replace approve_below/reject_at

Revision ID: b7d41f6c2e58
Revises: a1c0e7d2b9f3
Create Date: 2026-12-07

A site that had its own thresholds keeps them as its combined-score ("any") rule on top of
the standard preset; a site that had none gets the standard preset.
"""
import json

import sqlalchemy as sa
from alembic import op

revision = 'b7d41f6c2e58'
down_revision = 'a1c0e7d2b9f3'
branch_labels = None
depends_on = None

sites = sa.table("sites", sa.column("id", sa.Integer), sa.column("approve_below", sa.Float),
                 sa.column("reject_at", sa.Float), sa.column("policy", sa.JSON))


def upgrade():
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("policy", sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(sites.c.id, sites.c.approve_below, sites.c.reject_at)
                              .where(sa.or_(sites.c.approve_below.is_not(None),
                                            sites.c.reject_at.is_not(None)))).all()
    for site_id, approve_below, reject_at in rows:
        # NULL meant the service's default then, 0.25 and 0.99 unless configured otherwise.
        rule = {"hold_at": 0.25 if approve_below is None else approve_below,
                "reject_at": 0.99 if reject_at is None else reject_at}
        policy = {"preset": "standard", "overrides": {"any": rule}}
        connection.execute(sites.update().where(sites.c.id == site_id).values(policy=policy))
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("approve_below")
        batch.drop_column("reject_at")


def downgrade():
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("approve_below", sa.Float(), nullable=True))
        batch.add_column(sa.Column("reject_at", sa.Float(), nullable=True))
    connection = op.get_bind()
    for site_id, policy in connection.execute(sa.select(sites.c.id, sites.c.policy)).all():
        if isinstance(policy, str):
            policy = json.loads(policy)
        rule = ((policy or {}).get("overrides") or {}).get("any") or {}
        connection.execute(sites.update().where(sites.c.id == site_id).values(
            approve_below=rule.get("hold_at"), reject_at=rule.get("reject_at")))
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("policy")
