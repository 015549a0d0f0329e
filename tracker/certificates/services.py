"""Issuing, revoking and checking certificates. The document is {facts, checkpoint, proof, signature}: the facts
are the payload of a "certificate.issued" ledger entry, the proof puts that entry in the checkpoint's tree, and
the platform signs the canonical JSON of {facts, checkpoint, proof} (see tracker.ledger.offline)."""
import json
import time
from datetime import datetime, timezone

from sqlalchemy import func, select

from models import (
    Certificate, CertificateRevocation, LearningSession, LectureProgress, LedgerEntry, LedgerHead, LiveLecture, TrainingClass,
    User,
)
from tracker import ledger
from tracker.accounts.rules import RuleError, mask_id_number
from tracker.clock import rfc3339
from tracker.certificates import numbers
from tracker.certificates.rules import class_chapters, class_hours, credited_by_chapter, eligibility
from tracker.learning.crediting import cst_day
from tracker.ledger import checkpoints, keys, offline, proofs, tree
from tracker.ledger.chain import canonical_json
from tracker.security import region_covers

DOCUMENT_TITLE = "职业技能线上培训证明"
ISSUED, REVOKED = "certificate.issued", "certificate.revoked"


class NotEligible(RuleError):
    def __init__(self, missing):
        super().__init__("not_eligible", "不符合出具培训证明的条件：" + "；".join(m["message"] for m in missing), status=409)
        self.missing = missing


# --- who may do what ------------------------------------------------------------------------------------------------


def can_issue(user, cls):
    return user.role == "admin" or (user.role == "staff" and user.institution_id == cls.institution_id)


def can_view(s, user, cert):
    """The certificate's trainee, its institution's staff, regulators of the institution's region, admins."""
    if user.role == "admin" or user.id == cert.trainee_id:
        return True
    if user.role == "staff":
        return user.institution_id == cert.institution_id
    if user.role == "regulator":
        return region_covers(user.region_code, cert.training_class.institution.region_code)
    return False


# --- facts -----------------------------------------------------------------------------------------------------------


def photo_checks_passed(s, trainee, cls):
    """Passed photo checks (签到 and 过程拍照) of the trainee's sessions in this class (and exam checks), from the ledger."""
    sessions = set(s.scalars(select(LearningSession.id).where(LearningSession.trainee_id == trainee.id,
                                                               LearningSession.class_id == cls.id)))
    passed = 0
    for payload in s.scalars(select(LedgerEntry.payload).where(LedgerEntry.subject_id == trainee.id,
                                                               LedgerEntry.kind == "check.passed")):
        p = json.loads(payload)
        if str(p.get("kind", "")).startswith("photo") and (p.get("session_id") is None or p.get("session_id") in sessions):
            passed += 1
    return passed


def study_dates(s, trainee, cls):
    """First and last day (China Standard Time) the trainee was credited time in this class."""
    first, last = s.execute(select(func.min(LearningSession.started_ts),
                                   func.max(func.coalesce(LearningSession.ended_ts, LearningSession.last_beat_ts)))
                            .where(LearningSession.trainee_id == trainee.id, LearningSession.class_id == cls.id,
                                   LearningSession.credited_seconds > 0)).one()
    return {"first": cst_day(first).isoformat() if first else None, "last": cst_day(last).isoformat() if last else None}


def certificate_facts(s, trainee, cls, number, issuer, elig, now=None):
    credited = credited_by_chapter(s, trainee, cls)
    courses = {}
    for course, ch in class_chapters(cls):
        c = courses.setdefault(course.id, {"course_id": course.id, "title": course.title, "chapters": 0,
                                           "required_seconds": 0, "credited_seconds": 0.0})
        c["chapters"] += 1
        c["required_seconds"] += ch.seconds
        c["credited_seconds"] += credited[ch.id]
    for c in courses.values():
        c["credited_seconds"] = int(c["credited_seconds"])
        c["required_class_hours"], c["credited_class_hours"] = class_hours(c["required_seconds"]), class_hours(c["credited_seconds"])
    inst = cls.institution
    live = lecture_totals(s, trainee, cls)
    return {
        "document": DOCUMENT_TITLE,
        "number": number,
        "trainee": {"user_id": trainee.id, "name": trainee.name, "id_mask": mask_id_number(trainee.id_number),
                    "category": trainee.category},
        "institution": {"institution_id": inst.id, "name": inst.name, "region_code": inst.region_code},
        "class": {"class_id": cls.id, "name": cls.name, "occupation": cls.occupation, "form": cls.form,
                  "start_date": cls.start_date.isoformat() if cls.start_date else None,
                  "end_date": cls.end_date.isoformat() if cls.end_date else None, "policy_profile": cls.policy_profile},
        "courses": list(courses.values()),
        **({"lectures": live} if live else {}),
        "online": elig["facts"].get("online"),
        "exam": elig["facts"].get("exam"),
        "photo_checks_passed": photo_checks_passed(s, trainee, cls),
        "study_dates": study_dates(s, trainee, cls),
        "requirements": [m["code"] for m in elig["met"]],
        "issued_at": rfc3339(now),
        "issued_by": {"user_id": issuer.id, "name": issuer.name},
    }


def lecture_totals(s, trainee, cls):
    """The class's live lectures (直播) as one line of the certificate, or None when it has none."""
    rows = s.execute(select(LiveLecture, LectureProgress.credited_seconds)
                     .outerjoin(LectureProgress, (LectureProgress.lecture_id == LiveLecture.id)
                                & (LectureProgress.trainee_id == trainee.id))
                     .where(LiveLecture.class_id == cls.id, LiveLecture.status != "cancelled")).all()
    if not rows:
        return None
    required = int(sum(x.seconds for x, _ in rows))
    credited = int(sum(min(c or 0.0, x.seconds) for x, c in rows))
    return {"count": len(rows), "required_seconds": required, "credited_seconds": credited,
            "required_class_hours": class_hours(required), "credited_class_hours": class_hours(credited)}


def next_number(s, year):
    """A fresh number that cannot be guessed (tracker/certificates/numbers.py): 2026-7K3MQ-9XDTP."""
    while True:
        number = numbers.new_number(year)
        if s.scalar(select(Certificate.id).where(Certificate.number == number)) is None:
            return number


# --- issue and revoke ------------------------------------------------------------------------------------------------


def current_certificate(s, trainee_id, class_id):
    """The trainee's certificate of the class that is not revoked, if any."""
    return s.scalar(select(Certificate).outerjoin(CertificateRevocation)
                    .where(Certificate.trainee_id == trainee_id, Certificate.class_id == class_id,
                           CertificateRevocation.id.is_(None)).order_by(Certificate.id.desc()).limit(1))


def issue(s, cls, trainee, issuer, now=None):
    """Issue a certificate inside the caller's transaction, or raise RuleError / NotEligible saying why not.

    The ledger head is locked first, so numbers are handed out one at a time; the checkpoint signed right after
    the issue entry includes it, and the whole certificate commits or rolls back with the entry.
    """
    if not can_issue(issuer, cls):
        raise RuleError("forbidden", "只能为本机构班期的学员出具培训证明", status=403)
    s.execute(select(LedgerHead.id).where(LedgerHead.id == 1).with_for_update())
    existing = current_certificate(s, trainee.id, cls.id)
    if existing is not None:
        raise RuleError("already_issued", f"该学员本班期的培训证明已出具（编号 {existing.number}）", status=409)
    elig = eligibility(s, trainee, cls)
    if not elig["eligible"]:
        raise NotEligible(elig["missing"])
    now = time.time() if now is None else now
    number = next_number(s, datetime.fromtimestamp(now, timezone.utc).year)
    facts = certificate_facts(s, trainee, cls, number, issuer, elig, now)
    body = ledger.append(s, ISSUED, facts, actor_id=issuer.id, subject_id=trainee.id)
    cp = checkpoints.make_checkpoint(s)
    entry = {k: v for k, v in body.items() if k != "hash"}
    proof = {"leaf_index": entry["seq"] - 1, "tree_size": cp.tree_size, "leaf_hash": tree.entry_leaf(entry).hex(),
             "audit_path": [h.hex() for h in tree.inclusion(s, entry["seq"] - 1, cp.tree_size)], "entry": entry}
    doc = {"facts": facts, "checkpoint": checkpoints.as_json(cp), "proof": proof}
    doc["signature"] = keys.sign(offline.certificate_signed_bytes(doc))
    cert = Certificate(number=number, trainee_id=trainee.id, class_id=cls.id, institution_id=cls.institution_id,
                       issued_by=issuer.id, entry_seq=entry["seq"], document=canonical_json(doc).decode("utf-8"))
    s.add(cert)
    s.flush()
    return cert


def revoke(s, cert, actor, reason):
    if not (actor.role == "admin" or (actor.role == "staff" and actor.institution_id == cert.institution_id)):
        raise RuleError("forbidden", "只能撤销本机构出具的培训证明", status=403)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise RuleError("missing_field", "请填写撤销原因", "reason")
    if len(reason) > 500:
        raise RuleError("too_long", "撤销原因不能超过500个字符", "reason")
    if s.scalar(select(CertificateRevocation.id).where(CertificateRevocation.certificate_id == cert.id)):
        raise RuleError("already_revoked", "该培训证明已撤销", status=409)
    body = ledger.append(s, REVOKED, {"number": cert.number, "certificate_entry": cert.entry_seq, "reason": reason},
                         actor_id=actor.id, subject_id=cert.trainee_id)
    row = CertificateRevocation(certificate_id=cert.id, revoked_by=actor.id, reason=reason, entry_seq=body["seq"])
    s.add(row)
    s.flush()
    return row


# --- looking certificates up and checking them --------------------------------------------------------------------


def by_number(s, number):
    """The certificate with this number as typed or scanned (any case, any separators), or None."""
    canonical, status = numbers.parse(number)
    if status != numbers.OK:
        return None
    return s.scalar(select(Certificate).where(Certificate.number == canonical))


def revocation(s, cert):
    return s.scalar(select(CertificateRevocation).where(CertificateRevocation.certificate_id == cert.id))


def check(s, cert):
    """Everything the verification page shows: the offline checks on the stored document with the platform's key,
    then what only the platform's database can add: the entry is still there unchanged, the checkpoint was
    published, the ledger since then is an extension of it, and whether the certificate was revoked."""
    data = cert.document.encode("utf-8")
    doc, checks = offline.verify_certificate(data, keys.public_key_bytes())
    ok = all(c[1] for c in checks)
    if ok:
        def online(label, fn):
            try:
                checks.append((label, True, fn() or ""))
            except (offline.Invalid, RuleError) as e:
                checks.append((label, False, getattr(e, "message", None) or str(e)))

        def entry_unchanged():
            stored = s.get(LedgerEntry, doc["proof"]["entry"]["seq"])
            if stored is None or canonical_json(proofs.body_of(stored)) != canonical_json(doc["proof"]["entry"]):
                raise offline.Invalid("平台台账中的该条目与证明不一致")
            return f"台账第 {stored.seq} 条"

        def checkpoint_published():
            cp = checkpoints.at_size(s, doc["checkpoint"]["tree_size"])
            if cp is None or checkpoints.as_json(cp) != doc["checkpoint"]:
                raise offline.Invalid("该检查点不在平台公开的检查点中")
            return "已在 /api/v1/ledger/checkpoints 公开"

        def consistent_with_newest():
            newest = checkpoints.latest(s)
            first = doc["checkpoint"]
            path = [h.hex() for h in tree.consistency(s, first["tree_size"], newest.tree_size)]
            offline.check_consistency(first, checkpoints.as_json(newest), path)
            return f"树大小 {first['tree_size']} → {newest.tree_size}"

        online("台账条目未被改动", entry_unchanged)
        online("检查点已公开", checkpoint_published)
        online("与最新检查点一致（台账只增不改）", consistent_with_newest)
    genuine = all(c[1] for c in checks)
    rev = revocation(s, cert)
    return {"genuine": genuine, "valid": genuine and rev is None, "revocation": rev, "facts": doc.get("facts") or {},
            "checks": [{"label": label, "ok": good, "detail": detail} for label, good, detail in checks]}


def class_statuses(s, cls):
    """Per roster trainee: their current certificate (if any) and their eligibility, for the class page."""
    from tracker.learning.services import class_roster

    out = {}
    for trainee in class_roster(s, cls):
        cert = current_certificate(s, trainee.id, cls.id)
        out[trainee.id] = {"certificate": cert, "eligibility": None if cert else eligibility(s, trainee, cls)}
    return out


def trainee_certificates(s, trainee_id):
    rows = s.execute(select(Certificate, CertificateRevocation.id).outerjoin(CertificateRevocation)
                     .where(Certificate.trainee_id == trainee_id).order_by(Certificate.id.desc())).all()
    return [{"certificate": c, "class_name": s.get(TrainingClass, c.class_id).name, "revoked": rid is not None}
            for c, rid in rows]


def trainee(s, trainee_id):
    user = s.get(User, trainee_id)
    return user if user is not None and user.role == "trainee" else None
