"""PDFs in Chinese: the certificate (with its QR code and the signed JSON in the metadata) and the learning record."""
import base64
import json
from io import BytesIO
from pathlib import Path

import qrcode
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from tracker.clock import beijing, beijing_date
from tracker.learning.policy import CLASS_HOUR_SECONDS
from tracker.ledger import offline
from tracker.proctoring.faces import MESSAGES as PHOTO_MESSAGES

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")  # Debian fonts-wqy-zenhei (`make sysdeps`)
FONT = "WQYZenHei"
PLATFORM = "职业技能线上培训平台"


def font():
    if FONT not in pdfmetrics.getRegisteredFontNames():
        if not FONT_PATH.exists():
            raise RuntimeError(f"缺少中文字体 {FONT_PATH}（请运行 make sysdeps 安装 fonts-wqy-zenhei）")
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_PATH), subfontIndex=0))
    return FONT


def _styles():
    f = font()
    base = ParagraphStyle("base", fontName=f, fontSize=10.5, leading=15, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=22, leading=30, alignment=1, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=11, alignment=1, textColor=colors.HexColor("#555555")),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#444444")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13),
    }


def _p(text, style):
    return Paragraph(str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), style)


def _table(rows, widths, style, header=True):
    t = Table([[_p(c, style) for c in row] for row in rows], colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    commands = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")))
    else:
        commands.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef2f7")))
    t.setStyle(TableStyle(commands))
    return t


def _qr(url, size=34 * mm):
    img = qrcode.make(url, border=1).get_image()
    buf = BytesIO()
    img.save(buf, format="PNG")
    buf.seek(0)
    return Image(buf, width=size, height=size)


def hours(seconds):
    return f"{(seconds or 0) / CLASS_HOUR_SECONDS:.2f}"


def certificate_pdf(document_text, verify_url, revoked=None):
    """The certificate as a PDF; the signed JSON rides in the metadata so that `tracker cert verify` can check it."""
    st = _styles()
    doc = json.loads(document_text)
    facts, cp = doc["facts"], doc["checkpoint"]
    trainee, cls, inst = facts["trainee"], facts["class"], facts["institution"]
    online = facts.get("online") or {}
    exam = facts.get("exam")
    dates = facts.get("study_dates") or {}
    buf = BytesIO()
    keywords = (offline.PDF_MARKER + base64.b64encode(document_text.encode("utf-8"))).decode("ascii")
    pdf = SimpleDocTemplate(buf, pagesize=A4, title=f"{facts['document']} {facts['number']}", author=PLATFORM,
                            subject=facts["document"], keywords=keywords, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm)
    width = A4[0] - 36 * mm
    story = [_p(facts["document"], st["title"]), _p(f"证书编号：{facts['number']}", st["subtitle"]), Spacer(1, 6 * mm)]
    if revoked is not None:
        story += [_p(f"本证明已于 {revoked['at']} 撤销：{revoked['reason']}", st["h2"]), Spacer(1, 2 * mm)]
    exam_text = (f"{exam.get('score')} / {exam.get('max_score')}" if isinstance(exam, dict) else "本班期未设结业考试")
    rows = [
        ["姓名", trainee["name"], "身份证号码", trainee["id_mask"]],
        ["身份类别", trainee.get("category") or "", "培训机构", inst["name"]],
        ["班期", cls["name"], "职业（工种）", cls.get("occupation") or ""],
        ["班期起止", f"{cls.get('start_date') or ''} 至 {cls.get('end_date') or ''}", "学习日期",
         f"{dates.get('first') or ''} 至 {dates.get('last') or ''}"],
        ["线上有效学时", f"{online.get('credited_class_hours', 0)} 课时（规定 {online.get('required_class_hours', 0)} 课时）",
         "结业考试成绩", exam_text],
        ["过程拍照核验通过", f"{facts.get('photo_checks_passed', 0)} 次", "出具日期", beijing_date(facts["issued_at"])],
    ]
    story.append(_table(rows, [28 * mm, width / 2 - 28 * mm, 28 * mm, width / 2 - 28 * mm], st["cell"], header=False))
    story += [_p("课程与有效学时", st["h2"])]
    course_rows = [["课程", "章节或场次", "规定课时", "有效课时"]] + [
        [c["title"], c["chapters"], c["required_class_hours"], c["credited_class_hours"]] for c in facts["courses"]]
    if facts.get("lectures"):
        live = facts["lectures"]
        course_rows.append(["直播课（按在场时长计）", live["count"], live["required_class_hours"], live["credited_class_hours"]])
    story.append(_table(course_rows, [width - 75 * mm, 20 * mm, 27 * mm, 28 * mm], st["cell"]))
    story += [Spacer(1, 6 * mm), _p(
        f"兹证明 {trainee['name']} 于 {inst['name']} 参加“{cls['name']}”线上培训，完成规定线上学时。"
        f"以上学时仅计入经平台服务器核验的有效学习时间（1 课时 = 45 分钟）。", st["body"]), Spacer(1, 6 * mm)]
    check_text = [
        _p("核验方式", st["h2"]),
        _p(f"扫描右侧二维码或访问 {verify_url} 查看本证明的状态；"
           "或离线运行 tracker cert verify 本文件.pdf --public-key 平台公钥，核验平台签名、检查点签名与默克尔包含证明。", st["small"]),
        _p(f"台账条目：第 {doc['proof']['entry']['seq']} 条；检查点：树大小 {cp['tree_size']}，时间 {cp['timestamp']}，"
           f"根哈希 {cp['root_hash']}", st["small"]),
        _p(f"平台签名（Ed25519）：{doc['signature']}", st["small"]),
    ]
    block = Table([[check_text, _qr(verify_url)]], colWidths=[width - 40 * mm, 40 * mm])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(block)
    story += [Spacer(1, 4 * mm), _p(f"出具：{inst['name']}（经办人 {facts['issued_by']['name']}）  平台：{PLATFORM}", st["small"])]
    pdf.build(story)
    return buf.getvalue()


def _cst(text):
    try:
        return beijing(text)
    except ValueError:
        return text




def record_pdf(trainee, id_mask, rec, generated_at):
    """The learning record (学习记录) for the archive: chapters, live lectures, days, every session with credited
    minutes, quizzes and exams, checks."""
    st = _styles()
    buf = BytesIO()
    pdf = SimpleDocTemplate(buf, pagesize=A4, title=f"学习记录 {trainee.name}", author=PLATFORM, subject="学习记录",
                            leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    width = A4[0] - 30 * mm
    story = [_p("学习记录", st["title"]),
             _p(f"{trainee.name}　{id_mask}　{trainee.category or ''}　生成时间 {generated_at}（北京时间）", st["subtitle"]),
             Spacer(1, 4 * mm),
             _p(f"累计有效学时：{rec['total_credited_seconds'] / 60:.1f} 分钟（{hours(rec['total_credited_seconds'])} 课时）", st["body"]),
             _p("各章节", st["h2"])]
    rows = [["课程 · 章节", "时长（分钟）", "有效（分钟）"]] + [
        [f"{c['course']} · {c['title']}", f"{c['seconds'] / 60:.1f}", f"{c['credited_seconds'] / 60:.1f}"] for c in rec["chapters"]]
    story.append(_table(rows if len(rows) > 1 else rows + [["暂无", "", ""]], [width - 60 * mm, 30 * mm, 30 * mm], st["cell"]))
    if rec.get("lectures"):
        story.append(_p("直播出勤", st["h2"]))
        rows = [["开始（北京时间）", "直播", "时长（分钟）", "计入（分钟）"]] + [
            [_cst(x["starts_at"]), x["title"], f"{x['seconds'] / 60:.1f}", f"{x['credited_seconds'] / 60:.1f}"]
            for x in rec["lectures"]]
        story.append(_table(rows, [32 * mm, width - 92 * mm, 30 * mm, 30 * mm], st["cell"]))
    story.append(_p("每日有效学时", st["h2"]))
    rows = [["日期", "有效（分钟）"]] + [[d["day"], f"{d['credited_seconds'] / 60:.1f}"] for d in rec["days"]]
    story.append(_table(rows if len(rows) > 1 else rows + [["暂无", ""]], [60 * mm, 40 * mm], st["cell"]))
    story.append(_p("学习会话", st["h2"]))
    rows = [["开始（北京时间）", "结束", "章节或直播", "时长（分钟）", "计入（分钟）", "心跳", "结束原因"]]
    for x in sorted(rec["sessions"], key=lambda x: x.get("started") or ""):
        rows.append([_cst(x.get("started")), _cst(x.get("ended"))[11:], x.get("title") or x.get("chapter_id"),
                     f"{x['wall_seconds'] / 60:.1f}", f"{x['credited_seconds'] / 60:.1f}", x.get("heartbeats", ""),
                     x.get("end_reason_label", "")])
    story.append(_table(rows if len(rows) > 1 else rows + [["暂无"] + [""] * 6],
                        [32 * mm, 14 * mm, width - 132 * mm, 20 * mm, 20 * mm, 14 * mm, 32 * mm], st["cell"]))
    story.append(_p("测验与考试", st["h2"]))
    rows = [["开始（北京时间）", "类型", "章节或班期", "状态", "得分", "结果"]]
    for a in rec.get("quizzes", []):
        score = f"{a['score']:.1f} / {a['max_score']:.1f}" if a.get("score") is not None else ""
        rows.append([_cst(a["started"]), a["kind_label"], (a["chapter"] if a["kind"] == "quiz" else a["class"]) or "",
                     a["status_label"], score, {True: "合格", False: "不合格"}.get(a.get("passed"), "")])
    story.append(_table(rows if len(rows) > 1 else rows + [["暂无"] + [""] * 5],
                        [32 * mm, 22 * mm, width - 128 * mm, 22 * mm, 30 * mm, 22 * mm], st["cell"]))
    story.append(_p("核验记录（签到、过程拍照、在学提示）", st["h2"]))
    rows = [["时间", "类型", "结果", "说明"]]
    for c in rec.get("checks", []):
        rows.append([_cst(c.get("answered") or c.get("asked")), c.get("kind_label", ""), c.get("status_label", ""),
                     PHOTO_MESSAGES.get(c.get("reason"), c.get("reason") or "")])
    story.append(_table(rows if len(rows) > 1 else rows + [["暂无", "", "", ""]],
                        [36 * mm, 40 * mm, 30 * mm, width - 106 * mm], st["cell"]))
    pdf.build(story)
    return buf.getvalue()
