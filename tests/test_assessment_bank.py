"""The question bank pages: import from CSV/XLSX (every row checked, all or nothing), export and re-import,
edits that keep old papers rebuildable, and the staff pages' access rules."""
import io
import json

import openpyxl
import pytest
from sqlalchemy import func, select

from models import BankQuestion, BankRetirement, Course, LedgerEntry
from tracker.accounts.rules import RuleError
from tracker.assessment import bank_files
from tracker.extensions import db

STAFF = "13900000001"
HEADER = ["题型", "题目", "选项A", "选项B", "选项C", "选项D", "答案", "分值", "章节"]


@pytest.fixture
def staff(app, demo):
    c = app.test_client()
    assert c.post("/login", data={"username": STAFF, "password": "Demo1234"}).status_code == 302
    return c


@pytest.fixture
def course_id(app, demo):
    with app.app_context(), db.transaction() as s:
        return s.scalar(select(Course.id))


def count(app, course_id):
    with app.app_context(), db.transaction() as s:
        return s.scalar(select(func.count()).select_from(BankQuestion).where(BankQuestion.course_id == course_id))


def csv_file(rows, header=HEADER, encoding="utf-8"):
    return ("\r\n".join(",".join(r) for r in [header, *rows]) + "\r\n").encode(encoding)


def xlsx_file(rows, header=HEADER):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


GOOD = [
    ["单选", "新题一", "甲", "乙", "丙", "", "B", "2", "1"],
    ["多选", "新题二", "甲", "乙", "丙", "丁", "ACD", "3", "第2章 常用电工工具与仪表"],
    ["判断", "新题三", "", "", "", "", "错", "1", ""],
    ["填空", "新题四", "", "", "", "", "火线|相线", "2", "2"],
]


def upload(client, course_id, data, name):
    return client.post(f"/manage/courses/{course_id}/bank/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_good_csv_imports_every_row_in_gbk_too(app, staff, course_id):
    before = count(app, course_id)
    r = upload(staff, course_id, csv_file(GOOD, encoding="gbk"), "题库.csv")
    assert r.status_code == 200, r.get_data(as_text=True)[-1500:]
    assert "新增 4 道题" in r.get_data(as_text=True)
    assert count(app, course_id) == before + 4
    with app.app_context(), db.transaction() as s:
        fill = s.scalar(select(BankQuestion).where(BankQuestion.text == "新题四"))
        assert json.loads(fill.key) == ["火线", "相线"] and fill.chapter_id is not None
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "bank.imported"))
        assert json.loads(entry.payload)["added"] == 4


def test_a_bad_csv_reports_each_bad_row_and_imports_nothing(app, staff, course_id):
    before = count(app, course_id)
    rows = GOOD + [
        ["单选", "坏题一", "甲", "乙", "", "", "C", "2", "1"],  # row 6: the key is not an option
        ["问答", "坏题二", "", "", "", "", "略", "2", ""],  # row 7: no such type
        ["判断", "坏题三", "", "", "", "", "对", "2", "第9章"],  # row 8: no such chapter
        ["单选", "新题一", "甲", "乙", "丙", "", "A", "2", "1"],  # row 9: the same as row 2
    ]
    r = upload(staff, course_id, csv_file(rows), "题库.csv")
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "本次未导入任何题目" in page
    for n, words in ((6, "不存在"), (7, "题型"), (8, "第9章"), (9, "第2行")):
        assert f"第{n}行：" in page and words in page.split(f"第{n}行：")[1].split("</li>")[0], n
    assert "第2行：" not in page
    assert count(app, course_id) == before
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(LedgerEntry.seq).where(LedgerEntry.kind == "bank.imported")) is None


def test_a_bad_xlsx_is_refused_with_its_row_number(app, staff, course_id):
    before = count(app, course_id)
    rows = [GOOD[0], ["多选", "只有一个答案的多选", "甲", "乙", "丙", "", "A", "2", "1"], GOOD[2]]
    r = upload(staff, course_id, xlsx_file(rows), "题库.xlsx")
    assert r.status_code == 400
    assert "第3行：多选题须有至少两个正确答案" in r.get_data(as_text=True)
    assert count(app, course_id) == before


@pytest.mark.parametrize("data, name, message", [
    (b"", "x.csv", "请选择题库文件"),
    (csv_file([], header=["姓名", "身份证号码"]), "x.csv", "缺少：题型、题目、答案、分值"),
    (csv_file([]), "x.csv", "没有题目"),
    (b"\xd0\xcf\x11\xe0old excel", "x.xls", "旧版.xls"),
    (b"%PDF-1.4", "x.pdf", "XLSX或CSV"),
])
def test_files_that_are_not_a_bank_are_refused(app, demo, course_id, data, name, message):
    with app.app_context(), db.transaction() as s:
        with pytest.raises(RuleError) as e:
            bank_files.import_bank(s, s.get(Course, course_id), data, name, None)
    assert message in e.value.message


def test_export_imports_again_unchanged(app, staff, course_id):
    r = staff.get(f"/manage/courses/{course_id}/bank.xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    rows = list(wb.active.iter_rows(values_only=True))
    assert list(rows[0][:2]) == ["题型", "题目"] and len(rows) - 1 == count(app, course_id) == 13
    before = count(app, course_id)
    r = upload(staff, course_id, r.data, "export.xlsx")
    assert r.status_code == 200
    assert "新增 0 道题" in r.get_data(as_text=True) and "13 道与题库中已有题目相同" in r.get_data(as_text=True)
    assert count(app, course_id) == before


def test_add_edit_and_delete_through_the_pages(app, staff, course_id):
    r = staff.post(f"/manage/courses/{course_id}/bank", data={
        "type": "single", "text": "页面新题", "option0": "甲", "option1": "乙", "key": "A", "score": "2", "chapter_id": ""})
    assert r.status_code == 302
    with app.app_context(), db.transaction() as s:
        q = s.scalar(select(BankQuestion).where(BankQuestion.text == "页面新题"))
    r = staff.post(f"/manage/courses/{course_id}/bank", data={"type": "single", "text": "缺选项", "option0": "甲",
                                                             "key": "A", "score": "2"})
    assert r.status_code == 400 and "2到8个" in r.get_data(as_text=True)

    assert staff.get(f"/manage/questions/{q.id}").status_code == 200
    r = staff.post(f"/manage/questions/{q.id}", data={"type": "single", "text": "页面新题（改）", "option0": "甲",
                                                      "option1": "乙", "key": "B", "score": "3", "chapter_id": ""})
    assert r.status_code == 302
    with app.app_context(), db.transaction() as s:
        new = s.scalar(select(BankQuestion).where(BankQuestion.replaces_id == q.id))
        assert new.text == "页面新题（改）" and json.loads(new.key) == 1
        assert s.get(BankRetirement, q.id).replaced_by_id == new.id
        assert s.get(BankQuestion, q.id).text == "页面新题"  # the old version is kept for old papers
    assert staff.get(f"/manage/questions/{q.id}").status_code == 404  # edit the newest version only
    page = staff.get(f"/manage/courses/{course_id}/bank").get_data(as_text=True)
    assert "页面新题（改）" in page and f'data-question-id="{q.id}"' not in page
    assert staff.post(f"/manage/questions/{new.id}/retire").status_code == 302
    assert "页面新题" not in staff.get(f"/manage/courses/{course_id}/bank").get_data(as_text=True)


def test_the_bank_tables_refuse_update_and_delete(app, demo):
    from sqlalchemy import text

    with app.app_context():
        for stmt in ("UPDATE bank_questions SET text = 'x'", "DELETE FROM bank_questions"):
            with pytest.raises(Exception, match="append-only"):
                with db.transaction() as s:
                    s.execute(text(stmt))


def test_bank_pages_are_for_the_institutions_staff(app, demo, course_id):
    from tests.test_access import web_login

    trainee = [a for a in demo["accounts"] if a["role"] == "trainee"][0]
    c = web_login(app, trainee["username"])
    assert c.get(f"/manage/courses/{course_id}/bank").status_code == 403
    assert c.get(f"/manage/courses/{course_id}/bank.xlsx").status_code == 403
    regulator = web_login(app, "13900000002")
    assert regulator.get(f"/manage/courses/{course_id}/bank").status_code == 403
    staff = web_login(app, STAFF)
    page = staff.get("/manage/bank").get_data(as_text=True)
    assert "管理题库" in page and ">13<" in page


def usage_of(app, text):
    with app.app_context(), db.transaction() as s:
        return s.scalar(select(BankQuestion.usage).where(BankQuestion.text == text))


def test_the_usage_column_imports_in_chinese_and_old_files_without_it_still_import(app, staff, course_id):
    rows = [["单选", "练习一", "甲", "乙", "", "", "A", "2", "1", "测验"],
            ["单选", "考试一", "甲", "乙", "", "", "A", "2", "1", "考试"],
            ["判断", "通用一", "", "", "", "", "对", "2", "2", "通用"],
            ["判断", "未填一", "", "", "", "", "对", "2", "2", ""],
            ["判断", "整门一", "", "", "", "", "错", "2", "", "通用"]]
    r = upload(staff, course_id, xlsx_file(rows, header=HEADER + ["用途（测验/考试/通用）"]), "题库.xlsx")
    assert r.status_code == 200, r.get_data(as_text=True)[-1500:]
    assert [usage_of(app, row[1]) for row in rows] == ["quiz", "exam", "both", "both", "exam"]
    # a file made before the column existed: a chapter's question is 通用, a course-level one 考试
    r = upload(staff, course_id, csv_file(GOOD), "旧题库.csv")
    assert r.status_code == 200
    assert [usage_of(app, row[1]) for row in GOOD] == ["both", "both", "exam", "both"]


def test_a_bad_usage_is_reported_with_its_row(app, staff, course_id):
    before = count(app, course_id)
    rows = [["单选", "好题", "甲", "乙", "", "", "A", "2", "1", "测验"],
            ["单选", "坏用途", "甲", "乙", "", "", "A", "2", "1", "练一练"],
            ["判断", "整门练习", "", "", "", "", "对", "2", "", "测验"]]
    r = upload(staff, course_id, csv_file(rows, header=HEADER + ["用途"]), "题库.csv")
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "第3行：用途应为 测验、考试 或 通用" in page and "第4行：测验题须选择所属章节" in page
    assert count(app, course_id) == before


def test_the_export_has_the_usage_in_chinese(app, staff, course_id):
    r = staff.get(f"/manage/courses/{course_id}/bank.xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert rows[0][-1] == "用途" and {row[-1] for row in rows[1:]} == {"测验", "考试", "通用"}
    by_text = {row[1]: row[-1] for row in rows[1:]}
    assert by_text["可以用铜丝代替熔断器中的熔丝。"] == "测验" and by_text["低压电工作业人员必须持有什么证件上岗？"] == "考试"
