"""Teacher Q&A (答疑) and class notices (通知): append-only posts, ledger entries, live events after commit.

A thread is a trainee's question on a chapter (a root post) and the posts that follow it. It is unanswered
while its last post is the trainee's. Staff of the class's institution answer; the region's regulator reads.
"""
import hashlib

from sqlalchemy import func, select

from models import Chapter, ClassNotice, QaPost, TrainingClass, User
from tracker import ledger
from tracker.accounts.rules import RuleError, validate_text
from tracker.clock import rfc3339
from tracker.db import valid_id
from tracker.errors import ApiError
from tracker.learning import events
from tracker.learning.services import chapter_in_trainee_classes
from tracker.learning.sessions import server_now
from tracker.security import can_manage_class, can_view_class, region_covers

QA = "/qa"
MAX_POST = 2000
MAX_NOTICE = 500
NOTICES_SHOWN = 3  # the latest notices a player or live room shows on opening


def _body(text, limit, label):
    text = (text if isinstance(text, str) else "").strip()
    if not text:
        raise RuleError("invalid_field", f"请填写{label}", "text")
    if len(text) > limit:
        raise RuleError("invalid_field", f"{label}不能超过{limit}字", "text")
    return validate_text(text, "text", label, limit)  # no control characters (PostgreSQL refuses NUL: a 500)


def _sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def staff_room(institution_id):
    return f"qa:inst:{institution_id}"


def thread_room(thread_id):
    return f"qa:thread:{thread_id}"


def trainee_room(trainee_id):
    return f"qa:trainee:{trainee_id}"


def post_json(post, author):
    return {"post_id": post.id, "thread_id": post.thread_id or post.id, "class_id": post.class_id,
            "chapter_id": post.chapter_id, "trainee_id": post.trainee_id, "author_id": post.author_id,
            "author": author.name if author else "", "author_role": author.role if author else "",
            "text": post.body, "at": rfc3339(post.created_ts)}


def can_view_thread(s, user, root):
    if user.role == "trainee":
        return root.trainee_id == user.id
    cls = s.get(TrainingClass, root.class_id)
    return cls is not None and can_view_class(user, cls)


def can_answer_thread(s, user, root):
    if user.role == "trainee":
        return root.trainee_id == user.id  # the asker may follow up
    cls = s.get(TrainingClass, root.class_id)
    return cls is not None and can_manage_class(user, cls)


def thread_for(s, user, thread_id):
    """The root post of a thread the user may see, or 404 (another institution's thread is not disclosed)."""
    root = s.get(QaPost, thread_id) if valid_id(thread_id) else None
    if root is None or user is None or root.thread_id is not None or not can_view_thread(s, user, root):
        raise ApiError(404, "not_found", "答疑不存在或无权查看")
    return root


def _unanswered_query():
    """Thread id and its last post's id, for every thread."""
    thread = func.coalesce(QaPost.thread_id, QaPost.id)
    return select(thread.label("thread_id"), func.max(QaPost.id).label("last_id")).group_by(thread).subquery()


def unanswered_count(s, institution_id):
    last = _unanswered_query()
    return s.scalar(
        select(func.count()).select_from(last).join(QaPost, QaPost.id == last.c.last_id)
        .join(TrainingClass, TrainingClass.id == QaPost.class_id)
        .where(TrainingClass.institution_id == institution_id, QaPost.author_id == QaPost.trainee_id)
    ) or 0


def _queue_badge(s, institution_id):
    events.queue(s, "qa_unanswered", {"institution_id": institution_id, "count": unanswered_count(s, institution_id)},
                  staff_room(institution_id), QA)


def _queue_post(s, post, author, cls, new_thread):
    data = post_json(post, author)
    data["new_thread"] = new_thread
    chapter = s.get(Chapter, post.chapter_id)
    data["chapter"] = chapter.title if chapter else ""
    # One emit to the three rooms: a client in several of them hears it once.
    rooms = [thread_room(data["thread_id"]), trainee_room(post.trainee_id), staff_room(cls.institution_id)]
    events.queue(s, "qa_post", data, rooms, QA)
    _queue_badge(s, cls.institution_id)


def ask(s, trainee, chapter_id, text, now=None):
    """A trainee's question on a chapter of one of their classes."""
    now = now or server_now()
    body = _body(text, MAX_POST, "问题")
    if isinstance(chapter_id, bool) or not isinstance(chapter_id, int):
        raise RuleError("invalid_field", "chapter_id 须为整数", "chapter_id")
    chapter, class_id = chapter_in_trainee_classes(s, trainee, chapter_id)
    if chapter is None:
        raise ApiError(404, "not_found", "章节不存在，或您不在包含该章节的班期中")
    post = QaPost(thread_id=None, class_id=class_id, chapter_id=chapter.id, trainee_id=trainee.id, author_id=trainee.id,
                  body=body, created_ts=now)
    s.add(post)
    s.flush()
    ledger.append(s, "qa.asked", {"post_id": post.id, "class_id": class_id, "chapter_id": chapter.id,
                                  "text_sha256": _sha(body), "at": rfc3339(now)}, actor_id=trainee.id, subject_id=trainee.id)
    _queue_post(s, post, trainee, s.get(TrainingClass, class_id), True)
    return post


def reply(s, user, root, text, now=None):
    """An answer by the institution's staff, or a follow-up by the trainee who asked."""
    now = now or server_now()
    if not can_answer_thread(s, user, root):
        raise ApiError(403, "forbidden", "只有本机构的老师可以回答该问题")
    body = _body(text, MAX_POST, "回复")
    post = QaPost(thread_id=root.id, class_id=root.class_id, chapter_id=root.chapter_id, trainee_id=root.trainee_id,
                  author_id=user.id, body=body, created_ts=now)
    s.add(post)
    s.flush()
    ledger.append(s, "qa.replied", {"post_id": post.id, "thread_id": root.id, "class_id": root.class_id,
                                    "author_role": user.role, "text_sha256": _sha(body), "at": rfc3339(now)},
                  actor_id=user.id, subject_id=root.trainee_id)
    _queue_post(s, post, user, s.get(TrainingClass, root.class_id), False)
    return post


def thread_posts(s, root):
    rows = s.execute(select(QaPost, User).join(User, User.id == QaPost.author_id)
                     .where((QaPost.id == root.id) | (QaPost.thread_id == root.id)).order_by(QaPost.id)).all()
    return [post_json(p, u) for p, u in rows]


def thread_json(s, root):
    posts = thread_posts(s, root)
    chapter = s.get(Chapter, root.chapter_id)
    trainee = s.get(User, root.trainee_id)
    return {"thread_id": root.id, "class_id": root.class_id, "chapter_id": root.chapter_id,
            "chapter": chapter.title if chapter else "", "trainee_id": root.trainee_id,
            "trainee": trainee.name if trainee else "", "question": root.body, "asked_at": rfc3339(root.created_ts),
            "answered": posts[-1]["author_id"] != root.trainee_id, "posts": posts}


def visible_threads(s, user, chapter_id=None, limit=200):
    """Threads the user may see, unanswered first, newest first: the trainee's own, staff their institution's,
    the regulator its region's."""
    q = (select(QaPost, TrainingClass).join(TrainingClass, TrainingClass.id == QaPost.class_id)
         .where(QaPost.thread_id.is_(None)))
    if chapter_id is not None:
        q = q.where(QaPost.chapter_id == chapter_id)
    if user.role == "trainee":
        q = q.where(QaPost.trainee_id == user.id)
    elif user.role == "staff":
        q = q.where(TrainingClass.institution_id == user.institution_id)
    elif user.role != "admin" and user.role != "regulator":
        return []
    roots = [p for p, cls in s.execute(q.order_by(QaPost.id.desc())).all()
             if user.role != "regulator" or region_covers(user.region_code, cls.institution.region_code)][:limit]
    if not roots:
        return []
    ids = [r.id for r in roots]
    last = dict(s.execute(select(func.coalesce(QaPost.thread_id, QaPost.id), func.max(QaPost.id))
                          .where((QaPost.id.in_(ids)) | (QaPost.thread_id.in_(ids)))
                          .group_by(func.coalesce(QaPost.thread_id, QaPost.id))).all())
    counts = dict(s.execute(select(QaPost.thread_id, func.count()).where(QaPost.thread_id.in_(ids))
                            .group_by(QaPost.thread_id)).all())
    last_authors = dict(s.execute(select(QaPost.id, QaPost.author_id).where(QaPost.id.in_(list(last.values())))).all())
    names = dict(s.execute(select(User.id, User.name).where(User.id.in_({r.trainee_id for r in roots}))).all())
    chapters = dict(s.execute(select(Chapter.id, Chapter.title).where(Chapter.id.in_({r.chapter_id for r in roots}))).all())
    out = [{"thread_id": r.id, "class_id": r.class_id, "chapter_id": r.chapter_id, "chapter": chapters.get(r.chapter_id, ""),
            "trainee_id": r.trainee_id, "trainee": names.get(r.trainee_id, ""), "question": r.body,
            "asked_at": rfc3339(r.created_ts), "replies": counts.get(r.id, 0),
            "answered": last_authors.get(last.get(r.id)) != r.trainee_id} for r in roots]
    out.sort(key=lambda t: (t["answered"], -t["thread_id"]))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Notices


def send_notice(s, cls, actor, text, now=None):
    """A notice to the class: kept, in the ledger, and shown live in the players of its trainees online
    (event "notice" on /learn to the room "class:<class_id>")."""
    now = now or server_now()
    if not can_manage_class(actor, cls):
        raise ApiError(403, "forbidden", "只能向本机构的班期发送通知")
    body = _body(text, MAX_NOTICE, "通知内容")
    notice = ClassNotice(class_id=cls.id, author_id=actor.id, text=body, created_ts=now)
    s.add(notice)
    s.flush()
    ledger.append(s, "notice.sent", {"notice_id": notice.id, "class_id": cls.id, "text_sha256": _sha(body),
                                     "at": rfc3339(now)}, actor_id=actor.id)
    events.queue(s, "notice", notice_json(notice, actor), f"class:{cls.id}", events.LEARN)
    return notice


def notice_json(notice, author=None):
    return {"notice_id": notice.id, "class_id": notice.class_id, "text": notice.text, "at": rfc3339(notice.created_ts),
            "author": author.name if author else ""}


def class_notices(s, class_id, limit=50):
    rows = s.execute(select(ClassNotice, User).join(User, User.id == ClassNotice.author_id)
                     .where(ClassNotice.class_id == class_id).order_by(ClassNotice.id.desc()).limit(limit)).all()
    return [notice_json(n, u) for n, u in rows]
