"""published_photo: the photos a publisher ticked, published as their metadata-free copies

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('published_photo',
    sa.Column('result_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['result_id'], ['published_result.id'], name=op.f('fk_published_photo_result_id_published_result')),
    sa.PrimaryKeyConstraint('result_id', 'sha256', name=op.f('pk_published_photo'))
    )
    with op.batch_alter_table('published_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_published_photo_sha256'), ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('published_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_published_photo_sha256'))
    op.drop_table('published_photo')
