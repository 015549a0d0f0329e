"""account locks after failed logins from many addresses

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_locks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('addresses', sa.Integer(), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['lifted_by'], ['users.id'], name=op.f('fk_account_locks_lifted_by_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_locks_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_locks'))
    )
    with op.batch_alter_table('account_locks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_locks_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('account_locks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_locks_user_id'))
    op.drop_table('account_locks')
