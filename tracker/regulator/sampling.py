"""Random sampling (双随机抽查) of trainees or classes from a region, fair and checkable afterwards.

The rule, so that anyone can re-run a draw from its ledger entry without our code:

    ids   = the population's ids, as integers, without duplicates, in ascending order
    key   = SHA-256 of the UTF-8 text  seed + ":" + decimal id   (hex digest)
    drawn = the first n ids ordered by (key, id)

    population_sha256 = SHA-256 of the canonical JSON of ids (e.g. "[3,7,12]": no spaces)

The seed is 128 random bits (secrets.token_hex) made at the moment of the draw. The ledger entry "sampling.draw"
records the seed, the population's size and SHA-256 and the ids drawn before the draw is shown to anyone; the
population itself is kept with the draw (and downloadable), so that its hash and the draw can be checked.
"""
import hashlib
import json
import secrets

from sqlalchemy import select

from models import Enrollment, Institution, LedgerEntry, SamplingDraw, TrainingClass
from tracker import ledger
from tracker.accounts.rules import RuleError
from tracker.ledger.chain import canonical_json
from tracker.security import region_covers

KINDS = {"trainees": "学员", "classes": "班期"}
MAX_N = 500


def normalize_population(ids):
    return sorted({int(i) for i in ids})


def population_sha256(ids):
    return hashlib.sha256(canonical_json(normalize_population(ids))).hexdigest()


def draw_key(seed, item_id):
    return hashlib.sha256(f"{seed}:{int(item_id)}".encode("utf-8")).hexdigest()


def draw(seed, population, n):
    """The n ids drawn from population with seed (see the module's docstring); fewer if the population is smaller."""
    ids = normalize_population(population)
    return sorted(ids, key=lambda i: (draw_key(seed, i), i))[:max(0, int(n))]


# ---------------------------------------------------------------------------------------------------------------------
# The draws in the database


def region_institution_ids(s, region_code):
    return sorted(i.id for i in s.scalars(select(Institution)) if region_covers(region_code, i.region_code))


def population(s, kind, region_code):
    """Ids of the region's classes, or of the trainees on their rosters."""
    institutions = region_institution_ids(s, region_code)
    if not institutions:
        return []
    classes = select(TrainingClass.id).where(TrainingClass.institution_id.in_(institutions))
    if kind == "classes":
        return normalize_population(s.scalars(classes))
    return normalize_population(s.scalars(select(Enrollment.trainee_id).where(Enrollment.class_id.in_(classes))))


def validate_request(viewer, kind, n, region_code):
    if viewer.role != "regulator":
        raise RuleError("forbidden", "只有人社部门可以进行双随机抽查", status=403)
    if kind not in KINDS:
        raise RuleError("invalid_field", "抽查对象须为 trainees（学员）或 classes（班期）", "kind")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise RuleError("invalid_field", f"抽取数量须为 1 到 {MAX_N} 的整数", "n")
    region = region_code or viewer.region_code or ""
    if not (isinstance(region, str) and len(region) == 6 and region.isascii() and region.isdigit()):
        raise RuleError("invalid_field", "行政区划代码须为6位数字", "region_code")
    if not region_covers(viewer.region_code, region):
        raise RuleError("outside_region", "只能在本辖区内抽查", "region_code", status=403)
    return region


def make_draw(s, viewer, kind, n, region_code=None):
    """Draw and record: the ledger entry is appended in the caller's transaction, which must commit before the
    result is shown (the routes redirect to the draw's page only after the commit)."""
    region = validate_request(viewer, kind, n, region_code)
    ids = population(s, kind, region)
    if not ids:
        raise RuleError("empty_population", "该辖区内没有可抽查的" + KINDS[kind], "region_code", status=409)
    seed = secrets.token_hex(16)
    chosen = draw(seed, ids, n)
    digest = population_sha256(ids)
    entry = ledger.append(s, "sampling.draw", {
        "kind": kind, "region_code": region, "n": n, "seed": seed, "population_size": len(ids),
        "population_sha256": digest, "selected": chosen, "rule": "sha256(seed:id) ascending"}, actor_id=viewer.id)
    row = SamplingDraw(kind=kind, region_code=region, n=n, seed=seed, population=canonical_json(ids).decode(),
                       population_size=len(ids), population_sha256=digest, selected=json.dumps(chosen),
                       ledger_seq=entry["seq"], regulator_id=viewer.id)
    s.add(row)
    s.flush()
    return row


def visible_draws(s, viewer, limit=200):
    """Draws of regions the regulator covers (its own and those of its subdivisions' regulators)."""
    if viewer.role not in ("regulator", "admin"):
        return []
    rows = s.scalars(select(SamplingDraw).order_by(SamplingDraw.id.desc()).limit(limit)).all()
    return [r for r in rows if viewer.role == "admin" or region_covers(viewer.region_code, r.region_code)]


def can_view_draw(viewer, row):
    return viewer.role == "admin" or (viewer.role == "regulator" and region_covers(viewer.region_code, row.region_code))


def verify_draw(s, row):
    """Check a draw against its ledger entry: [(label, ok, detail)] and whether every check passed."""
    entry = s.scalar(select(LedgerEntry).where(LedgerEntry.seq == row.ledger_seq))
    payload = json.loads(entry.payload) if entry is not None and entry.kind == "sampling.draw" else None
    ids = json.loads(row.population)
    selected = json.loads(row.selected)
    checks = [("台账中有本次抽查的记录", payload is not None, f"台账序号 {row.ledger_seq}")]
    if payload is not None:
        recomputed = draw(payload["seed"], ids, payload["n"])
        checks += [
            ("种子与台账一致", payload["seed"] == row.seed, payload["seed"]),
            ("抽查总体的人数与台账一致", payload["population_size"] == len(ids), str(len(ids))),
            ("抽查总体的哈希与台账一致", payload["population_sha256"] == population_sha256(ids), payload["population_sha256"]),
            ("按种子重新抽取，结果与台账一致", recomputed == payload["selected"] == selected,
             "、".join(str(i) for i in recomputed)),
        ]
    return {"ok": all(ok for _, ok, _ in checks), "checks": [{"label": a, "ok": b, "detail": c} for a, b, c in checks],
            "entry": None if entry is None else {"seq": entry.seq, "ts": entry.ts, "kind": entry.kind,
                                                 "hash": entry.hash, "payload": payload}}


def draw_json(row, with_population=False):
    out = {"draw_id": row.id, "kind": row.kind, "region_code": row.region_code, "n": row.n, "seed": row.seed,
           "population_size": row.population_size, "population_sha256": row.population_sha256,
           "selected": json.loads(row.selected), "ledger_seq": row.ledger_seq, "regulator_id": row.regulator_id,
           "created_at": row.created_at.isoformat()}
    if with_population:
        out["population"] = json.loads(row.population)
    return out
