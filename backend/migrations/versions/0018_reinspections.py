"""inspection.followup_id: a re-inspection (复查) of a follow-up is an inspection the phones push; the draw's
one-visit-per-target rule becomes a partial unique index that leaves re-inspections out

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followup_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_inspection_followup_id'), ['followup_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_inspection_followup_id_followup'), 'followup', ['followup_id'],
                                    ['id'])
        batch_op.drop_constraint('uq_inspection_draw_id_target_id', type_='unique')
        batch_op.create_index('uq_inspection_draw_id_target_id', ['draw_id', 'target_id'], unique=True,
                              sqlite_where=sa.text('followup_id IS NULL'),
                              postgresql_where=sa.text('followup_id IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index('uq_inspection_draw_id_target_id')
        batch_op.create_unique_constraint('uq_inspection_draw_id_target_id', ['draw_id', 'target_id'])
        batch_op.drop_constraint(batch_op.f('fk_inspection_followup_id_followup'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_inspection_followup_id'))
        batch_op.drop_column('followup_id')
