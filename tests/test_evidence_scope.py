"""Evidence belongs to the class it was collected in (issue 11 §1).

A trainee of the demo institution (A, Hohhot) is also put on a class of institution B (Beijing) by B's staff with
the ID number alone. Every route that takes a trainee, user, class, session, check, attempt, photo, thread,
chapter, course or ledger id is walked as A's staff, B's staff, A's regulator, B's regulator and another trainee:
B's people see the trainee's part collected in B's class and nothing of A's, A's people nothing of B's.
"""
import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from models import (
    Attempt, Chapter, ClassCourse, Course, FacePhoto, Heartbeat, Institution, LearningSession, LedgerEntry, QaPost,
    RosterRefusal, SessionCheck, TrainingClass, User,
)
from tracker import ledger
from tracker.accounts.services import create_user
from tracker.extensions import db
from tracker.proctoring.services import write_photo
from tracker.security import EVERYTHING, evidence_scope

PASSWORD = "Demo1234"
T0 = 1_790_000_000.0
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64  # only decrypted and served back, never judged
A_TEXT, B_TEXT = "甲机构班里的提问QA-A", "乙机构班里的提问QA-B"
ID_ARGS = {"trainee_id", "user_id", "class_id", "session_id", "check_id", "attempt_id", "photo_id", "thread_id",
           "chapter_id", "course_id", "seq"}


def account(demo, role, n=0):
    return [a for a in demo["accounts"] if a["role"] == role][n]


def _evidence(s, trainee_id, cls, chapter_id, text, ts):
    """A session with heartbeats, a photo check with its photo, a quiz attempt, a question and their ledger
    entries, all in `cls`: rows as the features leave them (judging faces here would take seconds a photo)."""
    sess = LearningSession(trainee_id=trainee_id, chapter_id=chapter_id, class_id=cls.id, started_ts=ts, ended_ts=ts + 60,
                           status="ended", end_reason="closed", credited_seconds=30.0, last_seq=2, beats=2)
    s.add(sess)
    s.flush()
    for seq in (1, 2):
        s.add(Heartbeat(session_id=sess.id, seq=seq, received_ts=ts + 15 * seq, position=15.0 * seq, rate=1.0, playing=True,
                        visible=True, focused=True, env="{}", credited_seconds=15.0, reasons="", answer="{}"))
    check = SessionCheck(session_id=sess.id, trainee_id=trainee_id, kind="photo_random", asked_ts=ts + 20,
                         deadline_ts=ts + 80, answered_ts=ts + 25, status="passed", distance=0.3)
    s.add(check)
    s.flush()
    photo = FacePhoto(trainee_id=trainee_id, purpose="check", check_id=check.id, sha256=f"{check.id:064x}",
                      file=write_photo(trainee_id, JPEG))
    attempt = Attempt(trainee_id=trainee_id, kind="quiz", class_id=cls.id, chapter_id=chapter_id, seed="s", candidates="[]",
                      bank_sha256="0" * 64, question_count=0, paper="[]", started_ts=ts + 100, submitted_ts=ts + 200,
                      status="submitted", pass_score=0, score=0, max_score=0, passed=False)
    post = QaPost(class_id=cls.id, chapter_id=chapter_id, trainee_id=trainee_id, author_id=trainee_id, body=text,
                  created_ts=ts + 300)
    s.add_all([photo, attempt, post])
    s.flush()
    entry = ledger.append(s, "session.started", {"session_id": sess.id, "class_id": cls.id}, actor_id=trainee_id,
                          subject_id=trainee_id)
    return {"trainee_id": trainee_id, "user_id": trainee_id, "class_id": cls.id, "session_id": sess.id,
            "check_id": check.id, "attempt_id": attempt.id, "photo_id": photo.id, "thread_id": post.id,
            "chapter_id": chapter_id, "course_id": s.scalar(select(Chapter.course_id).where(Chapter.id == chapter_id)),
            "seq": entry["seq"]}


@pytest.fixture
def world(app, demo, api):
    """Trainee T in A's demo class and, put there by B's staff, in a class of B; evidence in both."""
    t = account(demo, "trainee", 0)
    with app.app_context():
        with db.transaction() as s:
            inst_b = Institution(name="北京乙职业技能培训学校", region_code="110105")
            s.add(inst_b)
            s.flush()
            create_user(s, role="staff", name="乙老师", password=PASSWORD, phone="13700000001", institution_id=inst_b.id)
            create_user(s, role="regulator", name="北京科长", password=PASSWORD, phone="13700000002", region_code="110000")
            course_b = Course(institution_id=inst_b.id, title="乙机构的课程", description="")
            s.add(course_b)
            s.flush()
            chapter_b = Chapter(course_id=course_b.id, ordinal=1, title="乙机构的章节", seconds=600)
            cls_b = TrainingClass(institution_id=inst_b.id, name="乙机构的班期", occupation="电工（四级）")
            s.add_all([chapter_b, cls_b])
            s.flush()
            s.add(ClassCourse(class_id=cls_b.id, course_id=course_b.id))
            id_number = s.get(User, t["user_id"]).id_number
            b_ids = {"class_id": cls_b.id, "chapter_id": chapter_b.id}
    # B's staff enrol T by ID number alone (API.md's call), as the attacker of the finding did.
    r = api("13700000001").post(f"/classes/{b_ids['class_id']}/roster", {"id_number": id_number})
    assert r.status_code == 201, r.get_json()
    with app.app_context():
        with db.transaction() as s:
            cls_a = s.get(TrainingClass, demo["classes"][0]["class_id"])
            a = _evidence(s, t["user_id"], cls_a, demo["classes"][0]["chapters"][0]["chapter_id"], A_TEXT, T0)
            b = _evidence(s, t["user_id"], s.get(TrainingClass, b_ids["class_id"]), b_ids["chapter_id"], B_TEXT, T0 + 3600)
            enrolment = FacePhoto(trainee_id=t["user_id"], purpose="enrolment", sha256="e" * 64,
                                  file=write_photo(t["user_id"], JPEG))
            s.add(enrolment)
            s.flush()
            enrolment_id = enrolment.id
    return {"a": a, "b": b, "trainee": t, "enrolment_photo": enrolment_id,
            "viewers": {"staff_a": account(demo, "staff")["username"], "staff_b": "13700000001",
                        "regulator_a": account(demo, "regulator")["username"], "regulator_b": "13700000002",
                        "other_trainee": account(demo, "trainee", 1)["username"], "admin": account(demo, "admin")["username"],
                        "trainee": t["username"]}}


def login(app, username):
    c = app.test_client()
    r = c.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302
    return c


def id_rules(app):
    """(rule, methods) of every route whose arguments are ids this walk can fill in, and only those."""
    out = []
    for rule in app.url_map.iter_rules():
        args = set(rule.arguments)
        if args and args <= ID_ARGS:
            out.append(rule)
    return sorted(out, key=lambda r: r.rule)


def url(rule, ids):
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(ids[m.group(1)]), rule.rule)


def marks(ids):
    """What identifies one side's evidence in a JSON body: its session, check, attempt and thread ids."""
    return {("session_id", ids["session_id"]), ("check_id", ids["check_id"]), ("attempt_id", ids["attempt_id"]),
            ("thread_id", ids["thread_id"]), ("photo_id", ids["photo_id"])}


def found(body, wanted):
    """The (key, value) pairs of `wanted` that occur anywhere in a JSON body."""
    seen = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if isinstance(v, int) and (k, v) in wanted:
                    seen.add((k, v))
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(body)
    return seen


def sheet_text(data):
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None)


TRAINEE_ONLY = {"trainee_id", "user_id"}


def test_scope_of_each_viewer(app, world):
    """The one helper, called directly: who sees which classes of T's evidence."""
    a, b = world["a"]["class_id"], world["b"]["class_id"]
    with app.app_context():
        s = db.session
        t = s.get(User, world["trainee"]["user_id"])
        by_phone = {k: s.scalar(select(User).where(User.phone == v)) for k, v in world["viewers"].items()}
        scope = {k: evidence_scope(s, v, t) for k, v in by_phone.items()}
    assert scope["staff_a"] == {a} and scope["regulator_a"] == {a}
    assert scope["staff_b"] == {b} and scope["regulator_b"] == {b}
    assert scope["other_trainee"] == frozenset()
    assert scope["admin"] is EVERYTHING and scope["trainee"] is EVERYTHING


@pytest.mark.parametrize("viewer", ["staff_a", "staff_b", "regulator_a", "regulator_b", "other_trainee", "admin", "trainee"])
def test_walk_every_id_route_as_each_viewer(app, world, viewer):
    """GET every id route with A's ids and with B's: a viewer gets the side it may see and only that side."""
    c = login(app, world["viewers"][viewer])
    side = {"staff_a": "a", "regulator_a": "a", "staff_b": "b", "regulator_b": "b"}.get(viewer)
    everything = viewer in ("admin", "trainee")
    walked = 0
    for rule in id_rules(app):
        if "GET" not in rule.methods:
            continue
        for name in ("a", "b"):
            ids = world[name]
            path = url(rule, ids)
            r = c.get(path, buffered=True)  # media routes stream a file: read and close it
            walked += 1
            trainee_only = set(rule.arguments) <= TRAINEE_ONLY
            assert r.status_code < 500, (viewer, path, r.status_code)
            if viewer == "other_trainee":
                # Another trainee of class A: T's own evidence (session, check, attempt, photo, thread, record) is
                # never theirs; class-wide pages (the chapter's player, quiz, class lectures) they may use.
                if set(rule.arguments) & {"trainee_id", "user_id", "session_id", "check_id", "attempt_id", "photo_id",
                                          "thread_id", "seq"}:
                    assert r.status_code in (403, 404), (viewer, path, r.status_code)
                continue
            if trainee_only:
                if r.status_code in (403, 404):
                    continue  # the route is for other roles (a trainee's own pages use /me)
                assert r.status_code == 200, (viewer, path, r.status_code)
                if everything:
                    continue
                other = {"a": "b", "b": "a"}[side]
                if r.is_json:
                    body = r.get_json()
                    assert not found(body, marks(world[other])), (viewer, path, found(body, marks(world[other])))
                    text = json.dumps(body, ensure_ascii=False)
                    assert (A_TEXT if other == "a" else B_TEXT) not in text, (viewer, path)
                elif r.mimetype.endswith("sheet"):
                    text = sheet_text(r.data)
                    assert (A_TEXT if other == "a" else B_TEXT) not in text, (viewer, path)
                elif r.mimetype == "text/html":
                    html = r.get_data(as_text=True)
                    assert (A_TEXT if other == "a" else B_TEXT) not in html, (viewer, path)
                    assert f"/faces/photos/{world[other]['photo_id']}\"" not in html, (viewer, path)
                continue
            # Routes on one side's class, session, check, attempt, photo, thread, chapter, course or ledger entry.
            if everything or name == side:
                continue  # allowed, or refused for the role: either is right for the side one may see
            if viewer == "admin":
                continue
            assert r.status_code in (403, 404), (viewer, path, r.status_code)
    assert walked > 40


@pytest.mark.parametrize("viewer", ["staff_a", "regulator_a", "staff_b", "regulator_b"])
def test_each_side_sees_its_own_part(app, world, viewer, api):
    """The allowance next to the denial: the record and trace show exactly the viewer's side."""
    side = "a" if viewer.endswith("_a") else "b"
    other = "b" if side == "a" else "a"
    me = api(world["viewers"][viewer])
    tid = world["trainee"]["user_id"]
    for path in (f"/trainees/{tid}/record", f"/regulator/trainees/{tid}/trace"):
        body = me.get(path).get_json()
        assert found(body, marks(world[side])) >= {("session_id", world[side]["session_id"]),
                                                  ("check_id", world[side]["check_id"])}, path
        assert not found(body, marks(world[other])), path
    trace = me.get(f"/regulator/trainees/{tid}/trace").get_json()
    assert [x["attempt_id"] for x in trace["attempts"]] == [world[side]["attempt_id"]]
    assert [t["thread_id"] for t in trace["qa"]] == [world[side]["thread_id"]]
    assert [d["credited_seconds"] for d in trace["daily"]] == [30.0]  # its own class's heartbeats only
    c = login(app, world["viewers"][viewer])
    assert c.get(f"/faces/photos/{world[side]['photo_id']}").status_code == 200
    assert c.get(f"/faces/photos/{world[other]['photo_id']}").status_code == 404
    assert me.get(f"/attempts/{world[side]['attempt_id']}/paper").status_code == 200
    assert me.get(f"/attempts/{world[other]['attempt_id']}/paper").status_code == 404
    assert me.get(f"/ledger/entries/{world[side]['seq']}/proof").status_code in (200, 404, 409)  # no checkpoint yet
    assert me.get(f"/ledger/entries/{world[other]['seq']}/proof").status_code in (403, 404)


def test_the_trainee_and_admin_see_both_parts(app, world, api):
    tid = world["trainee"]["user_id"]
    for who in ("trainee", "admin"):
        body = api(world["viewers"][who]).get(f"/trainees/{tid}/record").get_json()
        assert found(body, marks(world["a"]) | marks(world["b"])) >= {
            ("session_id", world["a"]["session_id"]), ("session_id", world["b"]["session_id"])}


def test_photo_views_are_written_to_the_ledger(app, world):
    """Who looked at whose face, when: each view by someone else is an entry; the trainee's own views are not."""
    def views():
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "photo.viewed"))

    before = views()
    staff = login(app, world["viewers"]["staff_a"])
    assert staff.get(f"/faces/photos/{world['a']['photo_id']}").status_code == 200
    assert staff.get(f"/faces/photos/{world['enrolment_photo']}").status_code == 200  # T is on A's roster
    assert views() == before + 2
    assert login(app, world["viewers"]["trainee"]).get(f"/faces/photos/{world['a']['photo_id']}").status_code == 200
    assert views() == before + 2
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "photo.viewed").order_by(LedgerEntry.seq.desc()))
        payload = json.loads(entry.payload)
    assert entry.subject_id == world["trainee"]["user_id"] and payload["purpose"] == "enrolment"
    assert payload["viewer_role"] == "staff"


def test_enrolment_photo_only_while_on_a_current_roster(app, world, api):
    """B's staff see T's enrolment photo while T is on B's roster; after T refuses B's class, not any more."""
    staff_b = login(app, world["viewers"]["staff_b"])
    assert staff_b.get(f"/faces/photos/{world['enrolment_photo']}").status_code == 200
    r = api(world["viewers"]["trainee"]).post(f"/me/classes/{world['b']['class_id']}/refuse")
    assert r.status_code == 200, r.get_json()
    assert staff_b.get(f"/faces/photos/{world['enrolment_photo']}").status_code == 404
    assert api(world["viewers"]["staff_b"]).get(f"/trainees/{world['trainee']['user_id']}/record").status_code == 404


def test_trainee_sees_who_enrolled_them_and_refuses(app, world, api):
    """不是我报名的: the class shows who added the trainee; refusing takes them off, is recorded, and sticks."""
    trainee = login(app, world["viewers"]["trainee"])
    page = trainee.get("/learn").get_data(as_text=True)
    assert "由 乙老师（北京乙职业技能培训学校）" in page and "不是我报名的" in page
    r = trainee.post(f"/learn/classes/{world['b']['class_id']}/refuse")
    assert r.status_code == 302
    page = trainee.get(r.headers["Location"]).get_data(as_text=True)
    assert "已退出该班期并记入培训台账" in page and "乙机构的班期" not in page
    with app.app_context():
        s = db.session
        refusal = s.scalar(select(RosterRefusal))
        entry = s.get(LedgerEntry, refusal.ledger_seq)
        assert refusal.class_id == world["b"]["class_id"] and entry.kind == "roster.refused"
        assert entry.actor_id == world["trainee"]["user_id"]
        id_number = s.get(User, world["trainee"]["user_id"]).id_number
    again = api(world["viewers"]["staff_b"]).post(f"/classes/{world['b']['class_id']}/roster", {"id_number": id_number})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "roster_refused"
    # Refusing a class one is not on, or twice, is a 404 and writes nothing.
    assert api(world["viewers"]["trainee"]).post(f"/me/classes/{world['b']['class_id']}/refuse").status_code == 404


def test_roster_add_checks_the_name_when_given(app, world, api, demo):
    with app.app_context():
        t2 = db.session.get(User, account(demo, "trainee", 1)["user_id"])
        idn, name = t2.id_number, t2.name
    staff_b = api(world["viewers"]["staff_b"])
    r = staff_b.post(f"/classes/{world['b']['class_id']}/roster", {"id_number": idn, "name": "张冒名"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "name_mismatch"
    r = staff_b.post(f"/classes/{world['b']['class_id']}/roster", {"id_number": idn, "name": name})
    assert r.status_code == 201
