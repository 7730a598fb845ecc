"""the lists' sort orders: published_result (published_at, id) for the national file's period and order; draw
(coalesce(drawn_at, committed_at), id) for the public list of draws (newest first)

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('published_result', schema=None) as batch_op:
        batch_op.create_index('ix_published_result_published', ['published_at', 'id'], unique=False)
    # an expression index (SQLite ≥ 3.9 and PostgreSQL): the very expression the list sorts on
    op.create_index('ix_draw_public_order', 'draw',
                    [sa.text('coalesce(drawn_at, committed_at)'), sa.text('id')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_draw_public_order', table_name='draw')
    with op.batch_alter_table('published_result', schema=None) as batch_op:
        batch_op.drop_index('ix_published_result_published')
