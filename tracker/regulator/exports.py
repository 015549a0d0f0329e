"""Exports for the archive (003 art. 23): a trainee's trace and a class's archive, as XLSX (openpyxl) and PDF
(reportlab, the Chinese font embedded). ID numbers and phones are masked everywhere."""
import io
import json
import time
from collections import defaultdict

import openpyxl
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import func, select

from models import (
    Attempt, Certificate, CertificateRevocation, ChapterProgress, Enrollment, Heartbeat, LearningSession, LectureProgress,
    LiveLecture, SessionCheck, User,
)
from models.regulator import AnomalyReview
from tracker.accounts.rules import mask_id_number, mask_phone
from tracker.certificates.pdf import font
from tracker.clock import beijing, beijing_date
from tracker.learning.lectures import STATES
from tracker.learning.lectures import state as lecture_state
from tracker.learning.policy import class_hours, policy_for
from tracker.learning.sessions import server_now
from tracker.regulator import reviews
from tracker.regulator.anomalies import cst_date
from tracker.regulator.evidence import cst
from tracker.spreadsheets import append_row, workbook_bytes

PLATFORM = "职业技能线上培训平台"


def minutes(seconds):
    return round((seconds or 0) / 60, 1)


# ---------------------------------------------------------------------------------------------------------------------
# Tables as rows: one definition serves the workbook and the PDF


REVIEW_HEADER = ["核查时间", "人社部门", "结论", "核查说明", "核查时评分", "核查时的异常线索", "状态", "台账序号"]


def sign_summary(signs):
    """A snapshot's signs in one line: label (points)."""
    return "、".join(f"{s['label']}（{s['points']}）" for s in signs) or "未发现异常"


def trace_tables(trace):
    """[(title, header, rows)] of a trace."""
    t, risk = trace["trainee"], trace["risk"]
    facts = [["姓名", t["name"]], ["身份证号码", t["id_mask"]], ["手机号码", t["phone_mask"]], ["身份类别", t["category"] or ""],
             ["工作单位", t["employer"] or ""],
             ["班期", "；".join(f"{c['institution']}《{c['name']}》" for c in t["classes"])],
             ["累计有效学时", f"{minutes(trace['total_credited_seconds'])} 分钟（{class_hours(trace['total_credited_seconds'])} 课时）"],
             ["风险评分", f"{risk['score']}（{risk['level_label']}）"], ["导出时间", beijing(time.time()) + "（北京时间）"]]
    signs = [[s["label"], s["weight"], s["strength"], s["points"], e["text"]] for s in risk["signs"] for e in s["evidence"]]
    sessions = [[x["session_id"], x["started"], x["ended"], x["class"], x["chapter"], x["address"] or "", x["user_agent"] or "",
                 x["heartbeats"], minutes(x["credited_seconds"]), x["end_reason_label"]] for x in trace["sessions"]]
    stretches = [[x["session_id"], cst(st["from_ts"]), cst(st["to_ts"]), st["first_seq"], st["last_seq"], st["beats"],
                  "计入" if st["credited"] else "未计入", round(st["credited_seconds"], 1), "、".join(st["reasons"]),
                  "、".join(st["labels"])] for x in trace["sessions"] for st in x["stretches"]]
    checks = [[c["check_id"], c["kind_label"], c["asked"], c["answered"], c["status_label"], c["reason_label"] or "",
               "" if c["distance"] is None else round(c["distance"], 3), c["photo_sha256"] or ""] for c in trace["checks"]]
    attempts = [[a["attempt_id"], a["kind_label"], a["class"], a["chapter"] or "", a["started"], a["submitted"],
                 "" if a["score"] is None else a["score"], a["max_score"], {True: "通过", False: "未通过"}.get(a["passed"], ""),
                 a["page_leaves"]] for a in trace["attempts"]]
    answers = [[a["attempt_id"], q["n"], q["type"], q["text"], q["answer"], q["key"], "对" if q["correct"] else "错",
                q["answered"]] for a in trace["attempts"] for q in a["questions"]]
    qa = [[th["thread_id"], th["chapter"], p["at"], p["author"], p["text"]] for th in trace["qa"] for p in th["posts"]]
    daily = [[d["day"], minutes(d["credited_seconds"]), class_hours(d["credited_seconds"])] for d in trace["daily"]]
    reviewed = [[r["at"], r["regulator"]["name"], r["conclusion_label"], r["note"], f"{r['score']}（{r['level_label']}）",
                 sign_summary(r["signs"]), "当前结论" if r["current"] else "已被后续核查取代", r["ledger_seq"]]
                for r in trace.get("reviews", [])]
    hours = [[d["day"], *[minutes(x) for x in d["hours"]]] for d in trace["hours"]["days"]]
    return [
        ("学员概况", ["项目", "内容"], facts),
        ("异常线索", ["异常", "权重", "强度", "得分", "证据"], signs),
        ("监督检查记录", REVIEW_HEADER, reviewed),
        ("学习会话", ["会话", "开始", "结束", "班期", "章节", "网络地址", "用户代理", "心跳", "计入（分钟）", "结束原因"], sessions),
        ("计时片段", ["会话", "起", "止", "首个心跳", "末个心跳", "心跳数", "判定", "计入（秒）", "原因代码", "原因"], stretches),
        ("拍照核验", ["核验", "类型", "发起", "作答", "结果", "原因", "人脸距离", "照片 SHA-256"], checks),
        ("测验与考试", ["答卷", "类型", "班期", "章节", "开始", "交卷", "得分", "满分", "结果", "离开页面次数"], attempts),
        ("答题明细", ["答卷", "题号", "题型", "题目", "作答", "答案", "对错", "作答时间"], answers),
        ("答疑", ["问题", "章节", "时间", "发言人", "内容"], qa),
        ("每日学时", ["日期", "有效学时（分钟）", "课时"], daily),
        ("学习时段", ["日期", *[f"{h}时" for h in range(24)]], hours),
    ]


def class_archive(s, cls):
    """The archive of a class (003 art. 23): plan, roster, attendance, photo checks, exam results, certificates and
    supervision records (the regulator's reviews of its trainees' anomalies)."""
    chapters = [(course, ch) for course in cls.courses for ch in course.chapters]
    chapter_ids = [ch.id for _, ch in chapters]
    required = sum(ch.seconds for _, ch in chapters)
    roster = s.execute(select(User, Enrollment.created_at).join(Enrollment, Enrollment.trainee_id == User.id)
                       .where(Enrollment.class_id == cls.id).order_by(Enrollment.id)).all()
    ids = [u.id for u, _ in roster]
    credited = defaultdict(float)
    if ids and chapter_ids:
        for tid, sec in s.execute(select(ChapterProgress.trainee_id, ChapterProgress.credited_seconds).where(
                ChapterProgress.trainee_id.in_(ids), ChapterProgress.chapter_id.in_(chapter_ids))):
            credited[tid] += sec
    # Live lectures (直播) count like chapters: their scheduled time is required, attendance is credited.
    lectures = s.scalars(select(LiveLecture).where(LiveLecture.class_id == cls.id).order_by(LiveLecture.starts_ts)).all()
    held = [x for x in lectures if x.status != "cancelled"]
    live_required = sum(x.seconds for x in held)
    required += live_required
    live_credit = defaultdict(float)
    if ids and lectures:
        for tid, lid, sec in s.execute(select(LectureProgress.trainee_id, LectureProgress.lecture_id,
                                              LectureProgress.credited_seconds).where(
                LectureProgress.trainee_id.in_(ids), LectureProgress.lecture_id.in_([x.id for x in lectures]))):
            live_credit[(tid, lid)] = sec
    for x in held:
        for tid in ids:
            credited[tid] += min(live_credit[(tid, x.id)], x.seconds)
    sessions = {tid: (n, first, last) for tid, n, first, last in s.execute(
        select(LearningSession.trainee_id, func.count(), func.min(LearningSession.started_ts), func.max(LearningSession.started_ts))
        .where(LearningSession.class_id == cls.id).group_by(LearningSession.trainee_id))}
    per_day = defaultdict(float)
    for tid, ts, sec in s.execute(select(LearningSession.trainee_id, Heartbeat.received_ts, Heartbeat.credited_seconds)
                                  .join(LearningSession, LearningSession.id == Heartbeat.session_id)
                                  .where(LearningSession.class_id == cls.id, Heartbeat.credited_seconds > 0)):
        per_day[(tid, cst_date(ts).isoformat())] += sec
    checks = defaultdict(lambda: defaultdict(int))
    exam_attempts = select(Attempt.id).where(Attempt.class_id == cls.id)
    class_sessions = select(LearningSession.id).where(LearningSession.class_id == cls.id)
    for tid, status, n in s.execute(
            select(SessionCheck.trainee_id, SessionCheck.status, func.count())
            .where(SessionCheck.kind.like("photo%"),
                   SessionCheck.session_id.in_(class_sessions) | SessionCheck.attempt_id.in_(exam_attempts))
            .group_by(SessionCheck.trainee_id, SessionCheck.status)):
        checks[tid][status] += n
    exams = defaultdict(list)
    for a in s.scalars(select(Attempt).where(Attempt.class_id == cls.id, Attempt.kind == "exam").order_by(Attempt.id)):
        exams[a.trainee_id].append(a)
    policy = policy_for(cls.policy_profile)
    out_roster, attendance, photo, results, certs = [], [], [], [], []
    for n, (u, joined) in enumerate(roster, 1):
        out_roster.append([n, u.name, mask_id_number(u.id_number), mask_phone(u.phone), u.category or "", u.employer or "",
                           beijing_date(joined)])
        count, first, last = sessions.get(u.id, (0, None, None))
        days = sorted(d for (tid, d) in per_day if tid == u.id)
        attendance.append([u.name, mask_id_number(u.id_number), minutes(credited[u.id]), class_hours(credited[u.id]),
                           f"{100 * credited[u.id] / required:.1f}%" if required else "", count, len(days),
                           cst(first, False), cst(last, False)])
        c = checks[u.id]
        asked = sum(c.values())
        photo.append([u.name, mask_id_number(u.id_number), asked, c["passed"], c["failed"], c["missed"], c["pending"],
                      f"{100 * c['passed'] / asked:.0f}%" if asked else ""])
        tries = exams.get(u.id, [])
        scored = [a for a in tries if a.score is not None]
        best = max(scored, key=lambda a: a.score) if scored else None
        results.append([u.name, mask_id_number(u.id_number), len(tries), "" if best is None else best.score,
                        "" if best is None else best.max_score,
                        "" if best is None else ("通过" if best.passed else "未通过"),
                        "" if best is None else cst(best.submitted_ts, False)])
    names = {u.id: (u.name, mask_id_number(u.id_number)) for u, _ in roster}
    supervision = review_rows(s, [u.id for u, _ in roster], names,
                              reviews.regulators_over(s, {cls.institution.region_code}))
    for cert, revoked in s.execute(select(Certificate, CertificateRevocation.reason).outerjoin(CertificateRevocation)
                                   .where(Certificate.class_id == cls.id).order_by(Certificate.id)):
        certs.append([*names.get(cert.trainee_id, (cert.trainee_id, "")), cert.number, beijing_date(cert.issued_at),
                      "有效" if revoked is None else "已撤销：" + revoked])
    daily = [[*names.get(tid, (tid, "")), day, minutes(sec), class_hours(sec)] for (tid, day), sec in sorted(
        per_day.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    facts = [["培训机构", cls.institution.name], ["班期", cls.name], ["职业（工种）", cls.occupation or ""],
             ["培训形式", cls.form], ["起止日期", f"{cls.start_date or ''} 至 {cls.end_date or ''}"],
             ["总课时 / 线上课时", f"{cls.total_hours:g} / {cls.online_hours:g}"], ["政策", policy.label],
             ["线上视频总长", f"{minutes(required - live_required)} 分钟（{class_hours(required - live_required)} 课时）"],
             ["直播总长", f"{minutes(live_required)} 分钟（{class_hours(live_required)} 课时），{len(held)} 场"],
             ["学员人数", len(roster)],
             ["导出时间", beijing(time.time()) + "（北京时间）"]]
    plan = [[course.title, ch.ordinal, ch.title, minutes(ch.seconds), class_hours(ch.seconds), cls.form]
            for course, ch in chapters]
    live = [[x.title, x.teacher, cst(x.starts_ts, False), cst(x.ends_ts, False), minutes(x.seconds),
             STATES[lecture_state(x, server_now())], x.stream_url,
             minutes(x.recording_seconds) if x.recording_file else "未上传", x.recording_sha256 or ""] for x in lectures]
    live_attendance = [[x.title, *names[tid], minutes(live_credit[(tid, x.id)]),
                        f"{100 * min(live_credit[(tid, x.id)], x.seconds) / x.seconds:.1f}%" if x.seconds else ""]
                       for x in held for tid in ids]
    return {"class_id": cls.id, "title": f"{cls.institution.name}《{cls.name}》培训档案", "tables": [
        ("班期信息", ["项目", "内容"], facts),
        ("教学计划", ["课程", "章节序号", "章节", "时长（分钟）", "课时", "教学形式"], plan),
        ("花名册", ["序号", "姓名", "身份证号码", "手机号码", "身份类别", "工作单位", "加入日期"], out_roster),
        ("学时汇总", ["姓名", "身份证号码", "有效学时（分钟）", "课时", "完成比例", "学习会话", "学习天数", "首次学习", "最近学习"],
         attendance),
        ("考勤明细", ["姓名", "身份证号码", "日期", "有效学时（分钟）", "课时"], daily),
        ("直播课", ["直播", "主讲", "开始", "结束", "时长（分钟）", "状态", "直播地址", "录像（分钟）", "录像SHA-256"], live),
        ("直播出勤", ["直播", "姓名", "身份证号码", "在场计入（分钟）", "出勤比例"], live_attendance),
        ("拍照核验", ["姓名", "身份证号码", "发起", "通过", "未通过", "超时", "待答", "通过率"], photo),
        ("结业考试", ["姓名", "身份证号码", "考试次数", "最高分", "满分", "结果", "交卷时间"], results),
        ("培训证明", ["姓名", "身份证号码", "证书编号", "出具日期", "状态"], certs),
        ("监督检查记录", ["姓名", "身份证号码", *REVIEW_HEADER], supervision),
    ]}


def review_rows(s, trainee_ids, names, regulator_ids):
    """The regulator's reviews (核查处置) of these trainees, in roster order, newest first per trainee. Each keeps the
    findings as they stood when it was made; only their labels and points are listed (evidence may name trainees of
    other institutions; the trace shows it to those who may see them)."""
    rows = []
    order = {tid: n for n, tid in enumerate(trainee_ids)}
    by_trainee = defaultdict(list)
    for chunk in [trainee_ids[i:i + 500] for i in range(0, len(trainee_ids), 500)]:
        for row in s.scalars(select(AnomalyReview).where(AnomalyReview.trainee_id.in_(chunk),
                                                         AnomalyReview.regulator_id.in_(sorted(regulator_ids) or [0]))
                             .order_by(AnomalyReview.id.desc())):
            by_trainee[row.trainee_id].append(row)
    regulators = dict(s.execute(select(User.id, User.name).where(User.id.in_(
        sorted({r.regulator_id for rs in by_trainee.values() for r in rs}) or [0]))).all())
    for tid in sorted(by_trainee, key=order.get):
        for n, row in enumerate(by_trainee[tid]):
            status = reviews.status_json(row, regulators)
            rows.append([*names.get(tid, (tid, "")), status["at"], status["regulator"]["name"], status["conclusion_label"],
                         row.note, f"{row.score}（{status['level_label']}）", sign_summary(json.loads(row.findings)),
                         "当前结论" if n == 0 else "已被后续核查取代", row.ledger_seq])
    return rows


# ---------------------------------------------------------------------------------------------------------------------
# XLSX


def xlsx(tables, title):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for name, header, rows in tables:
        ws = wb.create_sheet(name[:31])
        append_row(ws, [title + " · " + name])
        ws["A1"].font = Font(bold=True, size=12)
        append_row(ws, header)
        for cell in ws[2]:
            cell.font = bold
        for row in rows:
            append_row(ws, ["" if v is None else v for v in row])
        for i, col in enumerate(header, 1):
            width = max([len(str(col))] + [len(str(r[i - 1])) for r in rows[:200] if i - 1 < len(r)])
            ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, width * 1.6 + 2))
        for row in ws.iter_rows(min_row=3):
            for cell in row:
                cell.alignment = Alignment(vertical="top", wrap_text=isinstance(cell.value, str) and len(cell.value) > 40)
        ws.freeze_panes = "A3"
    return workbook_bytes(wb)


def trace_xlsx(trace):
    return xlsx(trace_tables(trace), f"{trace['trainee']['name']}（{trace['trainee']['id_mask']}）学习轨迹")


def archive_xlsx(archive):
    return xlsx(archive["tables"], archive["title"])


# ---------------------------------------------------------------------------------------------------------------------
# PDF


def _styles():
    f = font()
    base = ParagraphStyle("base", fontName=f, fontSize=9, leading=12, wordWrap="CJK")
    return {"title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, alignment=1, spaceAfter=6),
            "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4),
            "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5), "body": base}


def _p(text, style):
    return Paragraph(str("" if text is None else text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), style)


def _table(header, rows, width, style, limit=2000):
    """A table that repeats its header on each page; columns share the width by their content's length."""
    rows = rows[:limit]
    lengths = [max([len(str(h))] + [min(60, len(str(r[i]))) for r in rows[:200] if i < len(r)]) + 2
               for i, h in enumerate(header)]
    widths = [width * n / sum(lengths) for n in lengths]
    t = Table([[_p(h, style) for h in header]] + [[_p(v, style) for v in r] for r in rows],
              colWidths=widths, repeatRows=1, hAlign="LEFT")
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#999999")),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
                           ("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return t


def pdf(tables, title, subtitle, skip=(), limit=2000):
    st = _styles()
    buf = io.BytesIO()
    size = landscape(A4)
    doc = SimpleDocTemplate(buf, pagesize=size, title=title, author=PLATFORM, subject=title,
                            leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm)
    width = size[0] - 24 * mm
    story = [_p(title, st["title"]), _p(subtitle, st["body"]), Spacer(1, 4 * mm)]
    for name, header, rows in tables:
        if name in skip:
            continue
        story.append(_p(name + ("" if len(rows) <= limit else f"（前 {limit} 行，完整内容见 XLSX）"), st["h2"]))
        story.append(_table(header, rows, width, st["cell"], limit) if rows else _p("暂无", st["body"]))
    story += [Spacer(1, 4 * mm), _p(f"由{PLATFORM}导出；身份证号码、手机号码已脱敏；时间均为北京时间。", st["cell"])]
    doc.build(story)
    return buf.getvalue()


def trace_pdf(trace):
    t = trace["trainee"]
    # The per-hour grid is 25 columns wide: readable in the workbook, not on paper.
    return pdf(trace_tables(trace), f"学习轨迹：{t['name']}（{t['id_mask']}）", f"导出时间 {beijing(time.time())}（北京时间）",
               skip=("学习时段",), limit=1500)


def archive_pdf(archive):
    return pdf(archive["tables"], archive["title"], f"导出时间 {beijing(time.time())}（北京时间）", limit=3000)

