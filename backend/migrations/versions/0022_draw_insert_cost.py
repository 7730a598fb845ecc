"""what a draw's 30,000 inspections cost to insert (issue 14 §2): ix_inspection_task_id dropped (a prefix of
ix_inspection_task_group_position); ix_inspection_followup_id and ix_inspection_publication_due_on partial
(``… IS NOT NULL``: a drawn inspection has neither, and no query looks for the NULLs through them); figure_fact's
foreign key to inspection dropped (a derived table; inspections are never deleted, and whoever deletes one
deletes its fact: backend/figures/facts.py); inspection's foreign keys on completed_by and followup_id dropped (a
draw leaves both NULL, yet each row queued and fired both checks; the code sets them from rows it holds: the
signed-in user, the locked follow-up; neither table's rows are ever deleted); ix_group_member_group_id dropped
(a prefix of uq_group_member_group_id_inspector_id)

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('figure_fact', schema=None) as batch_op:
        batch_op.drop_constraint('fk_figure_fact_inspection_id_inspection', type_='foreignkey')
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.drop_index('ix_group_member_group_id')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_constraint('fk_inspection_completed_by_user_account', type_='foreignkey')
        batch_op.drop_constraint('fk_inspection_followup_id_followup', type_='foreignkey')
        batch_op.drop_index('ix_inspection_task_id')
        batch_op.drop_index('ix_inspection_followup_id')
        batch_op.drop_index('ix_inspection_publication_due_on')
        batch_op.create_index('ix_inspection_followup_id', ['followup_id'], unique=False,
                              sqlite_where=sa.text('followup_id IS NOT NULL'),
                              postgresql_where=sa.text('followup_id IS NOT NULL'))
        batch_op.create_index('ix_inspection_publication_due_on', ['publication_due_on'], unique=False,
                              sqlite_where=sa.text('publication_due_on IS NOT NULL'),
                              postgresql_where=sa.text('publication_due_on IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index('ix_inspection_publication_due_on')
        batch_op.drop_index('ix_inspection_followup_id')
        batch_op.create_index('ix_inspection_publication_due_on', ['publication_due_on'], unique=False)
        batch_op.create_index('ix_inspection_followup_id', ['followup_id'], unique=False)
        batch_op.create_index('ix_inspection_task_id', ['task_id'], unique=False)
        batch_op.create_foreign_key('fk_inspection_followup_id_followup', 'followup', ['followup_id'], ['id'])
        batch_op.create_foreign_key('fk_inspection_completed_by_user_account', 'user_account', ['completed_by'], ['id'])
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.create_index('ix_group_member_group_id', ['group_id'], unique=False)
    # facts of inspections that no longer exist (none, unless a row was deleted by hand) would fail the key
    op.execute('DELETE FROM figure_fact WHERE inspection_id NOT IN (SELECT id FROM inspection)')
    with op.batch_alter_table('figure_fact', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_figure_fact_inspection_id_inspection', 'inspection', ['inspection_id'],
                                    ['id'], ondelete='CASCADE')
