"""Face enrolment, photo-check verdicts, proxy-learning flags and the encrypted photo store.

Face work runs in the worker pool with no database transaction open: on SQLite every transaction holds the
write lock (BEGIN IMMEDIATE), and a quarter of a second of face work under it would stall every heartbeat.
So each operation reads what it needs, ends the transaction, has the faces analysed, then locks again and
re-checks before it writes.
"""
import hashlib
import os
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.fernet import Fernet
from flask import current_app
from sqlalchemy import select, text

from models import (
    Attempt, Enrollment, FaceEnrolment, FaceFlag, FacePhoto, LearningSession, ProctoringPolicy, SessionCheck, TrainingClass,
    User,
)
from tracker import ledger
from tracker.accounts.rules import FACE_CONSENT_VERSION, mask_id_number
from tracker.errors import ApiError
from tracker.learning import checks, events
from tracker.learning.sessions import server_now
from tracker.proctoring import cameras, faces
from tracker.proctoring.workers import FaceBusy, pool_for
from tracker.security import can_view_trainee, evidence_scope, scope_allows

PHOTO_KINDS = (checks.PHOTO_SIGNIN, checks.PHOTO_RANDOM, checks.PHOTO_EXAM)
# How an enrolment photo reached the server, as the server knows it (never what the client says about it):
# the enrolment page in a signed-in browser, or an API client with a bearer token.
SOURCES = ("page", "api")
MAX_BURST = 20
MIN_BURST = 2  # frames sent with the photo from which the server judges whether they are one still picture
# Status of image problems: a picture that cannot be read is a bad request; one that can, but will not do, 422.
PROBLEM_STATUS = {"unreadable": 400, "too_large": 413}


# ---------------------------------------------------------------------------------------------------------
# The photo store: Fernet-encrypted files under <instance>/photos, the key in <instance>/keys (0600).

_keys = {}
_keys_lock = threading.Lock()


def _fernet(instance):
    with _keys_lock:
        if instance not in _keys:
            path = Path(instance) / "keys" / "photos.fernet"
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # made earlier, or by another process just now
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(Fernet.generate_key())
            _keys[instance] = Fernet(path.read_bytes().strip())
        return _keys[instance]


def content_type(data):
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def write_photo(trainee_id, data):
    """Encrypt and store; the path relative to <instance>/photos."""
    instance = current_app.config["TRACKER_INSTANCE"]
    rel = f"{trainee_id}/{uuid.uuid4().hex}.fernet"
    path = Path(instance) / "photos" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fernet(instance).encrypt(data))
    return rel


def read_photo(rel):
    instance = current_app.config["TRACKER_INSTANCE"]
    return _fernet(instance).decrypt((Path(instance) / "photos" / rel).read_bytes())


def _discard_photo(rel):
    try:
        (Path(current_app.config["TRACKER_INSTANCE"]) / "photos" / rel).unlink()
    except OSError:
        pass


def _add_photo(s, trainee_id, data, analysis, purpose, written, check_id=None, camera_label=None):
    rel = write_photo(trainee_id, data)
    written.append(rel)
    photo = FacePhoto(trainee_id=trainee_id, purpose=purpose, check_id=check_id, sha256=analysis["sha256"],
                      phash=analysis.get("phash"), file=rel, content_type=content_type(data),
                      camera_label=cameras.normalise(camera_label))
    s.add(photo)
    s.flush()
    return photo


# ---------------------------------------------------------------------------------------------------------
# Reading state

def analyse(fn, *args):
    """Run face work in the pool; a queue that stays full is a 503 (the player tries again)."""
    try:
        return pool_for(current_app.config).run(fn, *args)
    except FaceBusy:
        raise ApiError(503, "face_busy", "人脸核验繁忙，请稍后几秒自动重试") from None


def active_enrolment(s, trainee_id):
    return s.scalar(select(FaceEnrolment).where(FaceEnrolment.trainee_id == trainee_id, FaceEnrolment.active)
                    .order_by(FaceEnrolment.id.desc()))


def pending_enrolment(s, trainee_id):
    """The trainee's face change awaiting review, if any (at most one: a newer request withdraws the older)."""
    return s.scalar(select(FaceEnrolment).where(FaceEnrolment.trainee_id == trainee_id, FaceEnrolment.status == PENDING)
                    .order_by(FaceEnrolment.id.desc()))


def refuse_virtual_camera(camera_label):
    if cameras.is_virtual_camera(camera_label):
        raise ApiError(422, "virtual_camera", faces.MESSAGES["virtual_camera"], camera_label=cameras.normalise(camera_label))


def photo_hashes(s, trainee_id):
    """(sha256, phash) of every earlier photo of the trainee: the replay check compares against them."""
    return [tuple(r) for r in s.execute(select(FacePhoto.sha256, FacePhoto.phash).where(FacePhoto.trainee_id == trainee_id))]


def trainee_institutions(s, trainee_id):
    return set(s.scalars(select(TrainingClass.institution_id).join(Enrollment, Enrollment.class_id == TrainingClass.id)
                         .where(Enrollment.trainee_id == trainee_id)))


def upload_allowed(s, trainee_id):
    """Whether the enrolment page offers an upload: not when an institution whose class the trainee is in asks for
    the camera. The page's choice only: the server cannot tell a camera's photo from an uploaded one (whatever a
    client says about it), so it enrols either way; a face change is reviewed by staff (review_change)."""
    institutions = trainee_institutions(s, trainee_id)
    if not institutions:
        return True
    refusing = s.scalar(select(ProctoringPolicy.institution_id).where(
        ProctoringPolicy.institution_id.in_(institutions), ProctoringPolicy.allow_upload.is_(False)))
    return refusing is None


def set_upload_policy(s, institution_id, allow, actor_id):
    policy = s.get(ProctoringPolicy, institution_id)
    if policy is None:
        policy = ProctoringPolicy(institution_id=institution_id)
        s.add(policy)
    policy.allow_upload = bool(allow)
    ledger.append(s, "proctoring.policy", {"institution_id": institution_id, "allow_upload": policy.allow_upload},
                  actor_id=actor_id)
    return policy


def face_status(s, user):
    enrolment = active_enrolment(s, user.id)
    pending = pending_enrolment(s, user.id)
    return {
        "enrolled": enrolment is not None,
        "enrolment_id": enrolment.id if enrolment else None,
        "enrolled_at": enrolment.created_at.isoformat() if enrolment else None,
        "source": enrolment.source if enrolment else None,
        "photo_id": enrolment.photo_id if enrolment else None,
        "camera_label": enrolment.photo.camera_label if enrolment else None,
        "pending_change": {"enrolment_id": pending.id, "requested_at": pending.created_at.isoformat(),
                           "photo_id": pending.photo_id} if pending else None,
        "consent": user.face_consent_at is not None,
        "upload_allowed": upload_allowed(s, user.id),
    }


def give_consent(s, user, address=None):
    """Separate consent to face processing (PIPL), for accounts created without it (e.g. by staff)."""
    if user.face_consent_at is None:
        user.face_consent_at, user.face_consent_version = datetime.now(timezone.utc), FACE_CONSENT_VERSION
        ledger.append(s, "consent.face", {"user_id": user.id, "version": FACE_CONSENT_VERSION, "given": True,
                                          "address": address}, actor_id=user.id, subject_id=user.id)
    return user


# ---------------------------------------------------------------------------------------------------------
# Enrolment

# pg_advisory_xact_lock key of face enrolment (any 64-bit number no other lock uses): "face" in ASCII.
ENROLMENT_LOCK_KEY = 0x66616365


def lock_enrolments(s):
    """Serialise enrolments, from here to the end of the caller's transaction, across processes and machines.

    The search for the same face under another ID and the insert of the new enrolment must be one step: else two
    accounts enrolling one face at the same instant each search, find nothing (the other has not committed), and
    both get through. SQLite is serialised already: every transaction takes the database's write lock as it begins
    (BEGIN IMMEDIATE, tracker.extensions). PostgreSQL takes a transaction-level advisory lock, released at commit or
    rollback; at READ COMMITTED (the default, which the platform keeps) the search that follows sees whatever the
    previous holder committed. Enrolments are rare, and face analysis happens before, outside any transaction.
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ENROLMENT_LOCK_KEY})

PENDING = "pending"


def enrol(s, user, data, source="api", address=None, camera_label=None):
    """Enrol the trainee's face from one picture; refuse (and flag) a face enrolled under another ID.

    The first face becomes active at once. A later one is a face change: pending until staff review it beside the
    active face (review_change); photo checks are judged against the active face meanwhile. `source` is how the
    photo reached the server (SOURCES), decided by the route, never taken from the client."""
    if user.role != "trainee":
        raise ApiError(403, "forbidden", "只有学员需要登记人脸")
    if user.face_consent_at is None:
        raise ApiError(403, "consent_required", "请先阅读并同意人脸信息处理，再登记人脸")
    if source not in SOURCES:
        raise ValueError(source)
    refuse_virtual_camera(camera_label)
    camera_label = cameras.normalise(camera_label)
    user_id = user.id
    s.rollback()  # no transaction (SQLite: no write lock) while the face is analysed

    analysis = analyse(faces.analyze, data)
    problem = faces.enrolment_problem(analysis)
    if problem:
        raise ApiError(PROBLEM_STATUS.get(problem, 422), problem, faces.MESSAGES[problem])

    written, committed = [], False
    evidence = {"source": source, "camera_label": camera_label, "address": address}
    try:
        lock_enrolments(s)  # before the search: two accounts enrolling one face at once must not both miss the other
        s.scalar(select(User).where(User.id == user_id).with_for_update())  # one enrolment per account at a time
        others = s.execute(select(FaceEnrolment.trainee_id, FaceEnrolment.encoding).where(
            FaceEnrolment.active, FaceEnrolment.trainee_id != user_id)).all()
        other_id, distance = faces.closest(analysis["encoding"], [tuple(r) for r in others])
        tolerance = current_app.config["TRACKER_FACE_TOLERANCE"]
        if other_id is not None and distance <= tolerance:
            photo = _add_photo(s, user_id, data, analysis, "refused_enrolment", written, camera_label=camera_label)
            flag = _flag(s, "proxy_suspected", user_id, other_id, distance, photo, evidence)
            s.commit()
            committed = True
            raise ApiError(409, "face_already_enrolled", "该人脸已在其他账号下登记，疑似代刷（替他人学习或一人多号），"
                           "不能登记；此次登记已记录并报送培训机构和人社部门", flag_id=flag.id)
        previous = active_enrolment(s, user_id)
        photo = _add_photo(s, user_id, data, analysis, "enrolment", written, camera_label=camera_label)
        changed = None
        if previous is not None:
            changed = round(faces.face_distance(previous.encoding, analysis["encoding"]), 4)
        enrolment = FaceEnrolment(trainee_id=user_id, photo_id=photo.id, encoding=faces.to_bytes(analysis["encoding"]),
                                  source=source, face_px=analysis["face_px"], active=previous is None,
                                  status="active" if previous is None else PENDING,
                                  previous_id=previous.id if previous else None, distance=changed)
        s.add(enrolment)
        s.flush()
        if previous is None:
            ledger.append(s, "face.enrolled", {
                "trainee_id": user_id, "enrolment_id": enrolment.id, "photo_sha256": photo.sha256,
                "face_px": enrolment.face_px, "replaced": None, **evidence}, actor_id=user_id, subject_id=user_id)
        else:
            withdrawn = []
            for older in s.scalars(select(FaceEnrolment).where(FaceEnrolment.trainee_id == user_id,
                                                               FaceEnrolment.status == PENDING,
                                                               FaceEnrolment.id != enrolment.id)):
                older.status = "withdrawn"
                withdrawn.append(older.id)
            ledger.append(s, "face.change_requested", {
                "trainee_id": user_id, "enrolment_id": enrolment.id, "active_enrolment_id": previous.id,
                "distance_to_active": changed, "photo_sha256": photo.sha256, "face_px": enrolment.face_px,
                "withdrawn": withdrawn, **evidence}, actor_id=user_id, subject_id=user_id)
            if changed > tolerance:
                # Replacing one's face with somebody else's is how a proxy would take over an account.
                _flag(s, "face_changed", user_id, user_id, changed, photo, {"active_enrolment_id": previous.id,
                                                                            "enrolment_id": enrolment.id})
        s.commit()
        committed = True
    except BaseException:
        if not committed:
            s.rollback()
            for rel in written:
                _discard_photo(rel)
        raise
    pending = previous is not None
    return {"enrolment_id": enrolment.id, "trainee_id": user_id, "source": source, "face_px": enrolment.face_px,
            "photo_sha256": photo.sha256, "camera_label": camera_label, "status": enrolment.status,
            "replaced": None, "active_enrolment_id": previous.id if pending else enrolment.id,
            "distance_to_active": changed,
            "message": "新照片已提交，等待您所在培训机构审核；审核通过前，签到和过程拍照仍与原登记的人脸比对"
            if pending else "人脸登记成功"}


def _flag(s, kind, trainee_id, other_id, distance, photo, extra):
    entry = ledger.append(s, "face." + kind, {
        "trainee_id": trainee_id, "other_trainee_id": other_id, "distance": round(distance, 4),
        "photo_sha256": photo.sha256, **extra}, actor_id=trainee_id, subject_id=trainee_id)
    flag = FaceFlag(kind=kind, trainee_id=trainee_id, other_trainee_id=other_id, distance=round(distance, 4),
                    photo_id=photo.id, ledger_seq=entry["seq"])
    s.add(flag)
    s.flush()
    return flag


# ---------------------------------------------------------------------------------------------------------
# Face changes, reviewed beside the active face

def may_review(s, viewer, trainee):
    """Who decides a face change: staff of an institution whose class's current roster holds the trainee, or an
    admin. Regulators read (may_see_review) but do not decide."""
    if viewer.role == "admin":
        return True
    return viewer.role == "staff" and can_view_trainee(s, viewer, trainee)


def may_see_review(s, viewer, trainee):
    return viewer.role in ("staff", "regulator", "admin") and can_view_trainee(s, viewer, trainee)


def visible_changes(s, viewer, pending_only=False, limit=200):
    """Face changes (pending first, then the latest decided) about trainees the viewer may see."""
    if viewer.role not in ("staff", "regulator", "admin"):
        return []
    changes = select(FaceEnrolment).where(FaceEnrolment.previous_id.is_not(None)).order_by(FaceEnrolment.id.desc())
    rows = list(s.scalars(changes.where(FaceEnrolment.status == PENDING)))  # every pending one, however many
    if not pending_only:
        rows += s.scalars(changes.where(FaceEnrolment.status.in_(("active", "replaced", "refused"))).limit(limit)).all()
    return [e for e in rows if may_see_review(s, viewer, e.trainee)]


STATUS_LABELS = {PENDING: "待审核", "active": "已同意（现用）", "replaced": "已同意（后被更换）", "refused": "未同意",
                 "withdrawn": "已撤回（学员重新提交）"}


def change_json(s, viewer, enrolment):
    tolerance = current_app.config["TRACKER_FACE_TOLERANCE"]
    active = active_enrolment(s, enrolment.trainee_id)
    old = s.get(FaceEnrolment, enrolment.previous_id) if enrolment.status != PENDING or active is None else active
    distance = enrolment.distance if old is None or old.id == enrolment.previous_id else round(
        faces.face_distance(old.encoding, enrolment.encoding), 4)
    return {"enrolment_id": enrolment.id, "status": enrolment.status, "status_label": STATUS_LABELS.get(enrolment.status, ""),
            "trainee": _person(s, viewer, enrolment.trainee), "requested_at": enrolment.created_at.isoformat(),
            "photo_id": enrolment.photo_id, "camera_label": enrolment.photo.camera_label, "source": enrolment.source,
            "old_enrolment_id": old.id if old else None, "old_photo_id": old.photo_id if old else None,
            "old_camera_label": old.photo.camera_label if old else None,
            "distance": distance, "same_person": distance is not None and distance <= tolerance, "tolerance": tolerance,
            "reviewed_at": enrolment.reviewed_at.isoformat() if enrolment.reviewed_at else None,
            "reviewer": enrolment.reviewed_by, "note": enrolment.review_note,
            "may_decide": enrolment.status == PENDING and may_review(s, viewer, enrolment.trainee)}


def review_change(s, viewer, enrolment_id, approve, note):
    """Approve (the new face becomes the active one, the old one replaced) or refuse (the old one stays) a
    pending face change; a ledger entry either way. 404 when the viewer may not see the trainee, 403 when they
    may see but not decide (a regulator)."""
    note = note.strip() if isinstance(note, str) else ""
    enrolment = s.get(FaceEnrolment, enrolment_id)
    if enrolment is None or enrolment.previous_id is None or not may_see_review(s, viewer, enrolment.trainee):
        raise ApiError(404, "not_found", "人脸更换申请不存在或无权查看")
    if not may_review(s, viewer, enrolment.trainee):
        raise ApiError(403, "forbidden", "只有学员所在培训机构的工作人员或系统管理员可以审核人脸更换")
    if not note:
        raise ApiError(400, "missing_field", "请填写审核意见", fields=["note"])
    if len(note) > 500:
        raise ApiError(400, "invalid_field", "审核意见最多 500 字", field="note")
    trainee_id = enrolment.trainee_id
    lock_enrolments(s)
    s.scalar(select(User).where(User.id == trainee_id).with_for_update())
    enrolment = s.scalar(select(FaceEnrolment).where(FaceEnrolment.id == enrolment_id)
                         .execution_options(populate_existing=True))
    if enrolment.status != PENDING:
        raise ApiError(409, "not_pending", "该人脸更换申请已处理或已被学员重新提交的照片取代",
                       change_status=enrolment.status)
    tolerance = current_app.config["TRACKER_FACE_TOLERANCE"]
    old = active_enrolment(s, trainee_id)
    distance = round(faces.face_distance(old.encoding, enrolment.encoding), 4) if old is not None else None
    now = datetime.now(timezone.utc)
    if approve:
        others = s.execute(select(FaceEnrolment.trainee_id, FaceEnrolment.encoding).where(
            FaceEnrolment.active, FaceEnrolment.trainee_id != trainee_id)).all()
        other_id, other_distance = faces.closest(enrolment.encoding, [tuple(r) for r in others])
        if other_id is not None and other_distance <= tolerance:
            raise ApiError(409, "face_already_enrolled", "新照片的人脸已在其他账号下登记，疑似代刷，不能同意更换")
        if old is not None:
            old.active, old.status, old.replaced_at = False, "replaced", now
        enrolment.active, enrolment.status = True, "active"
    else:
        enrolment.status = "refused"
    enrolment.reviewed_by, enrolment.reviewed_at, enrolment.review_note = viewer.id, now, note
    ledger.append(s, "face.change_approved" if approve else "face.change_refused", {
        "trainee_id": trainee_id, "enrolment_id": enrolment.id, "active_enrolment_id": old.id if old else None,
        "distance": distance, "same_person": distance is not None and distance <= tolerance, "tolerance": tolerance,
        "note": note, "reviewer_id": viewer.id, "reviewer_role": viewer.role}, actor_id=viewer.id, subject_id=trainee_id)
    s.flush()
    return enrolment


# ---------------------------------------------------------------------------------------------------------
# Photo checks

def check_for_trainee(s, trainee_id, check_id):
    check = s.get(SessionCheck, check_id)
    if check is None or check.trainee_id != trainee_id or check.kind not in PHOTO_KINDS:
        raise ApiError(404, "not_found", "拍照核验不存在")
    return check


def liveness_required(s, check):
    """A blink is asked at sign-in in classes that want it, and again at every retry until a photo of the
    session has passed (else a still photo at the retry after a failed sign-in would do)."""
    if check.session_id is None or check.kind not in (checks.PHOTO_SIGNIN, checks.PHOTO_RANDOM):
        return False
    cls = s.scalar(select(TrainingClass).join(LearningSession, LearningSession.class_id == TrainingClass.id)
                   .where(LearningSession.id == check.session_id))
    if not (cls and cls.liveness):
        return False
    passed = s.scalar(select(SessionCheck.id).where(
        SessionCheck.session_id == check.session_id, SessionCheck.id != check.id, SessionCheck.status == "passed",
        SessionCheck.kind.in_(PHOTO_KINDS)).limit(1))
    return check.kind == checks.PHOTO_SIGNIN or passed is None


def check_json(s, check, now):
    return {"check_id": check.id, "kind": check.kind, "status": check.status, "reason": check.reason,
            "distance": check.distance, "deadline": checks.rfc3339(check.deadline_ts),
            "seconds_left": max(0, round(check.deadline_ts - now)) if check.status == "pending" else 0,
            "liveness": liveness_required(s, check)}


def verify_check(s, trainee_id, check_id, data, burst=(), camera_label=None):
    """Judge a photo sent for a pending check, store it encrypted and resolve the check (ledger included).

    A photo from a known virtual camera (by the label the client sent) fails with reason virtual_camera. With a
    burst (MIN_BURST frames or more), the photo and the frames must not be one still picture (still_image), and a
    live burst is not refused for resembling an earlier photo (only for the same bytes)."""
    camera_label = cameras.normalise(camera_label)
    virtual = cameras.is_virtual_camera(camera_label)
    arrived = server_now()
    check = check_for_trainee(s, trainee_id, check_id)
    if check.status != "pending":
        raise ApiError(409, "check_not_pending", "该拍照核验已结束（已通过、未通过或已超时），无需再次提交",
                       check_status=check.status)
    session_id, deadline = check.session_id, check.deadline_ts
    enrolment = active_enrolment(s, trainee_id)
    enrolled = bytes(enrolment.encoding) if enrolment is not None else None
    earlier = photo_hashes(s, trainee_id)
    liveness = liveness_required(s, check)
    s.rollback()  # no transaction (SQLite: no write lock) while the faces are analysed

    cfg = current_app.config
    still = None
    if enrolled is not None and arrived <= deadline and not virtual:
        analysis = analyse(faces.analyze, data)
        if len(burst) >= MIN_BURST:  # the photo and the frames: one still picture, or a live camera?
            still = analyse(faces.analyze_still, [data, *burst[:MAX_BURST]])
        passed, reason, distance = faces.judge_check(analysis, enrolled, earlier, cfg["TRACKER_FACE_TOLERANCE"],
                                                     cfg["TRACKER_FACE_REPLAY_BITS"], burst=still)
    else:  # nothing to compare with, or too late (resolve_check records a miss): keep the evidence, spare the work
        analysis = {"sha256": hashlib.sha256(data).hexdigest(), "phash": None}
        passed, distance = False, None
        reason = "not_enrolled" if enrolled is None else "deadline_missed" if arrived > deadline else "virtual_camera"
    ears = None
    if passed and liveness:
        if len(burst) < 3:
            passed, reason = False, "liveness_frames"
        else:
            result = analyse(faces.analyze_burst, list(burst[:MAX_BURST]))
            ears = result["ears"]
            if not result["blinked"]:
                passed, reason = False, "no_blink"

    written = []
    try:
        # The session first, then the check: the order heartbeats lock them in.
        sess = s.scalar(select(LearningSession).where(LearningSession.id == session_id).with_for_update()
                        .execution_options(populate_existing=True)) if session_id else None
        check = s.scalar(select(SessionCheck).where(SessionCheck.id == check_id).with_for_update()
                         .execution_options(populate_existing=True))
        if check.status != "pending":  # answered or expired while the faces were analysed
            raise ApiError(409, "check_not_pending", "该拍照核验已结束（已通过、未通过或已超时），无需再次提交",
                           check_status=check.status)
        photo = _add_photo(s, trainee_id, data, analysis, "check", written, check_id=check.id, camera_label=camera_label)
        evidence = {"distance": distance, "photo_sha256": photo.sha256, "photo_file": photo.file}
        checks.resolve_check(s, sess, check, passed, server_now(), reason=reason, arrived_ts=arrived,
                             ledger_extra={"camera_label": camera_label, "photo_id": photo.id,
                                           **({"burst_motion": still["motion"]} if still else {})}, **evidence)
        answer = {"check_id": check.id, "kind": check.kind, "verdict": "pass" if check.status == "passed" else "fail",
                  "status": check.status, "reason": check.reason, "distance": distance,
                  "message": "核验通过" if check.status == "passed" else faces.MESSAGES.get(check.reason, "核验未通过"),
                  "photo_sha256": photo.sha256, "camera_label": camera_label}
        if ears is not None:
            answer["eye_aspect_ratios"] = ears
        if still is not None:
            answer["burst_motion"] = still["motion"]
        events.commit(s)
    except BaseException:
        s.rollback()
        events.discard(s)
        for rel in written:
            _discard_photo(rel)
        raise
    return answer


# ---------------------------------------------------------------------------------------------------------
# Retention: photos are personal data, kept for the records' period (3 years), then deleted; the hashes stay
# in their rows and in the ledger, so every verdict remains provable.

RETENTION_DAYS = 3 * 366


def purge_photos(s, now=None, days=RETENTION_DAYS, dry_run=False):
    """Forget the image files of photos older than `days` (the active enrolment's photo is kept): the rows
    lose their file, the ledger notes the purge. Returns the files to delete once this has committed."""
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=days)
    active = select(FaceEnrolment.photo_id).where(FaceEnrolment.active | (FaceEnrolment.status == PENDING))
    old = s.scalars(select(FacePhoto).where(FacePhoto.file.is_not(None), FacePhoto.created_at < cutoff,
                                            FacePhoto.id.not_in(active))).all()
    files = [p.file for p in old]
    if dry_run or not old:
        return files
    for photo in old:
        check = s.get(SessionCheck, photo.check_id) if photo.check_id is not None else None
        if check is not None and check.photo_file == photo.file:
            check.photo_file = None
        photo.file = None
    ledger.append(s, "photos.purged", {"count": len(old), "before": cutoff.isoformat(),
                                       "photo_ids": [p.id for p in old]})
    return files


def delete_photo_files(files):
    for rel in files:
        _discard_photo(rel)


# ---------------------------------------------------------------------------------------------------------
# Flags and photos, for those who may see them

def _person(s, viewer, user):
    if user is None:
        return None
    visible = can_view_trainee(s, viewer, user)
    return {"user_id": user.id, "name": user.name if visible else None, "id_mask": mask_id_number(user.id_number),
            "visible": visible}


def visible_flags(s, viewer, limit=500):
    """Flags about trainees the viewer may see (either side of the match): staff, the region's regulator, admin."""
    if viewer.role not in ("staff", "regulator", "admin"):
        return []
    rows = s.scalars(select(FaceFlag).order_by(FaceFlag.id.desc()).limit(limit)).all()
    return [f for f in rows if viewer.role == "admin" or can_view_trainee(s, viewer, f.trainee)
            or (f.other_trainee is not None and can_view_trainee(s, viewer, f.other_trainee))]


KIND_LABELS = {"proxy_suspected": "疑似代刷：人脸已登记在其他账号", "face_changed": "申请更换的人脸与原登记不符（须审核）"}


def flag_json(s, viewer, flag):
    trainee = _person(s, viewer, flag.trainee)
    return {"flag_id": flag.id, "kind": flag.kind, "label": KIND_LABELS.get(flag.kind, flag.kind),
            "created_at": flag.created_at.isoformat(), "distance": flag.distance, "status": flag.status,
            "ledger_seq": flag.ledger_seq, "trainee": trainee, "other_trainee": _person(s, viewer, flag.other_trainee),
            "photo_id": flag.photo_id if trainee["visible"] else None}


def may_view_photo(s, viewer, photo, trainee):
    """A check's photo belongs to the check's class (evidence_scope); an enrolment photo (and a refused one) to
    the person: shown to staff and regulators only while the trainee is on a current roster they may view."""
    if photo.check_id is None:
        return can_view_trainee(s, viewer, trainee)
    check = s.get(SessionCheck, photo.check_id)
    if check is None:
        return False
    if check.session_id is not None:
        class_id = s.scalar(select(LearningSession.class_id).where(LearningSession.id == check.session_id))
    else:
        class_id = s.scalar(select(Attempt.class_id).where(Attempt.id == check.attempt_id))
    return scope_allows(evidence_scope(s, viewer, trainee), class_id)


def photo_for_viewer(s, viewer, photo_id):
    """(bytes, content type) of a stored photo, decrypted, if the viewer may see it; else 404. Anyone but the
    trainee looking is written to the ledger (PIPL: who saw whose face, when)."""
    photo = s.get(FacePhoto, photo_id)
    trainee = s.get(User, photo.trainee_id) if photo else None
    if photo is None or photo.file is None or trainee is None or not may_view_photo(s, viewer, photo, trainee):
        raise ApiError(404, "not_found", "照片不存在或无权查看")
    if viewer.id != trainee.id:
        ledger.append(s, "photo.viewed", {"photo_id": photo.id, "purpose": photo.purpose, "check_id": photo.check_id,
                                          "trainee_id": trainee.id, "viewer_role": viewer.role},
                      actor_id=viewer.id, subject_id=trainee.id)
    return read_photo(photo.file), photo.content_type
