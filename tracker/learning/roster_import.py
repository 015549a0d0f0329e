"""Roster (花名册) files: import from XLSX or CSV, all rows or none; export as XLSX with IDs and phones masked."""
import csv
import hashlib
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path

import openpyxl
from sqlalchemy import select

from models import Enrollment, RosterRefusal, User
from tracker import ledger
from tracker.accounts.rules import (
    RuleError,
    mask_id_number,
    mask_phone,
    validate_category,
    validate_id_number,
    validate_phone,
    validate_text,
)
from tracker.clock import CST
from tracker.spreadsheets import append_row, csv_unescape, workbook_bytes, xlsx_text_unescape

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
# An XLSX is a zip: refuse one that would inflate far beyond any honest 5,000-row roster (zip bomb).
MAX_XLSX_INFLATED = 100 * 1024 * 1024

COLUMNS = {"name": "姓名", "id_number": "身份证号码", "phone": "手机号码", "category": "身份类别"}
ALIASES = {
    "姓名": "name", "学员姓名": "name",
    "身份证号码": "id_number", "身份证号": "id_number", "身份证": "id_number", "公民身份号码": "id_number",
    "手机号码": "phone", "手机号": "phone", "手机": "phone", "联系电话": "phone",
    "身份类别": "category", "人员类别": "category",
}
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


class RosterImportError(RuleError):
    """Some rows are bad: `errors` lists each as "第N行：…", and nothing was imported."""

    def __init__(self, errors):
        super().__init__("roster_invalid", f"花名册中有{len(errors)}行错误，本次未导入任何学员，请修改后重新上传", "file")
        self.errors = errors


@dataclass
class RosterRow:
    row: int
    name: str
    id_number: str
    phone: str
    category: str


@dataclass
class ImportResult:
    rows: int
    added: list = field(default_factory=list)  # [{"row", "name", "trainee_id"}]
    skipped: list = field(default_factory=list)  # already on the roster


# ---------------------------------------------------------------------------------------------------------------------
# Reading a file into (row number, cells)


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return "%.5E" % value  # too long for a float to hold exactly: keep it recognisable as a damaged number
    if isinstance(value, str):
        return xlsx_text_unescape(value).strip()  # Excel and our exports store a CR as _x000D_ (openpyxl keeps it so)
    return str(value).strip()


def xlsx_rows(data):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            inflated = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        raise RuleError("roster_file_invalid", "无法读取该XLSX文件，请用Excel另存为.xlsx或.csv后重新上传", "file") from None
    if inflated > MAX_XLSX_INFLATED:
        raise RuleError("roster_file_invalid", "XLSX文件解压后过大，请只保留花名册工作表后重新上传", "file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it does not read
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise RuleError("roster_file_invalid", "无法读取该XLSX文件，请用Excel另存为.xlsx或.csv后重新上传", "file") from None
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # some writers state a wrong sheet size; read what is there
        for n, row in enumerate(ws.iter_rows(values_only=True), 1):
            yield n, [_cell_text(v) for v in row]
    finally:
        wb.close()


def _decode(data):
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")  # Excel's "Unicode text"
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # Excel in Chinese saves CSV in GBK, of which GB18030 is a superset
    except UnicodeDecodeError:
        raise RuleError("roster_file_invalid", "无法识别文件编码，请保存为UTF-8或GBK编码的CSV文件", "file") from None


def csv_rows(data):
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for n, row in enumerate(reader, 1):
            yield n, [csv_unescape(c.strip()) for c in row]
    except csv.Error:
        raise RuleError("roster_file_invalid", "CSV文件格式错误（引号不配对），请用Excel重新导出", "file") from None


def read_table(data, filename, kind="roster", label="花名册"):
    """(row number as the spreadsheet shows it, cell texts) for each row of the file's first sheet.

    `kind` prefixes the error codes and `label` names the file in the messages (the question bank reuses this)."""
    if len(data) > MAX_FILE_BYTES:
        raise RuleError(f"{kind}_file_too_large", f"{label}文件不能超过{MAX_FILE_BYTES // 1024 // 1024}MB", "file")
    if not data:
        raise RuleError(f"{kind}_file_invalid", f"请选择{label}文件（XLSX或CSV）", "file")
    ext = Path(filename or "").suffix.lower()
    if data.startswith(b"PK\x03\x04"):
        return xlsx_rows(data)
    if data.startswith(b"\xd0\xcf\x11\xe0") or ext in (".xls", ".xlsx"):
        raise RuleError(f"{kind}_file_invalid", "不支持旧版.xls文件或文件已损坏，请在Excel中另存为.xlsx或.csv后上传", "file")
    if ext not in (".csv", ".txt", ""):
        raise RuleError(f"{kind}_file_invalid", f"{label}须为XLSX或CSV文件", "file")
    return csv_rows(data)


def header_key(text):
    text = re.sub(r"\s|\*|＊", "", text or "").replace("\ufeff", "")
    return re.split(r"[（(]", text, maxsplit=1)[0]


def _columns(header):
    found, duplicated = {}, []
    for i, cell in enumerate(header):
        key = ALIASES.get(header_key(cell))
        if key is None:
            continue
        if key in found:
            duplicated.append(COLUMNS[key])
        found.setdefault(key, i)
    if duplicated:
        raise RuleError("roster_header_invalid", "表头中有重复的列：" + "、".join(duplicated), "file")
    missing = [label for key, label in COLUMNS.items() if key not in found]
    if missing:
        raise RuleError("roster_header_invalid", "第一行应为表头（姓名、身份证号码、手机号码、身份类别），缺少：" + "、".join(missing),
                        "file")
    return found


# ---------------------------------------------------------------------------------------------------------------------
# Checking every row


def parse_roster(data, filename):
    """Every row checked against the real-name rules and the other rows; RosterImportError lists all bad ones."""
    rows, errors, seen = [], [], {}
    table = read_table(data, filename)
    columns = None
    for n, cells in table:
        if not any(cells):
            continue
        if columns is None:
            columns = _columns(cells)
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            raise RuleError("roster_too_many_rows", f"每次最多导入{MAX_ROWS}行，请分批导入", "file")
        get = {key: (cells[i] if i < len(cells) else "") for key, i in columns.items()}
        problems, values = [], {}
        for key, check in (("name", lambda v: validate_text(v, "name", "姓名", 50)), ("id_number", validate_id_number),
                           ("phone", validate_phone), ("category", validate_category)):
            try:
                values[key] = check(get[key])
            except RuleError as e:
                if key == "id_number" and _SCIENTIFIC.match(get[key]):
                    problems.append("身份证号码被Excel存成了数字，末几位已丢失，请将该列设为“文本”格式后重新填写")
                elif key in ("id_number", "phone") and not get[key]:
                    problems.append(f"请填写{COLUMNS[key]}")
                else:
                    problems.append(e.message)
        idn = values.get("id_number")
        if idn is not None:
            if idn in seen:
                problems.append(f"身份证号码与第{seen[idn]}行重复")
            else:
                seen[idn] = n
        if problems:
            errors.append((n, "；".join(problems)))
        else:
            rows.append(RosterRow(n, values["name"], values["id_number"], values["phone"], values["category"]))
    if columns is None:
        raise RuleError("roster_header_invalid", "文件为空：第一行应为表头（姓名、身份证号码、手机号码、身份类别）", "file")
    if not rows and not errors:
        raise RuleError("roster_empty", "花名册中没有学员数据", "file")
    if errors:
        raise RosterImportError([f"第{n}行：{msg}" for n, msg in errors])
    return rows


def _registered(s, id_numbers):
    found = {}
    ids = list(id_numbers)
    for i in range(0, len(ids), 500):
        for user in s.scalars(select(User).where(User.id_number.in_(ids[i:i + 500]))):
            found[user.id_number] = user
    return found


def import_roster(s, cls, data, filename, actor):
    """Add every trainee of the file to the class's roster in the caller's transaction, or none of them.

    Trainees already on the roster are reported as skipped; a bad row (format, duplicate in the file,
    not registered, name different from the registration) refuses the whole file with every row's error.
    """
    rows = parse_roster(data, filename)
    users = _registered(s, (r.id_number for r in rows))
    refusers = set(s.scalars(select(RosterRefusal.trainee_id).where(RosterRefusal.class_id == cls.id)))
    errors = []
    for r in rows:
        user = users.get(r.id_number)
        if user is None or user.role != "trainee":
            errors.append(f"第{r.row}行：{r.name}（{mask_id_number(r.id_number)}）尚未在平台实名注册为学员，请先让其注册")
        elif not user.is_active:
            errors.append(f"第{r.row}行：{r.name}的账号已停用")
        elif user.name != r.name:
            errors.append(f"第{r.row}行：姓名“{r.name}”与该身份证号码实名注册的姓名不一致")
        elif user.id in refusers:
            errors.append(f"第{r.row}行：{r.name}已声明未报名本班期，不能再加入花名册")
    if errors:
        raise RosterImportError(errors)
    enrolled = set(s.scalars(select(Enrollment.trainee_id).where(Enrollment.class_id == cls.id)))
    result = ImportResult(rows=len(rows))
    for r in rows:
        user = users[r.id_number]
        item = {"row": r.row, "name": r.name, "trainee_id": user.id, "id_mask": mask_id_number(r.id_number)}
        if user.id in enrolled:
            result.skipped.append(item)
            continue
        s.add(Enrollment(class_id=cls.id, trainee_id=user.id, added_by_id=actor.id))
        enrolled.add(user.id)
        ledger.append(s, "roster.added", {"class_id": cls.id, "trainee_id": user.id, "id_mask": item["id_mask"],
                                          "via": "import"}, actor_id=actor.id, subject_id=user.id)
        result.added.append(item)
    s.flush()
    ledger.append(s, "roster.imported", {
        "class_id": cls.id, "file_sha256": hashlib.sha256(data).hexdigest(), "filename": (filename or "")[:100],
        "rows": len(rows), "added": len(result.added), "skipped": len(result.skipped),
    }, actor_id=actor.id)
    return result


# ---------------------------------------------------------------------------------------------------------------------
# Export


def roster_xlsx(s, cls):
    """The class's roster as an XLSX workbook (bytes); ID numbers and phones masked."""
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("花名册")
    append_row(ws, [f"{cls.institution.name}　{cls.name}　花名册（身份证号码、手机号码已脱敏）"])
    append_row(ws, ["序号", "姓名", "身份证号码", "手机号码", "身份类别", "工作单位", "加入日期"])
    q = (select(User, Enrollment.created_at).join(Enrollment, Enrollment.trainee_id == User.id)
         .where(Enrollment.class_id == cls.id).order_by(Enrollment.id))
    for i, (user, joined) in enumerate(s.execute(q), 1):
        joined = joined.replace(tzinfo=joined.tzinfo or timezone.utc).astimezone(CST).date().isoformat() if joined else ""
        append_row(ws, [i, user.name, mask_id_number(user.id_number), mask_phone(user.phone), user.category or "",
                        user.employer or "", joined])
    return workbook_bytes(wb)
