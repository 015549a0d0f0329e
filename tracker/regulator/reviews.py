"""Reviews of anomalies (核查处置, 监督检查记录): a regulator looks into a trainee's findings and records a conclusion.

A review holds the conclusion, a note, and the findings and risk score as they stood at that moment (a snapshot:
the detectors' findings change as learning goes on, the review must keep its meaning). Reviews are append-only
rows, each with a ledger entry "anomaly.reviewed" holding the SHA-256 of the note and of the snapshot; a later
review of the same trainee supersedes the earlier one for display, and both stay.

Who: only a regulator whose region covers one of the trainee's institutions may review; the institution's staff
see the reviews of their own trainees (they must know that a violation was confirmed), read-only; trainees do not.

The parsers and `snapshot` are pure; `record_review` and the readers use the database.
"""
import hashlib
import json
import unicodedata
from datetime import timezone

from sqlalchemy import func, select

from models import Enrollment, Institution, LedgerEntry, TrainingClass, User
from models.regulator import AnomalyReview
from tracker import ledger
from tracker.accounts.rules import RuleError
from tracker.ledger.chain import canonical_json
from tracker.learning.sessions import server_now
from tracker.regulator import anomalies, evidence
from tracker.regulator.search import trainees_in_scope_query, visible_institution_ids
from tracker.security import EVERYTHING, can_view_trainee, evidence_scope, region_covers

KIND = "anomaly.reviewed"
CONCLUSIONS = {"cleared": "核查正常", "violation": "确认违规", "watch": "继续观察"}
NOTE_MAX = 500
MAX_DAYS = 3660


# ---------------------------------------------------------------------------------------------------------------------
# Pure rules


def parse_conclusion(raw):
    """The conclusion's code; the Chinese label is accepted too (a form or a script may send either)."""
    if raw is None or raw == "":
        raise RuleError("missing_field", "请选择核查结论：核查正常、确认违规或继续观察", "conclusion")
    if isinstance(raw, str):
        text = raw.strip()
        if text in CONCLUSIONS:
            return text
        for code, label in CONCLUSIONS.items():
            if text == label:
                return code
    raise RuleError("invalid_field", "核查结论须为 cleared（核查正常）、violation（确认违规）或 watch（继续观察）", "conclusion")


def parse_note(raw):
    """The note, trimmed: required, at most NOTE_MAX characters."""
    if raw is not None and not isinstance(raw, str):
        raise RuleError("invalid_field", "核查说明须为文字", "note")
    text = (raw or "").strip()
    if not text:
        raise RuleError("missing_field", "请填写核查说明（核查了什么、依据是什么）", "note")
    if len(text) > NOTE_MAX:
        raise RuleError("invalid_field", f"核查说明不能超过{NOTE_MAX}字（现有{len(text)}字）", "note")
    # Control characters (bar line breaks and tabs) belong in no note; PostgreSQL refuses NUL outright (a 500).
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in text):
        raise RuleError("invalid_field", "核查说明含有不允许的控制字符", "note")
    return text


def parse_days(raw):
    """The window of learning sessions the findings cover: None (all time) or 1..MAX_DAYS days."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise RuleError("invalid_field", "天数须为整数", "days")
    try:
        days = int(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity, which JSON as Python reads it allows
        raise RuleError("invalid_field", "天数须为整数", "days") from None
    if isinstance(raw, float) and raw != days:
        raise RuleError("invalid_field", "天数须为整数", "days")
    if not 1 <= days <= MAX_DAYS:
        raise RuleError("invalid_field", f"天数须在 1 到 {MAX_DAYS} 之间", "days")
    return days


def snapshot(risk):
    """The part of a trainee's risk (anomalies.trainee_risks entry, or None) that a review keeps: plain data."""
    risk = risk or {"score": 0, "level": "none", "signs": []}
    return {"score": risk["score"], "level": risk["level"], "signs": [
        {"sign": s["sign"], "label": s["label"], "weight": s["weight"], "strength": s["strength"], "points": s["points"],
         "evidence": list(s["evidence"])} for s in risk["signs"]]}


def findings_text(snap):
    """The snapshot's signs as stored: canonical JSON (what findings_sha256 is the SHA-256 of)."""
    return canonical_json(snap["signs"]).decode("utf-8")


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def can_review(s, viewer, trainee):
    """Only a regulator, and only of a trainee of an institution in its region."""
    return viewer.role == "regulator" and trainee.role == "trainee" and can_view_trainee(s, viewer, trainee)


def can_read_reviews(s, viewer, trainee):
    """The region's regulators, the trainee's institutions' staff, administrators; not trainees (not even their own)."""
    return viewer.role in ("regulator", "staff", "admin") and trainee.role == "trainee" and can_view_trainee(s, viewer, trainee)


# ---------------------------------------------------------------------------------------------------------------------
# Recording


def record_review(s, viewer, trainee, conclusion, note, days=None):
    """Record a review of the trainee's findings as they stand now (over the last `days` days of learning, or all).

    Refuses before anything is read or written: a viewer who may not review (403), a bad conclusion, note or
    window (400). The findings are assessed first (that reading ends its transactions between batches), then the
    trainee's row is locked so that concurrent reviews of one trainee each supersede the one before, and the
    ledger entry and the row are written in the caller's transaction, which the caller commits.
    """
    if not can_review(s, viewer, trainee):
        raise RuleError("forbidden", "只有学员所在辖区的人社部门可以作出核查处置", status=403)
    code, text, window = parse_conclusion(conclusion), parse_note(note), parse_days(days)
    since = server_now() - window * 86400 if window else None
    risks, _facts = evidence.assess(s, viewer, focus={trainee.id}, since_ts=since)
    snap = snapshot(risks.get(trainee.id))
    stored = findings_text(snap)

    s.scalar(select(User.id).where(User.id == trainee.id).with_for_update())
    previous = s.scalar(select(func.max(AnomalyReview.id)).where(AnomalyReview.trainee_id == trainee.id))
    entry = ledger.append(s, KIND, {
        "trainee_id": trainee.id, "conclusion": code, "note_sha256": sha256(text), "days": window,
        "score": snap["score"], "level": snap["level"], "signs": [[x["sign"], x["points"]] for x in snap["signs"]],
        "findings_sha256": sha256(stored), "supersedes": previous}, actor_id=viewer.id, subject_id=trainee.id)
    row = AnomalyReview(trainee_id=trainee.id, regulator_id=viewer.id, conclusion=code, note=text, days=window,
                        score=snap["score"], level=snap["level"], findings=stored, findings_sha256=sha256(stored),
                        supersedes_id=previous, ledger_seq=entry["seq"])
    s.add(row)
    s.flush()
    return row


def verify_review(s, row):
    """Whether the row still matches its ledger entry: [(label, ok)] and overall ok."""
    entry = s.scalar(select(LedgerEntry).where(LedgerEntry.seq == row.ledger_seq))
    payload = json.loads(entry.payload) if entry is not None and entry.kind == KIND else None
    checks = [("台账中有本次核查的记录", payload is not None)]
    if payload is not None:
        checks += [
            ("学员、结论与台账一致", payload["trainee_id"] == row.trainee_id and payload["conclusion"] == row.conclusion
             and entry.actor_id == row.regulator_id),
            ("核查说明的哈希与台账一致", payload["note_sha256"] == sha256(row.note)),
            ("核查时的异常线索与台账一致", payload["findings_sha256"] == sha256(row.findings) == row.findings_sha256
             and payload["score"] == row.score),
        ]
    return {"ok": all(ok for _, ok in checks), "checks": [{"label": a, "ok": b} for a, b in checks]}


# ---------------------------------------------------------------------------------------------------------------------
# Reading


def reviews_of(s, trainee_id):
    """A trainee's reviews, newest first."""
    return s.scalars(select(AnomalyReview).where(AnomalyReview.trainee_id == trainee_id)
                     .order_by(AnomalyReview.id.desc())).all()


def regulators_over(s, regions):
    """Ids of the regulators whose region covers one of these institution regions. A review is a supervision
    record of the reviewing regulator's region, about evidence of its classes: it goes where that evidence may go."""
    rows = s.execute(select(User.id, User.region_code).where(User.role == "regulator"))
    return {uid for uid, region in rows if any(region_covers(region, r) for r in regions)}


def visible_reviews(s, viewer, trainee, rows):
    """The rows a viewer may read: all for admins; else those of regulators over a class in evidence_scope."""
    scope = evidence_scope(s, viewer, trainee)
    if scope is EVERYTHING:
        return rows
    regions = set(s.scalars(select(Institution.region_code).join(TrainingClass).where(TrainingClass.id.in_(sorted(scope)))))
    allowed = regulators_over(s, regions)
    return [r for r in rows if r.regulator_id in allowed]


def latest_reviews(s, trainee_ids, regulator_ids=None):
    """trainee id -> their latest review (by these regulators, when given), for the trainees given."""
    out = {}
    ids = sorted(set(trainee_ids))
    for i in range(0, len(ids), 500):
        latest = (select(func.max(AnomalyReview.id)).where(AnomalyReview.trainee_id.in_(ids[i:i + 500]))
                  .group_by(AnomalyReview.trainee_id))
        if regulator_ids is not None:
            latest = latest.where(AnomalyReview.regulator_id.in_(sorted(regulator_ids) or [0]))
        for row in s.scalars(select(AnomalyReview).where(AnomalyReview.id.in_(latest))):
            out[row.trainee_id] = row
    return out


def _names(s, user_ids):
    ids = sorted(set(user_ids)) or [0]
    return dict(s.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def status_json(row, names):
    """A review in brief, for lists: conclusion, when, by whom, and the score the findings had then."""
    return {"review_id": row.id, "trainee_id": row.trainee_id, "conclusion": row.conclusion,
            "conclusion_label": CONCLUSIONS.get(row.conclusion, row.conclusion), "score": row.score, "level": row.level,
            "level_label": anomalies.LEVEL_LABELS.get(row.level, row.level), "days": row.days,
            "regulator": {"user_id": row.regulator_id, "name": names.get(row.regulator_id, "")},
            "created_at": _aware(row.created_at).isoformat(), "at": evidence.cst(_aware(row.created_at).timestamp(), False),
            "ledger_seq": row.ledger_seq}


def _aware(moment):
    """A stored datetime with its UTC offset (SQLite gives them back without it)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def latest_status(s, viewer, trainee_ids):
    """trainee id -> status_json of their latest review that the viewer may read (by a regulator over one of the
    viewer's institutions; trainees never reviewed are left out)."""
    regulator_ids = None
    if viewer.role != "admin":
        regions = set(s.scalars(select(Institution.region_code).where(
            Institution.id.in_(sorted(visible_institution_ids(s, viewer)) or [0]))))
        regulator_ids = regulators_over(s, regions)
    rows = latest_reviews(s, trainee_ids, regulator_ids)
    names = _names(s, [r.regulator_id for r in rows.values()])
    return {tid: status_json(row, names) for tid, row in rows.items()}


def history_json(s, viewer, trainee_id, rows=None):
    """The trainee's reviews, newest first, each with its snapshot described for this viewer: evidence names only
    the trainees the viewer may see (a regulator's snapshot may mention accounts outside an institution's staff's)."""
    if rows is None:
        rows = visible_reviews(s, viewer, s.get(User, trainee_id), reviews_of(s, trainee_id))
    if not rows:
        return []
    snaps = {row.id: {"trainee_id": trainee_id, "score": row.score, "level": row.level, "signs": json.loads(row.findings)}
             for row in rows}
    institutions = visible_institution_ids(s, viewer)
    mentioned, _classes = evidence.related_ids(snaps)
    mentioned |= {trainee_id}
    scope = set(s.scalars(trainees_in_scope_query(institutions).where(Enrollment.trainee_id.in_(sorted(mentioned))))) \
        if institutions else set()
    names = _names(s, [r.regulator_id for r in rows])
    out = []
    for n, row in enumerate(rows):
        [described] = evidence.readable(s, {trainee_id: snaps[row.id]}, scope, institutions)
        out.append({**status_json(row, names), "note": row.note, "signs": described["signs"],
                    "findings_sha256": row.findings_sha256, "supersedes_id": row.supersedes_id,
                    "current": n == 0, "superseded_by": rows[n - 1].id if n else None})
    return out
