"""The supervisors' figures: a GIN index on the submitted record's result categories (PostgreSQL), so that
问题发现率 finds the records with a problem without reading every record's JSON (bench/figures.py)

Revision ID: 0015
Revises: 0012
"""
from alembic import op


revision = '0015'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_inspection_record_categories ON inspection_record "
                   "USING gin ((CAST(data AS jsonb) -> 'result_categories'))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_inspection_record_categories")
