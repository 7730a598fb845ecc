"""draw.dice_entered: the dice as the witnesses' digits were typed in, beside the digits used

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dice_entered', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.drop_column('dice_entered')
