"""penalty_decision (行政处罚决定, published apart within 7 working days), publication_export (batches for the
national publicity system), inspection.clock_start / clock_start_on (which day the publication clock counts from),
published_result.notice_sha256 (the 检查结果告知书 PDF)

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('penalty_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('decision_no', sa.String(length=64), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('due_provisional', sa.Boolean(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=True),
    sa.Column('published_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_penalty_decision_inspection_id_inspection')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_penalty_decision_department_id_department')),
    sa.ForeignKeyConstraint(['published_by'], ['user_account.id'], name=op.f('fk_penalty_decision_published_by_user_account')),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_penalty_decision_created_by_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty_decision')),
    sa.UniqueConstraint('department_id', 'decision_no', name=op.f('uq_penalty_decision_department_id_decision_no')),
    )
    op.create_index(op.f('ix_penalty_decision_inspection_id'), 'penalty_decision', ['inspection_id'], unique=False)
    op.create_index(op.f('ix_penalty_decision_department_id'), 'penalty_decision', ['department_id'], unique=False)
    op.create_index(op.f('ix_penalty_decision_due_on'), 'penalty_decision', ['due_on'], unique=False)
    op.create_table('publication_export',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('period_from', sa.Date(), nullable=False),
    sa.Column('period_to', sa.Date(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_publication_export_department_id_department')),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_publication_export_created_by_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication_export')),
    )
    op.create_index(op.f('ix_publication_export_department_id'), 'publication_export', ['department_id'], unique=False)
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_start', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('clock_start_on', sa.Date(), nullable=True))
    with op.batch_alter_table('published_result', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('published_result', schema=None) as batch_op:
        batch_op.drop_column('notice_sha256')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_column('clock_start_on')
        batch_op.drop_column('clock_start')
    op.drop_index(op.f('ix_publication_export_department_id'), table_name='publication_export')
    op.drop_table('publication_export')
    op.drop_index(op.f('ix_penalty_decision_due_on'), table_name='penalty_decision')
    op.drop_index(op.f('ix_penalty_decision_department_id'), table_name='penalty_decision')
    op.drop_index(op.f('ix_penalty_decision_inspection_id'), table_name='penalty_decision')
    op.drop_table('penalty_decision')
