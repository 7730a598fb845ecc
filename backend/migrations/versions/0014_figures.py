"""The supervisors' figures: an index on sync_mutation.inspection_id (掌上执法率: where an inspection's sections
came from), and a GIN index on the submitted record's result categories (PostgreSQL), so that
问题发现率 finds the records with a problem without reading every record's JSON (bench/figures.py)

Revision ID: 0014
Revises: 0013
"""
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_mutation', schema=None) as batch_op:
        batch_op.create_index('ix_sync_mutation_inspection', ['inspection_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_inspection_record_categories ON inspection_record "
                   "USING gin ((CAST(data AS jsonb) -> 'result_categories'))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_inspection_record_categories")
    with op.batch_alter_table('sync_mutation', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_mutation_inspection')
