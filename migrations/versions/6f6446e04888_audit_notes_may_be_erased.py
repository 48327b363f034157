"""Privacy: the append-only audit log lets a note be blanked (set to NULL), and nothing else.

A moderator's note may quote a comment or name its author; erasing a reader's data (and
retention) must be able to blank it. Every other change to an entry is still refused.

Revision ID: 6f6446e04888
Revises: de461c968e26
Create Date: 2026-11-28 01:45:31.951893

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '6f6446e04888'
down_revision = 'de461c968e26'
branch_labels = None
depends_on = None

# Every column but note (and user_id, which a user's deletion nulls through its foreign key).
_COLUMNS = ("id, site_id, comment_id, author_id, actor, action, status_before, "
            "status_after, reason, overturned, created_at")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_function(erasable_note=True))
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        op.execute(f"CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OF {_COLUMNS} "
                   f"ON audit_entries "
                   f"BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END")
        op.execute("CREATE TRIGGER audit_entries_note_erase_only BEFORE UPDATE OF note "
                   "ON audit_entries WHEN NEW.note IS NOT NULL "
                   "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_function(erasable_note=False))
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entries_note_erase_only")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        op.execute(f"CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OF {_COLUMNS}, note "
                   f"ON audit_entries "
                   f"BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END")


def _postgresql_function(*, erasable_note: bool) -> str:
    # The trigger (from bf8eb7c46222) calls this function; replacing it is enough.
    erase = """
                IF TG_OP = 'UPDATE' AND NEW.note IS NULL
                        AND to_jsonb(NEW) - 'note' = to_jsonb(OLD) - 'note' THEN
                    RETURN NEW;
                END IF;""" if erasable_note else ""
    return f"""
            CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF pg_trigger_depth() > 1 THEN
                    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
                END IF;{erase}
                RAISE EXCEPTION 'audit_entries is append-only';
            END $$"""
