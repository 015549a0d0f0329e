"""The quiz, exam, exam-settings and notice pages render for those who may see them and refuse the others."""
from sqlalchemy import select

from models import ChapterProgress, ExamSettings
from tests.test_access import web_login
from tracker.extensions import db

STAFF, REGULATOR = "13900000001", "13900000002"


def trainee(demo, n=0):
    return [a for a in demo["accounts"] if a["role"] == "trainee"][n]


def test_trainee_pages_show_what_is_missing_and_the_links(app, demo):
    t = trainee(demo)
    c = web_login(app, t["username"])
    ch1, ch2 = demo["classes"][0]["chapters"]
    cid = demo["classes"][0]["class_id"]
    page = c.get("/learn").get_data(as_text=True)
    assert f"/learn/chapters/{ch1['chapter_id']}/quiz" in page and f"/learn/classes/{cid}/exam" in page
    page = c.get(f"/learn/chapters/{ch1['chapter_id']}/quiz").get_data(as_text=True)
    assert 'id="missing-seconds">143<' in page and 'id="start"' not in page
    with app.app_context(), db.transaction() as s:
        s.add(ChapterProgress(trainee_id=t["user_id"], chapter_id=ch1["chapter_id"], credited_seconds=150))
    page = c.get(f"/learn/chapters/{ch1['chapter_id']}/quiz").get_data(as_text=True)
    assert 'id="start"' in page and "missing-seconds" not in page
    page = c.get(f"/learn/classes/{cid}/exam").get_data(as_text=True)
    assert 'id="missing-seconds">164<' in page and "30 分钟" in page  # 313.5 - 150 s; the demo's 30-minute exam
    assert c.get("/learn/classes/999999/exam").status_code == 404
    assert c.get("/learn/chapters/999999/quiz").status_code == 404
    assert c.get(f"/manage/classes/{cid}/exam").status_code == 403


def test_staff_set_the_exam_and_send_notices_the_regulator_reads_them(app, demo):
    cid = demo["classes"][0]["class_id"]
    staff = web_login(app, STAFF)
    page = staff.get(f"/classes/{cid}").get_data(as_text=True)
    assert f"/manage/classes/{cid}/exam" in page and f"/classes/{cid}/notices" in page
    r = staff.post(f"/manage/classes/{cid}/exam", data={"time_limit_minutes": "45", "pass_percent": "70",
                                                        "max_attempts": "3", "question_count": "8"})
    assert r.status_code == 302
    with app.app_context(), db.transaction() as s:
        row = s.get(ExamSettings, cid)
        assert (row.time_limit_minutes, row.pass_percent, row.max_attempts, row.question_count) == (45, 70.0, 3, 8)
    r = staff.post(f"/manage/classes/{cid}/exam", data={"time_limit_minutes": "1", "pass_percent": "70",
                                                        "max_attempts": "3", "question_count": "8"})
    assert r.status_code == 400 and "5到600" in r.get_data(as_text=True)
    assert staff.post(f"/classes/{cid}/notices", data={"text": "明天停电，暂停学习"}).status_code == 302

    regulator = web_login(app, REGULATOR)
    assert 'value="45"' not in regulator.get(f"/manage/classes/{cid}/exam").get_data(as_text=True)
    assert "45 分钟" in regulator.get(f"/manage/classes/{cid}/exam").get_data(as_text=True)
    assert regulator.post(f"/manage/classes/{cid}/exam", data={"time_limit_minutes": "50", "pass_percent": "70",
                                                               "max_attempts": "3", "question_count": "8"}).status_code == 403
    page = regulator.get(f"/classes/{cid}/notices").get_data(as_text=True)
    assert "明天停电，暂停学习" in page and "<textarea" not in page
    assert regulator.post(f"/classes/{cid}/notices", data={"text": "x"}).status_code == 403
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(ExamSettings.max_attempts).where(ExamSettings.class_id == cid)) == 3
