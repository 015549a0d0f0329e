"""From the database to the detectors' plain facts, and from their findings to evidence people can read.

Reading a region's heartbeats takes a while, and on SQLite every transaction holds the write lock (BEGIN
IMMEDIATE): the loaders end the transaction between batches so heartbeats keep flowing meanwhile.
"""
import json
import re
import unicodedata
from collections import defaultdict

from sqlalchemy import or_, select

from models import (
    Attempt, AttemptAnswer, BankQuestion, Enrollment, FaceFlag, Heartbeat, Institution, LearningSession, SessionCheck,
    TrainingClass, User,
)
from tracker.accounts.rules import mask_id_number
from tracker.assessment import rules
from tracker.assessment.services import as_rule
from tracker.clock import beijing
from tracker.regulator import anomalies
from tracker.regulator.anomalies import (
    AttemptFacts, Answer, CheckFacts, EnrolmentFacts, FlagFacts, SessionFacts,
)
from tracker.regulator.search import trainees_in_scope_query, visible_institution_ids

BATCH = 200


def _release(s):
    """End the read transaction (and SQLite's write lock) between batches."""
    s.commit()


def _chunks(ids, size=BATCH):
    ids = list(ids)
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def cst(ts, seconds=True):
    return beijing(ts, seconds)


# ---------------------------------------------------------------------------------------------------------------------
# Loading facts


def _env_summary(text):
    """(user agent, webdriver) from a heartbeat's env JSON; tolerant of anything a client sent."""
    try:
        env = json.loads(text or "{}")
    except ValueError:
        return "", False
    if not isinstance(env, dict):
        return "", False
    ua = env.get("ua")
    return (ua[:300] if isinstance(ua, str) else ""), env.get("webdriver") is True


def session_facts(s, rows, with_beats=True):
    """SessionFacts for LearningSession rows, with their heartbeats read in batches."""
    beats = defaultdict(list)
    clients = defaultdict(list)
    webdriver = defaultdict(int)
    agents = defaultdict(set)
    if with_beats:
        for chunk in _chunks([r.id for r in rows]):
            last_env, summary = None, ("", False)
            q = (select(Heartbeat.session_id, Heartbeat.received_ts, Heartbeat.client_time, Heartbeat.env)
                 .where(Heartbeat.session_id.in_(chunk)).order_by(Heartbeat.session_id, Heartbeat.id))
            for sid, ts, client, env in s.execute(q):
                if env != last_env:  # env rarely changes within a session: parse it only when it does
                    last_env, summary = env, _env_summary(env)
                beats[sid].append(ts)
                clients[sid].append(client)
                if summary[1]:
                    webdriver[sid] += 1
                if summary[0]:
                    agents[sid].add(summary[0])
            _release(s)
    return [SessionFacts(
        session_id=r.id, trainee_id=r.trainee_id, class_id=r.class_id, started_ts=r.started_ts,
        last_ts=max(r.last_beat_ts or r.started_ts, r.started_ts), address=r.address or "", user_agent=r.user_agent or "",
        beats=tuple(beats[r.id]), client_times=tuple(clients[r.id]), webdriver_beats=webdriver[r.id],
        env_agents=tuple(sorted(agents[r.id]))) for r in rows]


def _fold(text):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def answer_content(q, order, answer):
    """The answer in the bank's terms (original option indices), so that two different papers compare."""
    try:
        if q.kind == "single":
            value = order[answer]
        elif q.kind == "multiple":
            value = sorted(order[i] for i in answer)
        elif q.kind == "fill":
            value = _fold(answer)
        else:
            value = answer
    except (IndexError, TypeError, KeyError):
        value = answer
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def attempt_facts(s, attempts):
    """AttemptFacts for exam attempts: the last answer per question, in the bank's terms, with its server time."""
    papers = {a.id: [(qid, order) for qid, order in json.loads(a.paper)] for a in attempts}
    qids = {qid for paper in papers.values() for qid, _ in paper}
    bank = {}
    for chunk in _chunks(qids, 500):
        bank.update({q.id: as_rule(q) for q in s.scalars(select(BankQuestion).where(BankQuestion.id.in_(chunk)))})
    given = defaultdict(dict)
    for chunk in _chunks([a.id for a in attempts]):
        q = (select(AttemptAnswer.attempt_id, AttemptAnswer.question_id, AttemptAnswer.answer, AttemptAnswer.received_ts)
             .where(AttemptAnswer.attempt_id.in_(chunk)).order_by(AttemptAnswer.id))
        for attempt_id, qid, answer, ts in s.execute(q):
            given[attempt_id][qid] = (json.loads(answer), ts)
    out = []
    for a in attempts:
        answers = {}
        for qid, order in papers[a.id]:
            if qid in given[a.id] and qid in bank:
                value, ts = given[a.id][qid]
                q = bank[qid]
                answers[qid] = Answer(answer_content(q, order, value), bool(rules.is_correct(q, order, value)), ts)
        out.append(AttemptFacts(a.id, a.trainee_id, a.class_id, a.started_ts, answers))
    return out


def gather(s, viewer, focus=None, since_ts=None):
    """Facts about the trainees in focus (default: the viewer's whole scope) for anomalies.detect.

    Sessions of other accounts at the same network addresses are included (without heartbeats) so that a device
    shared with accounts elsewhere shows; exam attempts of the focus trainees' classes, so that answers compare.
    """
    institutions = visible_institution_ids(s, viewer)
    scope = set(s.scalars(trainees_in_scope_query(institutions))) if institutions else set()
    whole = focus is None
    focus = scope if whole else set(focus) & scope
    empty = {"focus": focus, "scope": scope, "sessions": [], "checks": [], "flags": [], "attempts": [], "enrolments": []}
    if not focus:
        return empty

    def of_focus(column):
        return column.in_(trainees_in_scope_query(institutions)) if whole else column.in_(sorted(focus))

    # The focus trainees' own evidence only from classes in scope (evidence belongs to its class); other
    # accounts' sessions at the same addresses and enrolments elsewhere stay, named only when in scope.
    scope_classes = select(TrainingClass.id).where(TrainingClass.institution_id.in_(sorted(institutions)))
    q = select(LearningSession).where(of_focus(LearningSession.trainee_id), LearningSession.class_id.in_(scope_classes))
    if since_ts is not None:
        q = q.where(LearningSession.started_ts >= since_ts)
    own = s.scalars(q.order_by(LearningSession.id)).all()
    addresses = sorted({r.address for r in own if r.address})
    others = []
    for chunk in _chunks(addresses, 500):
        q = select(LearningSession).where(LearningSession.address.in_(chunk), ~of_focus(LearningSession.trainee_id))
        if since_ts is not None:
            q = q.where(LearningSession.started_ts >= since_ts)
        others += s.scalars(q).all()
    _release(s)
    sessions = session_facts(s, own) + session_facts(s, others, with_beats=False)

    q = select(SessionCheck.id, SessionCheck.trainee_id, SessionCheck.kind, SessionCheck.status, SessionCheck.reason
               ).where(of_focus(SessionCheck.trainee_id),
                       SessionCheck.session_id.in_(select(LearningSession.id).where(LearningSession.class_id.in_(scope_classes)))
                       | SessionCheck.attempt_id.in_(select(Attempt.id).where(Attempt.class_id.in_(scope_classes))))
    if since_ts is not None:
        q = q.where(SessionCheck.asked_ts >= since_ts)
    checks = [CheckFacts(*row) for row in s.execute(q)]
    flags = [FlagFacts(f.id, f.kind, f.trainee_id, f.other_trainee_id, f.distance) for f in s.scalars(
        select(FaceFlag).where(or_(of_focus(FaceFlag.trainee_id), of_focus(FaceFlag.other_trainee_id))))]
    enrolments = [EnrolmentFacts(tid, cid, iid, occ or "", start.isoformat() if start else None) for tid, cid, iid, occ, start
                  in s.execute(select(Enrollment.trainee_id, TrainingClass.id, TrainingClass.institution_id,
                                      TrainingClass.occupation, TrainingClass.start_date)
                               .join(TrainingClass, TrainingClass.id == Enrollment.class_id)
                               .where(of_focus(Enrollment.trainee_id)))]
    classes = sorted({e.class_id for e in enrolments if e.institution_id in institutions})
    exam_rows = []
    for chunk in _chunks(classes, 500):
        q = select(Attempt).where(Attempt.kind == "exam", Attempt.class_id.in_(chunk), Attempt.status != "open")
        if since_ts is not None:
            q = q.where(Attempt.started_ts >= since_ts)
        exam_rows += s.scalars(q).all()
    attempts = attempt_facts(s, exam_rows)
    _release(s)
    return {"focus": focus, "scope": scope, "sessions": sessions, "checks": checks, "flags": flags, "attempts": attempts,
            "enrolments": enrolments}


def assess(s, viewer, focus=None, since_ts=None):
    """Risk per trainee in focus: {trainee id: anomalies.trainee_risks entry}, plus the facts it came from."""
    facts = gather(s, viewer, focus, since_ts)
    findings = [f for f in anomalies.detect(facts["sessions"], facts["checks"], facts["flags"], facts["attempts"],
                                            facts["enrolments"]) if f.trainee_id in facts["focus"]]
    return anomalies.trainee_risks(findings), facts


# ---------------------------------------------------------------------------------------------------------------------
# Evidence for people


def people(s, ids, scope):
    """id -> {name, id_mask, visible}; names only of trainees the viewer may see."""
    out = {}
    for chunk in _chunks(sorted(ids), 500):
        for u in s.scalars(select(User).where(User.id.in_(chunk))):
            visible = u.id in scope
            out[u.id] = {"trainee_id": u.id, "name": u.name if visible else "辖区外学员", "id_mask": mask_id_number(u.id_number),
                         "visible": visible}
    return out


def classes_named(s, ids, institutions):
    out = {}
    for chunk in _chunks(sorted(ids), 500):
        for c, inst in s.execute(select(TrainingClass, Institution.name).join(Institution).where(TrainingClass.id.in_(chunk))):
            visible = c.institution_id in institutions
            out[c.id] = f"{inst}《{c.name}》" if visible else f"其他机构的班期（{c.start_date or '日期不详'}）"
    return out


def related_ids(risks):
    """Trainees and classes that evidence mentions (for names)."""
    trainees, classes = set(), set()
    for risk in risks.values():
        for sign in risk["signs"]:
            for e in sign["evidence"]:
                trainees.update(e.get("accounts") or [])
                if e.get("other_trainee_id"):
                    trainees.add(e["other_trainee_id"])
                classes.update(c["class_id"] for c in e.get("classes") or [])
    return trainees, classes


def _who(ids, names, exclude=None):
    return "、".join(f"{names[i]['name']}（{names[i]['id_mask']}）" if i in names else f"账号{i}"
                    for i in ids if i != exclude) or "—"


def describe(sign, e, trainee_id, names, class_names):
    """One piece of evidence in Chinese, with the trainees it links to."""
    link = []
    if sign == "webdriver":
        text = f"会话 {e['session_id']}：{e['heartbeats']} 次心跳报告浏览器处于自动化控制（navigator.webdriver 为真）"
    elif sign == "headless":
        kind = "脚本客户端" if e.get("scripted") else "无头浏览器"
        text = f"会话 {e['session_id']}：{kind}，用户代理 {e['user_agent']}"
    elif sign == "regular_timing":
        cv_c = "—" if e["cv_client"] is None else e["cv_client"]
        text = (f"会话 {e['session_id']}：{e['intervals']} 个心跳间隔，平均 {e['mean_interval']} 秒，变异系数 服务器 "
                f"{e['cv_server']}、客户端 {cv_c}（人工观看时通常远大于 0.01）")
    elif sign in ("shared_device", "shared_address"):
        link = [i for i in e["accounts"] if i != trainee_id]
        where = f"同一设备（网络地址 {e['address']}，用户代理 {e['user_agent'] or '空'}）" if sign == "shared_device" \
            else f"同一网络地址 {e['address']}（{e['user_agents']} 种用户代理）"
        text = (f"{cst(e['from'], False)} 至 {cst(e['to'], False)}，与 {_who(e['accounts'], names, trainee_id)} 在{where}"
                f"同时学习，本账号重叠 {round(e['overlap_seconds'] / 60, 1)} 分钟；会话 {', '.join(map(str, e['sessions']))}")
    elif sign == "shared_face":
        other = e.get("other_trainee_id")
        link = [other] if other else []
        who = _who([other], names) if other else "其他账号"
        distance = "—" if e["distance"] is None else f"{e['distance']:.2f}"
        text = (f"登记人脸时与 {who} 已登记的人脸为同一人（人脸距离 {distance}），登记被拒绝" if e["role"] == "tried"
                else f"{who} 试图用本账号已登记的人脸登记（人脸距离 {distance}）")
    elif sign == "face_changed":
        distance = "—" if e["distance"] is None else f"{e['distance']:.2f}"
        text = f"重新登记的人脸与原登记人脸不符（人脸距离 {distance}）"
    elif sign == "photo_failures":
        text = (f"拍照核验 {e['resolved']} 次：未通过 {e['failed']} 次、超时未答 {e['missed']} 次（{round(e['rate'] * 100)}%），"
                f"其中 {e['other_person']} 次拍到的不是本人")
    elif sign == "night_study":
        nights = "、".join(f"{n['date']} {n['minutes']} 分钟" for n in e["nights"][:10])
        text = f"凌晨 0:00–5:00 学习共 {e['minutes']} 分钟：{nights}"
    elif sign == "no_break":
        runs = "、".join(f"{cst(r['from'], False)} 起 {r['hours']} 小时" for r in e["runs"][:10])
        text = f"最长连续学习 {e['longest_hours']} 小时（中间无 10 分钟以上休息）：{runs}"
    elif sign == "identical_answers":
        other = e["other_trainee_id"]
        link = [other]
        parts = []
        if e["answers_alike"]:
            parts.append(f"共同题目 {e['common']} 道中答案相同 {e['same']} 道，其中相同的错误答案 {e['same_wrong']} 道")
        if e["lockstep"]:
            parts.append(f"答题顺序相同，答题时间中位差 {e['median_time_diff']} 秒")
        text = f"结业考试（答卷 {e['attempt_id']}）与 {_who([other], names)} 的答卷 {e['other_attempt_id']}：" + "；".join(parts)
    elif sign == "repeated_trade":
        listed = "、".join(class_names.get(c["class_id"], f"班期{c['class_id']}") for c in e["classes"])
        text = f"工种“{e['occupation']}”参加了 {len(e['classes'])} 个班期（{e['institutions']} 个机构）：{listed}"
    else:
        text = json.dumps(e, ensure_ascii=False)
    return {"text": text, "trainees": [{"trainee_id": i, **names.get(i, {"name": f"账号{i}", "visible": False})}
                                       for i in link if i is not None]}


def readable(s, risks, scope, institutions):
    """The risks with each sign's evidence described (text and linked trainees), ready for a page or JSON."""
    trainee_ids, class_ids = related_ids(risks)
    names = people(s, trainee_ids | set(risks), scope)
    class_names = classes_named(s, class_ids, institutions)
    out = []
    for tid, risk in risks.items():
        signs = [{**{k: v for k, v in sign.items() if k != "evidence"}, "evidence": [
            {**describe(sign["sign"], e, tid, names, class_names), "data": e} for e in sign["evidence"]]}
            for sign in risk["signs"]]
        out.append({**risk, "trainee": names.get(tid), "level_label": anomalies.LEVEL_LABELS[risk["level"]], "signs": signs})
    out.sort(key=lambda r: (-r["score"], r["trainee_id"]))
    return out


def class_risks(s, viewer, risks):
    """Per class in scope: its score, roster size, trainees at medium or above and their most frequent signs."""
    institutions = visible_institution_ids(s, viewer)
    if not institutions:
        return []
    rosters = defaultdict(list)
    for cid, tid in s.execute(select(Enrollment.class_id, Enrollment.trainee_id).join(TrainingClass)
                              .where(TrainingClass.institution_id.in_(sorted(institutions)))):
        rosters[cid].append(tid)
    out = []
    for c, inst in s.execute(select(TrainingClass, Institution.name).join(Institution)
                             .where(TrainingClass.id.in_(list(rosters) or [0]))):
        scores = [risks[t]["score"] if t in risks else 0 for t in rosters[c.id]]
        signs = defaultdict(int)
        for t in rosters[c.id]:
            for sign in risks.get(t, {}).get("signs", []):
                signs[sign["sign"]] += 1
        score = anomalies.class_score(scores)
        out.append({"class_id": c.id, "name": c.name, "institution": inst, "occupation": c.occupation,
                    "trainees": len(scores), "flagged": sum(1 for x in scores if x >= anomalies.MEDIUM),
                    "score": score, "level": anomalies.level(score),
                    "level_label": anomalies.LEVEL_LABELS[anomalies.level(score)],
                    "signs": [{"sign": k, "label": anomalies.SIGNS[k].label, "trainees": n}
                              for k, n in sorted(signs.items(), key=lambda kv: -kv[1])]})
    out.sort(key=lambda r: (-r["score"], r["class_id"]))
    return out


def weights_table():
    return [{"sign": k, "label": v.label, "weight": v.weight} for k, v in anomalies.SIGNS.items()]
