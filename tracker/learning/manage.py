"""Institution staff's work: courses, chapters with uploaded videos, classes with their teaching plan.

Plain functions: they validate, write inside the caller's transaction and append to the ledger.
Who may call them is decided by the access rules at the bottom, applied by tracker.learning.manage_routes.
"""
import hashlib
import math
import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import cv2
from flask import current_app
from sqlalchemy import func, select

from models import Chapter, ClassCourse, Course, Enrollment, Institution, TrainingClass
from tracker import ledger
from tracker.accounts.rules import RuleError, validate_text
from tracker.learning.policy import FORMS, validate_plan
from tracker.security import region_covers

VIDEO_TYPES = {".webm": "video/webm", ".mp4": "video/mp4"}
MAX_VIDEO_SECONDS = 12 * 3600
# Codecs that OpenCV decodes but browsers and phones cannot play (MPEG-4 Part 2, as OpenCV's "mp4v" writes).
UNPLAYABLE_CODECS = {b"FMP4", b"MP4V", b"mp4v", b"XVID", b"DIVX", b"DX50", b"MPG4", b"MP42", b"MP43"}
_MP4_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"}


def media_dir():
    return Path(current_app.config["TRACKER_INSTANCE"]) / "media"


# ---------------------------------------------------------------------------------------------------------------------
# Videos


@dataclass(frozen=True)
class StoredVideo:
    relpath: str  # relative to the media folder, as Chapter.video_file
    seconds: int
    size: int
    sha256: str
    codec: str


def _check_magic(path, ext):
    """The container must be what the extension says before ffmpeg sees it (ffmpeg probes by content:
    a text file could otherwise be read as a playlist that points at other files)."""
    with open(path, "rb") as f:
        head = f.read(12)
    ok = head.startswith(b"\x1a\x45\xdf\xa3") if ext == ".webm" else head[4:8] in _MP4_FIRST_BOXES
    if not ok:
        raise RuleError("not_a_video", f"文件内容不是有效的{ext[1:].upper()}视频，请上传可播放的WebM或MP4视频文件", "video")


def _count_frames(cap, fps):
    """For files whose container does not state a frame count (WebM written by OpenCV): decode them all."""
    frames, last_ms = 0, 0.0
    while cap.grab():
        frames += 1
        last_ms = max(last_ms, cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        if fps > 0 and frames / fps > MAX_VIDEO_SECONDS:
            break
    if fps > 0 and frames:
        return frames / fps
    return last_ms / 1000.0 if last_ms > 0 else 0.0


def probe_video(path):
    """The real duration in seconds and the codec of a video file, or RuleError if it is not a decodable video."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise RuleError("not_a_video", "无法识别该视频文件，请上传可播放的WebM或MP4视频", "video")
        codec = int(cap.get(cv2.CAP_PROP_FOURCC) or 0).to_bytes(4, "little")
        if codec in UNPLAYABLE_CODECS:
            raise RuleError("unplayable_codec", f"该视频编码（{codec.decode('ascii', 'replace')}）在浏览器和手机上无法播放，"
                            "请转码为H.264（MP4）或VP8/VP9（WebM）后再上传", "video")
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        frames = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
        ok, _frame = cap.read()
        if not ok:
            raise RuleError("not_a_video", "视频文件无法解码，请上传可播放的WebM或MP4视频", "video")
        fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else 0.0
        seconds = None
        if fps and math.isfinite(frames) and 0 < frames < MAX_VIDEO_SECONDS * fps:
            # The header's count is trusted only if a frame near the end decodes (a truncated upload keeps its header).
            cap.set(cv2.CAP_PROP_POS_FRAMES, max(0, frames - max(1, round(fps))))
            if cap.read()[0]:
                seconds = frames / fps
        if seconds is None:
            cap.release()
            cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
            seconds = _count_frames(cap, fps)
    finally:
        cap.release()
    if not seconds or seconds < 1:
        raise RuleError("video_too_short", "无法读取视频时长，或视频短于1秒", "video")
    if seconds > MAX_VIDEO_SECONDS:
        raise RuleError("video_too_long", "单个章节视频不能超过12小时", "video")
    return seconds, codec.decode("ascii", "replace").strip("\x00")


def store_video(media, stream, filename):
    """Save an upload under a random name in the media folder after checking it is a playable video.

    Touches no database, so a caller can run it without holding a write lock while a large file is decoded.
    """
    ext = Path(filename or "").suffix.lower()
    if ext not in VIDEO_TYPES:
        raise RuleError("unsupported_video", "仅支持WebM（.webm）或MP4（.mp4）格式的视频文件", "video")
    media = Path(media)
    media.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ext
    tmp = media / f".upload-{name}"
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "xb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise RuleError("empty_video", "请选择要上传的视频文件", "video")
        _check_magic(tmp, ext)
        seconds, codec = probe_video(tmp)
        os.replace(tmp, media / name)
    finally:
        tmp.unlink(missing_ok=True)
    return StoredVideo(relpath=name, seconds=max(1, round(seconds)), size=size, sha256=digest.hexdigest(), codec=codec)


def video_path(chapter, media=None):
    """Absolute path of a chapter's video inside the media folder, or None (missing, or outside the folder)."""
    if not chapter.video_file:
        return None
    root = Path(media or media_dir()).resolve()
    path = (root / chapter.video_file).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Courses, chapters, classes


def create_course(s, institution, title, description="", *, actor=None):
    title = validate_text(title, "title", "课程名称", 100)
    description = validate_text(description or "", "description", "课程简介", 2000, required=False)
    course = Course(institution_id=institution.id, title=title, description=description)
    s.add(course)
    s.flush()
    ledger.append(s, "course.created", {"course_id": course.id, "institution_id": institution.id, "title": title,
                                        "description": description}, actor_id=actor.id if actor else None)
    return course


def add_chapter(s, course, title, upload_stream, filename, *, actor=None, media=None):
    """A chapter with its video: the file is stored and measured first, then the row and the ledger entry."""
    title = validate_text(title, "title", "章节标题", 100)
    if upload_stream is None:
        raise RuleError("empty_video", "请选择要上传的视频文件", "video")
    media = Path(media or media_dir())
    video = store_video(media, upload_stream, filename)
    try:
        ordinal = (s.scalar(select(func.max(Chapter.ordinal)).where(Chapter.course_id == course.id)) or 0) + 1
        chapter = Chapter(course_id=course.id, ordinal=ordinal, title=title, video_file=video.relpath,
                          seconds=video.seconds)
        s.add(chapter)
        s.flush()
        ledger.append(s, "chapter.added", {
            "chapter_id": chapter.id, "course_id": course.id, "institution_id": course.institution_id,
            "ordinal": ordinal, "title": title, "seconds": video.seconds, "video_sha256": video.sha256,
            "video_bytes": video.size, "codec": video.codec,
        }, actor_id=actor.id if actor else None)
    except BaseException:
        (media / video.relpath).unlink(missing_ok=True)
        raise
    return chapter


def _as_date(value, field, label):
    if isinstance(value, date):
        return value
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise RuleError("missing_field", f"请填写{label}", field)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RuleError("invalid_date", f"{label}格式应为YYYY-MM-DD", field) from None


def create_class(s, institution, name, occupation, form, start_date, end_date, total_hours, online_hours,
                 policy_profile, course_ids, *, actor=None):
    """A class (班期) with its teaching plan (教学计划); the plan's online share is checked by its policy profile."""
    name = validate_text(name, "name", "班期名称", 100)
    occupation = validate_text(occupation, "occupation", "职业（工种）", 100)
    if form not in FORMS:
        raise RuleError("invalid_form", "培训形式须为：" + "、".join(FORMS), "form")
    start, end = _as_date(start_date, "start_date", "开班日期"), _as_date(end_date, "end_date", "结业日期")
    if end < start:
        raise RuleError("invalid_dates", "结业日期不能早于开班日期", "end_date")
    total, online = validate_plan(total_hours, online_hours, policy_profile)
    try:
        ids = sorted({int(c) for c in (course_ids or [])})
    except (TypeError, ValueError):
        raise RuleError("invalid_course", "课程选择无效", "course_ids") from None
    if not ids:
        raise RuleError("missing_field", "请至少选择一门课程", "course_ids")
    courses = s.scalars(select(Course).where(Course.id.in_(ids), Course.institution_id == institution.id)).all()
    if len(courses) != len(ids):
        raise RuleError("foreign_course", "所选课程不存在或不属于本机构", "course_ids")
    cls = TrainingClass(institution_id=institution.id, name=name, occupation=occupation, form=form,
                        start_date=start, end_date=end, total_hours=total, online_hours=online,
                        policy_profile=policy_profile)
    s.add(cls)
    s.flush()
    for cid in ids:
        s.add(ClassCourse(class_id=cls.id, course_id=cid))
    s.flush()
    ledger.append(s, "class.created", {
        "class_id": cls.id, "institution_id": institution.id, "name": name, "occupation": occupation,
        "plan": {"form": form, "start_date": start.isoformat(), "end_date": end.isoformat(), "total_hours": total,
                 "online_hours": online, "policy_profile": policy_profile, "course_ids": ids},
    }, actor_id=actor.id if actor else None)
    return cls


# ---------------------------------------------------------------------------------------------------------------------
# Access


def can_manage_course(user, course):
    return user.role == "admin" or (user.role == "staff" and user.institution_id == course.institution_id)


def can_watch_chapter(s, user, chapter):
    """Who may fetch a chapter's video: its trainees, its institution's staff, the regulator over it, admins."""
    course = chapter.course
    if user.role == "admin":
        return True
    if user.role == "staff":
        return user.institution_id == course.institution_id
    if user.role == "regulator":
        inst = s.get(Institution, course.institution_id)
        return inst is not None and region_covers(user.region_code, inst.region_code)
    if user.role == "trainee":
        return s.scalar(
            select(Enrollment.id).join(ClassCourse, ClassCourse.class_id == Enrollment.class_id)
            .where(ClassCourse.course_id == course.id, Enrollment.trainee_id == user.id).limit(1)
        ) is not None
    return False
