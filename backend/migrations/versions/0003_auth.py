"""auth: failed refreshes counted beside logins, unknown addresses stored as NULL, the login alert

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='login', nullable=False))
        batch_op.alter_column('address', existing_type=sa.String(length=64), nullable=True)
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('login_alert_at', backend.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('login_alert_at')
    op.execute("DELETE FROM login_attempt WHERE address IS NULL OR kind <> 'login'")
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.alter_column('address', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('kind')
