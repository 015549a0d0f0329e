"""who put a trainee on a roster, and the trainee's refusals

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from tracker.db import guard


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('added_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_enrollments_added_by_id_users'), 'users', ['added_by_id'], ['id'])
    op.create_table('roster_refusals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('ledger_seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_roster_refusals_added_by_id_users')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_roster_refusals_class_id_classes')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_roster_refusals_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_refusals')),
    sa.UniqueConstraint('class_id', 'trainee_id', name=op.f('uq_roster_refusals_class_id'))
    )
    with op.batch_alter_table('roster_refusals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_refusals_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_roster_refusals_trainee_id'), ['trainee_id'], unique=False)
    # A refusal stands: it is evidence that an institution enrolled someone who did not sign up.
    guard(op.get_bind(), 'roster_refusals')


def downgrade():
    op.drop_table('roster_refusals')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_enrollments_added_by_id_users'), type_='foreignkey')
        batch_op.drop_column('added_by_id')
