"""The migrations build exactly the models' schema, and upgrading a database that holds learning keeps it."""
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

import models
from tracker.db import alembic_config, upgrade
from tracker.extensions import db, make_engine


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    assert diff == []


def test_upgrade_keeps_sessions_and_heartbeats(tmp_path):
    """0002 rebuilds learning_sessions on SQLite, which heartbeats and checks reference: nothing may be lost."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO institutions (id, name, region_code, created_at) VALUES (1, 'i', '110000', '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO users (id, role, name, password_hash, is_active, created_at, institution_id) "
            "VALUES (1, 'trainee', 'n', 'x', 1, '2026-01-01', 1)"))
        conn.execute(text("INSERT INTO courses (id, institution_id, title, description, created_at) VALUES (1, 1, 'c', '', '2026-01-01')"))
        conn.execute(text("INSERT INTO chapters (id, course_id, ordinal, title, seconds) VALUES (1, 1, 1, 'ch', 60)"))
        conn.execute(text(
            "INSERT INTO classes (id, institution_id, name, occupation, form, total_hours, online_hours, policy_profile, "
            "photo_checks, liveness, created_at) VALUES (1, 1, 'k', '', '录播', 10, 4, 'standard', 1, 0, '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO learning_sessions (id, trainee_id, chapter_id, class_id, started_ts, status, last_seq, last_position, "
            "credited_seconds, beats, sealed_upto_id) VALUES (7, 1, 1, 1, 1.0, 'ended', 1, 15.0, 15.0, 1, 0)"))
        conn.execute(text(
            "INSERT INTO heartbeats (session_id, seq, received_ts, position, rate, playing, visible, focused, env, "
            "credited_seconds, reasons, answer) VALUES (7, 1, 16.0, 15.0, 1.0, 1, 1, 1, '{}', 15.0, '', '{}')"))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT chapter_id, lecture_id, credited_seconds FROM learning_sessions")).all() == [(1, None, 15.0)]
        assert conn.execute(text("SELECT session_id, credited_seconds FROM heartbeats")).all() == [(7, 15.0)]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        # The rebuilt table keeps the rule that a session is on a chapter or in a lecture, never both or neither.
        bad = "INSERT INTO learning_sessions (trainee_id, class_id, started_ts, status, last_seq, last_position, " \
              "credited_seconds, beats, sealed_upto_id) VALUES (1, 1, 2.0, 'ended', 0, 0, 0, 0, 0)"
        try:
            conn.execute(text(bad))
            raise AssertionError("a session with neither chapter nor lecture was accepted")
        except Exception as e:  # IntegrityError from the CHECK constraint
            assert "chapter_or_lecture" in str(e) or "CHECK" in str(e)
    engine.dispose()


def test_upgrade_marks_existing_questions_as_they_were_drawn(tmp_path):
    """0005: a chapter's question was drawn by its quiz and the exam (通用), a course-level one only by the exam;
    classes keep the platform's retake defaults; bank_questions stays append-only."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(text("INSERT INTO institutions (id, name, region_code, created_at) VALUES (1, 'i', '110000', '2026-01-01')"))
        conn.execute(text("INSERT INTO courses (id, institution_id, title, description, created_at) VALUES (1, 1, 'c', '', '2026-01-01')"))
        conn.execute(text("INSERT INTO chapters (id, course_id, ordinal, title, seconds) VALUES (1, 1, 1, 'ch', 60)"))
        conn.execute(text(
            "INSERT INTO classes (id, institution_id, name, occupation, form, total_hours, online_hours, policy_profile, "
            "photo_checks, liveness, created_at) VALUES (1, 1, 'k', '', '录播', 10, 4, 'standard', 1, 0, '2026-01-01')"))
        for qid, chapter in ((1, "1"), (2, "NULL")):
            conn.execute(text(
                "INSERT INTO bank_questions (id, course_id, chapter_id, kind, text, options, key, score, created_ts) "
                f"VALUES ({qid}, 1, {chapter}, 'truefalse', 'q{qid}', '[]', 'true', 2, 1.0)"))
        conn.execute(text("INSERT INTO exam_settings (class_id, time_limit_minutes, pass_percent, max_attempts, "
                          "question_count) VALUES (1, 60, 60, 2, 20)"))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, usage FROM bank_questions ORDER BY id")).all() == [(1, "both"), (2, "exam")]
        assert conn.execute(text("SELECT quiz_max_attempts, quiz_cooldown_minutes FROM exam_settings")).all() == \
            [(None, None)]
        try:
            conn.execute(text("UPDATE bank_questions SET usage = 'quiz'"))
            raise AssertionError("bank_questions accepted an UPDATE after the migration")
        except Exception as e:
            assert "append-only" in str(e)
    engine.dispose()
