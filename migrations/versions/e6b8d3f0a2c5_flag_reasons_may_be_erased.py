"""Privacy: a report entry's reason (what readers wrote when flagging) may be blanked too.

Readers' flag reasons may quote the comment they flag; erasing the comment's author must be
able to blank the reason the audit log kept with the report. Every other change is still
refused.

Revision ID: e6b8d3f0a2c5
Revises: d5a7c2e9b1f4
Create Date: 2026-12-07 04:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e6b8d3f0a2c5'
down_revision = 'd5a7c2e9b1f4'
branch_labels = None
depends_on = None

# Every column but note and reason (and user_id, which a user's deletion nulls).
_COLUMNS = ("id, site_id, comment_id, author_id, actor, action, status_before, "
            "status_after, overturned, created_at")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_function(erasable_reason=True))
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        op.execute(f"CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OF {_COLUMNS} "
                   f"ON audit_entries "
                   f"BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END")
        op.execute("CREATE TRIGGER audit_entries_reason_erase_only BEFORE UPDATE OF reason "
                   "ON audit_entries WHEN NEW.reason IS NOT NULL OR OLD.action != 'report' "
                   "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_function(erasable_reason=False))
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entries_reason_erase_only")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        op.execute(f"CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OF {_COLUMNS}, "
                   f"reason ON audit_entries "
                   f"BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END")


def _postgresql_function(*, erasable_reason: bool) -> str:
    # The trigger (from bf8eb7c46222) calls this function; replacing it is enough.
    reason = """
                IF TG_OP = 'UPDATE' AND NEW.reason IS NULL AND OLD.action = 'report'
                        AND (NEW.note IS NULL OR NEW.note IS NOT DISTINCT FROM OLD.note)
                        AND to_jsonb(NEW) - 'note' - 'reason'
                            = to_jsonb(OLD) - 'note' - 'reason' THEN
                    RETURN NEW;
                END IF;""" if erasable_reason else ""
    return f"""
            CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF pg_trigger_depth() > 1 THEN
                    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
                END IF;
                IF TG_OP = 'UPDATE' AND NEW.note IS NULL
                        AND to_jsonb(NEW) - 'note' = to_jsonb(OLD) - 'note' THEN
                    RETURN NEW;
                END IF;{reason}
                RAISE EXCEPTION 'audit_entries is append-only';
            END $$"""
