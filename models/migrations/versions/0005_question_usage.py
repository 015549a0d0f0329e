"""exam harvesting: question usage, quiz retake settings

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

from tracker.db import guard_sql, unguard_sql


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # Until now a chapter's question was drawn by its quiz and by the exam: "both" keeps that (and hides its key
    # from quizzes from now on). A course-level question was only ever drawn by the exam: "exam".
    op.add_column('bank_questions', sa.Column('usage', sa.String(length=8), server_default='both', nullable=False))
    bind = op.get_bind()
    for stmt in unguard_sql(bind.dialect.name, 'bank_questions'):
        op.execute(stmt)
    op.execute("UPDATE bank_questions SET usage = 'exam' WHERE chapter_id IS NULL")
    for stmt in guard_sql(bind.dialect.name, 'bank_questions'):
        op.execute(stmt)
    # NULL: the platform's defaults (TRACKER_QUIZ_MAX_ATTEMPTS, TRACKER_QUIZ_COOLDOWN_MINUTES).
    op.add_column('exam_settings', sa.Column('quiz_max_attempts', sa.Integer(), nullable=True))
    op.add_column('exam_settings', sa.Column('quiz_cooldown_minutes', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('exam_settings', schema=None) as batch_op:
        batch_op.drop_column('quiz_cooldown_minutes')
        batch_op.drop_column('quiz_max_attempts')
    bind = op.get_bind()
    for stmt in unguard_sql(bind.dialect.name, 'bank_questions'):
        op.execute(stmt)
    with op.batch_alter_table('bank_questions', schema=None) as batch_op:
        batch_op.drop_column('usage')
    for stmt in guard_sql(bind.dialect.name, 'bank_questions'):
        op.execute(stmt)
