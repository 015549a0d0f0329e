"""Roster files: every row checked, all imported or none; the export masks IDs and phones."""
import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from models import Enrollment, LedgerEntry, TrainingClass, User
from tracker.accounts.rules import RuleError, id_check_digit
from tracker.accounts.services import create_user
from tracker.extensions import db
from tracker.learning import roster_import
from tracker.learning.roster_import import RosterImportError

HEADER = ["姓名", "身份证号码", "手机号码", "身份类别"]
STAFF = "13900000001"


def idn(n, born="19880808"):
    body = "150102" + born + f"{n:03d}"
    return body + id_check_digit(body)


# Registered trainees who are not yet on the demo class's roster.
PEOPLE = [("陈静", idn(11), "13600000011", "企业职工"), ("周强", idn(12), "13600000012", "退役军人"),
          ("吴敏", idn(13), "13600000013", "高校毕业生")]


@pytest.fixture
def people(app, demo):
    with app.app_context(), db.transaction() as s:
        for name, id_number, phone, category in PEOPLE:
            create_user(s, role="trainee", name=name, password="Passw0rd1", id_number=id_number, phone=phone,
                        category=category, employer="测试企业")
    return [list(p) for p in PEOPLE]


@pytest.fixture
def class_id(demo):
    return demo["classes"][0]["class_id"]


@pytest.fixture
def staff(app, demo):
    c = app.test_client()
    assert c.post("/login", data={"username": STAFF, "password": "Demo1234"}).status_code == 302
    return c


def demo_trainee(demo, n=0):
    a = [a for a in demo["accounts"] if a["role"] == "trainee"][n]
    return [a["name"], a["id_number"], a["username"], "企业职工"]


def to_csv(rows, header=HEADER, encoding="utf-8"):
    text = "\r\n".join(",".join(r) for r in [header, *rows]) + "\r\n"
    return text.encode(encoding)


def to_xlsx(rows, header=HEADER):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def enrollments(app, class_id):
    with app.app_context(), db.transaction() as s:
        return s.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.class_id == class_id))


def upload(c, class_id, data, filename):
    return c.post(f"/manage/classes/{class_id}/roster/import", data={"file": (io.BytesIO(data), filename)},
                  content_type="multipart/form-data")


def page_errors(r):
    return re.findall(r"<li>(第\d+行：[^<]*)</li>", r.get_data(as_text=True))


# ---------------------------------------------------------------------------------------------------------------------
# Good files


def test_good_csv_imports_everyone_and_skips_those_already_enrolled(app, staff, class_id, people, demo):
    before = enrollments(app, class_id)
    r = upload(staff, class_id, to_csv([*people, demo_trainee(demo)]), "花名册.csv")
    assert r.status_code == 200, r.get_data(as_text=True)
    page = r.get_data(as_text=True)
    assert "新增 3 人" in page and "1 人已在花名册中（跳过）" in page
    assert enrollments(app, class_id) == before + 3
    with app.app_context(), db.transaction() as s:
        kinds = [e.kind for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))][-4:]
        imported = json.loads(s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "roster.imported")).one().payload)
    assert kinds == ["roster.added"] * 3 + ["roster.imported"]
    assert (imported["rows"], imported["added"], imported["skipped"]) == (4, 3, 1)
    roster = staff.get(f"/classes/{class_id}").get_data(as_text=True)
    assert all(name in roster for name, *_ in people)


def test_headers_in_any_order_and_blank_rows(app, staff, class_id, people):
    order = [3, 0, 2, 1]
    rows = [[p[i] for i in order] for p in people]
    rows.insert(1, ["", "", "", ""])
    data = to_csv(rows, header=[HEADER[i] for i in order], encoding="utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf")
    before = enrollments(app, class_id)
    assert upload(staff, class_id, data, "r.csv").status_code == 200
    assert enrollments(app, class_id) == before + 3


def test_gbk_csv_from_chinese_excel_imports(app, staff, class_id, people):
    data = to_csv(people, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    before = enrollments(app, class_id)
    r = upload(staff, class_id, data, "花名册.csv")
    assert r.status_code == 200, page_errors(r) or r.get_data(as_text=True)
    assert enrollments(app, class_id) == before + 3


def test_utf16_tab_separated_text_from_excel_imports(app, staff, class_id, people):
    text = "\r\n".join("\t".join(r) for r in [HEADER, *people])
    before = enrollments(app, class_id)
    assert upload(staff, class_id, text.encode("utf-16"), "花名册.txt").status_code == 200
    assert enrollments(app, class_id) == before + 3


def test_good_xlsx_imports(app, staff, class_id, people):
    before = enrollments(app, class_id)
    assert upload(staff, class_id, to_xlsx(people), "花名册.xlsx").status_code == 200
    assert enrollments(app, class_id) == before + 3


# ---------------------------------------------------------------------------------------------------------------------
# Bad rows: reported with their row number, and nothing imported


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_one_bad_row_among_good_ones_imports_nothing(app, staff, class_id, people, fmt):
    rows = [people[0], people[1], [people[2][0], people[2][1][:-1] + ("0" if people[2][1][-1] != "0" else "1"),
                                   people[2][2], people[2][3]]]
    data = to_csv(rows) if fmt == "csv" else to_xlsx(rows)
    before = enrollments(app, class_id)
    r = upload(staff, class_id, data, f"花名册.{fmt}")
    assert r.status_code == 400
    assert page_errors(r) == ["第4行：身份证号码校验位错误，请核对"]  # header is row 1
    assert "未导入任何学员" in r.get_data(as_text=True)
    assert enrollments(app, class_id) == before


def test_every_bad_row_is_listed_with_each_of_its_problems(app, demo, people):
    rows = [people[0], ["", "123", "12345", "学生"], people[1], [people[2][0], people[2][1], "13600000013", "其他人员"]]
    with pytest.raises(RosterImportError) as e:
        roster_import.parse_roster(to_csv(rows), "r.csv")
    assert e.value.errors == [
        "第3行：请填写姓名；身份证号码应为18位（最后一位可为X）；手机号码应为11位数字，以1开头；"
        "身份类别不在规定范围内：" + "、".join(roster_import_categories()),
        "第5行：身份类别不在规定范围内：" + "、".join(roster_import_categories()),
    ]


def roster_import_categories():
    from tracker.accounts.rules import CATEGORIES

    return CATEGORIES


def test_duplicate_id_within_the_file(app, staff, class_id, people):
    rows = [people[0], people[1], [people[0][0], people[0][1].lower(), "13600000099", "其他"]]
    before = enrollments(app, class_id)
    r = upload(staff, class_id, to_csv(rows), "r.csv")
    assert r.status_code == 400
    assert page_errors(r) == ["第4行：身份证号码与第2行重复"]
    assert enrollments(app, class_id) == before


def test_unregistered_id_is_refused(app, staff, class_id, people):
    stranger = ["孙丽", idn(99), "13600000099", "其他"]
    before = enrollments(app, class_id)
    r = upload(staff, class_id, to_csv([people[0], stranger]), "r.csv")
    assert r.status_code == 400
    errors = page_errors(r)
    assert len(errors) == 1 and errors[0].startswith("第3行：孙丽") and "尚未在平台实名注册为学员" in errors[0]
    assert idn(99) not in r.get_data(as_text=True)  # shown masked
    assert enrollments(app, class_id) == before


def test_name_must_match_the_registered_name(app, staff, class_id, people):
    wrong = ["陈晶", *people[0][1:]]
    before = enrollments(app, class_id)
    r = upload(staff, class_id, to_csv([wrong, people[1]]), "r.csv")
    assert r.status_code == 400
    assert page_errors(r) == ["第2行：姓名“陈晶”与该身份证号码实名注册的姓名不一致"]
    assert "陈静" not in r.get_data(as_text=True)  # the registered name is not revealed
    assert enrollments(app, class_id) == before


def test_staff_account_id_is_not_a_trainee(app, demo, class_id):
    with app.app_context(), db.transaction() as s:
        create_user(s, role="staff", name="郑老师", password="Passw0rd1", id_number=idn(50), phone="13600000050",
                    institution_id=demo["classes"][0]["institution_id"])
    with app.app_context(), db.transaction() as s:
        cls = s.get(TrainingClass, class_id)
        actor = s.scalar(select(User).where(User.phone == STAFF))
        with pytest.raises(RosterImportError) as e:
            roster_import.import_roster(s, cls, to_csv([["郑老师", idn(50), "13600000050", "其他"]]), "r.csv", actor)
    assert "尚未在平台实名注册为学员" in e.value.errors[0]


def test_id_numbers_that_excel_turned_into_numbers_are_explained(app, staff, class_id, people):
    rows = [[people[1][0], float(people[1][1]), int(people[1][2]), people[1][3]]]
    r = upload(staff, class_id, to_xlsx(rows), "r.xlsx")
    assert r.status_code == 400
    assert page_errors(r) == ["第2行：身份证号码被Excel存成了数字，末几位已丢失，请将该列设为“文本”格式后重新填写"]


@pytest.mark.parametrize("data,filename,message", [
    (to_csv([], header=["姓名", "身份证号码", "电话"]), "r.csv", "缺少：手机号码、身份类别"),
    (to_csv([]), "r.csv", "花名册中没有学员数据"),
    (b"", "r.csv", "请选择花名册文件"),
    (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "r.xls", "不支持旧版.xls文件"),
    (b"PK\x03\x04broken", "r.xlsx", "无法读取该XLSX文件"),
    (b"\xff\xfe\xfa", "r.pdf", "花名册须为XLSX或CSV文件"),
    (to_csv([], header=["姓名", "姓名", "身份证号码", "手机号码", "身份类别"]), "r.csv", "表头中有重复的列：姓名"),
])
def test_file_level_problems_are_refused_with_a_reason(app, staff, class_id, data, filename, message):
    before = enrollments(app, class_id)
    r = upload(staff, class_id, data, filename)
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)
    assert enrollments(app, class_id) == before


def test_row_and_size_limits(monkeypatch, people):
    monkeypatch.setattr(roster_import, "MAX_ROWS", 2)
    with pytest.raises(RuleError) as e:
        roster_import.parse_roster(to_csv(people), "r.csv")
    assert e.value.code == "roster_too_many_rows"
    assert len(roster_import.parse_roster(to_csv(people[:2]), "r.csv")) == 2
    monkeypatch.setattr(roster_import, "MAX_FILE_BYTES", 100)
    with pytest.raises(RuleError) as e:
        roster_import.parse_roster(to_csv(people), "r.csv")
    assert e.value.code == "roster_file_too_large"


def test_a_large_roster_checks_quickly(app, demo):
    rows = [[f"学员{n}", idn(n % 1000, born=f"19{70 + n // 1000:02d}0101"), "139%08d" % n, "其他"] for n in range(5000)]
    parsed = roster_import.parse_roster(to_csv(rows), "r.csv")
    assert len(parsed) == 5000 and parsed[-1].row == 5001


# ---------------------------------------------------------------------------------------------------------------------
# Export


def test_roster_xlsx_export_masks_ids_and_phones(app, staff, class_id, demo):
    r = staff.get(f"/manage/classes/{class_id}/roster.xlsx")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert "attachment" in r.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(r.data), read_only=True)
    rows = [list(row) for row in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    header = rows[1]
    assert header[:4] == ["序号", "姓名", "身份证号码", "手机号码"]
    data = rows[2:]
    trainees = [a for a in demo["accounts"] if a["role"] == "trainee"]
    assert [row[1] for row in data] == [a["name"] for a in trainees]
    assert all(re.fullmatch(r"\d{6}\*{8}[\dX]{4}", row[2]) for row in data)
    assert all(re.fullmatch(r"1\d{2}\*{4}\d{4}", row[3]) for row in data)
    cells = " ".join(str(v) for row in rows for v in row if v is not None)
    for a in trainees:
        assert a["id_number"] not in cells and a["username"] not in cells
        assert a["id_number"][:6] + "********" + a["id_number"][-4:] in cells


def test_regulator_may_download_the_roster_trainee_may_not(app, demo, class_id):
    for username, status in (("13900000002", 200), ("13800000001", 403)):
        c = app.test_client()
        assert c.post("/login", data={"username": username, "password": "Demo1234"}).status_code == 302
        assert c.get(f"/manage/classes/{class_id}/roster.xlsx").status_code == status
