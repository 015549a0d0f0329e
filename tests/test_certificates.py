"""Certificates (培训证明): eligibility, issue and refusal, who may do what, the signed document, tampering, the PDF and
`tracker cert verify`, revocation, the public verification page and the learning record PDF."""
import base64
import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from models import Certificate, ChapterProgress, Institution, LedgerEntry, TrainingClass, User
from tracker.accounts.services import create_user
from tracker.certificates import numbers, rules, services
from tracker.extensions import db
from tracker.ledger import keys, offline

from tests.conftest import make_id_number


def credit(trainee_id, chapters, share=1.0):
    """Credited time as the heartbeat stream leaves it (ChapterProgress rows): crediting itself is tested with real
    heartbeats in test_crediting and test_sessions_*; here only what a certificate reads from it matters."""
    with db.transaction() as s:
        for ch in chapters:
            row = s.get(ChapterProgress, (trainee_id, ch["chapter_id"]))
            if row is None:
                row = ChapterProgress(trainee_id=trainee_id, chapter_id=ch["chapter_id"], credited_seconds=0.0)
                s.add(row)
            row.credited_seconds = ch["seconds"] * share


@pytest.fixture(autouse=True)
def hours_only(app, monkeypatch):
    """The certificate's own requirements (roster and hours); the quizzes and the exam that the assessment
    feature adds are tested in test_assessment_requirements.py."""
    monkeypatch.setattr(rules, "REQUIREMENTS", [(c, f) for c, f in rules.REQUIREMENTS if c in ("enrolled", "online_hours")])


@pytest.fixture
def world(app, demo):
    accounts = {}
    for a in demo["accounts"]:
        accounts.setdefault(a["role"], []).append(a)
    cls = demo["classes"][0]
    with app.app_context(), db.transaction() as s:
        inst = Institution(name="深圳市另一所培训学校", region_code="440300")
        s.add(inst)
        s.flush()
        create_user(s, role="staff", name="外校老师", password="Demo1234", phone="13911110001", institution_id=inst.id)
        create_user(s, role="regulator", name="外地科长", password="Demo1234", phone="13911110002", region_code="440000")
        create_user(s, role="trainee", name="外校学员", password="Demo1234", phone="13911110003",
                    id_number=make_id_number(region="440300"), category="企业职工", employer="某企业")
    return {"class_id": cls["class_id"], "chapters": cls["chapters"], "trainee": accounts["trainee"][0],
            "trainee2": accounts["trainee"][1], "staff": accounts["staff"][0], "regulator": accounts["regulator"][0],
            "admin": accounts["admin"][0], "other_staff": "13911110001", "other_regulator": "13911110002",
            "other_trainee": "13911110003"}


def issue(api, world, who="staff", trainee="trainee"):
    user = world[who] if isinstance(world[who], str) else world[who]["username"]
    return api(user).post(f"/classes/{world['class_id']}/certificates", {"trainee_id": world[trainee]["user_id"]})


def public_key(client):
    return offline.load_public_key(client.get("/api/v1/ledger/public-key").get_json()["public_key"])


@pytest.fixture
def issued(world, api):
    credit(world["trainee"]["user_id"], world["chapters"])
    r = issue(api, world)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def entries(kind):
    with db.transaction() as s:
        return s.scalars(select(LedgerEntry).where(LedgerEntry.kind == kind)).all()


# --- eligibility -----------------------------------------------------------------------------------------------------

def test_eligibility_says_what_is_met_and_missing(world, app):
    with db.transaction() as s:
        cls = s.get(TrainingClass, world["class_id"])
        trainee = s.get(User, world["trainee"]["user_id"])
        outsider = s.scalar(select(User).where(User.phone == world["other_trainee"]))
        e = rules.eligibility(s, trainee, cls)
        assert not e["eligible"] and [m["code"] for m in e["missing"]] == ["online_hours"]
        assert [m["code"] for m in e["met"]] == ["enrolled"]
        assert "0.12 课时" in e["missing"][0]["message"] and "95%" in e["missing"][0]["message"]
        e = rules.eligibility(s, outsider, cls)
        assert {m["code"] for m in e["missing"]} == {"enrolled", "online_hours"}
    credit(world["trainee"]["user_id"], world["chapters"], share=0.94)
    with db.transaction() as s:
        assert not rules.eligibility(s, s.get(User, world["trainee"]["user_id"]), s.get(TrainingClass, world["class_id"]))["eligible"]
    credit(world["trainee"]["user_id"], world["chapters"], share=0.95)  # 003 art. 10: at least 95% of the hours
    with db.transaction() as s:
        e = rules.eligibility(s, s.get(User, world["trainee"]["user_id"]), s.get(TrainingClass, world["class_id"]))
        assert e["eligible"] and e["facts"]["online"]["credited_seconds"] == int(330 * 0.95)


def test_a_registered_requirement_is_checked_and_its_facts_reach_the_certificate(world, api, monkeypatch):
    """The hook the assessment feature uses for its final exam."""
    monkeypatch.setattr(rules, "REQUIREMENTS", list(rules.REQUIREMENTS))
    passed = {"value": False}

    @rules.requirement("exam_passed")
    def exam(s, trainee, cls):
        return rules.Requirement("exam_passed", "结业考试合格", passed["value"], required=60, actual=80 if passed["value"] else 40,
                                 message="结业考试成绩 40 分，未达 60 分" if not passed["value"] else "",
                                 facts={"exam": {"score": 80, "max_score": 100}} if passed["value"] else {})

    credit(world["trainee"]["user_id"], world["chapters"])
    r = issue(api, world)
    assert r.status_code == 409 and [m["code"] for m in r.get_json()["error"]["missing"]] == ["exam_passed"]
    passed["value"] = True
    r = issue(api, world)
    assert r.status_code == 201
    facts = r.get_json()["document"]["facts"]
    assert facts["exam"] == {"score": 80, "max_score": 100} and "exam_passed" in facts["requirements"]


# --- issue and refusal ---------------------------------------------------------------------------------------------

def test_issue_is_refused_with_what_is_missing(world, api):
    before = len(entries("certificate.issued"))
    r = issue(api, world)
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "not_eligible" and "线上有效学时" in err["message"]
    assert [m["code"] for m in err["missing"]] == ["online_hours"]
    assert len(entries("certificate.issued")) == before
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Certificate)) == 0


def test_an_issued_certificate_states_the_facts_and_verifies_offline(world, issued, client):
    doc, number = issued["document"], issued["number"]
    assert re.fullmatch(r"\d{4}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", number)
    facts = doc["facts"]
    assert facts["number"] == number and facts["document"] == "职业技能线上培训证明"
    assert facts["trainee"]["name"] == "张伟" and facts["trainee"]["category"] == "企业职工"
    assert facts["trainee"]["id_mask"] == world["trainee"]["id_number"][:6] + "********" + world["trainee"]["id_number"][-4:]
    assert world["trainee"]["id_number"] not in json.dumps(doc)
    assert facts["institution"]["name"] == "呼和浩特市示范职业技能培训学校"
    assert facts["class"]["class_id"] == world["class_id"]
    assert facts["courses"][0]["credited_seconds"] == 330 and facts["courses"][0]["credited_class_hours"] == 0.12
    assert facts["online"]["credited_seconds"] == 330 and facts["photo_checks_passed"] == 0 and facts["exam"] is None
    # the issue entry holds exactly the facts; the checkpoint made right after it includes it
    (entry,) = entries("certificate.issued")
    assert json.loads(entry.payload) == facts and doc["proof"]["entry"]["seq"] == entry.seq
    assert doc["checkpoint"]["tree_size"] >= entry.seq
    _, checks = offline.verify_certificate(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
                                           public_key(client))
    assert all(ok for _l, ok, _d in checks) and len(checks) == 5, checks


def test_numbers_are_not_sequential_and_one_certificate_per_class(world, issued, api):
    credit(world["trainee2"]["user_id"], world["chapters"])
    second = issue(api, world, trainee="trainee2").get_json()
    assert second["number"][:5] == issued["number"][:5] and second["number"] != issued["number"]
    assert numbers.parse(second["number"]) == (second["number"], numbers.OK)
    again = issue(api, world)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_issued"


def test_who_may_issue_and_see_certificates(world, issued, api):
    credit(world["trainee2"]["user_id"], world["chapters"])
    for who in ("other_staff", "trainee", "regulator"):
        r = issue(api, world, who=who, trainee="trainee2")
        assert r.status_code == 403, who
    number = issued["number"]
    for who in ("trainee", "staff", "regulator", "admin"):
        assert api(world[who]["username"]).get(f"/certificates/{number}").status_code == 200, who
    for who in ("trainee2", "other_staff", "other_regulator", "other_trainee"):
        user = world[who] if isinstance(world[who], str) else world[who]["username"]
        assert api(user).get(f"/certificates/{number}").status_code == 403, who
    assert api().get(f"/certificates/{number}").status_code == 401
    assert api(world["other_staff"]).get(f"/classes/{world['class_id']}/trainees/{world['trainee']['user_id']}/eligibility").status_code == 403


# --- tampering ------------------------------------------------------------------------------------------------------

def test_any_changed_byte_of_a_certificate_is_found(issued, client):
    key = public_key(client)
    data = json.dumps(issued["document"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert all(ok for _l, ok, _d in offline.verify_certificate(data, key)[1])
    for i in range(len(data)):
        changed = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
        _, checks = offline.verify_certificate(changed, key)
        assert not all(ok for _l, ok, _d in checks), (i, data[max(0, i - 20):i + 20])
    # a re-signed document with another key fails with the platform's key
    doc = json.loads(data)
    doc["signature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(offline.certificate_signed_bytes(doc))).decode()
    _, checks = offline.verify_certificate(json.dumps(doc).encode(), key)
    assert not all(ok for _l, ok, _d in checks)


def test_facts_changed_and_re_signed_still_fail_against_the_ledger_entry(issued, client, app):
    """Even the platform's own key cannot make changed facts pass: the entry in the proof still says otherwise."""
    doc = issued["document"]
    doc["facts"]["online"]["credited_class_hours"] = 40
    doc["signature"] = keys.sign(offline.certificate_signed_bytes(doc), app.instance_path)
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    _, checks = offline.verify_certificate(data, public_key(client))
    assert [label for label, ok, _d in checks if not ok] == ["证明内容与台账条目一致"]


# --- PDF and tracker cert verify ------------------------------------------------------------------------------------

def login(client, username, password="Demo1234"):
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code == 302, r.data[:300]


def test_the_pdf_verifies_and_a_changed_byte_of_its_facts_does_not(world, issued, client, runner, tmp_path):
    login(client, world["staff"]["username"])
    r = client.get(f"/certificates/{issued['number']}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert b"WenQuanYiZenHei" in r.data  # the Chinese TrueType font is embedded
    pdf_file = tmp_path / "cert.pdf"
    pdf_file.write_bytes(r.data)
    ok = runner.invoke(args=["cert", "verify", str(pdf_file)])
    assert ok.exit_code == 0, ok.output
    assert "genuine" in ok.output and issued["number"] in ok.output
    # change one byte of the facts inside the embedded JSON: 0.12 class hours become 0.13
    embedded = offline.pdf_certificate_bytes(r.data)
    assert b'"credited_class_hours":0.12' in embedded
    changed = embedded.replace(b'"credited_class_hours":0.12', b'"credited_class_hours":0.13', 1)
    forged = r.data.replace(base64.b64encode(embedded), base64.b64encode(changed))
    (tmp_path / "forged.pdf").write_bytes(forged)
    bad = runner.invoke(args=["cert", "verify", str(tmp_path / "forged.pdf")])
    assert bad.exit_code == 1 and "NOT GENUINE" in bad.output and "✗ 平台签名" in bad.output
    # and a changed byte of the embedded data itself
    marker = r.data.index(offline.PDF_MARKER) + len(offline.PDF_MARKER) + 100
    flipped = r.data[:marker] + bytes([r.data[marker] ^ 0x01]) + r.data[marker + 1:]
    (tmp_path / "flipped.pdf").write_bytes(flipped)
    assert runner.invoke(args=["cert", "verify", str(tmp_path / "flipped.pdf")]).exit_code == 1


def test_cert_verify_of_the_json_with_the_published_key_only(world, issued, client, runner, tmp_path):
    login(client, world["trainee"]["username"])
    r = client.get(f"/certificates/{issued['number']}/json")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    (tmp_path / "cert.json").write_bytes(r.data)
    (tmp_path / "key.json").write_bytes(client.get("/api/v1/ledger/public-key").data)
    out = runner.invoke(args=["cert", "verify", str(tmp_path / "cert.json"), "--public-key", str(tmp_path / "key.json")])
    assert out.exit_code == 0, out.output
    wrong = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    out = runner.invoke(args=["cert", "verify", str(tmp_path / "cert.json"), "--public-key", wrong])
    assert out.exit_code == 1
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.4 nothing here")
    assert runner.invoke(args=["cert", "verify", str(tmp_path / "junk.pdf")]).exit_code == 1


# --- revocation and the public page ------------------------------------------------------------------------------

def test_the_public_page_shows_a_valid_certificate_with_the_id_masked(world, issued, client):
    r = client.get(f"/verify/{issued['number']}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-status="valid"' in html and "张*" in html and "张伟" not in html
    assert world["trainee"]["id_number"][:6] + "********" in html and world["trainee"]["id_number"] not in html
    assert html.count('class="ok"') == 8 and 'class="bad"' not in html
    assert client.get("/verify/2026-9999-00001").status_code == 404
    assert client.get("/verify?number=" + issued["number"]).headers["Location"].endswith(f"/verify/{issued['number']}")
    typed = issued["number"].lower().replace("-", " ")
    assert client.get("/verify", query_string={"number": typed}).headers["Location"].endswith(f"/verify/{issued['number']}")
    status = client.get(f"/api/v1/verify/{issued['number']}").get_json()
    assert status["valid"] and not status["revoked"] and status["summary"]["id_mask"] == issued["document"]["facts"]["trainee"]["id_mask"]
    assert status["summary"]["name"] == "张*" and status["summary"]["status"] == "valid"


def test_revocation_with_a_reason_shows_on_the_page(world, issued, api, client, runner, tmp_path):
    number = issued["number"]
    assert api(world["other_staff"]).post(f"/certificates/{number}/revoke", {"reason": "冒名"}).status_code == 403
    assert api(world["trainee"]["username"]).post(f"/certificates/{number}/revoke", {"reason": "x"}).status_code == 403
    assert api(world["staff"]["username"]).post(f"/certificates/{number}/revoke", {"reason": " "}).status_code == 400
    r = api(world["staff"]["username"]).post(f"/certificates/{number}/revoke", {"reason": "学时记录经核查存在代学"})
    assert r.status_code == 200 and r.get_json()["revoked"]
    assert api(world["admin"]["username"]).post(f"/certificates/{number}/revoke", {"reason": "again"}).status_code == 409
    (entry,) = entries("certificate.revoked")
    assert json.loads(entry.payload)["reason"] == "学时记录经核查存在代学"
    html = client.get(f"/verify/{number}").get_data(as_text=True)
    # the public sees that and when it was revoked; the reason is for the institution and regulators
    assert 'data-status="revoked"' in html and 'id="revoked-at"' in html and "学时记录经核查存在代学" not in html
    status = client.get(f"/api/v1/verify/{number}").get_json()
    assert status["revoked"] and status["summary"]["status"] == "revoked" and status["revocation"]["at"]
    assert "学时记录经核查存在代学" not in json.dumps(status, ensure_ascii=False)
    (tmp_path / "cert.json").write_bytes(offline.canonical_json(issued["document"]))
    out = runner.invoke(args=["cert", "verify", str(tmp_path / "cert.json")])
    assert out.exit_code == 2 and "REVOKED" in out.output
    # a new certificate may be issued after a revocation
    again = issue(api, world)
    assert again.status_code == 201 and again.get_json()["number"] != number
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0


# --- pages ------------------------------------------------------------------------------------------------------------

def test_class_page_offers_issue_for_the_eligible_and_says_what_others_miss(world, client):
    credit(world["trainee"]["user_id"], world["chapters"])
    login(client, world["staff"]["username"])
    html = client.get(f"/classes/{world['class_id']}").get_data(as_text=True)
    assert html.count("出具培训证明") == 1 and "未满足：完成规定线上学时" in html
    r = client.post(f"/classes/{world['class_id']}/trainees/{world['trainee']['user_id']}/certificate")
    assert r.status_code == 302 and "/certificates/" in r.headers["Location"]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "下载PDF" in page and "撤销培训证明" in page
    html = client.get(f"/classes/{world['class_id']}").get_data(as_text=True)
    assert re.search(r"\d{4}-[0-9A-Z]{5}-[0-9A-Z]{5}", html) and "出具培训证明" not in html
    refused = client.post(f"/classes/{world['class_id']}/trainees/{world['trainee2']['user_id']}/certificate")
    assert refused.status_code == 409 and "线上有效学时" in refused.get_data(as_text=True)


def test_regulator_sees_status_but_no_issue_button(world, client):
    credit(world["trainee"]["user_id"], world["chapters"])
    login(client, world["regulator"]["username"])
    html = client.get(f"/classes/{world['class_id']}").get_data(as_text=True)
    assert "符合出具条件" in html and "出具培训证明" not in html
    r = client.post(f"/classes/{world['class_id']}/trainees/{world['trainee']['user_id']}/certificate")
    assert r.status_code == 403


def test_trainee_record_page_lists_certificates_and_the_record_pdf(world, issued, client):
    login(client, world["trainee"]["username"])
    html = client.get("/learn/record").get_data(as_text=True)
    assert issued["number"] in html and "下载学习记录（PDF）" in html
    r = client.get(f"/trainees/{world['trainee']['user_id']}/record.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and b"WenQuanYiZenHei" in r.data
    assert client.get(f"/trainees/{world['trainee2']['user_id']}/record.pdf").status_code == 404


@pytest.mark.parametrize("who,status", [("staff", 200), ("regulator", 200), ("admin", 200), ("other_staff", 404),
                                        ("other_regulator", 404)])
def test_who_may_download_a_learning_record(world, client, who, status):
    login(client, world[who] if isinstance(world[who], str) else world[who]["username"])
    assert client.get(f"/trainees/{world['trainee']['user_id']}/record.pdf").status_code == status


# --- numbers and what the public sees (issue 11, part 4) ----------------------------------------------------------


def test_a_number_has_45_random_bits_and_a_check_character_that_catches_typos():
    import random

    rnd = random.Random(7)
    issued_numbers = {numbers.new_number(2026, rnd) for _ in range(2000)}
    assert len(issued_numbers) == 2000
    for number in list(issued_numbers)[:50]:
        assert re.fullmatch(r"2026-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", number)
        assert numbers.parse(number) == (number, numbers.OK)
        # typed from paper: lower case, spaces, no hyphens, O for 0 and I or L for 1
        typed = number.lower().replace("-", " ").replace("0", "o").replace("1", "l")
        assert numbers.parse(typed) == (number, numbers.OK)
        code = number.replace("-", "")[4:]
        for i in range(len(code)):  # every single wrong character is told apart from a wrong number
            for c in numbers.ALPHABET:
                if c != code[i]:
                    assert not numbers.checks(code[:i] + c + code[i + 1:])
    assert numbers.RANDOM_CHARS * 5 >= 40
    assert numbers.parse("2026-0001-00001") == ("2026-0001-00001", numbers.OK)  # issued before: still verifies
    assert numbers.parse("2026 0001 00001") == ("2026-0001-00001", numbers.OK)
    assert numbers.parse("hello")[1] == numbers.MALFORMED and numbers.parse("x" * 100)[1] == numbers.MALFORMED


def test_names_are_masked_after_the_first_character():
    from tracker.certificates.public import mask_name

    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("买买提·艾力") == "买**·**"
    assert mask_name("王") == "*" and mask_name("") == ""


def test_the_public_page_and_api_show_what_they_must_and_no_more(world, issued, client, app):
    with app.app_context():
        db.session.execute(TrainingClass.__table__.update().values(occupation="电工"))
        db.session.commit()
    facts = issued["document"]["facts"]
    typed = issued["number"].lower().replace("-", " ")
    r = client.get(f"/verify/{typed}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    summary = html[html.index('id="summary"'):html.index("</dl>", html.index('id="summary"'))]
    for shown in ("张*", facts["trainee"]["id_mask"], facts["class"]["name"], str(facts["online"]["credited_class_hours"]),
                  issued["number"]):
        assert shown in summary, shown
    for hidden in ("张伟", "企业职工", "身份类别", "结业考试", "过程拍照", "学习日期", facts["institution"]["name"]):
        assert hidden not in html, hidden
    status = client.get(f"/api/v1/verify/{typed}").get_json()
    assert set(status["summary"]) == {"name", "id_mask", "occupation", "level", "class", "credited_class_hours",
                                      "required_class_hours", "issued_at", "status", "revoked_at"}
    assert status["number"] == issued["number"] and status["summary"]["name"] == "张*"
    body = json.dumps(status, ensure_ascii=False)
    assert "企业职工" not in body and "张伟" not in body and '"exam"' not in body and "photo_checks" not in body


def test_a_mistyped_number_is_told_apart_from_an_unknown_one(world, issued, client):
    number = issued["number"]
    last = number[-1]
    wrong = number[:-1] + next(c for c in numbers.ALPHABET if c != last)
    r = client.get(f"/api/v1/verify/{wrong}")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "number_mistyped"
    page = client.get(f"/verify/{wrong}")
    assert page.status_code == 400 and "校验位不符" in page.get_data(as_text=True)
    unknown = numbers.new_number(2026)
    assert client.get(f"/api/v1/verify/{unknown}").status_code == 404
    assert "未找到" in client.get(f"/verify/{unknown}").get_data(as_text=True)


def test_a_certificate_numbered_the_old_way_still_verifies(world, api, client, monkeypatch):
    monkeypatch.setattr(services, "next_number", lambda s, year: f"{year}-0001-00001")
    credit(world["trainee"]["user_id"], world["chapters"])
    r = issue(api, world)
    assert r.status_code == 201
    number = r.get_json()["number"]
    assert re.fullmatch(r"\d{4}-0001-00001", number)
    assert client.get(f"/verify/{number.replace('-', ' ')}").status_code == 200
    assert client.get(f"/api/v1/verify/{number}").get_json()["valid"]
