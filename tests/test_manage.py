"""Staff's courses, chapters with uploaded videos, classes with their teaching plan, and the video stream."""
import io
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from models import Chapter, ClassCourse, Course, Institution, LedgerEntry, TrainingClass
from tracker.accounts.rules import RuleError
from tracker.accounts.services import create_user
from tracker.extensions import db
from tracker.learning import manage

from tests.conftest import register_payload

STAFF = "13900000001"
REGULATOR = "13900000002"
TRAINEE = "13800000001"


def make_webm(path, frames, fps, size=(64, 36)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8))
    writer.release()
    return Path(path).read_bytes()


def login(app, username, password="Demo1234"):
    c = app.test_client()
    r = c.post("/login", data={"username": username, "password": password})
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


def fetch(c, url, **kw):
    """GET a file response and close it (send_file keeps the file open until the body is closed)."""
    with c.get(url, **kw) as r:
        r.get_data()
        return r


@pytest.fixture
def video_90s(tmp_path):
    """A real VP8 WebM of 90 seconds (180 frames at 2 fps)."""
    return make_webm(tmp_path / "lesson.webm", frames=180, fps=2)


@pytest.fixture
def outsiders(app, demo):
    """Another institution's staff and a regulator of another region, with their passwords."""
    with app.app_context(), db.transaction() as s:
        inst = Institution(name="包头市另一培训学校", region_code="150203")
        s.add(inst)
        s.flush()
        create_user(s, role="staff", name="赵老师", password="Other1234", phone="13700000001", institution_id=inst.id)
        create_user(s, role="regulator", name="钱科长", password="Other1234", phone="13700000002", region_code="110000")
        return {"staff": ("13700000001", "Other1234"), "regulator": ("13700000002", "Other1234"),
                "institution_id": inst.id}


def ledger_entries(app, kind):
    with app.app_context(), db.transaction() as s:
        return [json.loads(e.payload) for e in s.scalars(select(LedgerEntry).where(LedgerEntry.kind == kind)
                                                          .order_by(LedgerEntry.seq))]


def demo_ids(demo):
    cls = demo["classes"][0]
    return cls["class_id"], cls["chapters"][0]["chapter_id"]


def upload_chapter(c, course_id, data, filename="lesson.webm", title="第1章 测试"):
    return c.post(f"/manage/courses/{course_id}", data={"title": title, "video": (io.BytesIO(data), filename)},
                  content_type="multipart/form-data")


def new_course(c, title="焊工基础"):
    r = c.post("/manage/courses", data={"title": title, "description": "线上理论"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return int(re.search(r"/manage/courses/(\d+)$", r.headers["Location"]).group(1))


# ---------------------------------------------------------------------------------------------------------------------
# Courses and chapters


def test_course_with_uploaded_chapter_measures_the_real_length(app, demo, video_90s):
    c = login(app, STAFF)
    course_id = new_course(c)
    r = upload_chapter(c, course_id, video_90s, filename="../../第一章 视频.webm")
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context(), db.transaction() as s:
        ch = s.scalars(select(Chapter).where(Chapter.course_id == course_id)).one()
        assert (ch.seconds, ch.ordinal, ch.title) == (90, 1, "第1章 测试")
        assert re.fullmatch(r"[0-9a-f]{32}\.webm", ch.video_file)  # random safe name, not the uploaded one
        stored = Path(app.config["TRACKER_INSTANCE"]) / "media" / ch.video_file
        assert stored.read_bytes() == video_90s
    page = c.get(f"/manage/courses/{course_id}").get_data(as_text=True)
    assert "1.5 分钟" in page and "0.03" in page  # 90 s = 1.5 min = 90/2700 class hours
    assert [e["title"] for e in ledger_entries(app, "course.created")] == ["焊工基础"]
    added = ledger_entries(app, "chapter.added")
    assert added[-1]["seconds"] == 90 and added[-1]["course_id"] == course_id
    import hashlib
    assert added[-1]["video_sha256"] == hashlib.sha256(video_90s).hexdigest()
    listing = c.get("/manage/courses").get_data(as_text=True)
    assert "焊工基础" in listing and "电工基础" in listing


def test_second_chapter_gets_the_next_ordinal(app, demo, tmp_path):
    c = login(app, STAFF)
    course_id = new_course(c)
    for n in range(2):
        data = make_webm(tmp_path / f"v{n}.webm", frames=10 * (n + 1), fps=5)
        assert upload_chapter(c, course_id, data, title=f"第{n + 1}章").status_code == 302
    with app.app_context(), db.transaction() as s:
        rows = s.execute(select(Chapter.ordinal, Chapter.seconds).where(Chapter.course_id == course_id)
                         .order_by(Chapter.ordinal)).all()
    assert [tuple(r) for r in rows] == [(1, 2), (2, 4)]


def test_frame_count_unknown_falls_back_to_decoding_frames(tmp_path, monkeypatch):
    path = tmp_path / "v.webm"
    make_webm(path, frames=50, fps=5)
    real = cv2.VideoCapture

    class NoCount:
        def __init__(self, *a):
            self.cap = real(*a)

        def get(self, prop):
            return -1.0 if prop == cv2.CAP_PROP_FRAME_COUNT else self.cap.get(prop)

        def __getattr__(self, name):
            return getattr(self.cap, name)

    monkeypatch.setattr(manage.cv2, "VideoCapture", NoCount)
    seconds, codec = manage.probe_video(path)
    assert seconds == pytest.approx(10.0) and codec == "VP80"


def test_a_truncated_upload_is_measured_by_what_it_holds_not_by_its_header(tmp_path):
    data = make_webm(tmp_path / "v.webm", frames=200, fps=10)
    full = manage.store_video(tmp_path / "media", io.BytesIO(data), "v.webm")
    cut = manage.store_video(tmp_path / "media", io.BytesIO(data[: len(data) // 2]), "v.webm")
    assert full.seconds == 20
    assert 5 <= cut.seconds <= 12


def media_files(app):
    return sorted(p.name for p in (Path(app.config["TRACKER_INSTANCE"]) / "media").iterdir())


@pytest.mark.parametrize("filename,data,message", [
    ("notes.webm", "这不是视频".encode() * 200, "不是有效的WEBM视频"),
    ("notes.txt", b"plain text", "仅支持WebM"),
    ("fake.webm", b"\x1a\x45\xdf\xa3" + b"\x00garbage" * 500, "无法识别该视频文件"),
    ("empty.mp4", b"", "请选择要上传的视频文件"),
])
def test_a_file_that_is_not_a_playable_video_is_refused(app, demo, filename, data, message):
    c = login(app, STAFF)
    course_id = new_course(c)
    before = media_files(app)
    r = upload_chapter(c, course_id, data, filename=filename)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert message in page and 'name="title" value="第1章 测试"' in page
    assert media_files(app) == before  # nothing left behind, not even the temporary file
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Chapter).where(Chapter.course_id == course_id)) == 0


def test_mp4_with_a_codec_browsers_cannot_play_is_refused(app, demo, tmp_path):
    path = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (64, 36))
    for _ in range(20):
        writer.write(np.zeros((36, 64, 3), np.uint8))
    writer.release()
    with pytest.raises(RuleError) as e:
        manage.store_video(tmp_path / "media", io.BytesIO(path.read_bytes()), "v.mp4")
    assert e.value.code == "unplayable_codec" and "H.264" in e.value.message
    assert not any((tmp_path / "media").iterdir())


# ---------------------------------------------------------------------------------------------------------------------
# Classes and their teaching plan


def _plan(**over):
    data = {"name": "2027年第1期 焊工", "occupation": "焊工（四级）", "form": "录播", "start_date": "2027-03-01",
            "end_date": "2027-04-30", "total_hours": "100", "online_hours": "40", "policy_profile": "standard"}
    data.update(over)
    return data


def test_online_share_rule_of_the_policy_profile(app, demo):
    with app.app_context(), db.transaction() as s:
        inst = s.get(Institution, demo["classes"][0]["institution_id"])
        course_id = s.scalars(select(Course.id).where(Course.institution_id == inst.id)).first()

        def make(total, online, profile):
            p = _plan(total_hours=total, online_hours=online, policy_profile=profile)
            return manage.create_class(s, inst, p["name"], p["occupation"], p["form"], p["start_date"],
                                       p["end_date"], p["total_hours"], p["online_hours"], p["policy_profile"],
                                       [course_id])

        assert make(100, 40, "standard").online_hours == 40
        with pytest.raises(RuleError) as e:
            make(100, 41, "standard")
        assert e.value.code == "online_share_exceeded" and "40%" in e.value.message
        assert make(100, 41, "epidemic2020").online_hours == 41
        assert make(100, 100, "epidemic2020").online_hours == 100


def test_new_class_page_creates_the_class_and_ledgers_the_plan(app, demo):
    c = login(app, STAFF)
    page = c.get("/manage/classes/new").get_data(as_text=True)
    assert "电工基础" in page and "2020年疫情防控期间" in page
    course_id = new_course(c)
    with app.app_context(), db.transaction() as s:
        demo_course = s.scalars(select(Course.id).where(Course.title.like("电工基础%"))).one()
    r = c.post("/manage/classes/new", data={**_plan(), "course_ids": [str(course_id), str(demo_course)]})
    assert r.status_code == 302
    class_id = int(r.headers["Location"].rsplit("/", 1)[1])
    with app.app_context(), db.transaction() as s:
        cls = s.get(TrainingClass, class_id)
        assert (cls.total_hours, cls.online_hours, cls.form, str(cls.end_date)) == (100, 40, "录播", "2027-04-30")
        assert sorted(s.scalars(select(ClassCourse.course_id).where(ClassCourse.class_id == class_id))) == \
            sorted([course_id, demo_course])
    plan = ledger_entries(app, "class.created")[-1]
    assert plan["class_id"] == class_id
    assert plan["plan"] == {"form": "录播", "start_date": "2027-03-01", "end_date": "2027-04-30", "total_hours": 100.0,
                            "online_hours": 40.0, "policy_profile": "standard",
                            "course_ids": sorted([course_id, demo_course])}


@pytest.mark.parametrize("over,message", [
    ({"online_hours": "41"}, "超过总课时的40%"),
    ({"end_date": "2027-02-01"}, "结业日期不能早于开班日期"),
    ({"form": "函授"}, "培训形式须为"),
    ({"policy_profile": "lenient"}, "政策配置无效"),
    ({"total_hours": "abc"}, "课时须为数字"),
    ({"course_ids": []}, "请至少选择一门课程"),
])
def test_new_class_form_errors_rerender_with_400(app, demo, over, message):
    c = login(app, STAFF)
    with app.app_context(), db.transaction() as s:
        course_id = s.scalars(select(Course.id)).first()
        before = s.scalar(select(func.count()).select_from(TrainingClass))
    data = {**_plan(), "course_ids": [str(course_id)], **over}
    r = c.post("/manage/classes/new", data=data)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert message in page and 'value="2027年第1期 焊工"' in page
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(TrainingClass)) == before


def test_a_class_cannot_use_another_institutions_course(app, demo, outsiders):
    c = login(app, *outsiders["staff"])
    with app.app_context(), db.transaction() as s:
        demo_course = s.scalars(select(Course.id)).first()
    r = c.post("/manage/classes/new", data={**_plan(), "course_ids": [str(demo_course)]})
    assert r.status_code == 400 and "不属于本机构" in r.get_data(as_text=True)
    assert "电工基础" not in c.get("/manage/classes/new").get_data(as_text=True)


# ---------------------------------------------------------------------------------------------------------------------
# Access


def test_other_institution_staff_get_403_on_every_manage_route(app, demo, outsiders, video_90s):
    class_id, chapter_id = demo_ids(demo)
    with app.app_context(), db.transaction() as s:
        course_id = s.get(Chapter, chapter_id).course_id
        chapters_before = s.scalar(select(func.count()).select_from(Chapter))
    c = login(app, *outsiders["staff"])
    csv = "姓名,身份证号码,手机号码,身份类别\n".encode()
    calls = [
        c.get(f"/manage/courses/{course_id}"),
        upload_chapter(c, course_id, video_90s),
        c.post(f"/manage/classes/{class_id}/roster/import", data={"file": (io.BytesIO(csv), "r.csv")},
               content_type="multipart/form-data"),
        c.get(f"/manage/classes/{class_id}/roster.xlsx"),
        fetch(c, f"/media/chapters/{chapter_id}/video"),
        c.get(f"/classes/{class_id}"),
    ]
    assert [r.status_code for r in calls] == [403] * len(calls)
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Chapter)) == chapters_before
    # Their own institution's pages work and show nothing of the other's.
    own = c.get("/manage/courses")
    assert own.status_code == 200 and "电工基础" not in own.get_data(as_text=True)


def test_trainees_and_regulators_cannot_use_staff_pages(app, demo):
    class_id, chapter_id = demo_ids(demo)
    for username in (TRAINEE, REGULATOR):
        c = login(app, username)
        assert c.get("/manage/courses").status_code == 403
        assert c.get("/manage/classes/new").status_code == 403
        assert c.post(f"/manage/classes/{class_id}/roster/import").status_code == 403
    anon = app.test_client()
    assert anon.get("/manage/courses").status_code == 302


def test_forms_carry_csrf_tokens_and_posts_without_one_fail(app, demo):
    c = login(app, STAFF)
    class_id, _ = demo_ids(demo)
    for url in ("/manage/courses", "/manage/classes/new", f"/classes/{class_id}"):
        page = c.get(url).get_data(as_text=True)
        forms = re.findall(r"<form\b.*?</form>", page, re.S)
        assert forms and all('name="csrf_token"' in f for f in forms), url
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert c.post("/manage/courses", data={"title": "无令牌"}).status_code == 400
        page = c.get("/manage/courses").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert c.post("/manage/courses", data={"title": "有令牌", "csrf_token": token}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


# ---------------------------------------------------------------------------------------------------------------------
# Video streaming


def test_range_request_returns_206_with_the_right_bytes(app, demo, video_90s):
    c = login(app, STAFF)
    course_id = new_course(c)
    assert upload_chapter(c, course_id, video_90s).status_code == 302
    with app.app_context(), db.transaction() as s:
        chapter_id = s.scalars(select(Chapter.id).where(Chapter.course_id == course_id)).one()
    url = f"/media/chapters/{chapter_id}/video"
    r = fetch(c, url, headers={"Range": "bytes=100-299"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 100-299/{len(video_90s)}"
    assert r.data == video_90s[100:300] and r.headers["Content-Type"] == "video/webm"
    r = fetch(c, url, headers={"Range": "bytes=-50"})
    assert r.status_code == 206 and r.data == video_90s[-50:]
    r = fetch(c, url)
    assert r.status_code == 200 and r.data == video_90s and r.headers["Accept-Ranges"] == "bytes"
    r = fetch(c, url, headers={"Range": f"bytes={len(video_90s) + 10}-"})
    assert r.status_code == 416


def test_who_may_fetch_a_chapter_video(app, demo, outsiders):
    class_id, chapter_id = demo_ids(demo)
    url = f"/media/chapters/{chapter_id}/video"
    assert fetch(app.test_client(), url).status_code == 401
    assert fetch(login(app, TRAINEE), url).status_code == 200  # enrolled in the demo class
    assert fetch(login(app, REGULATOR), url).status_code == 200  # 150100 covers the institution's 150102
    assert fetch(login(app, *outsiders["regulator"]), url).status_code == 403
    assert fetch(login(app, *outsiders["staff"]), url).status_code == 403
    r = app.test_client().post("/api/v1/auth/register", json=register_payload())
    assert r.status_code == 201
    payload = r.get_json()
    with app.app_context(), db.transaction() as s:
        from models import User
        stranger = s.get(User, payload["user_id"])
        username = stranger.phone
    stranger_client = login(app, username, "Passw0rd1")
    assert fetch(stranger_client, url).status_code == 403  # registered but not enrolled
    assert fetch(login(app, TRAINEE), "/media/chapters/999999/video").status_code == 404


def test_class_page_offers_roster_import_and_download(app, demo):
    class_id, _ = demo_ids(demo)
    page = login(app, STAFF).get(f"/classes/{class_id}").get_data(as_text=True)
    assert f"/manage/classes/{class_id}/roster/import" in page and f"/manage/classes/{class_id}/roster.xlsx" in page
    nav = login(app, STAFF).get("/manage/courses").get_data(as_text=True)
    assert "课程管理" in nav and "新建班期" in nav
    regulator_page = login(app, REGULATOR).get(f"/classes/{class_id}").get_data(as_text=True)
    assert "roster/import" not in regulator_page and "roster.xlsx" in regulator_page


def test_class_page_sets_the_content_beside_the_plan_and_warns_when_it_falls_short(app, demo):
    class_id, _ = demo_ids(demo)
    with app.app_context(), db.transaction() as s:
        from models import TrainingClass
        cls = s.get(TrainingClass, class_id)
        content = sum(ch.seconds for course in cls.courses for ch in course.chapters)
        assert content < cls.online_hours * 2700  # the demo's short videos against a 40-hour plan
    for who in (STAFF, REGULATOR):
        page = login(app, who).get(f"/classes/{class_id}").get_data(as_text=True)
        assert f"{round(content / 2700, 2)} 课时" in page and 'id="content-short"' in page
    with app.app_context(), db.transaction() as s:
        s.get(TrainingClass, class_id).online_hours = content / 2700  # a plan the content covers exactly
    page = login(app, STAFF).get(f"/classes/{class_id}").get_data(as_text=True)
    assert 'id="content-hours"' in page and 'id="content-short"' not in page
