"""Real-name rules as pure functions: GB 11643 ID numbers, phones, identity categories, masking."""
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.accounts.rules import (
    CATEGORIES,
    RuleError,
    id_check_digit,
    mask_id_number,
    mask_phone,
    validate_category,
    validate_id_number,
    validate_password,
    validate_phone,
    validate_text,
)

# Valid resident ID numbers (the first is the standard's worked example).
KNOWN_VALID = ["11010519491231002X", "110101199003074477", "440304198501011235"]
PROVINCES = ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
             "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"]


def with_check(body17):
    return body17 + id_check_digit(body17)


def wrong_check(idn):
    return idn[:17] + ("0" if idn[17] != "0" else "1")


def refused(raw, code="invalid_id_number", **kw):
    with pytest.raises(RuleError) as e:
        validate_id_number(raw, **kw)
    assert e.value.code == code
    assert e.value.field == "id_number"
    return e.value


# --- ID numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("idn", KNOWN_VALID)
def test_known_valid_id_numbers(idn):
    assert validate_id_number(idn) == idn
    assert id_check_digit(idn[:17]) == idn[17]


def test_check_digit_computed_by_hand():
    # Weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2; sum mod 11 indexes "10X98765432".
    body = "11010519491231002"
    total = sum(int(c) * w for c, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)))
    assert "10X98765432"[total % 11] == "X" == id_check_digit(body)


@pytest.mark.parametrize("body", ["15220119900101123", "15010219920315002", "65010119000101000", "82000020001231999"])
def test_computed_check_digit_validates(body):
    assert validate_id_number(with_check(body)) == with_check(body)


@pytest.mark.parametrize("idn", KNOWN_VALID + [with_check("15010219900101001")])
def test_every_wrong_check_digit_is_refused(idn):
    for c in "0123456789X":
        if c != idn[17]:
            e = refused(idn[:17] + c)
            assert "校验位" in e.message


def test_lower_case_x_is_normalised():
    assert validate_id_number("11010519491231002x") == "11010519491231002X"
    assert validate_id_number("  11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize("born", ["19900230", "19900229", "19901301", "19900001", "19900132", "20230229"])
def test_impossible_birth_date_is_refused(born):
    e = refused(with_check("150102" + born + "001"))
    assert "出生日期" in e.message


def test_leap_day_birth_date_is_accepted():
    idn = with_check("15010220000229001")
    assert validate_id_number(idn) == idn


def test_birth_date_in_the_future_is_refused():
    tomorrow = date.today() + timedelta(days=1)
    refused(with_check("150102" + tomorrow.strftime("%Y%m%d") + "001"))
    # The same number is fine once that day has come.
    idn = with_check("15010220300101001")
    refused(idn, today=date(2029, 12, 31))
    assert validate_id_number(idn, today=date(2030, 1, 1)) == idn


@pytest.mark.parametrize("born", ["18991231", "18000101", "00010101"])
def test_birth_date_before_1900_is_refused(born):
    refused(with_check("150102" + born + "001"))


@pytest.mark.parametrize("region", ["000000", "100000", "160000", "990000", "900101", "720000"])
def test_unknown_region_is_refused(region):
    e = refused(with_check(region + "19900101001"))
    assert "地区" in e.message


@pytest.mark.parametrize("raw", [None, "", "1501021990010100", "1501021990010100123", "15010219900101001Y",
                                 "1501021990010100１X", "15010219900101 001", "ABCDEFGHIJKLMNOPQR", "1" * 18 + "\n"])
def test_malformed_id_numbers_are_refused(raw):
    refused(raw)


def test_full_width_digits_are_refused_even_with_a_matching_check_digit():
    # "１" (U+FF11) is a digit to Python's \d and int(); accepting it would let one person register twice.
    ascii_id = with_check("15010219900101001")
    wide = ascii_id[:16] + "１" + ascii_id[17]
    assert id_check_digit(wide[:17]) == ascii_id[17]
    refused(wide)
    with pytest.raises(RuleError):
        validate_phone("1390000000１")


id_bodies = st.builds(
    lambda prov, rest, born, serial: prov + rest + born.strftime("%Y%m%d") + serial,
    st.sampled_from(PROVINCES),
    st.text("0123456789", min_size=4, max_size=4),
    st.dates(min_value=date(1900, 1, 1), max_value=date.today()),
    st.text("0123456789", min_size=3, max_size=3),
)


@settings(max_examples=300, database=None)
@given(body=id_bodies, last=st.sampled_from("0123456789X"))
def test_property_only_the_computed_check_digit_validates(body, last):
    assert len(body) == 17
    if last == id_check_digit(body):
        assert validate_id_number(body + last) == body + last
        assert validate_id_number(body + last.lower()) == body + last
    else:
        refused(body + last)


# --- phones, categories, text, passwords --------------------------------------------------------------


@pytest.mark.parametrize("phone", ["13900000001", "19912345678", "15000000000", " 13812345678 "])
def test_valid_phones(phone):
    assert validate_phone(phone) == phone.strip()


@pytest.mark.parametrize("phone", [None, "", "12345678901", "10000000000", "1390000000", "139000000012", "+8613900000001",
                                   "1390000000a", "139-0000-001", "１３９００００００01"])
def test_invalid_phones(phone):
    with pytest.raises(RuleError) as e:
        validate_phone(phone)
    assert (e.value.code, e.value.field) == ("invalid_phone", "phone")


@pytest.mark.parametrize("cat", CATEGORIES)
def test_each_listed_category_is_accepted(cat):
    assert validate_category(cat) == cat


def test_category_list_is_the_notices_list():
    assert len(CATEGORIES) == 11
    assert {"企业职工", "退役军人", "残疾人", "下岗失业人员", "高校毕业生", "其他"} <= set(CATEGORIES)


@pytest.mark.parametrize("cat", [None, "", "学生", "企业", "企业职工 ", "other"])
def test_unknown_category_is_refused(cat):
    if cat == "企业职工 ":  # surrounding blanks are trimmed, not a different category
        assert validate_category(cat) == "企业职工"
        return
    with pytest.raises(RuleError) as e:
        validate_category(cat)
    assert (e.value.code, e.value.field) == ("invalid_category", "category")


def test_text_rules():
    assert validate_text(" 张三 ", "name", "姓名", 50) == "张三"
    assert validate_text("", "employer", "单位", 10, required=False) == ""
    for raw, code in [(None, "missing_field"), ("   ", "missing_field"), ("张" * 51, "too_long"), (5, "invalid_field"),
                      (["张三"], "invalid_field")]:
        with pytest.raises(RuleError) as e:
            validate_text(raw, "name", "姓名", 50)
        assert e.value.code == code


@pytest.mark.parametrize("raw", ["张\x00三", "张三\x00", "\x07张三", "张\x1b[31m三", "张\x7f三"])
def test_text_with_control_characters_is_refused(raw):
    with pytest.raises(RuleError) as e:
        validate_text(raw, "name", "姓名", 50)
    assert (e.value.code, e.value.field) == ("invalid_field", "name")


def test_text_may_hold_line_breaks_and_tabs():
    assert validate_text("第一行\n第二行\t完", "description", "简介", 100) == "第一行\n第二行\t完"


@pytest.mark.parametrize("pw,code", [("short1", "weak_password"), ("abcdefgh", "weak_password"), ("12345678", "weak_password"),
                                     (None, "weak_password"), (12345678, "weak_password"), ("a1" * 65, "too_long")])
def test_weak_passwords_are_refused(pw, code):
    with pytest.raises(RuleError) as e:
        validate_password(pw)
    assert e.value.code == code


def test_acceptable_password():
    assert validate_password("Passw0rd1") == "Passw0rd1"


# --- masking ----------------------------------------------------------------------------------------------


def test_id_number_mask_keeps_region_and_last_four():
    assert mask_id_number("152201199001011234") == "152201********1234"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("") == "" and mask_id_number(None) == ""


def test_phone_mask():
    assert mask_phone("13912341234") == "139****1234"
    assert mask_phone("") == "" and mask_phone(None) == ""


@settings(max_examples=100, database=None)
@given(body=id_bodies)
def test_property_mask_hides_the_birth_date(body):
    idn = with_check(body)
    masked = mask_id_number(idn)
    assert len(masked) == 18 and masked[:6] == idn[:6] and masked[-4:] == idn[-4:]
    assert masked[6:14] == "*" * 8
