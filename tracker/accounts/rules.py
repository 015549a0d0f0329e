"""Real-name rules (实名制): ID numbers, phones, identity categories, masking. Pure functions."""
import re
import unicodedata
from datetime import date

CATEGORIES = (
    "企业职工",
    "贫困家庭子女",
    "贫困劳动力",
    "城乡未继续升学初高中毕业生",
    "农村牧区转移就业劳动者",
    "下岗失业人员",
    "转岗职工",
    "退役军人",
    "残疾人",
    "高校毕业生",
    "其他",
)

# Wording of the separate consent to face processing (PIPL art. 29); its version goes to the ledger.
FACE_CONSENT_VERSION = "2026-11-v1"
FACE_CONSENT_TEXT = (
    "本人同意平台为核验培训身份、防止代学代刷，在签到、学习过程和考试中采集本人人脸照片并进行比对。"
    "照片及特征值加密保存，仅人社部门和本人所在培训机构依职责查看，保存期限不少于三年，期满后删除。"
)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# ASCII only: \d would also accept full-width digits, letting one person register twice.
_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")


class RuleError(ValueError):
    """A rule refused the input; `code` is for machines, the message (Chinese) for people."""

    def __init__(self, code, message, field=None, status=400):
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


def normalize_id_number(raw):
    return (raw or "").strip().upper()


def id_check_digit(first17):
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def validate_id_number(raw, today=None):
    """Return the normalised 18-digit resident ID number or raise RuleError."""
    idn = normalize_id_number(raw)
    if not _ID_RE.match(idn):
        raise RuleError("invalid_id_number", "身份证号码应为18位（最后一位可为X）", "id_number")
    if idn[:2] not in _PROVINCES:
        raise RuleError("invalid_id_number", "身份证号码的地区代码无效", "id_number")
    try:
        born = date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14]))
    except ValueError:
        raise RuleError("invalid_id_number", "身份证号码中的出生日期无效", "id_number") from None
    today = today or date.today()
    if born.year < 1900 or born > today:
        raise RuleError("invalid_id_number", "身份证号码中的出生日期不合理", "id_number")
    if id_check_digit(idn[:17]) != idn[17]:
        raise RuleError("invalid_id_number", "身份证号码校验位错误，请核对", "id_number")
    return idn


def validate_phone(raw):
    phone = (raw or "").strip()
    if not _PHONE_RE.match(phone):
        raise RuleError("invalid_phone", "手机号码应为11位数字，以1开头", "phone")
    return phone


def validate_category(raw):
    cat = (raw or "").strip()
    if cat not in CATEGORIES:
        raise RuleError("invalid_category", "身份类别不在规定范围内：" + "、".join(CATEGORIES), "category")
    return cat


def validate_text(raw, field, label, max_len, required=True):
    value = raw.strip() if isinstance(raw, str) else None
    if raw is not None and not isinstance(raw, str):
        raise RuleError("invalid_field", f"{label}格式错误", field)
    if not value:
        if required:
            raise RuleError("missing_field", f"请填写{label}", field)
        return ""
    if len(value) > max_len:
        raise RuleError("too_long", f"{label}不能超过{max_len}个字符", field)
    # Control characters (bar line breaks and tabs) have no place in text; PostgreSQL refuses NUL outright (a 500).
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in value):
        raise RuleError("invalid_field", f"{label}含有不允许的控制字符", field)
    return value


def validate_password(raw):
    if not isinstance(raw, str) or len(raw) < 8:
        raise RuleError("weak_password", "密码至少8位", "password")
    if len(raw) > 128:
        raise RuleError("too_long", "密码不能超过128位", "password")
    if not (re.search(r"[A-Za-z]", raw) and re.search(r"\d", raw)):
        raise RuleError("weak_password", "密码须同时包含字母和数字", "password")
    return raw


ROLE_LABELS = {"trainee": "学员", "staff": "培训机构人员", "regulator": "人社部门", "admin": "平台管理员"}


def role_label(role):
    return ROLE_LABELS.get(role, role)


def mask_id_number(idn):
    """152201********1234: region kept for the inspector, birth date hidden."""
    if not idn:
        return ""
    return idn[:6] + "*" * (len(idn) - 10) + idn[-4:] if len(idn) > 10 else "*" * len(idn)


def mask_phone(phone):
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "*" * len(phone)


# First two digits of GB/T 2260 province-level codes.
_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
}
