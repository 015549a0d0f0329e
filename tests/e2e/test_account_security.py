"""Logging out, changing and resetting a password in Debian's Chromium on a phone-sized screen, against a live server:
a cookie copied before logout is refused afterwards; staff issue a reset code on the class roster; the trainee uses
it on the public 忘记密码 page; a password change keeps this browser signed in and signs the others out."""
import os
import re

from tests.e2e.conftest import login

PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
SHOTS = os.environ.get("TRACKER_SCREENSHOTS")  # a folder to keep the 375 px screenshots in, when set


def shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def logged_in(page, base):
    page.goto(base + "/account")
    return page.url.endswith("/account")


def test_logout_reset_and_change_in_a_real_browser(live, browser):
    trainee, staff = live.account("trainee"), live.account("staff")
    class_id = live.demo["classes"][0]["class_id"]

    # A trainee logs in on a phone; a copy of the cookie is taken before logging out.
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    login(page, live.url, trainee["username"], trainee["password"])
    assert logged_in(page, live.url)
    assert "本设备" in page.inner_text("#sessions")
    copied = phone.cookies()
    page.click("header form button")  # 退出
    page.wait_for_url("**/login")
    thief = browser.new_context(**PHONE)
    thief.add_cookies(copied)
    thief_page = thief.new_page()
    assert not logged_in(thief_page, live.url) and "/login" in thief_page.url

    # Staff issue a one-time code from the class roster.
    office = browser.new_context(**PHONE)
    desk = office.new_page()
    login(desk, live.url, staff["username"], staff["password"])
    desk.goto(f"{live.url}/classes/{class_id}")
    shot(desk, "class-roster")
    desk.click(f'tr[data-trainee-id="{trainee["user_id"]}"] a:has-text("重置密码")')
    desk.wait_for_url(f"**/trainees/{trainee['user_id']}/password-reset**")
    desk.click("button:has-text('签发一次性重置码')")
    desk.wait_for_selector("[data-code]")
    code = desk.inner_text("[data-code]").strip()
    assert re.fullmatch(r"\d{8}", code)
    shot(desk, "reset-code-issued")

    # The trainee sets a new password on the public page, then logs in with it.
    page.goto(live.url + "/login")
    page.click("text=忘记密码？")
    page.fill("input[name=username]", trainee["username"])
    page.fill("input[name=code]", code)
    page.fill("input[name=new_password]", "Fresh5678x")
    page.fill("input[name=new_password2]", "Fresh5678x")
    shot(page, "forgot-password")
    page.click("button[type=submit]")
    page.wait_for_url("**/login?reset=1")
    assert "密码已重置" in page.inner_text("main")
    login(page, live.url, trainee["username"], "Fresh5678x")
    assert logged_in(page, live.url)

    # A second device, then a password change on the first: the first stays in, the second is out.
    other = browser.new_context(**PHONE)
    other_page = other.new_page()
    login(other_page, live.url, trainee["username"], "Fresh5678x")
    page.goto(live.url + "/account")
    assert "登录设备（2）" in page.inner_text("#sessions")
    page.fill("input[name=current_password]", "Fresh5678x")
    page.fill("input[name=new_password]", "Demo1234x")
    page.fill("input[name=new_password2]", "Demo1234x")
    page.click("#password button[type=submit]")
    page.wait_for_url("**/account?done=password")
    assert "密码已修改" in page.inner_text("main") and "登录设备（1）" in page.inner_text("#sessions")
    shot(page, "account")
    assert not logged_in(other_page, live.url)
    assert logged_in(page, live.url)

    # Back to the demo password, so that other tests of this module's server still log in with it.
    page.fill("input[name=current_password]", "Demo1234x")
    page.fill("input[name=new_password]", trainee["password"])
    page.fill("input[name=new_password2]", trainee["password"])
    page.click("#password button[type=submit]")
    page.wait_for_url("**/account?done=password")
    for context in (phone, thief, office, other):
        context.close()
