"""live lectures

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('live_lectures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('teacher', sa.String(length=50), nullable=False),
    sa.Column('stream_url', sa.String(length=500), nullable=False),
    sa.Column('starts_ts', sa.Double(), nullable=False),
    sa.Column('ends_ts', sa.Double(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('recording_file', sa.String(length=255), nullable=True),
    sa.Column('recording_sha256', sa.String(length=64), nullable=True),
    sa.Column('recording_seconds', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_live_lectures_class_id_classes')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_live_lectures_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_lectures'))
    )
    with op.batch_alter_table('live_lectures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_lectures_class_id'), ['class_id'], unique=False)

    op.create_table('lecture_progress',
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('credited_seconds', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['lecture_id'], ['live_lectures.id'], name=op.f('fk_lecture_progress_lecture_id_live_lectures')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_lecture_progress_trainee_id_users')),
    sa.PrimaryKeyConstraint('trainee_id', 'lecture_id', name=op.f('pk_lecture_progress'))
    )
    with op.batch_alter_table('learning_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lecture_id', sa.Integer(), nullable=True))
        batch_op.alter_column('chapter_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_learning_sessions_lecture_id'), ['lecture_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_learning_sessions_lecture_id_live_lectures'), 'live_lectures', ['lecture_id'], ['id'])
        batch_op.create_check_constraint('chapter_or_lecture', '(chapter_id IS NULL) != (lecture_id IS NULL)')



def downgrade():
    with op.batch_alter_table('learning_sessions', schema=None) as batch_op:
        batch_op.drop_constraint('chapter_or_lecture', type_='check')
        batch_op.drop_constraint(batch_op.f('fk_learning_sessions_lecture_id_live_lectures'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_learning_sessions_lecture_id'))
        batch_op.alter_column('chapter_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('lecture_id')

    op.drop_table('lecture_progress')
    with op.batch_alter_table('live_lectures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_lectures_class_id'))

    op.drop_table('live_lectures')
