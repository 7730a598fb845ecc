"""published_result (each published version of a result, or of a department's part of it), publication_exemption
(不适合公开: reason, request, decision), inspection.publication_exempt_at

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publication_exemption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('requested_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.CheckConstraint("status in ('requested', 'approved', 'refused')", name=op.f('ck_publication_exemption_status')),
    sa.ForeignKeyConstraint(['decided_by'], ['user_account.id'], name=op.f('fk_publication_exemption_decided_by_user_account')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_publication_exemption_inspection_id_inspection')),
    sa.ForeignKeyConstraint(['requested_by'], ['user_account.id'], name=op.f('fk_publication_exemption_requested_by_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication_exemption'))
    )
    with op.batch_alter_table('publication_exemption', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publication_exemption_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('published_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('task_code', sa.String(length=32), nullable=False),
    sa.Column('target_name', sa.String(length=200), nullable=False),
    sa.Column('target_code', sa.String(length=32), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('change_note', sa.Text(), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('superseded_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind in ('record', 'department')", name=op.f('ck_published_result_kind')),
    sa.CheckConstraint("state in ('current', 'superseded')", name=op.f('ck_published_result_state')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_published_result_department_id_department')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_published_result_inspection_id_inspection')),
    sa.ForeignKeyConstraint(['published_by'], ['user_account.id'], name=op.f('fk_published_result_published_by_user_account')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['published_result.id'], name=op.f('fk_published_result_supersedes_id_published_result')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_published_result')),
    sa.UniqueConstraint('inspection_id', 'department_id', 'version', name=op.f('uq_published_result_inspection_id_department_id_version'))
    )
    with op.batch_alter_table('published_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_published_result_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_published_result_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index('ix_published_result_state_completed', ['state', 'completed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_published_result_target_code'), ['target_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_published_result_target_name'), ['target_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_published_result_task_code'), ['task_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_published_result_task_id'), ['task_id'], unique=False)

    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publication_exempt_at', backend.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_column('publication_exempt_at')

    with op.batch_alter_table('published_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_published_result_task_id'))
        batch_op.drop_index(batch_op.f('ix_published_result_task_code'))
        batch_op.drop_index(batch_op.f('ix_published_result_target_name'))
        batch_op.drop_index(batch_op.f('ix_published_result_target_code'))
        batch_op.drop_index('ix_published_result_state_completed')
        batch_op.drop_index(batch_op.f('ix_published_result_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_published_result_department_id'))

    op.drop_table('published_result')
    with op.batch_alter_table('publication_exemption', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publication_exemption_inspection_id'))

    op.drop_table('publication_exemption')
