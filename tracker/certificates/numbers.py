"""Certificate numbers that cannot be guessed and can be typed from paper.

A number is the year and ten characters of Crockford's base32 (no I, L, O or U, which look like 1, 1, 0 and V):
nine random ones (45 bits) and a check character, in two groups of five: 2026-7K3MQ-9XDTP. The check character
(Luhn mod 32) catches every single mistyped character and most swapped neighbours, so a typo is told apart from a
number that was never issued. Lookup tolerates lower case, spaces and other separators, and O/I/L typed for 0/1/1.

Numbers issued before this scheme (year-institution-counter, 2026-0001-00001) are in signed certificates and the
ledger: they still parse and verify.
"""
import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_CHARS = 9
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_LOOK_ALIKES = str.maketrans("OIL", "011")  # what people read on paper for 0 and 1
OLD_FORMAT = re.compile(r"\d{13}")  # 2026-0001-00001 without its hyphens
MAX_TYPED = 40

OK, MISTYPED, MALFORMED = "ok", "mistyped", "malformed"


def check_character(body):
    """Luhn mod 32 over Crockford base32 values: the character that makes the whole number check."""
    total, factor = 0, 2
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return ALPHABET[(32 - total % 32) % 32]


def checks(code):
    return check_character(code[:-1]) == code[-1]


def new_number(year, rnd=secrets):
    body = "".join(rnd.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    code = body + check_character(body)
    return f"{year:04d}-{code[:5]}-{code[5:]}"


def parse(typed):
    """(canonical number or None, OK | MISTYPED | MALFORMED) for what someone typed or scanned."""
    if not isinstance(typed, str) or len(typed) > MAX_TYPED:
        return None, MALFORMED
    chars = re.sub(r"[^0-9A-Za-z]", "", typed).upper().translate(_LOOK_ALIKES)
    if OLD_FORMAT.fullmatch(chars):
        return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}", OK
    year, code = chars[:4], chars[4:]
    if not year.isdigit() or len(code) != RANDOM_CHARS + 1 or any(c not in _VALUE for c in code):
        return None, MALFORMED
    number = f"{year}-{code[:5]}-{code[5:]}"
    return number, OK if checks(code) else MISTYPED
