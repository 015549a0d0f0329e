from flask import jsonify, request, url_for
from sqlalchemy import func, select

from models import LedgerCheckpoint, LedgerHead
from tracker.api import bp
from tracker.api.openapi import _op, extend
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.ledger import checkpoints, keys, proofs
from tracker.security import api_auth, load_current_user


@bp.get("/ledger/head")
@api_auth("regulator", "admin")
def ledger_head():
    """The chain's head, so that an inspector can note it and later prove nothing before it changed."""
    head = db.session.get(LedgerHead, 1)
    return jsonify({"entries": head.seq if head else 0, "head_hash": head.hash if head else None})


def _int_arg(name, default=None, minimum=0, maximum=None):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_field", f"参数 {name} 须为整数", field=name) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ApiError(400, "invalid_field", f"参数 {name} 超出范围", field=name)
    return value


@bp.get("/ledger/public-key")
def ledger_public_key():
    """Public: the key every checkpoint and certificate is signed with."""
    return jsonify({"algorithm": "ed25519", "public_key": keys.public_key_b64()})


@bp.get("/ledger/checkpoints")
def ledger_checkpoints():
    """Public: signed tree heads, newest first."""
    s = db.session
    page, per_page = _int_arg("page", 1, 1), _int_arg("per_page", 50, 1, 500)
    total = s.scalar(select(func.count()).select_from(LedgerCheckpoint))
    rows = s.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc())
                     .offset((page - 1) * per_page).limit(per_page)).all()
    more = page * per_page < total
    return jsonify({"checkpoints": [checkpoints.as_json(cp) for cp in rows], "page": page, "per_page": per_page,
                    "total": total, "next": url_for("api.ledger_checkpoints", page=page + 1, per_page=per_page) if more else None})


@bp.get("/ledger/checkpoints/<bigint:tree_size>")
def ledger_checkpoint(tree_size):
    return jsonify(checkpoints.as_json(proofs.checkpoint_for(db.session, tree_size)))


@bp.get("/ledger/entries/<bigint:seq>/proof")
@api_auth()
def ledger_inclusion_proof(seq):
    """Inclusion proof of one entry against checkpoint tree_size (the newest when omitted), with that checkpoint."""
    s, viewer = db.session, load_current_user()
    entry = proofs.entry(s, seq)
    if not proofs.can_read_entry(s, viewer, entry):
        raise ApiError(403, "forbidden", "无权查看该台账条目")
    cp = proofs.checkpoint_for(s, _int_arg("tree_size", None, 1))
    return jsonify({**proofs.inclusion_json(s, entry, cp), "checkpoint": checkpoints.as_json(cp)})


@bp.get("/ledger/consistency")
def ledger_consistency():
    """Public (hashes only): the tree of size first is a prefix of the tree of size second."""
    first, second = _int_arg("first", 0), _int_arg("second", 0)
    return jsonify(proofs.consistency_json(db.session, first, second))


@extend
def _paths():
    cp = {"type": "object", "required": ["tree_size", "root_hash", "timestamp", "signature"], "properties": {
        "tree_size": {"type": "integer"}, "root_hash": {"type": "string", "description": "hex"},
        "timestamp": {"type": "string", "format": "date-time"}, "signature": {"type": "string", "description": "base64 Ed25519"}}}
    hexes = {"type": "array", "items": {"type": "string"}}
    return {
        "/ledger/public-key": {"get": _op("平台Ed25519公钥（公开）", auth=False, tag="ledger", errors=(), ok_schema={
            "type": "object", "properties": {"algorithm": {"const": "ed25519"}, "public_key": {"type": "string"}}})},
        "/ledger/checkpoints": {"get": _op("签名检查点列表，最新在前（公开；page、per_page）", auth=False, tag="ledger",
                                           errors=(400,), ok_schema={"type": "object", "properties": {
                                               "checkpoints": {"type": "array", "items": cp}}})},
        "/ledger/checkpoints/{tree_size}": {"get": _op("某一树大小的签名检查点（公开）", auth=False, tag="ledger",
                                                       errors=(404,), ok_schema=cp)},
        "/ledger/entries/{seq}/proof": {"get": _op(
            "台账条目的包含证明（RFC 9162 审计路径），相对于检查点 tree_size（缺省为最新）；条目所涉学员本人、可查看该学员的机构人员和人社部门、管理员",
            tag="ledger", errors=(400, 401, 403, 404, 409), ok_schema={"type": "object", "properties": {
                "leaf_index": {"type": "integer"}, "tree_size": {"type": "integer"}, "leaf_hash": {"type": "string"},
                "audit_path": hexes, "entry": {"type": "object"}, "checkpoint": cp}})},
        "/ledger/consistency": {"get": _op("两个树大小之间的一致性证明（公开；first、second）", auth=False, tag="ledger",
                                           errors=(400,), ok_schema={"type": "object", "properties": {
                                               "first": {"type": "integer"}, "second": {"type": "integer"}, "path": hexes}})},
    }
