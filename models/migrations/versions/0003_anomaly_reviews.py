"""anomaly reviews

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

from tracker.db import guard


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('anomaly_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('regulator_id', sa.Integer(), nullable=False),
    sa.Column('conclusion', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('findings_sha256', sa.String(length=64), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('ledger_seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['regulator_id'], ['users.id'], name=op.f('fk_anomaly_reviews_regulator_id_users')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['anomaly_reviews.id'],
                            name=op.f('fk_anomaly_reviews_supersedes_id_anomaly_reviews')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_anomaly_reviews_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anomaly_reviews'))
    )
    with op.batch_alter_table('anomaly_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_anomaly_reviews_regulator_id'), ['regulator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_anomaly_reviews_trainee_id'), ['trainee_id'], unique=False)

    # Reviews only grow: a later review supersedes an earlier one, which stays (tracker.db.APPEND_ONLY).
    guard(op.get_bind(), 'anomaly_reviews')


def downgrade():
    with op.batch_alter_table('anomaly_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_anomaly_reviews_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_anomaly_reviews_regulator_id'))

    op.drop_table('anomaly_reviews')
