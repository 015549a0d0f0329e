"""Face enrolment and photo checks through the HTTP API, with real photos, the real library and the real
worker pool (processes), as the server runs them. Denials: other trainees, staff, no credentials."""
import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from models import FaceEnrolment, FaceFlag, FacePhoto, Institution, LearningSession, LedgerEntry, SessionCheck, User
from tests import bursts
from tests.conftest import register_payload
from tests.test_faces import FACES, camera_frame, darkened, face_file, no_face_photo, pixels
from tracker.accounts.services import create_user
from tracker.extensions import db
from tracker.ledger.services import verify
from tracker.proctoring import faces, services
from tracker.proctoring.workers import FaceBusy, FacePool, pool_for

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is not beside this checkout")


@pytest.fixture(autouse=True)
def one_face_worker(app):
    """One worker process for the whole test run (the machine is shared); it stays up between tests."""
    app.config.update(TRACKER_FACE_WORKERS=1, TRACKER_ATTENTION_MEAN=0)


def post_image(api, path, data, field="image", **fields):
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    body = {k: v for k, v in fields.items()}
    if data is not None:
        body[field] = (io.BytesIO(data), "photo.jpg")
    return api.client.post("/api/v1" + path, data=body, headers=headers, content_type="multipart/form-data")


def error_code(r):
    return r.get_json()["error"]["code"]


@pytest.fixture
def staff(api, demo):
    return api(demo["accounts"][0]["username"])


@pytest.fixture
def trainee(api, demo, staff):
    """A trainee registered with face consent, on the demo class's roster; yields (client, user id)."""
    def make():
        data = register_payload()
        r = api().post("/auth/register", data)
        assert r.status_code == 201, r.get_json()
        assert staff.post(f"/classes/{demo['classes'][0]['class_id']}/roster", {"id_number": data["id_number"]}).status_code == 201
        return api(data["phone"], data["password"]), r.get_json()["user_id"]
    return make


def enrol(client, name="obama"):
    r = post_image(client, "/me/face", face_file(name))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def start(client, demo, chapter=0):
    r = client.post("/sessions", {"chapter_id": demo["classes"][0]["chapters"][chapter]["chapter_id"]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# --- enrolment ---------------------------------------------------------------------------------------------

def test_enrolment_stores_the_encoding_and_the_photo_encrypted(app, trainee):
    client, uid = trainee()
    assert client.get("/me/face").get_json()["enrolled"] is False
    body = enrol(client)
    assert body["source"] == "api" and body["face_px"] >= 80 and body["replaced"] is None and body["status"] == "active"
    status = client.get("/me/face").get_json()
    assert status["enrolled"] and status["enrolment_id"] == body["enrolment_id"]
    with app.app_context():
        s = db.session
        enrolment = s.get(FaceEnrolment, body["enrolment_id"])
        assert len(enrolment.encoding) == 128 * 8
        photo = s.get(FacePhoto, enrolment.photo_id)
        stored = (Path(app.config["TRACKER_INSTANCE"]) / "photos" / photo.file).read_bytes()
        assert face_file("obama") not in stored and not stored.startswith(b"\xff\xd8")  # encrypted at rest
        key = Path(app.config["TRACKER_INSTANCE"]) / "keys" / "photos.fernet"
        assert key.stat().st_mode & 0o777 == 0o600
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "face.enrolled", LedgerEntry.subject_id == uid))
        assert photo.sha256 in entry.payload and "encoding" not in entry.payload


def test_enrolment_needs_consent(api, demo):
    """Demo trainees were created by the platform, without the separate consent: refused until they give it."""
    client = api(demo["accounts"][3]["username"])
    r = post_image(client, "/me/face", face_file("obama"))
    assert r.status_code == 403 and error_code(r) == "consent_required"
    assert client.get("/me/face").get_json()["consent"] is False


def test_consent_given_on_the_enrolment_page(app, client, demo):
    client.post("/login", data={"username": demo["accounts"][3]["username"], "password": "Demo1234"})
    assert "人脸信息处理同意书" in client.get("/faces/enrol").get_data(as_text=True)
    assert client.post("/faces/consent", data={}).status_code == 400
    assert client.post("/faces/consent", data={"face_consent": "1"}).status_code == 302
    page = client.get("/faces/enrol").get_data(as_text=True)
    assert "打开摄像头" in page and "上传证件照" in page
    with app.app_context():
        assert db.session.get(User, demo["accounts"][3]["user_id"]).face_consent_at is not None
        assert db.session.scalar(select(LedgerEntry.seq).where(LedgerEntry.kind == "consent.face",
                                                               LedgerEntry.subject_id == demo["accounts"][3]["user_id"]))


@pytest.mark.parametrize("make,status,code", [
    (lambda: None, 400, "missing_field"),
    (lambda: b"GIF89a not really", 400, "unreadable"),
    (lambda: darkened("obama"), 422, "too_dark"),
    (no_face_photo, 422, "no_face"),
    (lambda: face_file("two_people"), 422, "several_faces"),
])
def test_enrolment_refuses_unusable_pictures_with_a_chinese_reason(trainee, make, status, code):
    client, _uid = trainee()
    r = post_image(client, "/me/face", make())
    assert r.status_code == status and error_code(r) == code
    assert any("\u4e00" <= c <= "\u9fff" for c in r.get_json()["error"]["message"])
    assert client.get("/me/face").get_json()["enrolled"] is False


def test_the_same_face_under_another_id_is_refused_and_flagged(app, api, demo, trainee, staff):
    first, first_id = trainee()
    enrol(first, "obama")
    second, second_id = trainee()
    r = post_image(second, "/me/face", face_file("obama2"))  # another photo of the same man
    assert r.status_code == 409 and error_code(r) == "face_already_enrolled"
    assert "代刷" in r.get_json()["error"]["message"]
    assert second.get("/me/face").get_json()["enrolled"] is False
    with app.app_context():
        s = db.session
        flag = s.scalar(select(FaceFlag))
        assert (flag.kind, flag.trainee_id, flag.other_trainee_id) == ("proxy_suspected", second_id, first_id)
        assert flag.distance < 0.5
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.seq == flag.ledger_seq))
        assert entry.kind == "face.proxy_suspected" and entry.subject_id == second_id
        assert verify(s)["first_bad_seq"] is None
    # staff of the institution and the region's regulator see it; the trainees do not
    flags = staff.get("/face-flags").get_json()["flags"]
    assert [(f["kind"], f["trainee"]["user_id"], f["other_trainee"]["user_id"]) for f in flags] == [
        ("proxy_suspected", second_id, first_id)]
    regulator = api(demo["accounts"][1]["username"])
    assert len(regulator.get("/face-flags").get_json()["flags"]) == 1
    assert second.get("/face-flags").status_code == 403
    # a different face enrols fine
    assert post_image(second, "/me/face", face_file("biden")).status_code == 201


def test_flags_page_for_staff_and_regulator(app, client, demo, trainee):
    first, _ = trainee()
    enrol(first, "alex")
    second, _ = trainee()
    assert post_image(second, "/me/face", face_file("alex_test")).status_code == 409
    client.post("/login", data={"username": demo["accounts"][0]["username"], "password": "Demo1234"})
    page = client.get("/faces/flags").get_data(as_text=True)
    assert "疑似代刷" in page and "查看" in page
    client.post("/logout")
    client.post("/login", data={"username": demo["accounts"][1]["username"], "password": "Demo1234"})
    assert "疑似代刷" in client.get("/faces/flags").get_data(as_text=True)


def test_flags_of_other_institutions_are_not_shown(app, api, demo, trainee):
    first, _ = trainee()
    enrol(first, "rose")
    second, _ = trainee()
    assert post_image(second, "/me/face", face_file("rose2")).status_code == 409
    with app.app_context():
        with db.transaction() as s:
            inst = Institution(name="北京另一所职业技能培训学校", region_code="110105")
            s.add(inst)
            s.flush()
            create_user(s, role="staff", name="赵老师", password="Demo1234", phone="13700000001", institution_id=inst.id)
            create_user(s, role="regulator", name="北京科长", password="Demo1234", phone="13700000002", region_code="110000")
    assert api("13700000001").get("/face-flags").get_json()["flags"] == []
    assert api("13700000002").get("/face-flags").get_json()["flags"] == []


def other_institution_staff(app):
    with app.app_context():
        with db.transaction() as s:
            inst = Institution(name="北京另一所职业技能培训学校", region_code="110105")
            s.add(inst)
            s.flush()
            create_user(s, role="staff", name="赵老师", password="Demo1234", phone="13700000001", institution_id=inst.id)
    return "13700000001"


def ledger_payloads(app, kind, uid):
    import json

    with app.app_context():
        return [json.loads(p) for p in db.session.scalars(select(LedgerEntry.payload).where(
            LedgerEntry.kind == kind, LedgerEntry.subject_id == uid).order_by(LedgerEntry.seq))]


def test_re_enrolment_waits_for_review_and_checks_use_the_old_face(app, api, demo, trainee, staff):
    client, uid = trainee()
    first = enrol(client, "obama")
    r = post_image(client, "/me/face", face_file("biden2"))  # somebody else's face: a request, not a replacement
    assert r.status_code == 201, r.get_json()
    change = r.get_json()
    assert change["status"] == "pending" and change["active_enrolment_id"] == first["enrolment_id"]
    assert change["distance_to_active"] > 0.5 and "审核" in change["message"]
    status = client.get("/me/face").get_json()
    assert status["enrolment_id"] == first["enrolment_id"]
    assert status["pending_change"]["enrolment_id"] == change["enrolment_id"]
    # checks are judged against the old face: the enrolled man passes, the new face does not
    check = start(client, demo)["check"]
    assert post_image(client, f"/photo-checks/{check['check_id']}", camera_frame("obama2")).get_json()["verdict"] == "pass"
    assert fail_reason(app, demo, client, camera_frame("biden"))["reason"] == "other_person"
    with app.app_context():
        flag = db.session.scalar(select(FaceFlag))
        assert flag.kind == "face_changed" and flag.trainee_id == uid
    # staff of the trainee's institution see it beside the old face, with the distance
    listed = staff.get("/face-reviews?status=pending").get_json()["changes"]
    assert [(c["enrolment_id"], c["old_enrolment_id"]) for c in listed] == [(change["enrolment_id"], first["enrolment_id"])]
    assert listed[0]["same_person"] is False and listed[0]["distance"] > 0.5 and listed[0]["may_decide"]
    assert listed[0]["photo_id"] and listed[0]["old_photo_id"]
    # refused with a note: the old face stays
    assert staff.post(f"/face-reviews/{change['enrolment_id']}", {"decision": "refuse"}).status_code == 400  # no note
    r = staff.post(f"/face-reviews/{change['enrolment_id']}", {"decision": "refuse", "note": "不是本人"})
    assert r.status_code == 200 and r.get_json()["status"] == "refused"
    assert client.get("/me/face").get_json()["enrolment_id"] == first["enrolment_id"]
    assert client.get("/me/face").get_json()["pending_change"] is None
    assert staff.post(f"/face-reviews/{change['enrolment_id']}", {"decision": "approve", "note": "x"}).status_code == 409
    refused = ledger_payloads(app, "face.change_refused", uid)
    assert refused[0]["enrolment_id"] == change["enrolment_id"] and refused[0]["active_enrolment_id"] == first["enrolment_id"]
    assert refused[0]["distance"] > 0.5 and refused[0]["note"] == "不是本人" and refused[0]["reviewer_role"] == "staff"
    # a new photo of the same man, approved: it becomes the active face, the old one is replaced
    again = post_image(client, "/me/face", face_file("obama")).get_json()
    r = post_image(client, "/me/face", face_file("obama2"))  # a newer request withdraws the older
    assert r.status_code == 201, r.get_json()
    newer = r.get_json()
    with app.app_context():
        assert db.session.get(FaceEnrolment, again["enrolment_id"]).status == "withdrawn"
    r = staff.post(f"/face-reviews/{newer['enrolment_id']}", {"decision": "approve", "note": "同一人，照片更清晰"})
    assert r.status_code == 200 and r.get_json()["status"] == "active"
    assert client.get("/me/face").get_json()["enrolment_id"] == newer["enrolment_id"]
    with app.app_context():
        old = db.session.get(FaceEnrolment, first["enrolment_id"])
        assert (old.active, old.status) == (False, "replaced") and old.replaced_at is not None
        assert verify(db.session)["first_bad_seq"] is None
    approved = ledger_payloads(app, "face.change_approved", uid)
    assert approved[0]["enrolment_id"] == newer["enrolment_id"] and approved[0]["active_enrolment_id"] == first["enrolment_id"]
    assert approved[0]["distance"] < 0.5 and approved[0]["same_person"] is True


def test_face_changes_are_decided_only_by_staff_of_the_trainee_or_an_admin(app, api, demo, trainee, staff):
    client, uid = trainee()
    enrol(client, "rose")
    change = post_image(client, "/me/face", face_file("rose2")).get_json()
    path = f"/face-reviews/{change['enrolment_id']}"
    body = {"decision": "approve", "note": "同意"}
    regulator = api(demo["accounts"][1]["username"])
    assert len(regulator.get("/face-reviews").get_json()["changes"]) == 1  # the region's regulator reads ...
    assert regulator.get("/face-reviews").get_json()["changes"][0]["may_decide"] is False
    assert regulator.post(path, body).status_code == 403  # ... but does not decide
    stranger = api(other_institution_staff(app))
    assert stranger.get("/face-reviews").get_json()["changes"] == []
    assert stranger.post(path, body).status_code == 404
    assert client.get("/face-reviews").status_code == 403 and client.post(path, body).status_code == 403
    other, _ = trainee()
    assert other.post(path, body).status_code == 403
    assert api().post(path, body).status_code == 401
    assert client.get("/me/face").get_json()["pending_change"]["enrolment_id"] == change["enrolment_id"]  # untouched
    assert staff.post(path, ["approve"]).status_code == 400  # not an object
    assert staff.post(path, {"decision": "approve", "note": 5}).status_code == 400  # a note is text
    assert staff.post(path, {"decision": "maybe", "note": "?"}).status_code == 400
    admin = api(demo["accounts"][2]["username"])
    assert admin.post(path, body).status_code == 200
    assert client.get("/me/face").get_json()["enrolment_id"] == change["enrolment_id"]
    assert ledger_payloads(app, "face.change_approved", uid)[0]["reviewer_role"] == "admin"


def test_a_change_to_a_face_another_account_has_since_enrolled_cannot_be_approved(app, trainee, staff):
    b, _b_id = trainee()
    enrol(b, "biden")
    change = post_image(b, "/me/face", face_file("obama")).get_json()
    assert change["status"] == "pending"
    a, _a_id = trainee()
    enrol(a, "obama2")  # a pending face is nobody's yet: another account may enrol it meanwhile
    r = staff.post(f"/face-reviews/{change['enrolment_id']}", {"decision": "approve", "note": "同意"})
    assert r.status_code == 409 and error_code(r) == "face_already_enrolled"
    assert b.get("/me/face").get_json()["pending_change"]["enrolment_id"] == change["enrolment_id"]  # still pending


def test_review_page_shows_old_and_new_photo_and_decides(app, client, demo, trainee):
    tc, uid = trainee()
    first = enrol(tc, "obama")
    change = post_image(tc, "/me/face", face_file("biden2")).get_json()
    client.post("/login", data={"username": demo["accounts"][3]["username"], "password": "Demo1234"})
    assert client.get("/faces/reviews").status_code == 403  # a trainee
    client.post("/logout")
    client.post("/login", data={"username": demo["accounts"][1]["username"], "password": "Demo1234"})
    page = client.get("/faces/reviews").get_data(as_text=True)
    assert "与原登记人脸不符" in page and "同意更换" not in page  # the regulator reads only
    assert client.post(f"/faces/reviews/{change['enrolment_id']}", data={"decision": "approve", "note": "x"}).status_code == 403
    client.post("/logout")
    client.post("/login", data={"username": demo["accounts"][0]["username"], "password": "Demo1234"})
    page = client.get("/faces/reviews").get_data(as_text=True)
    with app.app_context():
        old_photo = db.session.get(FaceEnrolment, first["enrolment_id"]).photo_id
        new_photo = db.session.get(FaceEnrolment, change["enrolment_id"]).photo_id
    assert f"/faces/photos/{old_photo}" in page and f"/faces/photos/{new_photo}" in page
    assert "与原登记人脸不符" in page and "同意更换" in page and "人脸距离" in page
    assert client.get(f"/faces/photos/{new_photo}").status_code == 200  # viewed through the logged route
    assert ledger_payloads(app, "photo.viewed", uid)[-1]["photo_id"] == new_photo
    r = client.post(f"/faces/reviews/{change['enrolment_id']}", data={"decision": "refuse", "note": ""})
    assert r.status_code == 400 and "请填写审核意见" in r.get_data(as_text=True)
    r = client.post(f"/faces/reviews/{change['enrolment_id']}", data={"decision": "refuse", "note": "不是本人"})
    assert r.status_code == 302
    assert "未同意" in client.get("/faces/reviews").get_data(as_text=True)
    # the trainee's page says what is pending, and then nothing
    tc2 = post_image(tc, "/me/face", face_file("obama2")).get_json()
    assert tc2["status"] == "pending"


def test_enrolment_page_says_a_change_awaits_review(app, client, trainee):
    tc, uid = trainee()
    enrol(tc, "obama")
    assert "更换人脸须经您所在培训机构审核" in page_of(app, client, uid)
    post_image(tc, "/me/face", face_file("obama2"))
    page = page_of(app, client, uid)
    assert "等待您所在培训机构审核" in page and "仍与原登记的人脸比对" in page


def page_of(app, client, uid):
    """The trainee's enrolment page, signed in (register_payload's password)."""
    client.post("/logout")
    with app.app_context():
        phone = db.session.get(User, uid).phone
    client.post("/login", data={"username": phone, "password": register_payload()["password"]})
    return client.get("/faces/enrol").get_data(as_text=True)


def test_the_source_a_client_claims_decides_nothing(app, client, demo, trainee):
    """The server cannot tell an upload from a camera photo: a claimed source=camera is not believed, the
    institution's camera-only choice is the page's (no upload offered) and says so; what is recorded is what the
    server knows (token or signed-in page) and the camera label the client reported."""
    client.post("/login", data={"username": demo["accounts"][0]["username"], "password": "Demo1234"})
    assert client.post("/faces/flags", data={"allow_upload": "0"}).status_code == 302
    page = client.get("/faces/flags").get_data(as_text=True)
    assert "服务器无法确认照片是否由摄像头现场拍摄" in page and "只提供摄像头拍摄" in page
    tc, uid = trainee()
    assert tc.get("/me/face").get_json()["upload_allowed"] is False
    r = post_image(tc, "/me/face", face_file("obama"), source="camera")
    assert r.status_code == 201 and r.get_json()["source"] == "api"
    with app.app_context():
        enrolment = db.session.scalar(select(FaceEnrolment).where(FaceEnrolment.trainee_id == uid))
        assert enrolment.source == "api" and enrolment.photo.camera_label is None
    assert '"source":"api"' in ledger_payloads_raw(app, "face.enrolled", uid)


def ledger_payloads_raw(app, kind, uid):
    with app.app_context():
        return db.session.scalar(select(LedgerEntry.payload).where(LedgerEntry.kind == kind, LedgerEntry.subject_id == uid))


# --- camera labels -------------------------------------------------------------------------------------------

def test_a_virtual_camera_is_refused_at_enrolment(app, trainee):
    client, uid = trainee()
    r = post_image(client, "/me/face", face_file("obama"), camera_label="OBS Virtual Camera")
    assert r.status_code == 422 and error_code(r) == "virtual_camera" and "虚拟摄像头" in r.get_json()["error"]["message"]
    assert client.get("/me/face").get_json()["enrolled"] is False
    body = enrol_with_label(client, "obama", "Integrated Camera (04f2:b6dd)")
    assert body["camera_label"] == "Integrated Camera (04f2:b6dd)"
    with app.app_context():
        assert db.session.get(FaceEnrolment, body["enrolment_id"]).photo.camera_label == "Integrated Camera (04f2:b6dd)"
    assert client.get("/me/face").get_json()["camera_label"] == "Integrated Camera (04f2:b6dd)"


def enrol_with_label(client, name, label):
    r = post_image(client, "/me/face", face_file(name), camera_label=label)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_a_photo_check_from_a_virtual_camera_fails_with_its_own_reason_and_the_label_is_evidence(app, demo, trainee):
    client, uid = trainee()
    enrol(client, "obama")
    check = start(client, demo)["check"]
    r = post_image(client, f"/photo-checks/{check['check_id']}", camera_frame("obama2"), camera_label="OBS Virtual Camera")
    body = r.get_json()
    assert r.status_code == 200 and (body["verdict"], body["reason"]) == ("fail", "virtual_camera")
    assert "虚拟摄像头" in body["message"] and body["camera_label"] == "OBS Virtual Camera"
    with app.app_context():
        s = db.session
        assert s.get(SessionCheck, check["check_id"]).reason == "virtual_camera"
        photo = s.scalar(select(FacePhoto).where(FacePhoto.check_id == check["check_id"]))
        assert photo.camera_label == "OBS Virtual Camera"
    failed = ledger_payloads(app, "check.failed", uid)[-1]
    assert failed["reason"] == "virtual_camera" and failed["camera_label"] == "OBS Virtual Camera"
    # Chromium's fake device (and any real webcam) passes, its label kept with the photo and in the ledger
    check = start(client, demo)["check"]
    body = post_image(client, f"/photo-checks/{check['check_id']}", camera_frame("obama3"), camera_label="fake_device_0").get_json()
    assert body["verdict"] == "pass", body
    with app.app_context():
        assert db.session.scalar(select(FacePhoto.camera_label).where(FacePhoto.check_id == check["check_id"])) == "fake_device_0"
    passed = ledger_payloads(app, "check.passed", uid)[-1]
    assert passed["camera_label"] == "fake_device_0" and passed["check_id"] == check["check_id"]


def test_only_trainees_enrol(api, demo, staff):
    assert post_image(staff, "/me/face", face_file("obama")).status_code == 403
    assert post_image(api(), "/me/face", face_file("obama")).status_code == 401


# --- photo checks --------------------------------------------------------------------------------------------

def test_sign_in_passes_with_the_same_person_and_the_ledger_has_the_verdict(app, demo, trainee):
    client, uid = trainee()
    enrol(client, "obama")
    session = start(client, demo)
    check = session["check"]
    assert check["kind"] == "photo_signin"
    r = post_image(client, f"/photo-checks/{check['check_id']}", camera_frame("obama2"))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["verdict"], body["reason"]) == ("pass", None) and body["distance"] < 0.5
    with app.app_context():
        s = db.session
        row = s.get(SessionCheck, check["check_id"])
        assert row.status == "passed" and row.photo_sha256 == body["photo_sha256"] and row.photo_file
        assert s.get(LearningSession, session["session_id"]).blocked_since is None
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "check.passed", LedgerEntry.subject_id == uid))
        assert body["photo_sha256"] in entry.payload and '"distance":' in entry.payload
    # answered once: a second photo for it is a conflict
    again = post_image(client, f"/photo-checks/{check['check_id']}", camera_frame("obama3"))
    assert again.status_code == 409 and error_code(again) == "check_not_pending"


def fail_reason(app, demo, client, data):
    session = start(client, demo)
    r = post_image(client, f"/photo-checks/{session['check']['check_id']}", data)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["verdict"] == "fail"
    with app.app_context():
        s = db.session
        row = s.get(SessionCheck, session["check"]["check_id"])
        assert (row.status, row.reason) == ("failed", body["reason"])
        assert s.get(LearningSession, session["session_id"]).block_reason == "failed_photo"
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "check.failed").order_by(LedgerEntry.seq.desc()))
        assert body["reason"] in entry.payload
    return body


def test_another_person_fails_the_sign_in(app, demo, trainee):
    client, _ = trainee()
    enrol(client, "obama")
    body = fail_reason(app, demo, client, camera_frame("biden"))
    assert body["reason"] == "other_person" and body["distance"] > 0.5 and "不符" in body["message"]


@pytest.mark.parametrize("make,reason", [(no_face_photo, "no_face"), (lambda: face_file("two_people"), "several_faces"),
                                         (lambda: darkened("obama2"), "too_dark")])
def test_unusable_check_photos_fail_with_their_reason(app, demo, trainee, make, reason):
    client, _ = trainee()
    enrol(client, "obama")
    assert fail_reason(app, demo, client, make())["reason"] == reason


def test_a_replayed_photo_fails(app, demo, trainee):
    client, _ = trainee()
    enrol(client, "obama")
    session = start(client, demo)
    frame = camera_frame("obama2")
    assert post_image(client, f"/photo-checks/{session['check']['check_id']}", frame).get_json()["verdict"] == "pass"
    # the next check (a new session's sign-in) answered with the very same picture
    assert fail_reason(app, demo, client, frame)["reason"] == "replayed"
    # ... or the enrolment photo itself
    assert fail_reason(app, demo, client, face_file("obama"))["reason"] == "replayed"
    # ... or a re-encoded copy of the earlier frame
    assert fail_reason(app, demo, client, camera_frame("obama2", quality=70))["reason"] == "replayed"


def live_frames(name, count=4, seed=1):
    """A burst from a live camera (tests/bursts.py): own noise per frame, the face moving against the background."""
    frame = faces.pad_to(pixels(name))
    return [bursts.jpeg_bytes(f) for f in bursts.live_burst(frame, faces.detect(frame)[0], np.random.default_rng(seed),
                                                            count=count)]


def post_burst(client, check_id, image, frames, field="frames"):
    headers = {"Authorization": f"Bearer {client.token}"}
    data = {"image": [(io.BytesIO(image), "p.jpg")] + ([(io.BytesIO(f), f"f{i}.jpg") for i, f in enumerate(frames)]
                                                       if field == "image" else [])}
    if field == "frames":
        data["frames"] = [(io.BytesIO(f), f"f{i}.jpg") for i, f in enumerate(frames)]
    return client.client.post(f"/api/v1/photo-checks/{check_id}", headers=headers, content_type="multipart/form-data",
                              data=data)


def test_a_still_burst_fails_with_its_own_reason(app, demo, trainee):
    client, _ = trainee()
    enrol(client, "obama")
    session = start(client, demo)
    frame = camera_frame("obama2")
    r = post_burst(client, session["check"]["check_id"], frame, [camera_frame("obama2", q) for q in (80, 60, 40)])
    body = r.get_json()
    assert (body["verdict"], body["reason"]) == ("fail", "still_image"), body
    assert "摄像头" in body["message"] and "翻拍" not in body["message"]
    assert len(body["burst_motion"]) == 3 and max(body["burst_motion"]) < faces.STILL_MOTION
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "check.failed")
                                  .order_by(LedgerEntry.seq.desc()))
        assert "still_image" in entry.payload and "burst_motion" in entry.payload


@pytest.mark.parametrize("field", ["frames", "image"])
def test_a_live_burst_resembling_an_earlier_photo_passes(app, demo, trainee, field):
    """A person sitting still before a fixed webcam: each photo within REPLAY_BITS of the one before."""
    client, _ = trainee()
    enrol(client, "obama")
    session = start(client, demo)
    earlier = live_frames("obama2", seed=1)
    assert post_image(client, f"/photo-checks/{session['check']['check_id']}", earlier[0]).get_json()["verdict"] == "pass"
    frames = live_frames("obama2", seed=2)
    check_id = open_random_check(app, session["session_id"])
    body = post_burst(client, check_id, frames[0], frames[1:], field).get_json()
    assert (body["verdict"], body["reason"]) == ("pass", None), body
    assert min(body["burst_motion"]) >= 0 and max(body["burst_motion"]) >= faces.STILL_MOTION
    # the same picture alone is refused as a near copy, with a message that says what to do, not an accusation
    body = post_image(client, f"/photo-checks/{open_random_check(app, session['session_id'])}", frames[1]).get_json()
    assert (body["verdict"], body["reason"]) == ("fail", "replayed")
    assert "翻拍" not in body["message"] and "重新拍照" in body["message"]


def test_a_trainee_without_an_enrolled_face_fails_as_not_enrolled(app, demo, trainee):
    client, _ = trainee()
    assert fail_reason(app, demo, client, camera_frame("obama2"))["reason"] == "not_enrolled"


def test_a_photo_after_the_deadline_is_a_miss(app, demo, trainee):
    client, _ = trainee()
    enrol(client, "obama")
    session = start(client, demo)
    with app.app_context():
        with db.transaction() as s:
            s.get(SessionCheck, session["check"]["check_id"]).deadline_ts -= 3600
    body = post_image(client, f"/photo-checks/{session['check']['check_id']}", camera_frame("obama2")).get_json()
    assert (body["verdict"], body["reason"], body["status"]) == ("fail", "deadline_missed", "missed")


def test_check_detail_says_whether_liveness_is_needed(app, demo, trainee):
    client, _ = trainee()
    check = start(client, demo)["check"]
    detail = client.get(f"/photo-checks/{check['check_id']}").get_json()
    assert (detail["status"], detail["kind"], detail["liveness"]) == ("pending", "photo_signin", False)
    with app.app_context():
        with db.transaction() as s:
            from models import TrainingClass
            s.get(TrainingClass, demo["classes"][0]["class_id"]).liveness = True
    assert client.get(f"/photo-checks/{check['check_id']}").get_json()["liveness"] is True


def test_liveness_sign_in_fails_without_a_blink(app, demo, trainee):
    client, _ = trainee()
    enrol(client, "obama")
    with app.app_context():
        with db.transaction() as s:
            from models import TrainingClass
            s.get(TrainingClass, demo["classes"][0]["class_id"]).liveness = True
    check = start(client, demo)["check"]
    frames = live_frames("obama2")
    body = post_burst(client, check["check_id"], frames[0], frames[1:]).get_json()
    assert (body["verdict"], body["reason"]) == ("fail", "no_blink")
    assert len(body["eye_aspect_ratios"]) == 3
    # the retry after a failed sign-in wants the blink too (a still photo would do otherwise) ...
    session_id = db_session_of(app, check["check_id"])
    retry = open_random_check(app, session_id)
    assert client.get(f"/photo-checks/{retry}").get_json()["liveness"] is True
    body = post_image(client, f"/photo-checks/{retry}", camera_frame("obama3")).get_json()
    assert body["reason"] == "liveness_frames"  # ... and without the burst the page is told what is missing
    # once a photo of the session has passed, later random checks are plain photos
    with app.app_context():
        with db.transaction() as s:
            s.get(SessionCheck, retry).status = "passed"
    assert client.get(f"/photo-checks/{open_random_check(app, session_id)}").get_json()["liveness"] is False


def db_session_of(app, check_id):
    with app.app_context():
        return db.session.get(SessionCheck, check_id).session_id


def open_random_check(app, session_id):
    from tracker.learning import checks, sessions

    with app.app_context():
        with db.transaction() as s:
            sess = s.get(LearningSession, session_id)
            sess.pending_check_id = None
            return checks.open_check(s, sess, checks.PHOTO_RANDOM, sessions.server_now()).id


def test_checks_of_others_and_by_other_roles_are_refused(app, api, demo, trainee, staff):
    owner, _ = trainee()
    enrol(owner, "obama")
    check = start(owner, demo)["check"]
    other, _ = trainee()
    path = f"/photo-checks/{check['check_id']}"
    assert post_image(other, path, camera_frame("obama2")).status_code == 404
    assert other.get(path).status_code == 404
    assert post_image(staff, path, camera_frame("obama2")).status_code == 403
    assert post_image(api(), path, camera_frame("obama2")).status_code == 401
    assert post_image(owner, "/photo-checks/999999", camera_frame("obama2")).status_code == 404
    assert post_image(owner, path, None).status_code == 400
    with app.app_context():
        assert db.session.get(SessionCheck, check["check_id"]).status == "pending"  # none of that touched it


def test_photos_are_decrypted_only_for_those_who_may_see_them(app, api, demo, trainee, staff, client):
    owner, _ = trainee()
    enrol(owner, "obama")
    check = start(owner, demo)["check"]
    frame = camera_frame("obama2")
    post_image(owner, f"/photo-checks/{check['check_id']}", frame)
    with app.app_context():
        photo_id = db.session.scalar(select(FacePhoto.id).where(FacePhoto.check_id == check["check_id"]))
    url = f"/faces/photos/{photo_id}"

    def fetch(who):
        return client.get(url, headers={"Authorization": f"Bearer {who.token}"} if who and who.token else {})
    r = fetch(owner)
    assert r.status_code == 200 and r.data == frame and r.mimetype == "image/jpeg"
    assert "no-store" in r.headers["Cache-Control"]
    assert fetch(staff).data == frame
    assert fetch(api(demo["accounts"][1]["username"])).data == frame  # the region's regulator
    other, _ = trainee()
    assert fetch(other).status_code == 404
    assert fetch(None).status_code == 401


# --- the worker pool -----------------------------------------------------------------------------------------

def test_the_route_judges_faces_in_worker_processes(app, demo, trainee):
    client, _ = trainee()
    enrol(client, "obama")
    pool = pool_for(app.config)
    workers = [p.pid for p in pool._executor._processes.values()]
    assert workers and os.getpid() not in workers


def test_a_full_queue_is_retried_not_dropped():
    pool = FacePool(workers=1, queue_size=1, wait=30, nice=0)
    try:
        results, errors = [], []

        def job():
            try:
                results.append(pool.run(time.sleep, 0.2))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=job) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == [] and len(results) == 4
        assert pool.retries > 0  # some found the queue full, backed off and tried again
    finally:
        pool.shutdown()


def test_a_queue_that_stays_full_gives_up_with_busy(app, demo, trainee):
    pool = FacePool(workers=1, queue_size=1, wait=0.2, nice=0)
    try:
        first = pool.submit(time.sleep, 1.5)
        with pytest.raises(FaceBusy):
            pool.submit(time.sleep, 0)
        first.result(10)
    finally:
        pool.shutdown()


def test_busy_face_workers_answer_503(app, demo, trainee, monkeypatch):
    client, _ = trainee()

    def busy(*_a):
        raise FaceBusy()
    monkeypatch.setattr(services, "pool_for", lambda _cfg: type("P", (), {"run": staticmethod(busy)})())
    r = post_image(client, "/me/face", face_file("obama"))
    assert r.status_code == 503 and error_code(r) == "face_busy"


# --- retention -----------------------------------------------------------------------------------------------

def test_photos_past_retention_are_purged_and_their_hashes_stay(app, demo, trainee, runner):
    client, uid = trainee()
    enrol(client, "obama")
    check = start(client, demo)["check"]
    body = post_image(client, f"/photo-checks/{check['check_id']}", camera_frame("obama2")).get_json()
    photos = Path(app.config["TRACKER_INSTANCE"]) / "photos"
    with app.app_context():
        with db.transaction() as s:
            for photo in s.scalars(select(FacePhoto)):
                photo.created_at = photo.created_at.replace(year=photo.created_at.year - 4)
    assert "would delete 1 photo" in runner.invoke(args=["faces", "purge", "--dry-run"]).output
    assert "deleted 1 photo" in runner.invoke(args=["faces", "purge"]).output
    with app.app_context():
        s = db.session
        check_photo = s.scalar(select(FacePhoto).where(FacePhoto.check_id == check["check_id"]))
        assert check_photo.file is None and check_photo.sha256 == body["photo_sha256"]
        assert s.get(SessionCheck, check["check_id"]).photo_file is None
        assert s.get(SessionCheck, check["check_id"]).photo_sha256 == body["photo_sha256"]
        enrolment_photo = s.scalar(select(FacePhoto).where(FacePhoto.purpose == "enrolment"))
        assert enrolment_photo.file is not None  # the active enrolment's photo is kept
        assert len([p for p in photos.rglob("*.fernet")]) == 1
        assert s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "photos.purged")) is not None
        assert verify(s)["first_bad_seq"] is None
    # the replay check still knows the purged photo
    check = start(client, demo)["check"]
    assert post_image(client, f"/photo-checks/{check['check_id']}", camera_frame("obama2")).get_json()["reason"] == "replayed"
