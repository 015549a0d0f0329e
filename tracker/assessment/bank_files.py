"""Question bank files: import from XLSX or CSV (all rows or none, errors as 第N行) and export as XLSX.

Columns: 题型, 题目, 选项A … 选项H, 答案, 分值, 章节 (the chapter's number or exact title; empty for a
question of the whole course, drawn only for the final exam), 用途 (测验, 考试 or 通用). A file without 用途 (made
before it existed) still imports: rules.default_usage gives a chapter's question 通用 and a course-level one 考试,
as they were drawn before. An exported file imports again unchanged: questions already in the bank are skipped.
"""
import hashlib
import json
from dataclasses import dataclass, field

import openpyxl
from sqlalchemy import select

from models import Chapter
from tracker import ledger
from tracker.accounts.rules import RuleError
from tracker.assessment import rules, services
from tracker.learning import roster_import
from tracker.learning.roster_import import header_key
from tracker.spreadsheets import append_row, workbook_bytes

MAX_ROWS = 2000
OPTION_COLUMNS = [f"选项{c}" for c in rules.LETTERS]
HEADER = ["题型", "题目", *OPTION_COLUMNS, "答案", "分值", "章节", "用途"]
ALIASES = {"题型": "kind", "题目类型": "kind", "类型": "kind", "题目": "text", "题干": "text", "试题": "text",
           "答案": "key", "正确答案": "key", "参考答案": "key", "标准答案": "key", "分值": "score", "分数": "score",
           "章节": "chapter", "所属章节": "chapter", "章": "chapter", "用途": "usage", "题目用途": "usage",
           "适用": "usage", "适用范围": "usage",
           **{f"选项{c}": f"option{i}" for i, c in enumerate(rules.LETTERS)},
           **{c: f"option{i}" for i, c in enumerate(rules.LETTERS)}}
REQUIRED = {"kind": "题型", "text": "题目", "key": "答案", "score": "分值"}


class BankImportError(RuleError):
    """Some rows are bad: `errors` lists each as "第N行：…", and nothing was imported."""

    def __init__(self, errors):
        super().__init__("bank_invalid", f"题库文件中有{len(errors)}行错误，本次未导入任何题目，请修改后重新上传", "file")
        self.errors = errors


@dataclass
class BankImportResult:
    rows: int
    added: list = field(default_factory=list)  # [{"row", "question_id"}]
    skipped: list = field(default_factory=list)  # rows already in the bank


def read_table(data, filename):
    """Rows of the file's first sheet, numbered as the spreadsheet shows them (the roster's reader)."""
    return roster_import.read_table(data, filename, kind="bank", label="题库")


def _columns(header):
    found = {}
    for i, cell in enumerate(header):
        key = ALIASES.get(header_key(cell).upper() if len(header_key(cell)) == 1 else header_key(cell))
        if key is not None and key not in found:
            found[key] = i
    missing = [label for key, label in REQUIRED.items() if key not in found]
    if missing:
        raise RuleError("bank_header_invalid", "第一行应为表头（题型、题目、选项A…选项H、答案、分值、章节、用途），缺少：" + "、".join(missing),
                        "file")
    return found


def _chapter_lookup(s, course):
    chapters = s.scalars(select(Chapter).where(Chapter.course_id == course.id)).all()
    by_key = {}
    for ch in chapters:
        by_key[str(ch.ordinal)] = ch.id
        by_key[ch.title.strip()] = ch.id
    return by_key


def parse_bank(s, course, data, filename):
    """[(row number, validated fields, chapter id, usage)]; BankImportError lists every bad row."""
    chapters = _chapter_lookup(s, course)
    rows, errors, columns, seen = [], [], None, {}
    for n, cells in read_table(data, filename):
        if not any(cells):
            continue
        if columns is None:
            columns = _columns(cells)
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            raise RuleError("bank_too_many_rows", f"每次最多导入{MAX_ROWS}道题，请分批导入", "file")
        get = {key: (cells[i] if i < len(cells) else "") for key, i in columns.items()}
        options = [get.get(f"option{i}", "") for i in range(rules.MAX_OPTIONS)]
        problems = []
        fields = None
        try:
            fields = rules.validate_question(get["kind"], get["text"], options, get["key"], get["score"])
            if fields[0] in ("truefalse", "fill") and any(o.strip() for o in options):
                problems.append(f"{rules.KINDS[fields[0]]}不应填写选项")
        except RuleError as e:
            problems.append(e.message)
        chapter_text = get.get("chapter", "").strip()
        chapter_id = None
        if chapter_text:
            chapter_id = chapters.get(chapter_text) or chapters.get(chapter_text.removeprefix("第").removesuffix("章"))
            if chapter_id is None:
                problems.append(f"章节“{chapter_text}”不在本课程中（填写章节序号或完整标题）")
        usage = None
        if not problems:
            try:
                usage = rules.validate_usage(get.get("usage", ""), chapter_id)
            except RuleError as e:
                problems.append(e.message)
        if fields is not None and not problems:
            ident = (fields[0], fields[1], chapter_id)
            if ident in seen:
                problems.append(f"与第{seen[ident]}行的题目重复")
            else:
                seen[ident] = n
        if problems:
            errors.append(f"第{n}行：" + "；".join(problems))
        else:
            rows.append((n, fields, chapter_id, usage))
    if columns is None:
        raise RuleError("bank_header_invalid", "文件为空：第一行应为表头（题型、题目、选项A…选项H、答案、分值、章节、用途）", "file")
    if errors:
        raise BankImportError(errors)
    if not rows:
        raise RuleError("bank_empty", "题库文件中没有题目", "file")
    return rows


def import_bank(s, course, data, filename, actor):
    """Add every question of the file to the course's bank in the caller's transaction, or none of them.
    A row identical to a question already in the bank is skipped (re-importing an export changes nothing)."""
    rows = parse_bank(s, course, data, filename)
    existing = {(q.kind, q.text, q.options, q.key, q.score, q.chapter_id, q.usage)
                for q in services.active_questions(s, [course.id])}
    result = BankImportResult(rows=len(rows))
    for n, fields, chapter_id, usage in rows:
        kind, text, options, key, score = fields
        ident = (kind, text, json.dumps(options, ensure_ascii=False), json.dumps(key, ensure_ascii=False), score, chapter_id,
                 usage)
        if ident in existing:
            result.skipped.append({"row": n, "text": text[:40]})
            continue
        q = services._new_question(s, course, actor, fields, chapter_id, services.server_now(), usage=usage)
        result.added.append({"row": n, "question_id": q.id})
    ledger.append(s, "bank.imported", {
        "course_id": course.id, "file_sha256": hashlib.sha256(data).hexdigest(), "filename": (filename or "")[:100],
        "rows": len(rows), "added": len(result.added), "skipped": len(result.skipped),
    }, actor_id=actor.id)
    return result


def bank_xlsx(s, course):
    """The course's bank (with keys: staff only) as an XLSX workbook in the import format."""
    titles = {ch.id: ch.title for ch in course.chapters}
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("题库")
    append_row(ws, HEADER)
    for q in services.active_questions(s, [course.id]):
        options, key = json.loads(q.options), json.loads(q.key)
        append_row(ws, [rules.KINDS[q.kind].removesuffix("题"), q.text,
                        *(options + [""] * (rules.MAX_OPTIONS - len(options))),
                        rules.key_text(q.kind, options, key), q.score, titles.get(q.chapter_id, ""),
                        rules.USAGES[q.usage]])
    return workbook_bytes(wb)
