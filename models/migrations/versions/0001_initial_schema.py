"""initial schema

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa

from tracker.db import guard

# The append-only tables this revision creates (a later revision guards the tables it adds).
APPEND_ONLY = ["ledger_entries", "heartbeats", "merkle_nodes", "ledger_checkpoints", "certificates",
               "certificate_revocations", "bank_questions", "bank_retirements", "attempt_answers", "qa_posts",
               "class_notices"]


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('institutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institutions')),
    sa.UniqueConstraint('name', name=op.f('uq_institutions_name'))
    )
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_institutions_region_code'), ['region_code'], unique=False)

    op.create_table('ledger_checkpoints',
    sa.Column('tree_size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('timestamp', sa.String(length=40), nullable=False),
    sa.Column('signature', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_ledger_checkpoints'))
    )
    op.create_table('ledger_entries',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('ts', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('hash', name=op.f('uq_ledger_entries_hash'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_subject_id'), ['subject_id'], unique=False)

    op.create_table('ledger_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_head'))
    )
    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempts_address_at', ['address', 'at'], unique=False)
        batch_op.create_index('ix_login_attempts_username_at', ['username', 'at'], unique=False)

    op.create_table('merkle_nodes',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_merkle_nodes'))
    )
    op.create_table('classes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('occupation', sa.String(length=100), nullable=False),
    sa.Column('form', sa.String(length=10), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('total_hours', sa.Double(), nullable=False),
    sa.Column('online_hours', sa.Double(), nullable=False),
    sa.Column('policy_profile', sa.String(length=32), nullable=False),
    sa.Column('photo_checks', sa.Boolean(), nullable=False),
    sa.Column('liveness', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_classes_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_classes'))
    )
    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_classes_institution_id'), ['institution_id'], unique=False)

    op.create_table('courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_courses_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses'))
    )
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_courses_institution_id'), ['institution_id'], unique=False)

    op.create_table('proctoring_policies',
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('allow_upload', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_proctoring_policies_institution_id_institutions')),
    sa.PrimaryKeyConstraint('institution_id', name=op.f('pk_proctoring_policies'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.Column('phone', sa.String(length=11), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('employer', sa.String(length=100), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('face_consent_version', sa.String(length=20), nullable=True),
    sa.Column('face_consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_users_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('id_number', name=op.f('uq_users_id_number')),
    sa.UniqueConstraint('phone', name=op.f('uq_users_phone'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_role'), ['role'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('issued_by', sa.Integer(), nullable=False),
    sa.Column('entry_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_certificates_class_id_classes')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_certificates_institution_id_institutions')),
    sa.ForeignKeyConstraint(['issued_by'], ['users.id'], name=op.f('fk_certificates_issued_by_users')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_certificates_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('number', name=op.f('uq_certificates_number'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('chapters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('video_file', sa.String(length=255), nullable=True),
    sa.Column('seconds', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_chapters_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chapters'))
    )
    with op.batch_alter_table('chapters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chapters_course_id'), ['course_id'], unique=False)

    op.create_table('class_courses',
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_class_courses_class_id_classes')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_class_courses_course_id_courses')),
    sa.PrimaryKeyConstraint('class_id', 'course_id', name=op.f('pk_class_courses'))
    )
    op.create_table('class_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_ts', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_class_notices_author_id_users')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_class_notices_class_id_classes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_notices'))
    )
    with op.batch_alter_table('class_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_notices_class_id'), ['class_id'], unique=False)

    op.create_table('daily_credit',
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('credited_seconds', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_daily_credit_trainee_id_users')),
    sa.PrimaryKeyConstraint('trainee_id', 'day', name=op.f('pk_daily_credit'))
    )
    op.create_table('enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_enrollments_class_id_classes')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_enrollments_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('class_id', 'trainee_id', name=op.f('uq_enrollments_class_id'))
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollments_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollments_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('exam_settings',
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('time_limit_minutes', sa.Integer(), nullable=False),
    sa.Column('pass_percent', sa.Double(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('question_count', sa.Integer(), nullable=False),
    sa.Column('updated_ts', sa.Double(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_exam_settings_class_id_classes')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_exam_settings_updated_by_users')),
    sa.PrimaryKeyConstraint('class_id', name=op.f('pk_exam_settings'))
    )
    op.create_table('sampling_draws',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('population', sa.Text(), nullable=False),
    sa.Column('population_size', sa.Integer(), nullable=False),
    sa.Column('population_sha256', sa.String(length=64), nullable=False),
    sa.Column('selected', sa.Text(), nullable=False),
    sa.Column('ledger_seq', sa.Integer(), nullable=False),
    sa.Column('regulator_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['regulator_id'], ['users.id'], name=op.f('fk_sampling_draws_regulator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_draws'))
    )
    with op.batch_alter_table('sampling_draws', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sampling_draws_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_draws_regulator_id'), ['regulator_id'], unique=False)

    op.create_table('assessment_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('chapter_id', sa.Integer(), nullable=True),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('candidates', sa.Text(), nullable=False),
    sa.Column('bank_sha256', sa.String(length=64), nullable=False),
    sa.Column('question_count', sa.Integer(), nullable=False),
    sa.Column('paper', sa.Text(), nullable=False),
    sa.Column('started_ts', sa.Double(), nullable=False),
    sa.Column('deadline_ts', sa.Double(), nullable=True),
    sa.Column('submitted_ts', sa.Double(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('pass_score', sa.Double(), nullable=False),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('max_score', sa.Double(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('photo_checks', sa.Boolean(), nullable=False),
    sa.Column('pending_check_id', sa.Integer(), nullable=True),
    sa.Column('next_photo_ts', sa.Double(), nullable=True),
    sa.Column('page_leaves', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['chapter_id'], ['chapters.id'], name=op.f('fk_assessment_attempts_chapter_id_chapters')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_assessment_attempts_class_id_classes')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_assessment_attempts_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_attempts'))
    )
    with op.batch_alter_table('assessment_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_attempts_chapter_id'), ['chapter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessment_attempts_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessment_attempts_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessment_attempts_trainee_id'), ['trainee_id'], unique=False)
        batch_op.create_index('ix_assessment_attempts_trainee_kind', ['trainee_id', 'kind'], unique=False)

    op.create_table('bank_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('chapter_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('options', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('created_ts', sa.Double(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_bank_questions_author_id_users')),
    sa.ForeignKeyConstraint(['chapter_id'], ['chapters.id'], name=op.f('fk_bank_questions_chapter_id_chapters')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_bank_questions_course_id_courses')),
    sa.ForeignKeyConstraint(['replaces_id'], ['bank_questions.id'], name=op.f('fk_bank_questions_replaces_id_bank_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_questions'))
    )
    with op.batch_alter_table('bank_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_questions_chapter_id'), ['chapter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_questions_course_id'), ['course_id'], unique=False)

    op.create_table('certificate_revocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('revoked_by', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('entry_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name=op.f('fk_certificate_revocations_certificate_id_certificates')),
    sa.ForeignKeyConstraint(['revoked_by'], ['users.id'], name=op.f('fk_certificate_revocations_revoked_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_revocations')),
    sa.UniqueConstraint('certificate_id', name=op.f('uq_certificate_revocations_certificate_id'))
    )
    op.create_table('chapter_progress',
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('chapter_id', sa.Integer(), nullable=False),
    sa.Column('credited_seconds', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['chapter_id'], ['chapters.id'], name=op.f('fk_chapter_progress_chapter_id_chapters')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_chapter_progress_trainee_id_users')),
    sa.PrimaryKeyConstraint('trainee_id', 'chapter_id', name=op.f('pk_chapter_progress'))
    )
    op.create_table('learning_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('chapter_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('started_ts', sa.Double(), nullable=False),
    sa.Column('ended_ts', sa.Double(), nullable=True),
    sa.Column('end_reason', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('last_beat_ts', sa.Double(), nullable=True),
    sa.Column('last_position', sa.Double(), nullable=False),
    sa.Column('anchor_ts', sa.Double(), nullable=True),
    sa.Column('credited_seconds', sa.Double(), nullable=False),
    sa.Column('beats', sa.Integer(), nullable=False),
    sa.Column('sealed_upto_id', sa.Integer(), nullable=False),
    sa.Column('blocked_since', sa.Double(), nullable=True),
    sa.Column('block_reason', sa.String(length=32), nullable=True),
    sa.Column('pending_check_id', sa.Integer(), nullable=True),
    sa.Column('next_attention_ts', sa.Double(), nullable=True),
    sa.Column('next_photo_ts', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['chapter_id'], ['chapters.id'], name=op.f('fk_learning_sessions_chapter_id_chapters')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_learning_sessions_class_id_classes')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_learning_sessions_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_sessions'))
    )
    with op.batch_alter_table('learning_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learning_sessions_chapter_id'), ['chapter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_sessions_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_sessions_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_sessions_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('qa_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=True),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('chapter_id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_ts', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_qa_posts_author_id_users')),
    sa.ForeignKeyConstraint(['chapter_id'], ['chapters.id'], name=op.f('fk_qa_posts_chapter_id_chapters')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_qa_posts_class_id_classes')),
    sa.ForeignKeyConstraint(['thread_id'], ['qa_posts.id'], name=op.f('fk_qa_posts_thread_id_qa_posts')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_qa_posts_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_posts'))
    )
    with op.batch_alter_table('qa_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qa_posts_chapter_id'), ['chapter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_posts_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_posts_thread_id'), ['thread_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_posts_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('attempt_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('received_ts', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['assessment_attempts.id'], name=op.f('fk_attempt_answers_attempt_id_assessment_attempts')),
    sa.ForeignKeyConstraint(['question_id'], ['bank_questions.id'], name=op.f('fk_attempt_answers_question_id_bank_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt_answers'))
    )
    with op.batch_alter_table('attempt_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempt_answers_attempt_id'), ['attempt_id'], unique=False)

    op.create_table('bank_retirements',
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('retired_ts', sa.Double(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('replaced_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_bank_retirements_actor_id_users')),
    sa.ForeignKeyConstraint(['question_id'], ['bank_questions.id'], name=op.f('fk_bank_retirements_question_id_bank_questions')),
    sa.ForeignKeyConstraint(['replaced_by_id'], ['bank_questions.id'], name=op.f('fk_bank_retirements_replaced_by_id_bank_questions')),
    sa.PrimaryKeyConstraint('question_id', name=op.f('pk_bank_retirements'))
    )
    op.create_table('heartbeats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('received_ts', sa.Double(), nullable=False),
    sa.Column('position', sa.Double(), nullable=False),
    sa.Column('rate', sa.Double(), nullable=False),
    sa.Column('playing', sa.Boolean(), nullable=False),
    sa.Column('visible', sa.Boolean(), nullable=False),
    sa.Column('focused', sa.Boolean(), nullable=False),
    sa.Column('client_time', sa.Double(), nullable=True),
    sa.Column('env', sa.Text(), nullable=False),
    sa.Column('credited_seconds', sa.Double(), nullable=False),
    sa.Column('reasons', sa.String(length=200), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['learning_sessions.id'], name=op.f('fk_heartbeats_session_id_learning_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeats')),
    sa.UniqueConstraint('session_id', 'seq', name=op.f('uq_heartbeats_session_id'))
    )
    op.create_table('session_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('asked_ts', sa.Double(), nullable=False),
    sa.Column('deadline_ts', sa.Double(), nullable=False),
    sa.Column('answered_ts', sa.Double(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('distance', sa.Double(), nullable=True),
    sa.Column('photo_sha256', sa.String(length=64), nullable=True),
    sa.Column('photo_file', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['assessment_attempts.id'], name=op.f('fk_session_checks_attempt_id_assessment_attempts')),
    sa.ForeignKeyConstraint(['session_id'], ['learning_sessions.id'], name=op.f('fk_session_checks_session_id_learning_sessions')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_session_checks_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_checks'))
    )
    with op.batch_alter_table('session_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_checks_attempt_id'), ['attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_checks_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_checks_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('face_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('phash', sa.String(length=64), nullable=True),
    sa.Column('file', sa.String(length=255), nullable=True),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['session_checks.id'], name=op.f('fk_face_photos_check_id_session_checks')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_face_photos_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_photos'))
    )
    with op.batch_alter_table('face_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_photos_check_id'), ['check_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_photos_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_photos_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('face_enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('encoding', sa.LargeBinary(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('face_px', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['photo_id'], ['face_photos.id'], name=op.f('fk_face_enrolments_photo_id_face_photos')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_face_enrolments_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_enrolments'))
    )
    with op.batch_alter_table('face_enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_enrolments_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_enrolments_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('face_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('other_trainee_id', sa.Integer(), nullable=True),
    sa.Column('distance', sa.Double(), nullable=True),
    sa.Column('photo_id', sa.Integer(), nullable=True),
    sa.Column('ledger_seq', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['other_trainee_id'], ['users.id'], name=op.f('fk_face_flags_other_trainee_id_users')),
    sa.ForeignKeyConstraint(['photo_id'], ['face_photos.id'], name=op.f('fk_face_flags_photo_id_face_photos')),
    sa.ForeignKeyConstraint(['trainee_id'], ['users.id'], name=op.f('fk_face_flags_trainee_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_flags'))
    )
    with op.batch_alter_table('face_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_flags_other_trainee_id'), ['other_trainee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_flags_trainee_id'), ['trainee_id'], unique=False)

    for table in APPEND_ONLY:
        guard(op.get_bind(), table)


def downgrade():
    with op.batch_alter_table('face_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_flags_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_face_flags_other_trainee_id'))

    op.drop_table('face_flags')
    with op.batch_alter_table('face_enrolments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_enrolments_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_face_enrolments_active'))

    op.drop_table('face_enrolments')
    with op.batch_alter_table('face_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_photos_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_face_photos_sha256'))
        batch_op.drop_index(batch_op.f('ix_face_photos_check_id'))

    op.drop_table('face_photos')
    with op.batch_alter_table('session_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_checks_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_session_checks_session_id'))
        batch_op.drop_index(batch_op.f('ix_session_checks_attempt_id'))

    op.drop_table('session_checks')
    op.drop_table('heartbeats')
    op.drop_table('bank_retirements')
    with op.batch_alter_table('attempt_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempt_answers_attempt_id'))

    op.drop_table('attempt_answers')
    with op.batch_alter_table('qa_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qa_posts_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_qa_posts_thread_id'))
        batch_op.drop_index(batch_op.f('ix_qa_posts_class_id'))
        batch_op.drop_index(batch_op.f('ix_qa_posts_chapter_id'))

    op.drop_table('qa_posts')
    with op.batch_alter_table('learning_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learning_sessions_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_learning_sessions_status'))
        batch_op.drop_index(batch_op.f('ix_learning_sessions_class_id'))
        batch_op.drop_index(batch_op.f('ix_learning_sessions_chapter_id'))

    op.drop_table('learning_sessions')
    op.drop_table('chapter_progress')
    op.drop_table('certificate_revocations')
    with op.batch_alter_table('bank_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_questions_course_id'))
        batch_op.drop_index(batch_op.f('ix_bank_questions_chapter_id'))

    op.drop_table('bank_questions')
    with op.batch_alter_table('assessment_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_assessment_attempts_trainee_kind')
        batch_op.drop_index(batch_op.f('ix_assessment_attempts_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_assessment_attempts_status'))
        batch_op.drop_index(batch_op.f('ix_assessment_attempts_class_id'))
        batch_op.drop_index(batch_op.f('ix_assessment_attempts_chapter_id'))

    op.drop_table('assessment_attempts')
    with op.batch_alter_table('sampling_draws', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sampling_draws_regulator_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_draws_region_code'))

    op.drop_table('sampling_draws')
    op.drop_table('exam_settings')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollments_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_enrollments_class_id'))

    op.drop_table('enrollments')
    op.drop_table('daily_credit')
    with op.batch_alter_table('class_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_class_notices_class_id'))

    op.drop_table('class_notices')
    op.drop_table('class_courses')
    with op.batch_alter_table('chapters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chapters_course_id'))

    op.drop_table('chapters')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_institution_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_class_id'))

    op.drop_table('certificates')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_role'))
        batch_op.drop_index(batch_op.f('ix_users_region_code'))
        batch_op.drop_index(batch_op.f('ix_users_institution_id'))

    op.drop_table('users')
    op.drop_table('proctoring_policies')
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_courses_institution_id'))

    op.drop_table('courses')
    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_classes_institution_id'))

    op.drop_table('classes')
    op.drop_table('merkle_nodes')
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempts_username_at')
        batch_op.drop_index('ix_login_attempts_address_at')

    op.drop_table('login_attempts')
    op.drop_table('ledger_head')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_subject_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_kind'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_actor_id'))

    op.drop_table('ledger_entries')
    op.drop_table('ledger_checkpoints')
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_institutions_region_code'))

    op.drop_table('institutions')
