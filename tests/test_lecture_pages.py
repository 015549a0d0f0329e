"""Live-lecture pages: staff schedule, change, cancel and upload the recording on the class page; attendance;
the recording's stream; the trainee's lecture list, live room and replay. Every denial is tested."""
import io
import re
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import Enrollment, LectureProgress, LedgerEntry, LiveLecture, TrainingClass, User
from tracker.accounts.services import create_user
from tracker.demo import ensure_demo_lecture  # the real one: the demo fixture stubs it out
from tracker.extensions import db
from tracker.learning import lectures
from tracker.learning.crediting import CST

from tests.conftest import make_id_number
from tests.test_manage import REGULATOR, STAFF, TRAINEE, fetch, login, make_webm, outsiders  # noqa: F401 (fixture)

ADMIN = "13900000009"


@pytest.fixture
def cls_id(app, demo):
    """The demo class, its training dates around today (lectures must lie within them)."""
    today = datetime.now(CST).date()
    with app.app_context(), db.transaction() as s:
        cls = s.get(TrainingClass, demo["classes"][0]["class_id"])
        cls.start_date, cls.end_date = today - timedelta(days=30), today + timedelta(days=30)
        return cls.id


def add_lecture(app, class_id, starts_in, minutes=60, url="/media/chapters/1/video.webm", title="直播：安全操作"):
    """A lecture starting `starts_in` seconds from now (negative: already begun), scheduled beforehand."""
    now = time.time()
    starts = now + starts_in
    with app.app_context(), db.transaction() as s:
        staff = s.scalar(select(User).where(User.phone == STAFF))
        lecture = lectures.schedule_lecture(
            s, s.get(TrainingClass, class_id), staff, title, "王老师", url,
            datetime.fromtimestamp(starts, CST), datetime.fromtimestamp(starts + minutes * 60, CST), min(now, starts) - 60)
        return lecture.id


def lecture_count(app):
    with app.app_context(), db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(LiveLecture)),
                s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind.like("lecture.%"))))


def tomorrow():
    return (datetime.now(CST) + timedelta(days=1)).strftime("%Y-%m-%d")


def form(**over):
    data = {"title": "直播答疑：低压配电", "teacher": "王老师", "stream_url": "https://live.example.cn/room/12.m3u8",
            "date": tomorrow(), "start": "19:30", "end": "21:00"}
    data.update(over)
    return data


def outsider_trainee(app):
    """A trainee enrolled in no class."""
    with app.app_context(), db.transaction() as s:
        if s.scalar(select(User.id).where(User.phone == "13600000001")) is None:
            create_user(s, role="trainee", name="局外人", password="Other1234", phone="13600000001",
                        id_number=make_id_number(), category="企业职工")
    return login(app, "13600000001", "Other1234")


# --- staff: schedule, errors, change, cancel -------------------------------------------------------------------------


def test_staff_schedule_a_lecture_with_the_form_in_china_standard_time(app, cls_id):
    c = login(app, STAFF)
    page = c.get(f"/classes/{cls_id}").get_data(as_text=True)
    assert "直播课（0场）" in page and f'action="/classes/{cls_id}/lectures"' in page
    r = c.post(f"/classes/{cls_id}/lectures", data=form())
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/classes/{cls_id}#lectures")
    with app.app_context(), db.transaction() as s:
        lecture = s.scalar(select(LiveLecture))
        assert lecture.title == "直播答疑：低压配电" and lecture.teacher == "王老师"
        assert datetime.fromtimestamp(lecture.starts_ts, CST).strftime("%Y-%m-%d %H:%M") == f"{tomorrow()} 19:30"
        assert lecture.ends_ts - lecture.starts_ts == 90 * 60
    assert lecture_count(app) == (1, 1)
    page = c.get(f"/classes/{cls_id}").get_data(as_text=True)
    row = re.search(rf'<tr data-lecture-id="{lecture.id}".*?</tr>', page, re.S).group(0)
    assert f"{tomorrow()} 19:30–21:00" in row and "未开始" in row and ">无<" in row.replace("\n", "")


@pytest.mark.parametrize("over, message", [
    ({"title": ""}, "请填写直播标题"),
    ({"date": ""}, "请填写直播日期"),
    ({"start": ""}, "请填写开始时间"),
    ({"stream_url": "ftp://example.cn/a"}, "直播地址须以 https:// 开头"),
    ({"date": "2020-01-01"}, "开始时间须晚于现在"),
    ({"start": "21:00", "end": "20:00"}, "直播时长须在10分钟到6小时之间"),
    ({"date": "2099-01-01"}, "直播须在班期的培训日期"),
    ({"date": "2026-13-40"}, "开始时间格式应为"),
])
def test_form_errors_are_shown_in_chinese_with_the_values_and_nothing_is_written(app, cls_id, over, message):
    c = login(app, STAFF)
    r = c.post(f"/classes/{cls_id}/lectures", data=form(**over))
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and message in page
    assert re.search(r'<p class="error" role="alert">[^<]*' + re.escape(message), page)
    assert 'value="王老师"' in page  # what was typed is shown again
    assert lecture_count(app) == (0, 0)


def test_an_overlapping_lecture_is_refused(app, cls_id):
    add_lecture(app, cls_id, 3600)
    start = datetime.fromtimestamp(time.time() + 3600 + 600, CST)
    end = start + timedelta(minutes=30)
    r = login(app, STAFF).post(f"/classes/{cls_id}/lectures", data=form(date=start.strftime("%Y-%m-%d"),
                                                                       start=start.strftime("%H:%M"), end=end.strftime("%H:%M")))
    assert r.status_code == 400 and "时间重叠" in r.get_data(as_text=True)
    assert lecture_count(app) == (1, 1)


def test_change_and_cancel_before_the_start_only(app, cls_id):
    c = login(app, STAFF)
    upcoming = add_lecture(app, cls_id, 2 * 3600)
    page = c.get(f"/lectures/{upcoming}/edit").get_data(as_text=True)
    assert 'value="直播：安全操作"' in page
    r = c.post(f"/lectures/{upcoming}/edit", data=form(title="改期后的直播"))
    assert r.status_code == 302
    r = c.post(f"/lectures/{upcoming}/edit", data=form(end="19:35"))
    assert r.status_code == 400 and "直播时长须在10分钟到6小时之间" in r.get_data(as_text=True)
    # cancelling needs a reason
    r = c.post(f"/lectures/{upcoming}/cancel", data={"reason": ""})
    assert r.status_code == 400 and "请填写取消原因" in r.get_data(as_text=True)
    assert c.post(f"/lectures/{upcoming}/cancel", data={"reason": "教师临时出差"}).status_code == 302
    with app.app_context(), db.transaction() as s:
        lecture = s.get(LiveLecture, upcoming)
        assert (lecture.title, lecture.status) == ("改期后的直播", "cancelled")
    page = c.get(f"/classes/{cls_id}").get_data(as_text=True)
    assert "已取消" in page and f"/lectures/{upcoming}/edit" not in page

    begun = add_lecture(app, cls_id, -60)
    assert "直播中，不能修改" in c.get(f"/lectures/{begun}/edit").get_data(as_text=True)
    r = c.post(f"/lectures/{begun}/edit", data=form())
    assert r.status_code == 400 and "直播已开始，不能修改" in r.get_data(as_text=True)
    r = c.post(f"/lectures/{begun}/cancel", data={"reason": "不想上了"})
    assert r.status_code == 400 and "直播已开始，不能取消" in r.get_data(as_text=True)


def test_the_recording_is_uploaded_after_the_end_and_streamed_with_ranges(app, cls_id, tmp_path):
    c = login(app, STAFF)
    video = make_webm(tmp_path / "rec.webm", frames=120, fps=2)
    live = add_lecture(app, cls_id, -60)
    r = c.post(f"/lectures/{live}/recording", data={"video": (io.BytesIO(video), "rec.webm")},
               content_type="multipart/form-data")
    assert r.status_code == 400 and "直播结束后才能上传录像" in r.get_data(as_text=True)

    ended = add_lecture(app, cls_id, -3 * 3600, minutes=60)
    page = c.get(f"/classes/{cls_id}").get_data(as_text=True)
    assert f'action="/lectures/{ended}/recording"' in page and 'enctype="multipart/form-data"' in page
    r = c.post(f"/lectures/{ended}/recording", data={"video": (io.BytesIO(b""), "")}, content_type="multipart/form-data")
    assert r.status_code == 400 and "请选择要上传的视频文件" in r.get_data(as_text=True)
    r = c.post(f"/lectures/{ended}/recording", data={"video": (io.BytesIO(video), "rec.webm")},
               content_type="multipart/form-data")
    assert r.status_code == 302
    with app.app_context(), db.transaction() as s:
        assert s.get(LiveLecture, ended).recording_seconds == 60
    page = c.get(f"/classes/{cls_id}").get_data(as_text=True)
    assert "有（1.0 分钟）" in page and f'action="/lectures/{ended}/recording"' not in page
    r = c.post(f"/lectures/{ended}/recording", data={"video": (io.BytesIO(video), "rec.webm")},
               content_type="multipart/form-data")
    assert r.status_code == 400 and "不能替换" in r.get_data(as_text=True)

    url = f"/media/lectures/{ended}/recording"
    for who in (login(app, TRAINEE), c, login(app, REGULATOR), login(app, ADMIN)):
        got = fetch(who, url, headers={"Range": "bytes=0-99"})
        assert got.status_code == 206 and got.headers["Content-Range"] == f"bytes 0-99/{len(video)}"
        assert got.mimetype == "video/webm"
    # the trainee's replay page plays it and says it earns nothing
    page = login(app, TRAINEE).get(f"/learn/lectures/{ended}/replay").get_data(as_text=True)
    assert url in page and "不计入有效学时" in page


def test_recording_denials(app, cls_id, outsiders, tmp_path):
    ended = add_lecture(app, cls_id, -3 * 3600)
    with app.app_context(), db.transaction() as s:
        lecture = s.get(LiveLecture, ended)
        path = tmp_path / "instance" / "media" / "lectures" / "r.webm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_webm(tmp_path / "r.webm", frames=20, fps=2))
        lecture.recording_file, lecture.recording_seconds = "lectures/r.webm", 10
    url = f"/media/lectures/{ended}/recording"
    assert fetch(login(app, TRAINEE), url).status_code == 200
    assert fetch(app.test_client(), url).status_code == 401
    for who in (outsider_trainee(app), login(app, *outsiders["staff"]), login(app, *outsiders["regulator"])):
        assert fetch(who, url).status_code == 404
    assert fetch(login(app, TRAINEE), "/media/lectures/999/recording").status_code == 404
    without = add_lecture(app, cls_id, -6 * 3600)
    assert fetch(login(app, TRAINEE), f"/media/lectures/{without}/recording").status_code == 404
    assert login(app, TRAINEE).get(f"/learn/lectures/{without}/replay").status_code == 404
    assert outsider_trainee(app).get(f"/learn/lectures/{ended}/replay").status_code == 404


# --- who may do what ------------------------------------------------------------------------------------------------


def test_another_institutions_staff_get_403(app, cls_id, outsiders):
    lecture = add_lecture(app, cls_id, 2 * 3600)
    other = login(app, *outsiders["staff"])
    assert other.get(f"/classes/{cls_id}").status_code == 403
    assert other.post(f"/classes/{cls_id}/lectures", data=form()).status_code == 403
    assert other.get(f"/lectures/{lecture}/edit").status_code == 403
    assert other.post(f"/lectures/{lecture}/edit", data=form()).status_code == 403
    assert other.post(f"/lectures/{lecture}/cancel", data={"reason": "捣乱"}).status_code == 403
    assert other.post(f"/lectures/{lecture}/recording", data={}).status_code == 403
    assert other.get(f"/lectures/{lecture}/attendance").status_code == 403
    assert other.get("/lectures/999/attendance").status_code == 404
    assert lecture_count(app) == (1, 1)
    with app.app_context(), db.transaction() as s:
        assert s.get(LiveLecture, lecture).status == "scheduled"


def test_regulators_and_admins_see_the_lectures_read_only(app, cls_id, outsiders):
    lecture = add_lecture(app, cls_id, 2 * 3600)
    reg = login(app, REGULATOR)
    page = reg.get(f"/classes/{cls_id}").get_data(as_text=True)
    assert "直播：安全操作" in page and f"/lectures/{lecture}/attendance" in page
    assert f'action="/classes/{cls_id}/lectures"' not in page and "/cancel" not in page and "/edit" not in page
    assert reg.post(f"/classes/{cls_id}/lectures", data=form()).status_code == 403
    assert reg.post(f"/lectures/{lecture}/cancel", data={"reason": "x"}).status_code == 403
    assert reg.get(f"/lectures/{lecture}/edit").status_code == 403
    assert reg.get(f"/lectures/{lecture}/attendance").status_code == 200
    assert login(app, *outsiders["regulator"]).get(f"/lectures/{lecture}/attendance").status_code == 403
    # an admin manages any class (can_manage_class), as on the rest of the class page
    admin_page = login(app, ADMIN).get(f"/classes/{cls_id}").get_data(as_text=True)
    assert f'action="/classes/{cls_id}/lectures"' in admin_page
    # trainees have no staff pages
    trainee = login(app, TRAINEE)
    assert trainee.post(f"/classes/{cls_id}/lectures", data=form()).status_code == 403
    assert trainee.get(f"/lectures/{lecture}/attendance").status_code == 403
    assert lecture_count(app) == (1, 1)


def test_attendance_page_masks_id_numbers_and_shows_credited_minutes(app, cls_id, demo):
    lecture = add_lecture(app, cls_id, -3 * 3600, minutes=60)
    trainee = next(a for a in demo["accounts"] if a["role"] == "trainee")
    with app.app_context(), db.transaction() as s:
        s.add(LectureProgress(trainee_id=trainee["user_id"], lecture_id=lecture, credited_seconds=1800.0))
    page = login(app, STAFF).get(f"/lectures/{lecture}/attendance").get_data(as_text=True)
    row = re.search(rf'<tr data-trainee-id="{trainee["user_id"]}">.*?</tr>', page, re.S).group(0)
    assert trainee["name"] in row and ">30.0<" in row and "50.0%" in row
    for a in demo["accounts"]:
        if a["id_number"]:
            assert a["id_number"] not in page and a["id_number"][-4:] in page
    assert page.count('<tr data-trainee-id=') == 3 and "未进入" in page


# --- the trainee ----------------------------------------------------------------------------------------------------


def test_my_courses_lists_upcoming_live_and_ended_lectures(app, cls_id, demo, tmp_path):
    upcoming = add_lecture(app, cls_id, 2 * 3600, title="明天的直播")
    live = add_lecture(app, cls_id, -600, title="正在直播")
    ended = add_lecture(app, cls_id, -5 * 3600, title="已结束的直播")
    trainee = next(a for a in demo["accounts"] if a["role"] == "trainee")
    with app.app_context(), db.transaction() as s:
        s.add(LectureProgress(trainee_id=trainee["user_id"], lecture_id=ended, credited_seconds=1500.0))
        s.get(LiveLecture, ended).recording_file = "lectures/x.webm"
    page = login(app, TRAINEE).get("/learn").get_data(as_text=True)

    def item(lecture_id):
        return re.search(rf'<li class="lecture[^"]*" data-lecture-id="{lecture_id}".*?</li>', page, re.S).group(0)

    assert "未开始" in item(upcoming) and "进入直播间" not in item(upcoming)
    assert "直播中" in item(live) and f'href="/learn/lectures/{live}"' in item(live) and "进入直播间" in item(live)
    assert "25.0" in item(ended) and f"/learn/lectures/{ended}/replay" in item(ended) and "回放不计学时" in item(ended)


def test_the_live_room_for_an_enrolled_trainee_only(app, cls_id, outsiders):
    live = add_lecture(app, cls_id, -60)
    assert login(app, STAFF).post(f"/classes/{cls_id}/notices", data={"text": "直播间请保持摄像头开启"}).status_code == 302
    page = login(app, TRAINEE).get(f"/learn/lectures/{live}").get_data(as_text=True)
    assert "离开直播间" in page and 'id="stream-video"' in page and "live.js" in page and "learning.js" in page
    assert 'id="class-notices"' in page and "直播间请保持摄像头开启" in page  # the class's notices, new ones live
    assert '"kind": "video"' in page and "hls.min.js" not in page
    assert outsider_trainee(app).get(f"/learn/lectures/{live}").status_code == 404
    assert login(app, TRAINEE).get("/learn/lectures/999").status_code == 404
    assert login(app, STAFF).get(f"/learn/lectures/{live}").status_code == 403  # a trainee's page
    assert app.test_client().get(f"/learn/lectures/{live}").status_code == 302  # to the login page


def test_the_room_plays_each_kind_of_stream(app, cls_id):
    hls = add_lecture(app, cls_id, 3600, url="https://live.example.cn/a/index.m3u8")
    embed = add_lecture(app, cls_id, 3 * 3600, url="https://live.example.cn/room/8")
    c = login(app, TRAINEE)
    page = c.get(f"/learn/lectures/{hls}").get_data(as_text=True)
    assert "vendor/hls.min.js" in page and '"kind": "hls"' in page and "距开播还有" in page
    page = c.get(f"/learn/lectures/{embed}").get_data(as_text=True)
    assert 'id="stream-frame"' in page and '"kind": "embed"' in page and "hls.min.js" not in page


def test_an_ended_or_cancelled_room_says_so_and_runs_nothing(app, cls_id):
    ended = add_lecture(app, cls_id, -5 * 3600)
    cancelled = add_lecture(app, cls_id, 3600)
    login(app, STAFF).post(f"/lectures/{cancelled}/cancel", data={"reason": "改期"})
    c = login(app, TRAINEE)
    page = c.get(f"/learn/lectures/{ended}").get_data(as_text=True)
    assert "直播已结束" in page and "live.js" not in page
    page = c.get(f"/learn/lectures/{cancelled}").get_data(as_text=True)
    assert "该场直播已取消" in page and "live.js" not in page


# --- the demo -------------------------------------------------------------------------------------------------------


def test_the_demo_has_a_live_class_with_a_lecture_of_a_chapter_video(app, cls_id, demo):
    from models import LiveLecture, TrainingClass
    from tracker.demo import LIVE_CLASS

    with app.app_context(), db.transaction() as s:
        lecture = ensure_demo_lecture(s)  # the real one: the demo fixture leaves it out
        assert ensure_demo_lecture(s) is None  # one at a time: not again while it has not ended
        assert s.scalar(select(func.count()).select_from(LiveLecture)) == 1
        assert s.get(TrainingClass, lecture.class_id).name == LIVE_CLASS and lecture.class_id != cls_id
        starts_in = lecture.starts_ts - time.time()
        assert 3 * 60 < starts_in < 8 * 60 and lecture.seconds == 2 * 3600
        assert lectures.stream_kind(lecture.stream_url) == "video" and lecture.stream_url.startswith("/media/chapters/")
        url, lecture_id = lecture.stream_url, lecture.id
        assert s.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.class_id == lecture.class_id)) == 3
    c = login(app, TRAINEE)
    assert fetch(c, url, headers={"Range": "bytes=0-9"}).status_code == 206  # the same-origin stream plays
    assert "距开播还有" in c.get(f"/learn/lectures/{lecture_id}").get_data(as_text=True)
