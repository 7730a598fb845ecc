"""followup, followup_step: follow-ups (后续处置) of submitted records carried to closure

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('followup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('lead_department_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('notified_department_id', sa.Integer(), nullable=True),
    sa.Column('case_no', sa.String(length=100), nullable=True),
    sa.Column('closed_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_followup_created_by_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_followup_department_id_department')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_followup_inspection_id_inspection')),
    sa.ForeignKeyConstraint(['lead_department_id'], ['department.id'], name=op.f('fk_followup_lead_department_id_department')),
    sa.ForeignKeyConstraint(['notified_department_id'], ['department.id'], name=op.f('fk_followup_notified_department_id_department')),
    sa.ForeignKeyConstraint(['target_id'], ['target.id'], name=op.f('fk_followup_target_id_target')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_followup_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup')),
    sa.UniqueConstraint('inspection_id', 'uid', name=op.f('uq_followup_inspection_id_uid'))
    )
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.create_index('ix_followup_department_state_due', ['department_id', 'state', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_lead_department_id'), ['lead_department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_notified_department_id'), ['notified_department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_target_id'), ['target_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_task_id'), ['task_id'], unique=False)

    op.create_table('followup_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('followup_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_followup_step_actor_id_user_account')),
    sa.ForeignKeyConstraint(['followup_id'], ['followup.id'], name=op.f('fk_followup_step_followup_id_followup')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_step')),
    sa.UniqueConstraint('followup_id', 'seq', name=op.f('uq_followup_step_followup_id_seq'))
    )


def downgrade() -> None:
    op.drop_table('followup_step')
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followup_task_id'))
        batch_op.drop_index(batch_op.f('ix_followup_target_id'))
        batch_op.drop_index(batch_op.f('ix_followup_state'))
        batch_op.drop_index(batch_op.f('ix_followup_notified_department_id'))
        batch_op.drop_index(batch_op.f('ix_followup_lead_department_id'))
        batch_op.drop_index(batch_op.f('ix_followup_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_followup_due_on'))
        batch_op.drop_index('ix_followup_department_state_due')

    op.drop_table('followup')
