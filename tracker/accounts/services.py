"""Registration, accounts and login: the rules behind the pages and the API."""
import hashlib
import hmac
import unicodedata
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from models import Institution, User
from models.accounts import ROLES
from tracker import ledger
from tracker.accounts import locks
from tracker.accounts.rules import (
    FACE_CONSENT_VERSION,
    RuleError,
    mask_id_number,
    normalize_id_number,
    validate_category,
    validate_id_number,
    validate_password,
    validate_phone,
    validate_text,
)

PASSWORD_METHOD = "scrypt"
REGISTRATION_FIELDS = {"name": "姓名", "id_number": "身份证号码", "phone": "手机号码", "category": "身份类别",
                       "employer": "工作单位或培训机构", "password": "密码"}


def id_digest(id_number):
    """Keyed digest of an ID number for the ledger: links entries to a person without publishing the number."""
    key = current_app.config["TRACKER_ID_PEPPER"].encode()
    return hmac.new(key, id_number.encode(), hashlib.sha256).hexdigest()


def identity_payload(user):
    return {
        "user_id": user.id,
        "role": user.role,
        "name": user.name,
        "id_mask": mask_id_number(user.id_number),
        "id_digest": id_digest(user.id_number) if user.id_number else None,
        "category": user.category,
        "employer": user.employer,
        "institution_id": user.institution_id,
        "region_code": user.region_code,
    }


def _unique(s, id_number, phone):
    if id_number and s.scalar(select(User.id).where(User.id_number == id_number)):
        raise RuleError("duplicate_id_number", "该身份证号码已注册，每个身份证号码只能注册一个账号", "id_number")
    if phone and s.scalar(select(User.id).where(User.phone == phone)):
        raise RuleError("duplicate_phone", "该手机号码已被其他账号使用", "phone")


def _insert_user(s, user):
    """Two registrations can both pass _unique before either commits: the unique index decides, as a RuleError."""
    s.add(user)
    try:
        s.flush()
    except IntegrityError as e:  # the caller's transaction is rolled back on the way out
        if "phone" in str(e.orig):
            raise RuleError("duplicate_phone", "该手机号码已被其他账号使用", "phone") from None
        raise RuleError("duplicate_id_number", "该身份证号码已注册，每个身份证号码只能注册一个账号", "id_number") from None


def register_trainee(s, data, address=None):
    """Self-registration of a trainee (实名注册). Validates everything before writing anything."""
    if not isinstance(data, dict):
        raise RuleError("bad_request", "请求内容应为JSON对象")
    missing = [label for key, label in REGISTRATION_FIELDS.items() if data.get(key) in (None, "")]
    if missing:
        raise RuleError("missing_field", "请填写：" + "、".join(missing))
    name = validate_text(data.get("name"), "name", "姓名", 50)
    id_number = validate_id_number(data.get("id_number") if isinstance(data.get("id_number"), str) else "")
    phone = validate_phone(data.get("phone") if isinstance(data.get("phone"), str) else "")
    category = validate_category(data.get("category") if isinstance(data.get("category"), str) else "")
    employer = validate_text(data.get("employer"), "employer", "工作单位或培训机构", 100)
    password = validate_password(data.get("password"))
    consent = data.get("face_consent")
    if consent not in (True, "true", "on", "1", 1):
        raise RuleError("consent_required", "线上培训须进行人脸核验，请阅读并单独勾选同意人脸信息处理", "face_consent")
    # Hash before the first query: scrypt takes a while, and SQLite's write lock is held from that query on.
    password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    _unique(s, id_number, phone)
    now = datetime.now(timezone.utc)
    user = User(
        role="trainee", name=name, id_number=id_number, phone=phone, category=category, employer=employer,
        password_hash=password_hash,
        face_consent_version=FACE_CONSENT_VERSION, face_consent_at=now,
    )
    _insert_user(s, user)
    ledger.append(s, "account.registered", identity_payload(user), actor_id=user.id, subject_id=user.id)
    ledger.append(
        s, "consent.face", {"user_id": user.id, "version": FACE_CONSENT_VERSION, "given": True, "address": address},
        actor_id=user.id, subject_id=user.id,
    )
    return user


def create_user(s, *, role, name, password, actor_id=None, id_number=None, phone=None, institution_id=None,
                region_code=None, category=None, employer=None):
    """Accounts made by an administrator or the CLI (staff, regulators, admins, and trainees)."""
    if role not in ROLES:
        raise RuleError("invalid_role", "角色无效：" + "、".join(ROLES), "role")
    name = validate_text(name, "name", "姓名", 50)
    validate_password(password)
    id_number = validate_id_number(id_number) if id_number else None
    phone = validate_phone(phone) if phone else None
    if not (id_number or phone):
        raise RuleError("missing_field", "请提供身份证号码或手机号码作为登录名", "phone")
    if role == "trainee":
        if not id_number:
            raise RuleError("missing_field", "学员须提供身份证号码", "id_number")
        category = validate_category(category)
    if role == "staff":
        if not institution_id or s.get(Institution, institution_id) is None:
            raise RuleError("invalid_institution", "机构人员须绑定一个已存在的培训机构", "institution_id")
    if role == "regulator" and not (region_code and region_code.isdigit() and len(region_code) == 6):
        raise RuleError("invalid_region", "人社部门账号须绑定6位行政区划代码", "region_code")
    _unique(s, id_number, phone)
    user = User(
        role=role, name=name, id_number=id_number, phone=phone, category=category, employer=employer,
        institution_id=institution_id if role == "staff" else None,
        region_code=region_code if role == "regulator" else None,
        password_hash=generate_password_hash(password, method=PASSWORD_METHOD),
    )
    _insert_user(s, user)
    ledger.append(s, "account.created", identity_payload(user), actor_id=actor_id, subject_id=user.id)
    ledger.append(s, "role.granted", {"user_id": user.id, "role": role, "institution_id": user.institution_id,
                                       "region_code": user.region_code}, actor_id=actor_id, subject_id=user.id)
    return user


def find_login(s, username):
    username = (username or "").strip()
    if not username or len(username) > 64:
        return None
    return s.scalar(select(User).where(or_(User.id_number == normalize_id_number(username), User.phone == username)))


def authenticate(s, username, password, address, via):
    """Check a login; throttle failures per account and address, per address, and lock an account everywhere
    only after failures from many addresses (tracker/accounts/throttle.py).

    A failure is committed on its own so that throttling holds even though the login is refused.
    """
    if not isinstance(username, str) or not isinstance(password, str) or not username.strip() or not password:
        raise RuleError("missing_field", "请输入账号和密码")
    if any(unicodedata.category(c) == "Cc" for c in username):  # no account has one; PostgreSQL refuses NUL
        raise RuleError("login_failed", "账号或密码错误")
    user = find_login(s, username)
    # Failures count against the account, however it was typed (phone or ID number); unknown names by the name.
    key = f"#{user.id}" if user else username.strip().upper()[:64]
    address = (address or "unknown")[:64]
    locks.check(s, key, address, user.id if user else None)  # per account and address, per address, account lock
    user_id, stored, active = (user.id, user.password_hash, user.is_active) if user else (None, _DUMMY_HASH, False)
    # End the transaction before the slow hash: SQLite's write lock must not wait on scrypt.
    s.rollback()
    # Hash even for unknown accounts, so timing does not reveal which accounts exist.
    ok = check_password_hash(stored, password[:128])
    if not ok or not active:
        locks.record_failure(s, key, address, user_id)
        s.commit()
        raise RuleError("login_failed", "账号或密码错误")
    user = s.get(User, user_id)
    locks.record_success(s, key, address)
    ledger.append(s, "account.login", {"user_id": user.id, "via": via, "address": address}, actor_id=user.id, subject_id=user.id)
    return user


_DUMMY_HASH = generate_password_hash("not-a-password-0", method=PASSWORD_METHOD)
