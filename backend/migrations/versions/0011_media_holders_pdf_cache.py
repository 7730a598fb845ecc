"""media_holder (who sent a file's bytes), media_ref.added_by / bound (a hash is not a permission),
rendered_pdf (records' PDFs rendered by jobs, kept by what they show)

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media_holder',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_media_holder_user_id_user_account')),
    sa.PrimaryKeyConstraint('sha256', 'user_id', name=op.f('pk_media_holder'))
    )
    with op.batch_alter_table('media_holder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_holder_user_id'), ['user_id'], unique=False)
    # the first uploader of every stored file holds it
    op.execute("INSERT INTO media_holder (sha256, user_id, created_at) "
               "SELECT sha256, uploaded_by, created_at FROM media WHERE uploaded_by IS NOT NULL")

    with op.batch_alter_table('media_ref', schema=None) as batch_op:
        batch_op.add_column(sa.Column('added_by', sa.Integer(), nullable=True))
        # references made before this revision were accepted under the old rules: they stay in force
        batch_op.add_column(sa.Column('bound', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_media_ref_added_by_user_account'), 'user_account',
                                    ['added_by'], ['id'])

    op.create_table('rendered_pdf',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('draft', sa.Boolean(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_rendered_pdf_inspection_id_inspection')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rendered_pdf'))
    )
    with op.batch_alter_table('rendered_pdf', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rendered_pdf_inspection_id'), ['inspection_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rendered_pdf', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rendered_pdf_inspection_id'))
    op.drop_table('rendered_pdf')
    with op.batch_alter_table('media_ref', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_media_ref_added_by_user_account'), type_='foreignkey')
        batch_op.drop_column('bound')
        batch_op.drop_column('added_by')
    with op.batch_alter_table('media_holder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_holder_user_id'))
    op.drop_table('media_holder')
