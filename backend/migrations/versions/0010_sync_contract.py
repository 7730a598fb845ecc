"""sync contract: device kinds and retirement, the last pull, a hash of each mutation as sent; mutation ids
of conflicts and signatures as wide as the protocol's (up to 2**53 - 1)

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), server_default='phone', nullable=False))
        batch_op.add_column(sa.Column('last_pull_at', backend.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retired_at', backend.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('sync_mutation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload_sha256', sa.String(length=64), nullable=True))
    for table in ('inspection_conflict', 'inspection_signature'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('mutation_id', existing_type=sa.Integer(), type_=sa.BigInteger(),
                                  existing_nullable=True)


def downgrade() -> None:
    for table in ('inspection_conflict', 'inspection_signature'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('mutation_id', existing_type=sa.BigInteger(), type_=sa.Integer(),
                                  existing_nullable=True)
    with op.batch_alter_table('sync_mutation', schema=None) as batch_op:
        batch_op.drop_column('payload_sha256')
    with op.batch_alter_table('sync_client', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
        batch_op.drop_column('last_pull_at')
        batch_op.drop_column('kind')
