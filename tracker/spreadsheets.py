"""The one writer of the spreadsheets the platform hands out (XLSX and CSV): a cell made from data is text or a typed
number or date, never a formula, whatever the text starts with.

A trainee's name, an employer, a question or a note may start with "=", "+", "-", "@" (or their full-width forms):
a spreadsheet program would run it as a formula (=HYPERLINK to exfiltrate, =cmd|… for DDE). Every export goes
through `append_row` (XLSX) or `csv_bytes` (CSV); the archive's evidence must read back exactly, so XLSX keeps the
text unchanged as a string cell and only CSV, which has no cell types, marks it with an apostrophe.
"""
import csv
import io
import re

from openpyxl.cell import WriteOnlyCell

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"

# OWASP "CSV injection": what a spreadsheet program may read as the start of a formula, with the full-width forms
# that Excel in Chinese also accepts.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


# What XML 1.0 cannot carry (control characters, U+FFFE, U+FFFF) or would not give back (a CR is read as LF), and an
# underscore that would otherwise read as the start of such an escape.
_OOXML_ESCAPED = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def xlsx_text(text):
    """Text as OOXML stores a string (ECMA-376 ST_Xstring, the escapes Excel itself writes): each character above as
    _xHHHH_, which Excel shows as the original. Without this a control character sent as, say, a User-Agent made
    openpyxl refuse the whole workbook (the trainee's trace could not be exported) and a CR came back as LF."""
    return _OOXML_ESCAPED.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def xlsx_text_unescape(text):
    """The text `xlsx_text` (or Excel) stored: for reading a workbook's strings with openpyxl, which leaves _xHHHH_."""
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def xlsx_cell(ws, value):
    """A cell for `ws.append` (normal or write-only sheet): text as a string cell, numbers and dates typed."""
    if not isinstance(value, str):
        return WriteOnlyCell(ws, value=value)
    cell = WriteOnlyCell(ws, value=xlsx_text(value))
    # openpyxl turns a string starting with "=" into a formula and "#N/A" and the like into an error: text is text.
    cell.data_type = "s"
    return cell


def append_row(ws, values):
    """Append one row of data (None for an empty cell) to an XLSX worksheet; the returned cells may be styled."""
    cells = [None if v is None else xlsx_cell(ws, v) for v in values]
    ws.append(cells)
    return cells


def download_name(text):
    """A file name made from data (a class's or course's name) for Content-Disposition: a line break, which no header
    may hold (werkzeug answers 500 and the export is lost), another control character or a path separator becomes _."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029/\\]", "_", text)


def workbook_bytes(wb):
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _escaped_form(text):
    """True for a text the CSV writer marks: one that starts with a formula character after any apostrophes (the
    apostrophes included so that the reader's undoing is exact: "'=1" is written "''=1" and read back "'=1")."""
    return text.lstrip("'").startswith(FORMULA_STARTS)


def csv_field(value):
    """A CSV field: text that a spreadsheet program would run as a formula gets a leading apostrophe (OWASP's rule:
    CSV has no cell types, so only a mark inside the field keeps it text; our importer removes it); numbers as is."""
    if value is None:
        return ""
    if isinstance(value, str) and _escaped_form(value):
        return "'" + value
    return value


def csv_unescape(text):
    """The text `csv_field` was given: removes exactly the apostrophe it added (for re-importing our own CSV)."""
    if text.startswith("'") and _escaped_form(text[1:]):
        return text[1:]
    return text


def csv_bytes(rows):
    """Rows as a CSV file for Excel in Chinese: UTF-8 with a byte-order mark, CRLF line ends, every field escaped."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([csv_field(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
