"""Spreadsheets carry text, never formulas (issue 11): every XLSX the platform offers, downloaded through its route with
hostile text in every free-text field, reads back with no formula and the text exactly; the one writer
(tracker/spreadsheets.py) makes XLSX string cells and CSV fields with the OWASP apostrophe, which our reader undoes."""
import csv
import io
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from models import Chapter, Course, Institution, TrainingClass, User
from tests.conftest import register_payload
from tracker import spreadsheets
from tracker.assessment import bank_files, services
from tracker.clock import CST
from tracker.extensions import db
from tracker.learning import manage
from tracker.learning.roster_import import csv_rows

# What a spreadsheet program would run: formulas (=HYPERLINK exfiltrates, =cmd|… is DDE), the other formula starts,
# leading tab and CR (some programs skip them), full-width forms, and an error literal openpyxl would type as an error.
HOSTILE = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\n=1",
           "＝1+1", "＋1", "－1", "＠SUM(A1)", "#N/A", "'=1", "''+1", "=", "-"]

# One hostile value per field, each different so that finding it proves that field was written as text.
NAME = '=HYPERLINK("http://x","y")'
EMPLOYER = "=cmd|' /C calc'!A0"
INSTITUTION = "=1+2培训机构"
COURSE = "@SUM(A1)课程"
CHAPTER = "＝1+1章节"
CLASS = "+1+1班期"
OCCUPATION = "-2+3工种"
QUESTION = '=HYPERLINK("http://q","题")\r\n第二行'  # a CR: XML alone would give it back as LF
OPTIONS = ["+A", "-B", "@C", "#N/A"]
FILL_QUESTION = "＠填空题_x0041_"  # what Excel would otherwise show as "A"
FILL_KEY = "=答案"
ANSWER = "=SUM(9,9)"
ASKED = '=HYPERLINK("http://qa","问")'
REPLIED = "-1+1 答复"
LECTURE = "+直播课"
TEACHER = "@主讲"
NOTE = "=1+1 核查说明"
USER_AGENT = "=UA()+1"

STAFF, PASSWORD = "13900000001", "Demo1234"


def web(app, username, password=PASSWORD):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": password}).status_code == 302
    return client


def bearer(client, username, password=PASSWORD):
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": "Bearer " + r.get_json()["token"]}


@pytest.fixture
def hostile(app, demo):
    """A class whose institution, course, chapter, class, trainee, questions, answers, Q&A, lecture and supervision
    note all hold hostile text, each set the way its author sets it (registration, staff APIs, the trainee's API)."""
    app.config.update(TRACKER_QUIZ_UNLOCK_SHARE=0.0, TRACKER_QUIZ_QUESTIONS=2, TRACKER_ATTENTION_MEAN=0)
    regulator = next(a for a in demo["accounts"] if a["role"] == "regulator")["username"]
    today = datetime.now(CST).date()
    with app.app_context(), db.transaction() as s:
        staff = s.scalar(select(User).where(User.phone == STAFF))
        institution = s.get(Institution, staff.institution_id)
        institution.name = INSTITUTION  # set by the platform's administrator; no form validates it
        course = manage.create_course(s, institution, COURSE, actor=staff)
        s.add(Chapter(course_id=course.id, ordinal=1, title=CHAPTER, video_file="x.webm", seconds=600))
        s.flush()
        cls = manage.create_class(s, institution, CLASS, OCCUPATION, "录播", today - timedelta(days=1),
                                  today + timedelta(days=30), 100, 40, "standard", [course.id], actor=staff)
        s.execute(TrainingClass.__table__.update().where(TrainingClass.id == cls.id).values(photo_checks=False))
        ids = {"course_id": course.id, "class_id": cls.id, "chapter_id": course.chapters[0].id}
    client = app.test_client()
    person = register_payload(name=NAME, employer=EMPLOYER)
    r = client.post("/api/v1/auth/register", json=person)
    assert r.status_code == 201, r.get_json()
    ids["trainee_id"] = r.get_json()["user_id"]
    as_staff, as_trainee = bearer(client, STAFF), bearer(client, person["id_number"], person["password"])
    as_regulator = bearer(client, regulator)

    def call(path, body, headers, status=201):
        r = client.post("/api/v1" + path, json=body, headers=headers)
        assert r.status_code == status, r.get_json()
        return r.get_json()

    call(f"/classes/{ids['class_id']}/roster", {"id_number": person["id_number"]}, as_staff)
    call(f"/courses/{ids['course_id']}/questions", {"type": "single", "text": QUESTION, "options": OPTIONS, "key": "B",
                                                   "score": 2, "chapter_id": ids["chapter_id"]}, as_staff)
    call(f"/courses/{ids['course_id']}/questions", {"type": "fill", "text": FILL_QUESTION, "key": FILL_KEY, "score": 2,
                                                   "chapter_id": ids["chapter_id"]}, as_staff)
    starts = datetime.now(CST).replace(microsecond=0) + timedelta(days=1)
    call(f"/classes/{ids['class_id']}/lectures", {"title": LECTURE, "teacher": TEACHER, "stream_url": "/live/1",
                                                 "starts_at": starts.isoformat(),
                                                 "ends_at": (starts + timedelta(hours=1)).isoformat()}, as_staff)
    r = client.post("/api/v1/sessions", json={"chapter_id": ids["chapter_id"]},
                    headers={**as_trainee, "User-Agent": USER_AGENT})
    assert r.status_code == 201, r.get_json()
    call(f"/sessions/{r.get_json()['session_id']}/end", {}, as_trainee, 200)
    thread = call(f"/chapters/{ids['chapter_id']}/qa", {"text": ASKED}, as_trainee)
    call(f"/qa/threads/{thread['thread_id']}/posts", {"text": REPLIED}, as_staff)
    attempt = call(f"/chapters/{ids['chapter_id']}/quiz/attempts", {}, as_trainee)
    for q in attempt["questions"]:
        answer = ANSWER if q["type"] == "fill" else 0
        call(f"/attempts/{attempt['attempt_id']}/answers", {"question_id": q["question_id"], "answer": answer},
             as_trainee, 200)
    call(f"/attempts/{attempt['attempt_id']}/submit", {}, as_trainee, 200)
    call(f"/regulator/trainees/{ids['trainee_id']}/reviews", {"conclusion": "watch", "note": NOTE}, as_regulator)
    return {**ids, "regulator": regulator, "trainee": as_trainee}


SPREADSHEET_ROUTES = {"/regulator/trainees/<int:trainee_id>/trace.xlsx", "/regulator/classes/<int:class_id>/archive.xlsx",
                      "/manage/classes/<int:class_id>/roster.xlsx", "/manage/courses/<int:course_id>/bank.xlsx"}


def test_these_tests_download_every_spreadsheet_the_platform_offers(app):
    """A new XLSX or CSV route fails here until spreadsheets_offered downloads it with hostile text too."""
    offered = {r.rule for r in app.url_map.iter_rules() if r.rule.endswith((".xlsx", ".csv"))}
    assert offered == SPREADSHEET_ROUTES


def spreadsheets_offered(app, ids):
    """Every XLSX the platform offers, downloaded through its route by a role allowed to."""
    staff, regulator = web(app, STAFF), web(app, ids["regulator"])
    out = {}
    for name, client, url in (
            ("trace", regulator, f"/regulator/trainees/{ids['trainee_id']}/trace.xlsx"),
            ("trace (staff)", staff, f"/regulator/trainees/{ids['trainee_id']}/trace.xlsx"),
            ("archive", regulator, f"/regulator/classes/{ids['class_id']}/archive.xlsx"),
            ("roster", staff, f"/manage/classes/{ids['class_id']}/roster.xlsx"),
            ("roster (regulator)", regulator, f"/manage/classes/{ids['class_id']}/roster.xlsx"),
            ("bank", staff, f"/manage/courses/{ids['course_id']}/bank.xlsx")):
        r = client.get(url)
        assert r.status_code == 200 and r.mimetype == spreadsheets.XLSX_TYPE, (name, r.status_code)
        out[name] = r.data
    return out


def cells(data):
    """Every cell of every sheet, read the way a spreadsheet program reads it (formulas kept, not their values)."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return [cell for ws in wb for row in ws.iter_rows() for cell in row if cell.value is not None]


def not_text(data):
    """Cells that are a formula or an error, or any other non-string cell holding "=…": none may exist."""
    return [f"{cell.parent.title}!{cell.coordinate}={cell.value!r}" for cell in cells(data)
            if cell.data_type in ("f", "e") or (cell.data_type != "s" and str(cell.value).startswith("="))]


def assert_no_formula(name, data):
    assert not_text(data) == [], name


def texts(data):
    """The strings as Excel shows them (openpyxl leaves OOXML's _xHHHH_ escapes in place)."""
    return [spreadsheets.xlsx_text_unescape(c.value) for c in cells(data) if isinstance(c.value, str)]


def test_every_spreadsheet_holds_hostile_text_as_text(app, hostile):
    files = spreadsheets_offered(app, hostile)
    assert {name: not_text(data) for name, data in files.items() if not_text(data)} == {}
    everywhere = {NAME, EMPLOYER}
    expected = {
        "trace": everywhere | {CLASS, CHAPTER, QUESTION, FILL_QUESTION, FILL_KEY, ANSWER, ASKED, REPLIED, NOTE,
                               USER_AGENT},
        "archive": everywhere | {INSTITUTION, CLASS, OCCUPATION, COURSE, CHAPTER, LECTURE, TEACHER, NOTE},
        "roster": everywhere,
        "bank": {QUESTION, *OPTIONS, FILL_QUESTION, FILL_KEY, CHAPTER},
    }
    for name, data in files.items():
        found = set(texts(data))
        missing = expected[name.split(" ")[0]] - found
        assert not missing, (name, missing)
    # Titles made of data start with it (an institution's or trainee's name) and are text too.
    roster_title = texts(files["roster"])[0]
    assert roster_title.startswith(INSTITUTION + "　" + CLASS)
    assert any(t.startswith(NAME + "（") for t in texts(files["trace"]))


def test_a_control_character_the_trainee_sends_does_not_stop_the_trace_export(app, hostile):
    """No XML may hold an escape character: openpyxl refused the workbook and the regulator got a 500 for the trace of
    a trainee whose browser (or script) sent one in its User-Agent or a quiz answer."""
    app.config["TRACKER_QUIZ_COOLDOWN_MINUTES"] = 0  # the fixture's own quiz attempt came just before
    client = app.test_client()
    user_agent, answer = "=UA() \x1b[31m\x7f", "=SUM(9,\x1b9)"
    r = client.post("/api/v1/sessions", json={"chapter_id": hostile["chapter_id"]},
                    headers={**hostile["trainee"], "User-Agent": user_agent})
    assert r.status_code == 201, r.get_json()
    attempt = client.post(f"/api/v1/chapters/{hostile['chapter_id']}/quiz/attempts", headers=hostile["trainee"])
    assert attempt.status_code == 201, attempt.get_json()
    for q in attempt.get_json()["questions"]:
        r = client.post(f"/api/v1/attempts/{attempt.get_json()['attempt_id']}/answers", headers=hostile["trainee"],
                        json={"question_id": q["question_id"], "answer": answer if q["type"] == "fill" else 0})
        assert r.status_code == 200, r.get_json()
    r = web(app, hostile["regulator"]).get(f"/regulator/trainees/{hostile['trainee_id']}/trace.xlsx")
    assert r.status_code == 200
    assert not_text(r.data) == []
    assert {user_agent, answer} <= set(texts(r.data))


def test_a_line_break_in_a_class_or_course_name_does_not_stop_its_download(app, hostile):
    """The file's name is made from the class's or course's name: a line break in it (the form does not refuse one)
    cannot go into the Content-Disposition header, and the roster and bank exports answered 500."""
    with app.app_context(), db.transaction() as s:
        s.get(TrainingClass, hostile["class_id"]).name = "甲班\r\n=乙"
        s.get(Course, hostile["course_id"]).title = "课程\n/..\\丙"
    staff = web(app, STAFF)
    for url in (f"/manage/classes/{hostile['class_id']}/roster.xlsx", f"/manage/courses/{hostile['course_id']}/bank.xlsx"):
        r = staff.get(url)
        assert r.status_code == 200, url
        disposition = r.headers["Content-Disposition"]
        assert "\r" not in disposition and "\n" not in disposition and "%2F" not in disposition
        assert not_text(r.data) == []
    roster = staff.get(f"/manage/classes/{hostile['class_id']}/roster.xlsx")
    assert "甲班\r\n=乙" in texts(roster.data)[0]


def test_the_exported_bank_imports_back_to_the_same_questions(app, hostile):
    """The bank's round trip: export, import into the same course (every question already there: all skipped, so
    text, options, key and chapter came back exactly) and into a new course with the same chapter title."""
    data = spreadsheets_offered(app, hostile)["bank"]
    with app.app_context(), db.transaction() as s:
        course = s.get(Course, hostile["course_id"])
        staff = s.scalar(select(User).where(User.phone == STAFF))
        again = bank_files.import_bank(s, course, data, "bank.xlsx", staff)
        assert again.rows == 2 and not again.added and len(again.skipped) == 2
        other = manage.create_course(s, s.get(Institution, course.institution_id), "另一门课程", actor=staff)
        s.add(Chapter(course_id=other.id, ordinal=1, title=CHAPTER, video_file="y.webm", seconds=600))
        s.flush()
        copied = bank_files.import_bank(s, other, data, "bank.xlsx", staff)
        assert len(copied.added) == 2

        def content(c):
            return sorted((q.kind, q.text, q.options, q.key, q.score, s.get(Chapter, q.chapter_id).title)
                          for q in services.active_questions(s, [c.id]))

        assert content(other) == content(course)
        assert QUESTION in {q[1] for q in content(other)}


# ---------------------------------------------------------------------------------------------------------------------
# The writer itself, with every hostile start (registration trims leading whitespace, so only here do tab and CR lead)


# Text that XML cannot carry as such: stored as Excel stores it (_xHHHH_), shown by Excel as the original.
UNSAFE_XML = ["a\r\nb", "\x1b[31m=1", "=\x00\x08\x0b\x0c\x1f", "_x0041_", "__x000D_", "_x004", "\ufffe\uffff"]


@pytest.mark.parametrize("write_only", [True, False])
def test_the_xlsx_writer_keeps_every_hostile_text_exactly_as_a_string_cell(write_only):
    wb = openpyxl.Workbook(write_only=write_only)
    ws = wb.create_sheet("表")
    spreadsheets.append_row(ws, [*HOSTILE, *UNSAFE_XML, 42, 1.5, None, "普通文字"])
    data = spreadsheets.workbook_bytes(wb)
    assert_no_formula("writer", data)
    row = list(openpyxl.load_workbook(io.BytesIO(data))["表"].iter_rows(values_only=True))[0]
    shown = [spreadsheets.xlsx_text_unescape(v) for v in row[:len(HOSTILE) + len(UNSAFE_XML)]]
    assert shown == HOSTILE + UNSAFE_XML
    assert list(row[:len(HOSTILE)]) == [v.replace("\r", "_x000D_") for v in HOSTILE]  # CR stored as Excel does
    assert row[len(HOSTILE) + 3:len(HOSTILE) + 5] == ("_x005F_x0041_", "__x005F_x000D_")
    assert list(row[-4:]) == [42, 1.5, None, "普通文字"]
    typed = list(openpyxl.load_workbook(io.BytesIO(data))["表"].iter_rows())[0]
    assert [c.data_type for c in typed[-4:-2]] == ["n", "n"]


def test_the_csv_writer_marks_every_formula_start_with_an_apostrophe():
    data = spreadsheets.csv_bytes([HOSTILE + ["普通", "a=b", "'引号", 7, None]])
    assert data.startswith("\ufeff".encode())
    row = next(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    for written, original in zip(row, HOSTILE):
        # "#N/A" is no formula: a program shows it as the error it names, and the reader gives it back unchanged.
        assert written == ("'" + original if original.lstrip("'")[:1] in spreadsheets.FORMULA_STARTS else original)
        assert not written.startswith(spreadsheets.FORMULA_STARTS)
    assert row[len(HOSTILE):] == ["普通", "a=b", "'引号", "7", ""]


@pytest.mark.parametrize("text", HOSTILE + ["普通", "'", "''", "'引号", "'-", "a=b", ""])
def test_csv_unescape_gives_back_exactly_what_the_writer_was_given(text):
    assert spreadsheets.csv_unescape(spreadsheets.csv_field(text)) == text


def test_the_csv_reader_undoes_the_writers_apostrophe():
    values = ["=1+1", "+A", "'引号", "''=x", "普通"]
    assert [row for _, row in csv_rows(spreadsheets.csv_bytes([values]))] == [values]
