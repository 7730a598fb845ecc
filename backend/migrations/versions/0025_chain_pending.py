"""the chainer (issue 14 §1, docs/decisions.md "Pushes commit in parallel, the chainer links them"): a push's audit
entry and change rows are written as one ``chain_pending`` row in its own transaction and linked into the chain
(positions, hashes, change numbers) right after its commit, many at once, by ``backend.audit.chainer``.

* ``chain_pending``: the entry's fields, the push's change rows (JSON) and a MAC under the audit key (a row forged
  in the database is not linked as written). Triggers: no UPDATE, no TRUNCATE, DELETE only of a row an audit entry
  names (``audit_entry.pending_id``, outside the entry's hash): a pending row leaves only by being chained.
* the audit triggers let one statement append a run of entries, each on the one before it, and move the head onto
  the run's last: an entry is appended on the head, or on an entry beyond the head; the head moves forward onto an
  entry that exists, the first entry after it naming its hash. One step at a time stays what it was.

Revision ID: 0025
Revises: 0024
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

HEAD_REFUSED = "审计链头只能前移一步到新追加的记录 (audit_head only moves forward)"
INSERT_REFUSED = "审计记录只能追加在链尾 (audit_entry: append at the head only)"
PENDING_REFUSED = "待入链的审计记录不能修改，只能在入链后删除 (chain_pending: no update; delete once chained)"

# 0004's rules, one step at a time
OLD_HEAD_MOVE_OK = """
    NEW.id = OLD.id AND NEW.legacy_seq = OLD.legacy_seq AND (
        (NEW.seq = OLD.seq AND NEW.hash = OLD.hash)
        OR (NEW.seq = OLD.seq + 1 AND EXISTS (
            SELECT 1 FROM audit_entry e WHERE e.id = NEW.seq AND e.hash = NEW.hash AND e.prev_hash = OLD.hash)))
"""
OLD_ENTRY_INSERT_OK = """
    EXISTS (SELECT 1 FROM audit_head h WHERE h.id = 1 AND NEW.id = h.seq + 1 AND NEW.prev_hash = h.hash)
"""
# a run: the head moves forward onto an entry that exists, the entry right after the old head being on it (every
# entry beyond the head was appended on the one before it, ``ENTRY_INSERT_OK``: the run between is whole)
HEAD_MOVE_OK = """
    NEW.id = OLD.id AND NEW.legacy_seq = OLD.legacy_seq AND (
        (NEW.seq = OLD.seq AND NEW.hash = OLD.hash)
        OR (NEW.seq > OLD.seq
            AND EXISTS (SELECT 1 FROM audit_entry e WHERE e.id = NEW.seq AND e.hash = NEW.hash)
            AND EXISTS (SELECT 1 FROM audit_entry e WHERE e.id = OLD.seq + 1 AND e.prev_hash = OLD.hash)))
"""
ENTRY_INSERT_OK = """
    EXISTS (SELECT 1 FROM audit_head h WHERE h.id = 1 AND NEW.id = h.seq + 1 AND NEW.prev_hash = h.hash)
    OR EXISTS (SELECT 1 FROM audit_head h JOIN audit_entry e ON e.id = NEW.id - 1
               WHERE h.id = 1 AND e.id > h.seq AND e.hash = NEW.prev_hash)
"""
PENDING_DELETE_OK = "EXISTS (SELECT 1 FROM audit_entry e WHERE e.pending_id = OLD.id)"


def _sqlite_triggers(head_ok: str, insert_ok: str) -> list[tuple[str, str]]:
    return [
        ("audit_entry_at_head",
         f"BEFORE INSERT ON audit_entry WHEN NOT ({insert_ok}) BEGIN SELECT RAISE(ABORT, '{INSERT_REFUSED}'); END"),
        ("audit_head_forward_only",
         f"BEFORE UPDATE ON audit_head WHEN NOT ({head_ok}) BEGIN SELECT RAISE(ABORT, '{HEAD_REFUSED}'); END"),
    ]


SQLITE_PENDING = [
    ("chain_pending_no_update",
     f"BEFORE UPDATE ON chain_pending BEGIN SELECT RAISE(ABORT, '{PENDING_REFUSED}'); END"),
    ("chain_pending_delete_chained",
     f"BEFORE DELETE ON chain_pending WHEN NOT ({PENDING_DELETE_OK}) "
     f"BEGIN SELECT RAISE(ABORT, '{PENDING_REFUSED}'); END"),
]


def _pg_functions(head_ok: str, insert_ok: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION audit_head_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF {head_ok} THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '{HEAD_REFUSED}' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION audit_entry_at_head() RETURNS trigger AS $$
BEGIN
    IF {insert_ok} THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{INSERT_REFUSED}' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


PG_PENDING = f"""
CREATE OR REPLACE FUNCTION chain_pending_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF {PENDING_DELETE_OK} THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION '{PENDING_REFUSED}' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER chain_pending_guard BEFORE UPDATE OR DELETE ON chain_pending
    FOR EACH ROW EXECUTE FUNCTION chain_pending_guard();
CREATE TRIGGER chain_pending_no_truncate BEFORE TRUNCATE ON chain_pending
    FOR EACH STATEMENT EXECUTE FUNCTION chain_pending_guard();
"""


def _replace_sqlite(triggers: list[tuple[str, str]]) -> None:
    for name, body in triggers:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade() -> None:
    op.create_table(
        'chain_pending',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_label', sa.String(length=128), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('entity_type', sa.String(length=32), nullable=False),
        sa.Column('entity_id', sa.String(length=64), nullable=True),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.Column('changes', sa.JSON(), nullable=True),
        sa.Column('mac', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_chain_pending')),
    )
    # a column added in place (no table rebuilt on SQLite: the audit triggers stay), and a unique index
    op.add_column('audit_entry', sa.Column('pending_id', sa.BigInteger(), nullable=True))
    op.create_index('ix_audit_entry_pending_id', 'audit_entry', ['pending_id'], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_functions(HEAD_MOVE_OK, ENTRY_INSERT_OK))
        op.execute(PG_PENDING)
    else:
        _replace_sqlite(_sqlite_triggers(HEAD_MOVE_OK, ENTRY_INSERT_OK) + SQLITE_PENDING)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS chain_pending_no_truncate ON chain_pending")
        op.execute("DROP TRIGGER IF EXISTS chain_pending_guard ON chain_pending")
        op.execute("DROP FUNCTION IF EXISTS chain_pending_guard()")
        op.execute(_pg_functions(OLD_HEAD_MOVE_OK, OLD_ENTRY_INSERT_OK))
    else:
        for name, _body in SQLITE_PENDING:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('chain_pending')
    op.drop_index('ix_audit_entry_pending_id', table_name='audit_entry')
    op.execute("ALTER TABLE audit_entry DROP COLUMN pending_id")     # in place on SQLite too (3.35+): triggers stay
    if op.get_bind().dialect.name != "postgresql":
        _replace_sqlite(_sqlite_triggers(OLD_HEAD_MOVE_OK, OLD_ENTRY_INSERT_OK))
