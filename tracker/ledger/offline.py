"""The offline verifier: what a third party needs to check checkpoints, proofs, an exported ledger and a
certificate with the platform's public key alone. Standard library plus `cryptography` for Ed25519; the
formats are those of API.md ("Proof formats"), and nothing here touches the database or the app.
"""
import base64
import binascii
import hashlib
import json
import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracker.ledger import merkle
from tracker.ledger.chain import GENESIS, canonical_json

EXPORT_FORMAT = "tracker-ledger-export/1"
CERTIFICATE_KIND = "certificate.issued"
PDF_MARKER = b"tracker-certificate:"
ENTRY_FIELDS = {"seq", "ts", "kind", "actor_id", "subject_id", "payload", "prev_hash"}
CHECKPOINT_FIELDS = {"tree_size", "root_hash", "timestamp", "signature"}
PROOF_FIELDS = {"leaf_index", "tree_size", "leaf_hash", "audit_path", "entry"}
CERTIFICATE_FIELDS = {"facts", "checkpoint", "proof", "signature"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Invalid(ValueError):
    """Something does not verify; the message says what, in words an operator can act on."""


def b64decode_strict(text):
    """Base64 that must be in its one canonical spelling: spare bits in the last character would otherwise let a
    changed byte decode to the same key or signature."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("ascii", "replace")
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("base64 not in canonical form")
    return raw


# --- keys and signatures -----------------------------------------------------------------------------------------


def load_public_key(value):
    """The raw 32-byte Ed25519 key from: raw bytes, base64 text, PEM, the JSON of /api/v1/ledger/public-key, or a
    file holding any of these."""
    if isinstance(value, (bytes, bytearray)) and len(value) == 32:
        return bytes(value)
    text = value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
    if "\n" not in text and len(text) < 4096 and Path(text).is_file():
        text = Path(text).read_text("utf-8")
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise Invalid("公钥不是Ed25519公钥")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            raise Invalid("公钥格式无法识别（JSON 格式错误）")
        if obj.get("algorithm") != "ed25519":
            raise Invalid("公钥算法不是ed25519")
        text = obj.get("public_key", "")
    try:
        raw = b64decode_strict(text)
    except (binascii.Error, ValueError):
        raise Invalid("公钥格式无法识别（应为base64编码的32字节Ed25519公钥）") from None
    if len(raw) != 32:
        raise Invalid("公钥长度不是32字节")
    return raw


def fingerprint(public_raw):
    """A short name for a key, to compare by eye with the published one."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def signature_ok(public_raw, message: bytes, signature_b64) -> bool:
    try:
        sig = b64decode_strict(signature_b64)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(sig, message)
        return True
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False


# --- checkpoints and proofs ----------------------------------------------------------------------------------------


def checkpoint_message(tree_size, root_hash, timestamp) -> bytes:
    return f"tracker-checkpoint\n{tree_size}\n{root_hash}\n{timestamp}\n".encode("utf-8")


def _is_size(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_checkpoint(cp, public_raw):
    """Raise Invalid unless `cp` is a well-formed checkpoint signed by the key."""
    if not isinstance(cp, dict) or set(cp) != CHECKPOINT_FIELDS:
        raise Invalid("检查点字段不符合格式")
    if not _is_size(cp["tree_size"]) or not isinstance(cp["root_hash"], str) or not _HEX64.match(cp["root_hash"]) \
            or not isinstance(cp["timestamp"], str):
        raise Invalid("检查点字段不符合格式")
    message = checkpoint_message(cp["tree_size"], cp["root_hash"], cp["timestamp"])
    if not signature_ok(public_raw, message, cp["signature"]):
        raise Invalid(f"检查点（树大小 {cp['tree_size']}）的签名无效")


def _hashes(values, what):
    if not isinstance(values, list) or not all(isinstance(v, str) and _HEX64.match(v) for v in values):
        raise Invalid(f"{what}应为十六进制哈希数组")
    return [bytes.fromhex(v) for v in values]


def entry_leaf_hash(entry) -> bytes:
    return merkle.leaf_hash(canonical_json(entry))


def check_inclusion(proof, checkpoint):
    """Raise Invalid unless the proof puts its entry at its index in the (already verified) checkpoint's tree."""
    if not isinstance(proof, dict) or set(proof) - {"checkpoint"} != PROOF_FIELDS:
        raise Invalid("包含证明字段不符合格式")
    entry = proof["entry"]
    if not isinstance(entry, dict) or set(entry) != ENTRY_FIELDS:
        raise Invalid("包含证明中的台账条目字段不符合格式")
    if not _is_size(proof["leaf_index"]) or proof["tree_size"] != checkpoint["tree_size"]:
        raise Invalid("包含证明的树大小与检查点不一致")
    if entry["seq"] != proof["leaf_index"] + 1:
        raise Invalid("包含证明的叶子序号与台账条目序号不一致")
    leaf = entry_leaf_hash(entry)
    if proof["leaf_hash"] != leaf.hex():
        raise Invalid("台账条目的叶子哈希与证明不符（条目内容被改动）")
    path = _hashes(proof["audit_path"], "审计路径")
    if not merkle.verify_inclusion(leaf, proof["leaf_index"], proof["tree_size"], path, bytes.fromhex(checkpoint["root_hash"])):
        raise Invalid("包含证明不成立：该条目不在检查点所签的默克尔树中")


def check_consistency(first_cp, second_cp, path_hex):
    path = _hashes(path_hex, "一致性证明")
    if not merkle.verify_consistency(first_cp["tree_size"], second_cp["tree_size"], bytes.fromhex(first_cp["root_hash"]),
                                     bytes.fromhex(second_cp["root_hash"]), path):
        raise Invalid(f"检查点 {first_cp['tree_size']} 与 {second_cp['tree_size']} 不一致")


def strict_json(data: bytes):
    """Parse bytes that must be canonical JSON (optionally one final newline): then any changed byte shows."""
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Invalid("不是有效的JSON") from None
    if canonical_json(obj) != body:
        raise Invalid("JSON不是规范格式（字节被改动）")
    return obj


# --- certificates --------------------------------------------------------------------------------------------------


def certificate_signed_bytes(doc) -> bytes:
    return canonical_json({"facts": doc["facts"], "checkpoint": doc["checkpoint"], "proof": doc["proof"]})


def pdf_certificate_bytes(pdf: bytes) -> bytes:
    """The certificate JSON a certificate PDF carries in its metadata (Keywords: tracker-certificate:<base64>)."""
    found = re.findall(re.escape(PDF_MARKER) + rb"([A-Za-z0-9+/=]+)", pdf)
    if len(found) != 1:
        raise Invalid("PDF中未找到（或有多份）内嵌的证明数据")
    try:
        return b64decode_strict(found[0])
    except (binascii.Error, ValueError):
        raise Invalid("PDF中内嵌的证明数据已损坏") from None


def certificate_bytes(data: bytes) -> bytes:
    return pdf_certificate_bytes(data) if data.startswith(b"%PDF") else data


def verify_certificate(data: bytes, public_raw):
    """Check a certificate (JSON or PDF bytes). Returns (document, checks) where checks is a list of
    (label, ok, detail); the certificate is genuine when every check holds. Stops at the first that fails."""
    checks = []

    def step(label, fn):
        try:
            detail = fn()
        except Invalid as e:
            checks.append((label, False, str(e)))
            return False
        checks.append((label, True, detail or ""))
        return True

    doc = {}

    def parse():
        doc.update(strict_json(certificate_bytes(data)))
        if set(doc) != CERTIFICATE_FIELDS or not isinstance(doc["facts"], dict):
            raise Invalid("证明文件字段不符合格式")
        return f"证书编号 {doc['facts'].get('number')}"

    def signature():
        if not signature_ok(public_raw, certificate_signed_bytes(doc), doc["signature"]):
            raise Invalid("平台签名无效：证明内容被改动，或不是本平台的密钥所签")
        return f"公钥指纹 {fingerprint(public_raw)}"

    def checkpoint():
        check_checkpoint(doc["checkpoint"], public_raw)
        return f"树大小 {doc['checkpoint']['tree_size']}，时间 {doc['checkpoint']['timestamp']}"

    def inclusion():
        check_inclusion(doc["proof"], doc["checkpoint"])
        return f"台账条目 {doc['proof']['entry']['seq']}，审计路径 {len(doc['proof']['audit_path'])} 个哈希"

    def facts():
        entry = doc["proof"]["entry"]
        if entry["kind"] != CERTIFICATE_KIND:
            raise Invalid(f"台账条目类型应为 {CERTIFICATE_KIND}，实为 {entry['kind']}")
        if canonical_json(entry["payload"]) != canonical_json(doc["facts"]):
            raise Invalid("证明内容与台账条目记载的不一致")
        return "证明内容与台账条目一致"

    for label, fn in (("文件格式", parse), ("平台签名", signature), ("检查点签名", checkpoint),
                      ("默克尔包含证明", inclusion), ("证明内容与台账条目一致", facts)):
        if not step(label, fn):
            break
    return doc, checks


# --- an exported ledger --------------------------------------------------------------------------------------------


def verify_export(lines, public_raw=None):
    """Verify an export (`tracker ledger export`): one canonical JSON object per line, a header with the key,
    then the entries in order, each checkpoint right after the entry that completes it.

    Every entry's hash and link are recomputed, every checkpoint's signature checked and its root compared with
    the root recomputed over the entries before it. Roots recomputed from one chain of entries are prefixes of
    each other, so each checkpoint is consistent with the one before. Returns a dict; "problem" is None when
    everything holds, else (line number, seq or None, reason).
    """
    result = {"entries": 0, "checkpoints": 0, "head_hash": GENESIS, "root_hash": merkle.EMPTY_ROOT.hex(),
              "public_key": None, "key_from_file": False, "problem": None, "last_checkpoint": None}
    frontier, prev, key = merkle.Frontier(), GENESIS, public_raw
    for lineno, line in enumerate(lines, 1):
        try:
            obj = strict_json(line)
            if lineno == 1:
                if not isinstance(obj, dict) or set(obj) != {"format", "algorithm", "public_key"} \
                        or obj["format"] != EXPORT_FORMAT or obj["algorithm"] != "ed25519":
                    raise Invalid(f"第一行应为导出文件头（{EXPORT_FORMAT}）")
                file_key = load_public_key(obj.get("public_key", ""))
                if key is None:
                    key, result["key_from_file"] = file_key, True
                elif file_key != key:
                    raise Invalid("文件中的公钥与指定的公钥不同")
                result["public_key"] = base64.b64encode(key).decode()
                continue
            if not isinstance(obj, dict):
                raise Invalid("每行应为JSON对象")
            if set(obj) == {"entry", "hash"}:
                entry, expected = obj["entry"], frontier.size + 1
                if not isinstance(entry, dict) or set(entry) != ENTRY_FIELDS:
                    raise Invalid("台账条目字段不符合格式")
                if entry["seq"] != expected:
                    raise Invalid(f"应为第 {expected} 条，实为第 {entry['seq']} 条")
                if entry["prev_hash"] != prev:
                    raise Invalid("前一条哈希的链接断开")
                data = canonical_json(entry)
                if hashlib.sha256(data).hexdigest() != obj["hash"]:
                    raise Invalid("条目哈希与内容不符")
                frontier.append(merkle.leaf_hash(data))
                prev = obj["hash"]
            elif set(obj) == {"checkpoint"}:
                cp = obj["checkpoint"]
                check_checkpoint(cp, key)
                if cp["tree_size"] != frontier.size or cp["tree_size"] == 0:
                    raise Invalid(f"检查点（树大小 {cp['tree_size']}）应紧随第 {cp['tree_size']} 条条目")
                last = result["last_checkpoint"]
                if last is not None and cp["tree_size"] <= last["tree_size"]:
                    raise Invalid("检查点的树大小应递增")
                if frontier.root().hex() != cp["root_hash"]:
                    raise Invalid(f"检查点（树大小 {cp['tree_size']}）的根哈希与重算的不符")
                result["checkpoints"] += 1
                result["last_checkpoint"] = cp
            else:
                raise Invalid("无法识别的行")
        except Invalid as e:
            seq = frontier.size + 1 if lineno > 1 else None
            result["problem"] = (lineno, seq, str(e))
            break
        except (KeyError, TypeError, AttributeError):
            result["problem"] = (lineno, frontier.size + 1 if lineno > 1 else None, "字段缺失或类型错误")
            break
    else:
        if result["public_key"] is None:
            result["problem"] = (1, None, "文件为空")
    result["entries"], result["head_hash"], result["root_hash"] = frontier.size, prev, frontier.root().hex()
    return result
