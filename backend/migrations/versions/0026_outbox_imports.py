"""outbox_import: a phone's exported outbox uploaded in the office (导入离线记录, backend/inspections/import_desk.py):
the file as previewed, who confirmed it and when, and what its import did, mutation by mutation

Revision ID: 0026
Revises: 0025
"""
from alembic import op
import sqlalchemy as sa

import backend.db


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_size', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('preview', sa.JSON(), nullable=False),
    sa.Column('close_gap', sa.Boolean(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_by_label', sa.String(length=128), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('imported_by_label', sa.String(length=128), nullable=True),
    sa.Column('imported_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['officer_id'], ['user_account.id'], name=op.f('fk_outbox_import_officer_id_user_account')),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_outbox_import_created_by_user_account')),
    sa.ForeignKeyConstraint(['imported_by'], ['user_account.id'],
                            name=op.f('fk_outbox_import_imported_by_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_import'))
    )
    with op.batch_alter_table('outbox_import', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_import_department_created', ['department_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_import_client_id'), ['client_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_import_client_id'))
        batch_op.drop_index('ix_outbox_import_department_created')
    op.drop_table('outbox_import')
