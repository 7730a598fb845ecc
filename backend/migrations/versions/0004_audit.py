"""audit: keyed chain (legacy_seq), append-only triggers on SQLite too, head moves forward only

Entries already in the chain were hashed with plain SHA-256; they stay as they are and
``audit_head.legacy_seq`` records how many there are (verify checks them with SHA-256, the
entries after them with HMAC under the audit key). Re-keying them here would need the key
in the migration and would erase the evidence that the old chain was whole.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ENTRY_REFUSED = "审计日志只能追加，不能修改或删除 (audit_entry is append-only)"
HEAD_REFUSED = "审计链头只能前移一步到新追加的记录 (audit_head only moves forward)"
INSERT_REFUSED = "审计记录只能追加在链尾 (audit_entry: append at the head only)"

# allowed: touching the head without change (the appender's lock), or one step forward onto
# the entry just appended, whose prev_hash is the old head; legacy_seq never changes
HEAD_MOVE_OK = """
    NEW.id = OLD.id AND NEW.legacy_seq = OLD.legacy_seq AND (
        (NEW.seq = OLD.seq AND NEW.hash = OLD.hash)
        OR (NEW.seq = OLD.seq + 1 AND EXISTS (
            SELECT 1 FROM audit_entry e WHERE e.id = NEW.seq AND e.hash = NEW.hash AND e.prev_hash = OLD.hash)))
"""
ENTRY_INSERT_OK = """
    EXISTS (SELECT 1 FROM audit_head h WHERE h.id = 1 AND NEW.id = h.seq + 1 AND NEW.prev_hash = h.hash)
"""

SQLITE_TRIGGERS = [
    ("audit_entry_no_update",
     f"BEFORE UPDATE ON audit_entry BEGIN SELECT RAISE(ABORT, '{ENTRY_REFUSED}'); END"),
    ("audit_entry_no_delete",
     f"BEFORE DELETE ON audit_entry BEGIN SELECT RAISE(ABORT, '{ENTRY_REFUSED}'); END"),
    ("audit_entry_at_head",
     f"BEFORE INSERT ON audit_entry WHEN NOT ({ENTRY_INSERT_OK}) BEGIN SELECT RAISE(ABORT, '{INSERT_REFUSED}'); END"),
    ("audit_head_forward_only",
     f"BEFORE UPDATE ON audit_head WHEN NOT ({HEAD_MOVE_OK}) BEGIN SELECT RAISE(ABORT, '{HEAD_REFUSED}'); END"),
    ("audit_head_no_delete",
     f"BEFORE DELETE ON audit_head BEGIN SELECT RAISE(ABORT, '{HEAD_REFUSED}'); END"),
]

PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION audit_head_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF {HEAD_MOVE_OK} THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '{HEAD_REFUSED}' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION audit_entry_at_head() RETURNS trigger AS $$
BEGIN
    IF {ENTRY_INSERT_OK} THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{INSERT_REFUSED}' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_seq', sa.BigInteger(), server_default='0', nullable=False))
    # every entry so far was hashed with plain SHA-256
    op.execute("UPDATE audit_head SET legacy_seq = seq")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
        op.execute("CREATE TRIGGER audit_entry_at_head BEFORE INSERT ON audit_entry "
                   "FOR EACH ROW EXECUTE FUNCTION audit_entry_at_head()")
        op.execute("CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_head "
                   "FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()")
        op.execute("CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward_only()")
    else:
        for name, body in SQLITE_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_forward_only ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_at_head ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS audit_head_forward_only()")
        op.execute("DROP FUNCTION IF EXISTS audit_entry_at_head()")
    else:
        for name, _body in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_column('legacy_seq')
