"""Live lectures (直播): scheduled by the institution, attended in a live room, recorded for the class archive.

Attendance itself is a learning session in the lecture's room (sessions.start_lecture_session) credited by
crediting.credit_presence; this module keeps the schedule, the recording and the attendance summaries.
Who may call what is decided by the routes (can_manage_class / can_view_class / enrolment).
"""
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select

from models import Enrollment, LearningSession, LectureProgress, LiveLecture, User
from tracker import ledger
from tracker.accounts.rules import RuleError, mask_id_number, validate_text
from tracker.learning.crediting import CST
from tracker.learning.manage import media_dir, store_video

MIN_SECONDS = 10 * 60
MAX_SECONDS = 8 * 45 * 60  # a lecture longer than a day's allowance could never be credited in full
STATES = {"upcoming": "未开始", "live": "直播中", "ended": "已结束", "cancelled": "已取消"}


def parse_time(value, field, label):
    """An ISO 8601 time; without a zone it is China Standard Time (what staff type into the form)."""
    if isinstance(value, datetime):
        moment = value
    else:
        if value is not None and not isinstance(value, str):
            raise RuleError("invalid_time", f"{label}格式应为 YYYY-MM-DD HH:MM", field)
        text = (value or "").strip()
        if not text:
            raise RuleError("missing_field", f"请填写{label}", field)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RuleError("invalid_time", f"{label}格式应为 YYYY-MM-DD HH:MM", field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CST)
    try:
        # Shown and compared in Beijing time: a time that has no date there (year 10000 once moved from -12:00)
        # would fail every conversion after it.
        year = moment.astimezone(CST).year
    except (OverflowError, ValueError):
        year = 0
    if not 2000 <= year <= 2999:
        raise RuleError("invalid_time", f"{label}超出可安排的范围", field)
    return moment.timestamp()


def validate_stream_url(raw):
    """An http(s) address (HLS playlist, video file or a platform's embeddable page) or a path on this site."""
    url = validate_text(raw, "stream_url", "直播地址", 500)
    # Browsers read a backslash as a slash and drop tabs and line breaks from an address: a slash, a backslash
    # and a host, or a slash, a tab, a slash and a host, is another site's address (//host), not a path on this one.
    if any(c.isspace() or c == "\\" for c in url):
        raise RuleError("invalid_stream_url", "直播地址不能含有空白字符或反斜杠", "stream_url")
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise RuleError("invalid_stream_url", "直播地址须以 https:// 开头（或为本站路径）", "stream_url")
    return url


def _schedule(s, cls, title, teacher, stream_url, starts_at, ends_at, now, exclude_id=None):
    title = validate_text(title, "title", "直播标题", 100)
    teacher = validate_text(teacher or "", "teacher", "主讲教师", 50, required=False)
    url = validate_stream_url(stream_url)
    starts, ends = parse_time(starts_at, "starts_at", "开始时间"), parse_time(ends_at, "ends_at", "结束时间")
    if starts <= now:
        raise RuleError("starts_in_past", "开始时间须晚于现在", "starts_at")
    if not MIN_SECONDS <= ends - starts <= MAX_SECONDS:
        raise RuleError("invalid_length", f"直播时长须在{MIN_SECONDS // 60}分钟到{MAX_SECONDS // 3600}小时之间", "ends_at")
    first, last = datetime.fromtimestamp(starts, CST).date(), datetime.fromtimestamp(ends, CST).date()
    if (cls.start_date and first < cls.start_date) or (cls.end_date and last > cls.end_date):
        raise RuleError("outside_class_dates", f"直播须在班期的培训日期（{cls.start_date}至{cls.end_date}）之内", "starts_at")
    clash = s.scalar(select(LiveLecture).where(
        LiveLecture.class_id == cls.id, LiveLecture.status == "scheduled", LiveLecture.id != (exclude_id or 0),
        LiveLecture.starts_ts < ends, LiveLecture.ends_ts > starts).limit(1))
    if clash is not None:
        raise RuleError("overlapping_lecture", f"与本班期的直播“{clash.title}”时间重叠", "starts_at", status=409)
    return {"title": title, "teacher": teacher, "stream_url": url, "starts_ts": starts, "ends_ts": ends}


def _schedule_payload(lecture):
    return {"lecture_id": lecture.id, "class_id": lecture.class_id, "title": lecture.title, "teacher": lecture.teacher,
            "stream_url": lecture.stream_url, "starts": iso(lecture.starts_ts), "ends": iso(lecture.ends_ts)}


def schedule_lecture(s, cls, actor, title, teacher, stream_url, starts_at, ends_at, now):
    fields = _schedule(s, cls, title, teacher, stream_url, starts_at, ends_at, now)
    lecture = LiveLecture(class_id=cls.id, created_by=actor.id, status="scheduled", **fields)
    s.add(lecture)
    s.flush()
    ledger.append(s, "lecture.scheduled", _schedule_payload(lecture), actor_id=actor.id)
    return lecture


def _not_begun(lecture, now, doing):
    if lecture.status == "cancelled":
        raise RuleError("lecture_cancelled", "该场直播已取消", status=409)
    if now >= lecture.starts_ts:
        raise RuleError("lecture_begun", f"直播已开始，不能{doing}", status=409)


def change_lecture(s, lecture, actor, title, teacher, stream_url, starts_at, ends_at, now):
    """Reschedule before it begins; from its start the schedule is evidence and stays as it was."""
    _not_begun(lecture, now, "修改")
    fields = _schedule(s, lecture.training_class, title, teacher, stream_url, starts_at, ends_at, now, exclude_id=lecture.id)
    for key, value in fields.items():
        setattr(lecture, key, value)
    ledger.append(s, "lecture.changed", _schedule_payload(lecture), actor_id=actor.id)
    return lecture


def cancel_lecture(s, lecture, actor, reason, now):
    _not_begun(lecture, now, "取消")
    reason = validate_text(reason, "reason", "取消原因", 200)
    lecture.status = "cancelled"
    ledger.append(s, "lecture.cancelled", {"lecture_id": lecture.id, "class_id": lecture.class_id, "reason": reason},
                  actor_id=actor.id)
    from tracker.learning.sessions import end_session  # sessions builds on this module's models only: import late

    for sess in s.scalars(select(LearningSession).where(LearningSession.lecture_id == lecture.id,
                                                        LearningSession.status == "active").with_for_update()):
        end_session(s, sess, "lecture_cancelled", now=now)  # those waiting in the room are told
    return lecture


def attach_recording(s, lecture, actor, stream, filename, now, media=None):
    """The lecture's recording (视频录制), after it ended: measured and hashed, kept with the class archive."""
    if lecture.status == "cancelled":
        raise RuleError("lecture_cancelled", "该场直播已取消", status=409)
    if now < lecture.ends_ts:
        raise RuleError("lecture_not_over", "直播结束后才能上传录像", status=409)
    if lecture.recording_file:
        raise RuleError("recording_exists", "本场直播已上传录像（录像是存档证据，不能替换）", status=409)
    if stream is None:
        raise RuleError("empty_video", "请选择要上传的视频文件", "video")
    media = Path(media or media_dir())
    video = store_video(media / "lectures", stream, filename)  # before any lock: decoding takes a while
    try:
        s.refresh(lecture, with_for_update=True)  # another upload may have been stored meanwhile
        if lecture.recording_file:
            raise RuleError("recording_exists", "本场直播已上传录像（录像是存档证据，不能替换）", status=409)
        lecture.recording_file = f"lectures/{video.relpath}"
        lecture.recording_sha256, lecture.recording_seconds = video.sha256, video.seconds
        ledger.append(s, "lecture.recording_attached", {
            "lecture_id": lecture.id, "class_id": lecture.class_id, "seconds": video.seconds, "sha256": video.sha256,
            "bytes": video.size, "codec": video.codec}, actor_id=actor.id)
    except BaseException:
        (media / "lectures" / video.relpath).unlink(missing_ok=True)
        raise
    return lecture


def recording_path(lecture, media=None):
    if not lecture.recording_file:
        return None
    root = Path(media or media_dir()).resolve()
    path = (root / lecture.recording_file).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def iso(ts):
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="minutes")


def state(lecture, now):
    if lecture.status == "cancelled":
        return "cancelled"
    return "upcoming" if now < lecture.starts_ts else ("live" if now < lecture.ends_ts else "ended")


def stream_kind(url):
    """How the room plays it: an HLS playlist, a video file, or another platform's page in a frame."""
    path = urlsplit(url).path.lower()
    if path.endswith(".m3u8"):
        return "hls"
    return "video" if path.endswith((".mp4", ".webm", ".m4v", ".mov")) else "embed"


def lecture_json(lecture, now, credited=None):
    body = {"lecture_id": lecture.id, "class_id": lecture.class_id, "title": lecture.title, "teacher": lecture.teacher,
            "starts_at": iso(lecture.starts_ts), "ends_at": iso(lecture.ends_ts), "seconds": round(lecture.seconds),
            "state": state(lecture, now), "state_label": STATES[state(lecture, now)],
            "has_recording": bool(lecture.recording_file), "recording_seconds": lecture.recording_seconds}
    if credited is not None:
        body["credited_seconds"] = round(credited, 1)
    return body


def class_lectures(s, cls):
    return s.scalars(select(LiveLecture).where(LiveLecture.class_id == cls.id).order_by(LiveLecture.starts_ts)).all()


def trainee_lectures(s, trainee, now):
    """The lectures of the trainee's classes with the attendance credited so far, soonest first."""
    rows = s.execute(select(LiveLecture, LectureProgress.credited_seconds)
                     .join(Enrollment, Enrollment.class_id == LiveLecture.class_id)
                     .outerjoin(LectureProgress, (LectureProgress.lecture_id == LiveLecture.id)
                                & (LectureProgress.trainee_id == trainee.id))
                     .where(Enrollment.trainee_id == trainee.id).order_by(LiveLecture.starts_ts)).all()
    return [lecture_json(lecture, now, credited or 0.0) for lecture, credited in rows]


def attendance(s, lecture):
    """Who attended and for how long (出勤), for staff and inspectors; ID numbers masked."""
    credited = dict(s.execute(select(LectureProgress.trainee_id, LectureProgress.credited_seconds)
                              .where(LectureProgress.lecture_id == lecture.id)).all())
    visits = {tid: (n, first, last) for tid, n, first, last in s.execute(
        select(LearningSession.trainee_id, func.count(), func.min(LearningSession.started_ts),
               func.max(func.coalesce(LearningSession.ended_ts, LearningSession.last_beat_ts, LearningSession.started_ts)))
        .where(LearningSession.lecture_id == lecture.id).group_by(LearningSession.trainee_id))}
    roster = s.scalars(select(User).join(Enrollment, Enrollment.trainee_id == User.id)
                       .where(Enrollment.class_id == lecture.class_id).order_by(User.id)).all()
    out = []
    for u in roster:
        n, first, last = visits.get(u.id, (0, None, None))
        got = credited.get(u.id, 0.0)
        out.append({"trainee_id": u.id, "name": u.name, "id_mask": mask_id_number(u.id_number), "sessions": n,
                    "joined": iso(first) if first else None, "left": iso(last) if last else None,
                    "credited_seconds": round(got, 1),
                    "share": round(got / lecture.seconds, 4) if lecture.seconds else 0.0})
    return out


def can_see_lecture(s, viewer, lecture):
    """Staff of the class's institution, the regulator over it and admins (can_view_class), and its trainees."""
    from tracker.security import can_view_class

    if viewer.role == "trainee":
        return s.scalar(select(Enrollment.id).where(Enrollment.class_id == lecture.class_id,
                                                    Enrollment.trainee_id == viewer.id)) is not None
    return can_view_class(viewer, lecture.training_class)
