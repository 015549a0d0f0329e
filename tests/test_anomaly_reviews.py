"""Reviews of anomalies (核查处置 / 监督检查记录): the rules, who may record and read them, the snapshot they keep,
the ledger entry, the append-only table, the pages and the exports.

Findings come from face flags written straight into the database (as tests/test_regulator_portal.py does): the
detectors turn one into the shared_face sign of both accounts, which is all a review needs.
"""
import io
import json

import openpyxl
import pytest
from sqlalchemy import exc, func, select, text

from models import Enrollment, FaceFlag, Institution, LedgerEntry, SessionCheck, TrainingClass, User
from models.regulator import AnomalyReview
from tests.conftest import make_id_number
from tests.test_regulator_portal import T0, account, outsiders, regulator, staff, web  # noqa: F401 (fixtures)
from tracker.accounts.rules import RuleError
from tracker.accounts.services import create_user
from tracker.extensions import db
from tracker.ledger.services import verify
from tracker.regulator import reviews

NOTE = "调阅两个账号的登记照片，确认为同一人，系代刷。"


def flag(app, tried, enrolled, distance=0.3):
    """A proxy flag (a face enrolled under another ID): the shared_face sign on both accounts."""
    with app.app_context():
        with db.transaction() as s:
            s.add(FaceFlag(kind="proxy_suspected", trainee_id=tried, other_trainee_id=enrolled, distance=distance))


def failed_checks(app, trainee_id, n=3):
    """Failed photo checks in a session of the trainee's first class (checks belong to their session's class)."""
    from models import Chapter, ClassCourse, Enrollment, LearningSession

    with app.app_context():
        with db.transaction() as s:
            class_id = s.scalar(select(Enrollment.class_id).where(Enrollment.trainee_id == trainee_id).order_by(Enrollment.id))
            chapter_id = s.scalar(select(Chapter.id).join(ClassCourse, ClassCourse.course_id == Chapter.course_id)
                                  .where(ClassCourse.class_id == class_id).order_by(Chapter.id))
            sess = LearningSession(trainee_id=trainee_id, chapter_id=chapter_id, class_id=class_id, started_ts=T0,
                                   status="ended")
            s.add(sess)
            s.flush()
            for i in range(n):
                s.add(SessionCheck(trainee_id=trainee_id, session_id=sess.id, kind="photo_random", asked_ts=T0 + i * 600,
                                   deadline_ts=T0 + i * 600 + 60, answered_ts=T0 + i * 600 + 20, status="failed",
                                   reason="other_person"))


def written(app):
    """(review rows, their ledger entries): what a refused request must leave as it was."""
    with app.app_context():
        s = db.session
        return (s.scalar(select(func.count()).select_from(AnomalyReview)),
                s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == reviews.KIND)))


@pytest.fixture
def flagged(app, demo):
    """Two demo trainees sharing a face: (the one who tried, the one enrolled)."""
    a, b = account(demo, "trainee", 0)["user_id"], account(demo, "trainee", 1)["user_id"]
    flag(app, a, b)
    return a, b


def post_review(client, trainee_id, conclusion="violation", note=NOTE, **extra):
    return client.post(f"/regulator/trainees/{trainee_id}/reviews", {"conclusion": conclusion, "note": note, **extra})


# --- pure rules --------------------------------------------------------------------------------------------------------


def test_conclusions_are_three_codes_or_their_labels():
    assert reviews.CONCLUSIONS == {"cleared": "核查正常", "violation": "确认违规", "watch": "继续观察"}
    assert [reviews.parse_conclusion(x) for x in ("cleared", " violation ", "继续观察", "确认违规")] == \
        ["cleared", "violation", "watch", "violation"]
    for bad, code in [(None, "missing_field"), ("", "missing_field"), ("ok", "invalid_field"), (1, "invalid_field"),
                      (["cleared"], "invalid_field")]:
        with pytest.raises(RuleError) as e:
            reviews.parse_conclusion(bad)
        assert e.value.code == code and e.value.field == "conclusion" and "核查" in e.value.message


def test_the_note_is_required_and_at_most_500_characters():
    assert reviews.parse_note("  已核实。 ") == "已核实。"
    assert reviews.parse_note("核" * 500) == "核" * 500
    for bad, message in [(None, "请填写核查说明"), ("", "请填写核查说明"), (" \n\t ", "请填写核查说明"),
                         ("核" * 501, "核查说明不能超过500字"), (42, "核查说明须为文字")]:
        with pytest.raises(RuleError) as e:
            reviews.parse_note(bad)
        assert message in e.value.message and e.value.field == "note"


def test_the_window_is_all_time_or_1_to_3660_days():
    assert reviews.parse_days(None) is None and reviews.parse_days("") is None
    assert reviews.parse_days("90") == 90 and reviews.parse_days(3660) == 3660
    for bad in (0, -1, 3661, "x", 1.5, True, [3]):
        with pytest.raises(RuleError):
            reviews.parse_days(bad)


def test_a_snapshot_keeps_the_score_and_every_signs_evidence():
    risk = {"trainee_id": 7, "score": 40, "level": "medium", "signs": [
        {"sign": "shared_face", "label": "同一人脸登记在多个账号（疑似代刷）", "weight": 40, "strength": 1.0, "points": 40.0,
         "evidence": [{"flag_id": 1, "distance": 0.3, "other_trainee_id": 8, "role": "tried"}]}]}
    snap = reviews.snapshot(risk)
    assert snap == {"score": 40, "level": "medium", "signs": risk["signs"]}
    assert snap["signs"][0]["evidence"] is not risk["signs"][0]["evidence"]  # a copy, not a view of live data
    assert reviews.snapshot(None) == {"score": 0, "level": "none", "signs": []}
    assert json.loads(reviews.findings_text(snap)) == snap["signs"]


# --- recording, the ledger, superseding ----------------------------------------------------------------------------------


def test_a_review_keeps_its_snapshot_goes_to_the_ledger_and_a_later_one_supersedes_it(app, demo, regulator, flagged):
    a, b = flagged
    reg_id = account(demo, "regulator")["user_id"]
    r = post_review(regulator, a, "watch", "  先继续观察，待调阅照片。  ")
    assert r.status_code == 201, r.get_json()
    first = r.get_json()
    assert first["conclusion"] == "watch" and first["conclusion_label"] == "继续观察" and first["current"]
    assert first["note"] == "先继续观察，待调阅照片。" and first["regulator"] == {"user_id": reg_id, "name": "李科长"}
    assert first["score"] == 40 and first["level"] == "medium" and [s["sign"] for s in first["signs"]] == ["shared_face"]
    assert "疑似代刷" in first["signs"][0]["label"] and "人脸距离 0.30" in first["signs"][0]["evidence"][0]["text"]
    assert first["supersedes_id"] is None and first["days"] is None

    with app.app_context():
        s = db.session
        row = s.get(AnomalyReview, first["review_id"])
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.seq == row.ledger_seq))
        assert entry.kind == "anomaly.reviewed" and entry.actor_id == reg_id and entry.subject_id == a
        payload = json.loads(entry.payload)
        assert payload["conclusion"] == "watch" and payload["trainee_id"] == a and payload["score"] == 40
        assert payload["note_sha256"] == reviews.sha256("先继续观察，待调阅照片。") and NOTE not in entry.payload
        assert payload["findings_sha256"] == row.findings_sha256 == reviews.sha256(row.findings)
        assert payload["signs"] == [["shared_face", 40.0]] and payload["supersedes"] is None
        assert reviews.verify_review(s, row)["ok"]
        assert verify(s)["first_bad_seq"] is None

    # The findings change afterwards (photo checks failed): the review keeps what it saw.
    failed_checks(app, a)
    live = {t["trainee_id"]: t for t in regulator.get("/regulator/anomalies?days=3660").get_json()["trainees"]}
    assert live[a]["score"] == 65 and live[a]["review"]["review_id"] == first["review_id"]
    assert live[a]["review"]["score"] == 40 and live[a]["review"]["conclusion"] == "watch"
    assert live[b]["review"] is None

    r = post_review(regulator, a, "violation", NOTE, days=3660)
    assert r.status_code == 201, r.get_json()
    second = r.get_json()
    assert second["score"] == 65 and {s["sign"] for s in second["signs"]} == {"shared_face", "photo_failures"}
    assert second["supersedes_id"] == first["review_id"] and second["days"] == 3660

    body = regulator.get(f"/regulator/trainees/{a}/reviews").get_json()
    assert [x["review_id"] for x in body["reviews"]] == [second["review_id"], first["review_id"]]
    assert body["latest"]["conclusion"] == "violation" and body["reviews"][0]["current"]
    old = body["reviews"][1]
    assert not old["current"] and old["superseded_by"] == second["review_id"] and old["score"] == 40
    assert [s["sign"] for s in old["signs"]] == ["shared_face"]  # still the findings it was made on
    live = {t["trainee_id"]: t for t in regulator.get("/regulator/anomalies?days=3660").get_json()["trainees"]}
    assert live[a]["review"]["review_id"] == second["review_id"]
    trace = regulator.get(f"/regulator/trainees/{a}/trace").get_json()
    assert [x["review_id"] for x in trace["reviews"]] == [second["review_id"], first["review_id"]]
    with app.app_context():
        s = db.session
        assert s.scalar(select(func.count()).select_from(AnomalyReview)) == 2  # both kept
        entries = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "anomaly.reviewed").order_by(LedgerEntry.seq)).all()
        assert [json.loads(e.payload)["supersedes"] for e in entries] == [None, first["review_id"]]


def test_a_trainee_without_findings_can_be_reviewed_with_an_empty_snapshot(app, demo, regulator):
    c = account(demo, "trainee", 2)["user_id"]
    r = post_review(regulator, c, "cleared", "群众举报核查：签到照片均为本人，未发现异常。")
    assert r.status_code == 201 and r.get_json()["score"] == 0 and r.get_json()["signs"] == []


# --- who may record and read ----------------------------------------------------------------------------------------------


def test_only_the_regions_regulator_records_a_review(app, api, demo, regulator, staff, outsiders, flagged):
    a, _ = flagged
    trainee = api(account(demo, "trainee")["username"])
    before = written(app)
    assert post_review(staff, a).status_code == 403
    assert post_review(trainee, a).status_code == 403
    assert post_review(api(), a).status_code == 401
    assert post_review(api(outsiders["regulator"], "Other1234"), a).status_code == 404  # Beijing's: not its region
    assert post_review(api(outsiders["staff"], "Other1234"), a).status_code == 403
    admin = api("13900000009")
    assert post_review(admin, a).status_code == 403  # administrators see, regulators decide
    assert post_review(regulator, 999999).status_code == 404
    assert post_review(regulator, account(demo, "staff")["user_id"]).status_code == 404  # not a trainee
    assert written(app) == before == (0, 0)
    # another regulator of the same region may (a review by one is seen by the other)
    r = post_review(api(outsiders["same_region"], "Other1234"), a)
    assert r.status_code == 201 and written(app) == (1, 1)
    assert regulator.get(f"/regulator/trainees/{a}/reviews").get_json()["latest"]["regulator"]["name"] == "呼市科长"


def test_the_rule_itself_refuses_staff_and_other_regions(app, demo, outsiders, flagged):
    a, _ = flagged
    with app.app_context():
        s = db.session
        trainee = s.get(User, a)
        for username in (account(demo, "staff")["username"], outsiders["regulator"], account(demo, "trainee", 1)["username"]):
            viewer = s.scalar(select(User).where(User.phone == username))
            with pytest.raises(RuleError) as e:
                reviews.record_review(s, viewer, trainee, "violation", NOTE)
            assert e.value.status == 403
        s.rollback()
    assert written(app) == (0, 0)


def test_staff_read_their_trainees_reviews_trainees_and_others_do_not(app, api, demo, regulator, staff, outsiders, flagged):
    a, _ = flagged
    review_id = post_review(regulator, a).get_json()["review_id"]
    body = staff.get(f"/regulator/trainees/{a}/reviews").get_json()
    assert body["latest"]["review_id"] == review_id and body["latest"]["conclusion_label"] == "确认违规"
    assert body["latest"]["note"] == NOTE
    staff_list = {t["trainee_id"]: t for t in staff.get("/regulator/anomalies?days=3660").get_json()["trainees"]}
    assert staff_list[a]["review"]["conclusion"] == "violation"
    assert staff.get(f"/regulator/trainees/{a}/trace").get_json()["reviews"][0]["review_id"] == review_id
    assert api(account(demo, "trainee")["username"]).get(f"/regulator/trainees/{a}/reviews").status_code == 403
    assert api(outsiders["staff"], "Other1234").get(f"/regulator/trainees/{a}/reviews").status_code == 404
    assert api(outsiders["regulator"], "Other1234").get(f"/regulator/trainees/{a}/reviews").status_code == 404
    assert api().get(f"/regulator/trainees/{a}/reviews").status_code == 401
    assert api("13900000009").get(f"/regulator/trainees/{a}/reviews").status_code == 200


def test_staff_see_a_snapshot_without_names_of_trainees_outside_their_institution(app, api, demo, regulator, staff):
    """The regulator's snapshot may name a trainee of another institution of the region; staff see it unnamed."""
    a = account(demo, "trainee")["user_id"]
    with app.app_context():
        with db.transaction() as s:
            inst = Institution(name="呼市另一所培训学校", region_code="150102")
            s.add(inst)
            s.flush()
            cls = TrainingClass(institution_id=inst.id, name="焊工班", occupation="焊工", photo_checks=False)
            s.add(cls)
            s.flush()
            other = create_user(s, role="trainee", name="邻校学员", password="Passw0rd1", id_number=make_id_number(),
                                category="企业职工")
            s.add(Enrollment(class_id=cls.id, trainee_id=other.id))
            other_id = other.id
    flag(app, other_id, a)
    seen = post_review(regulator, a).get_json()["signs"][0]["evidence"][0]
    assert "邻校学员" in seen["text"] and seen["trainees"][0]["visible"]
    shown = staff.get(f"/regulator/trainees/{a}/reviews").get_json()["latest"]["signs"][0]["evidence"][0]
    assert "邻校学员" not in shown["text"] and not shown["trainees"][0]["visible"]


# --- bad input ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body,field,message", [
    ({"note": NOTE}, "conclusion", "请选择核查结论"),
    ({"conclusion": "guilty", "note": NOTE}, "conclusion", "核查结论须为"),
    ({"conclusion": "violation"}, "note", "请填写核查说明"),
    ({"conclusion": "violation", "note": "   "}, "note", "请填写核查说明"),
    ({"conclusion": "violation", "note": "核" * 501}, "note", "核查说明不能超过500字"),
    ({"conclusion": "violation", "note": ["x"]}, "note", "核查说明须为文字"),
    ({"conclusion": "violation", "note": NOTE, "days": 0}, "days", "天数须在 1 到 3660 之间"),
    ({"conclusion": "violation", "note": NOTE, "days": "九十"}, "days", "天数须为整数"),
])
def test_bad_input_is_refused_with_a_chinese_message_and_nothing_written(app, regulator, flagged, body, field, message):
    a, _ = flagged
    r = regulator.post(f"/regulator/trainees/{a}/reviews", body)
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["field"] == field and message in error["message"]
    assert written(app) == (0, 0)


def test_a_body_that_is_not_json_is_refused(app, regulator, flagged):
    a, _ = flagged
    r = regulator.client.post(f"/api/v1/regulator/trainees/{a}/reviews", data="conclusion=violation",
                              headers={"Authorization": f"Bearer {regulator.token}"})
    assert r.status_code == 415 and written(app) == (0, 0)


# --- the database keeps reviews append-only ----------------------------------------------------------------------------------


def test_reviews_cannot_be_edited_or_deleted(app, regulator, flagged):
    a, _ = flagged
    review_id = post_review(regulator, a).get_json()["review_id"]
    with app.app_context():
        for statement in (f"UPDATE anomaly_reviews SET conclusion = 'cleared' WHERE id = {review_id}",
                          f"DELETE FROM anomaly_reviews WHERE id = {review_id}"):
            with pytest.raises(exc.DBAPIError, match="append-only"):
                with db.transaction() as s:
                    s.execute(text(statement))
        row = db.session.get(AnomalyReview, review_id)
        assert row.conclusion == "violation" and reviews.verify_review(db.session, row)["ok"]


def test_the_migrated_table_matches_the_model(app):
    """Alembic's autogenerate finds nothing to change for anomaly_reviews (revision 0003 was written by hand)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import models

    with app.app_context(), db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
        assert [d for d in diffs if "anomaly_reviews" in repr(d)] == []
        assert conn.execute(text("SELECT count(*) FROM anomaly_reviews")).scalar() == 0


# --- pages ------------------------------------------------------------------------------------------------------------------


def test_the_regulator_reviews_from_the_anomalies_page(app, demo, flagged):
    a, b = flagged
    client = web(app, account(demo, "regulator")["username"])
    page = client.get("/regulator/anomalies?days=3660").get_data(as_text=True)
    assert "核查处置" in page and "未核查" in page
    link = f"/regulator/trainees/{a}/review?days=3660&amp;next="
    assert link in page
    form = client.get(f"/regulator/trainees/{a}/review?days=3660&next=/regulator/anomalies?days%3D3660")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "同一人脸登记在多个账号" in html and 'value="violation"' in html and "尚未核查" in html

    refused = client.post(f"/regulator/trainees/{a}/review", data={"conclusion": "violation", "note": "  ", "days": "3660",
                                                                    "next": "/regulator/anomalies?days=3660"})
    assert refused.status_code == 400 and "请填写核查说明" in refused.get_data(as_text=True)
    assert written(app) == (0, 0)
    too_long = client.post(f"/regulator/trainees/{a}/review", data={"conclusion": "watch", "note": "核" * 501})
    assert too_long.status_code == 400 and "核查说明不能超过500字" in too_long.get_data(as_text=True)
    assert "核" * 501 in too_long.get_data(as_text=True)  # what was typed is kept in the form
    assert written(app) == (0, 0)

    r = client.post(f"/regulator/trainees/{a}/review", data={"conclusion": "violation", "note": NOTE, "days": "3660",
                                                             "next": "/regulator/anomalies?days=3660"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/regulator/anomalies?days=3660")
    page = client.get("/regulator/anomalies?days=3660").get_data(as_text=True)
    row = page[page.index(f'data-trainee-id="{a}"'):]
    row = row[:row.index("</tr>")]
    assert "确认违规" in row and "李科长" in row and "重新核查" in row
    trace = client.get(f"/regulator/trainees/{a}").get_data(as_text=True)
    assert 'id="reviews"' in trace and NOTE in trace and "当前结论" in trace and "确认违规" in trace
    # an outside address to come back to is ignored
    r = client.post(f"/regulator/trainees/{b}/review", data={"conclusion": "cleared", "note": "已核实。",
                                                             "next": "//evil.example/x"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/regulator/trainees/{b}#reviews")


def test_review_pages_deny_staff_trainees_and_other_regions(app, demo, outsiders, regulator, flagged):
    a, _ = flagged
    post_review(regulator, a)
    staff = web(app, account(demo, "staff")["username"])
    assert staff.get(f"/regulator/trainees/{a}/review").status_code == 403
    assert staff.post(f"/regulator/trainees/{a}/review", data={"conclusion": "cleared", "note": "x"}).status_code == 403
    page = staff.get("/regulator/anomalies?days=3660").get_data(as_text=True)
    assert "确认违规" in page and "review-link" not in page  # the status, without the way to change it
    trace = staff.get(f"/regulator/trainees/{a}").get_data(as_text=True)
    assert NOTE in trace and f"/regulator/trainees/{a}/review" not in trace
    trainee = web(app, account(demo, "trainee")["username"])
    assert trainee.get(f"/regulator/trainees/{a}/review").status_code == 403
    beijing = web(app, outsiders["regulator"], "Other1234")
    assert beijing.get(f"/regulator/trainees/{a}/review").status_code == 404
    assert beijing.post(f"/regulator/trainees/{a}/review", data={"conclusion": "cleared", "note": "x"}).status_code == 404
    assert written(app) == (1, 1)


# --- exports -----------------------------------------------------------------------------------------------------------------


def test_exports_carry_the_supervision_records(app, demo, regulator, flagged):
    a, _ = flagged
    post_review(regulator, a, "watch", "先观察。")
    post_review(regulator, a, "violation", NOTE)
    client = web(app, account(demo, "staff")["username"])
    wb = openpyxl.load_workbook(io.BytesIO(client.get(f"/regulator/classes/{demo['classes'][0]['class_id']}/archive.xlsx").data))
    rows = list(wb["监督检查记录"].iter_rows(min_row=3, values_only=True))
    name = account(demo, "trainee")["name"]
    assert [(r[0], r[4], r[5], r[8]) for r in rows] == [(name, "确认违规", NOTE, "当前结论"), (name, "继续观察", "先观察。", "已被后续核查取代")]
    assert all("********" in r[1] for r in rows) and "疑似代刷" in rows[0][7]
    wb = openpyxl.load_workbook(io.BytesIO(client.get(f"/regulator/trainees/{a}/trace.xlsx").data))
    assert [r[2] for r in wb["监督检查记录"].iter_rows(min_row=3, values_only=True)] == ["确认违规", "继续观察"]
    assert client.get(f"/regulator/classes/{demo['classes'][0]['class_id']}/archive.pdf").data.startswith(b"%PDF")


def test_openapi_documents_the_review_routes(api):
    paths = api().get("/openapi.json").get_json()["paths"]
    item = paths["/regulator/trainees/{trainee_id}/reviews"]
    assert "get" in item and "post" in item
    schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"conclusion", "note"}
    assert schema["properties"]["conclusion"]["enum"] == ["cleared", "violation", "watch"]
    assert schema["properties"]["note"]["maxLength"] == 500
