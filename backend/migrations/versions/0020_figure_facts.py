"""figure_fact: one row per drawn inspection with what the supervisors' figures count (backend/figures/facts.py),
and figure_region_count: the registered businesses per region (抽查覆盖率's denominator), both backfilled here; plan.level (province | city | county, default county): the level that set the task, for
抽查覆盖率 by level

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level', sa.String(length=16), server_default='county', nullable=False))
    op.create_table('figure_fact',
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('task_end_date', sa.Date(), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('stratum', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('submitted', sa.Boolean(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('on_time_completion', sa.Boolean(), nullable=False),
    sa.Column('on_time_publication', sa.Boolean(), nullable=False),
    sa.Column('exempt', sa.Boolean(), nullable=False),
    sa.Column('from_phone', sa.Boolean(), nullable=False),
    sa.Column('problem', sa.Boolean(), nullable=False),
    sa.Column('departments', sa.Integer(), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('publication_due_on', sa.Date(), nullable=True),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_figure_fact_inspection_id_inspection'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('inspection_id', name=op.f('pk_figure_fact'))
    )
    with op.batch_alter_table('figure_fact', schema=None) as batch_op:
        batch_op.create_index('ix_figure_fact_end', ['task_end_date'], unique=False)
        batch_op.create_index('ix_figure_fact_due', ['publication_due_on', 'inspection_id'], unique=False)
        batch_op.create_index('ix_figure_fact_plan_end', ['plan_id', 'task_end_date'], unique=False)
        batch_op.create_index('ix_figure_fact_region_end', ['region_code', 'task_end_date'], unique=False)
        batch_op.create_index('ix_figure_fact_task', ['task_id'], unique=False)
    op.create_table('figure_region_count',
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('registered', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('region_code', name=op.f('pk_figure_region_count'))
    )
    # the backfill: every drawn inspection's facts and every region's registered businesses, computed as the
    # application computes them
    from backend.figures.facts import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table('figure_region_count')
    with op.batch_alter_table('figure_fact', schema=None) as batch_op:
        batch_op.drop_index('ix_figure_fact_task')
        batch_op.drop_index('ix_figure_fact_region_end')
        batch_op.drop_index('ix_figure_fact_plan_end')
        batch_op.drop_index('ix_figure_fact_due')
        batch_op.drop_index('ix_figure_fact_end')
    op.drop_table('figure_fact')
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('level')
