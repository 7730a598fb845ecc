"""list pages at a million rows: the office list's order, the roster's order, trigram search (PostgreSQL)

Revision ID: 0019
Revises: 0018
"""
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

TRIGRAM = [("target", c) for c in ("name", "code", "uscc", "reg_no", "address", "legal_rep")] + \
    [("inspector", c) for c in ("name", "cert_no", "phone", "position")]


def upgrade() -> None:
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.create_index('ix_inspection_task_group_position', ['task_id', 'group_id', 'position'], unique=False)
    with op.batch_alter_table('inspector', schema=None) as batch_op:
        batch_op.create_index('ix_inspector_department_cert', ['department_id', 'cert_no', 'id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm ships with PostgreSQL and is a trusted extension (13+): the database's owner may create it
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in TRIGRAM:
            op.execute(f"CREATE INDEX ix_{table}_{column}_trgm ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in TRIGRAM:
            op.execute(f"DROP INDEX ix_{table}_{column}_trgm")
    with op.batch_alter_table('inspector', schema=None) as batch_op:
        batch_op.drop_index('ix_inspector_department_cert')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index('ix_inspection_task_group_position')
