"""Who is in a viewer's scope, and finding trainees in it by name or ID number (whole, or its last digits).

A regulator's scope is every institution in its region (region_covers); staff's is their own institution; an
administrator's everything. A trainee is in scope when on the roster of a class of an institution in scope.
"""
import re

from sqlalchemy import select

from models import Enrollment, Institution, TrainingClass, User
from tracker.accounts.rules import RuleError, mask_id_number, mask_phone, normalize_id_number
from tracker.security import region_covers

MIN_ID_DIGITS = 4
LIMIT = 50


def visible_institution_ids(s, viewer):
    if viewer.role == "admin":
        return set(s.scalars(select(Institution.id)))
    if viewer.role == "staff":
        return {viewer.institution_id} if viewer.institution_id else set()
    if viewer.role == "regulator":
        return {i.id for i in s.scalars(select(Institution)) if region_covers(viewer.region_code, i.region_code)}
    return set()


def scope_class_ids(s, viewer):
    institutions = visible_institution_ids(s, viewer)
    if not institutions:
        return set()
    return set(s.scalars(select(TrainingClass.id).where(TrainingClass.institution_id.in_(sorted(institutions)))))


def trainees_in_scope_query(institutions):
    """SELECT of the ids of trainees on the rosters of these institutions' classes."""
    return (select(Enrollment.trainee_id).join(TrainingClass, TrainingClass.id == Enrollment.class_id)
            .where(TrainingClass.institution_id.in_(sorted(institutions))))


def scope_trainee_ids(s, viewer):
    institutions = visible_institution_ids(s, viewer)
    return set(s.scalars(trainees_in_scope_query(institutions))) if institutions else set()


def trainee_classes(s, trainee_id, institutions):
    """The trainee's classes at these institutions: [{class_id, name, occupation, institution}]."""
    rows = s.execute(select(TrainingClass, Institution.name).join(Enrollment, Enrollment.class_id == TrainingClass.id)
                     .join(Institution, Institution.id == TrainingClass.institution_id)
                     .where(Enrollment.trainee_id == trainee_id, TrainingClass.institution_id.in_(sorted(institutions)))
                     .order_by(TrainingClass.id)).all()
    return [{"class_id": c.id, "name": c.name, "occupation": c.occupation, "institution_id": c.institution_id,
             "institution": inst_name} for c, inst_name in rows]


def person_json(user):
    """A trainee as the portal shows one: ID number and phone masked."""
    return {"trainee_id": user.id, "name": user.name, "id_mask": mask_id_number(user.id_number),
            "phone_mask": mask_phone(user.phone), "category": user.category, "employer": user.employer}


def parse_query(raw):
    """("id", whole ID) | ("suffix", last digits) | ("name", text); RuleError for a query too short to be useful."""
    text = (raw or "").strip()[:50]
    if not text:
        raise RuleError("missing_field", "请输入姓名或身份证号码（可只输入后几位）", "q")
    idn = normalize_id_number(text)
    if re.fullmatch(r"[0-9]{17}[0-9X]", idn):
        return "id", idn
    if re.fullmatch(r"[0-9]*[0-9X]", idn):
        if len(idn) < MIN_ID_DIGITS:
            raise RuleError("query_too_short", f"按身份证号码查询时请至少输入后{MIN_ID_DIGITS}位", "q")
        return "suffix", idn
    return "name", text


def search_trainees(s, viewer, raw, limit=LIMIT):
    """Trainees in the viewer's scope matching the query, each with their classes in scope."""
    how, value = parse_query(raw)
    institutions = visible_institution_ids(s, viewer)
    if not institutions:
        return []
    q = select(User).where(User.role == "trainee", User.id.in_(trainees_in_scope_query(institutions)))
    if how == "id":
        q = q.where(User.id_number == value)
    elif how == "suffix":
        q = q.where(User.id_number.endswith(value, autoescape=True))
    else:
        q = q.where(User.name.contains(value, autoescape=True))
    users = s.scalars(q.order_by(User.name, User.id).limit(limit)).all()
    return [{**person_json(u), "classes": trainee_classes(s, u.id, institutions)} for u in users]
