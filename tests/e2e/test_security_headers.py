"""The Content Security Policy in a real browser: pages whose scripts moved out of the templates still work, and the
staff, regulator and admin pages the other browser tests do not open load without a violation (the autouse fixture
in conftest.py fails a test on any CSP message in a page's console)."""
from tests.e2e.conftest import login


def test_pages_work_under_the_content_security_policy(live, browser):
    staff, regulator, admin = live.account("staff"), live.account("regulator"), live.account("admin")
    cls = live.demo["classes"][0]
    context = browser.new_context()
    page = context.new_page()
    login(page, live.url, staff["username"])
    r = page.goto(f"{live.url}/manage/classes/new")
    assert "script-src 'self'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"
    page.fill("input[name=total_hours]", "100")
    page.fill("input[name=online_hours]", "50")
    page.wait_for_function("() => document.getElementById('share').textContent.startsWith('50%')")  # static/class_form.js
    assert "over" in page.get_attribute("#share", "class")  # 50% is over the standard profile's 40%
    for path in (f"/classes/{cls['class_id']}", f"/classes/{cls['class_id']}/monitor", "/qa", "/manage/courses",
                 "/manage/bank"):
        assert page.goto(live.url + path).ok, path
        page.wait_for_load_state("networkidle")
    page.goto(f"{live.url}/classes/{cls['class_id']}/monitor")
    page.wait_for_function("() => document.querySelectorAll('tr, li').length > 0")
    context.close()
    for who, paths in ((regulator, ["/regulator", "/regulator/anomalies", "/faces/flags"]), (admin, ["/admin/users"])):
        context = browser.new_context()
        page = context.new_page()
        login(page, live.url, who["username"])
        for path in paths:
            assert page.goto(live.url + path).ok, path
            page.wait_for_load_state("networkidle")
        context.close()
