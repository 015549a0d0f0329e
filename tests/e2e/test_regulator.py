"""End to end in real headless Chromium: a regulator finds a trainee by the last digits of the ID number, opens the
trace and sees the photo-check thumbnails, decrypted by the proctoring feature's route. The photos come through the
API as a phone would send them: a real face enrolled (obama.jpg), a sign-in passed with another photo of the same
man (obama2.jpg) and one failed with somebody else's face (biden.jpg), judged by the live server's face workers."""
import hashlib
import time

import pytest
import requests

from tests.conftest import register_payload
from tests.e2e.conftest import login
from tests.live import LiveServer
from tests.test_faces import FACES

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is not beside this checkout")


@pytest.fixture(scope="module")
def live(tmp_path_factory, demo_videos):
    srv = LiveServer(tmp_path_factory.mktemp("live-regulator"), demo_videos, photo_checks=True, TRACKER_ATTENTION_MEAN=0,
                     TRACKER_FACE_WORKERS=1)
    yield srv
    srv.stop()


def bearer(token):
    return {"Authorization": "Bearer " + token}


def photo(name):
    return (FACES / "examples" / name).read_bytes()


def signed_in_session(live, token, chapter_id, image):
    """Start a session and answer its sign-in photo check with `image`; two heartbeats follow."""
    r = requests.post(live.url + "/api/v1/sessions", json={"chapter_id": chapter_id}, headers=bearer(token), timeout=10)
    assert r.status_code == 201, r.text
    started = r.json()
    r = requests.post(f"{live.url}/api/v1/photo-checks/{started['check']['check_id']}", files={"image": ("check.jpg", image)},
                      headers=bearer(token), timeout=90)
    assert r.status_code == 200, r.text
    for seq, position in ((1, 0.0), (2, 1.0)):
        beat = {"seq": seq, "position": position, "rate": 1.0, "playing": True, "visible": True, "focused": True,
                "client_time": time.time(), "env": {"ua": "pytest", "webdriver": False}}
        assert requests.post(f"{live.url}/api/v1/sessions/{started['session_id']}/heartbeats", json=beat,
                             headers=bearer(token), timeout=10).status_code == 200
        time.sleep(1.05)
    return r.json()


def test_regulator_sees_photo_check_thumbnails_in_a_trace(live, browser, tmp_path):
    data = register_payload(name="赵志强")
    r = requests.post(live.url + "/api/v1/auth/register", json=data, timeout=10)
    assert r.status_code == 201, r.text
    trainee_id = r.json()["user_id"]
    staff = live.token(live.account("staff")["username"])
    r = requests.post(f"{live.url}/api/v1/classes/{live.demo['classes'][0]['class_id']}/roster",
                      json={"id_number": data["id_number"]}, headers=bearer(staff), timeout=10)
    assert r.status_code == 201, r.text
    token = live.token(data["phone"], data["password"])
    r = requests.post(live.url + "/api/v1/me/face", files={"image": ("face.jpg", photo("obama.jpg"))},
                      headers=bearer(token), timeout=90)
    assert r.status_code == 201, r.text
    chapter_id = live.demo["classes"][0]["chapters"][0]["chapter_id"]
    passed = signed_in_session(live, token, chapter_id, photo("obama2.jpg"))
    assert passed["verdict"] == "pass", passed
    failed = signed_in_session(live, token, chapter_id, photo("biden.jpg"))  # a second device: somebody else
    assert (failed["verdict"], failed["reason"]) == ("fail", "other_person"), failed

    context = browser.new_context()
    page = context.new_page()
    login(page, live.url, live.account("regulator")["username"])
    page.click("a[href='/regulator']")
    page.fill("input[name=q]", data["id_number"][-6:])
    page.click("form[role=search] button[type=submit]")
    row = page.locator(f"#search-results tr[data-trainee-id='{trainee_id}']")
    assert "赵志强" in row.inner_text() and data["id_number"] not in page.content()
    row.locator("a", has_text="学习轨迹").click()
    page.wait_for_url(f"**/regulator/trainees/{trainee_id}")

    assert page.locator("article.session").count() == 2
    assert "在其他设备开始学习" in page.inner_text("#sessions")  # the first session was ended by the second
    gallery = page.locator("#checks figure.check-item")
    assert gallery.count() == 2
    gallery.first.scroll_into_view_if_needed()
    thumbs = page.locator("#checks img.check-photo")
    assert thumbs.count() == 2
    page.wait_for_function("() => [...document.querySelectorAll('#checks img.check-photo')]"
                           ".every(img => img.complete && img.naturalWidth > 100)", timeout=15000)
    captions = gallery.all_inner_texts()
    assert "签到拍照" in captions[0] and "通过" in captions[0] and "人脸距离" in captions[0]
    assert "未通过" in captions[1] and "与登记的人脸不符" in captions[1]
    # each thumbnail is the very photo that was judged, decrypted for the regulator
    sources = [thumbs.nth(i).get_attribute("src") for i in range(2)]
    for src, sent in zip(sources, (photo("obama2.jpg"), photo("biden.jpg"))):
        answer = page.request.get(live.url + src)
        assert answer.ok and answer.headers["content-type"] == "image/jpeg"
        assert hashlib.sha256(answer.body()).hexdigest() == hashlib.sha256(sent).hexdigest()
    assert page.locator("#enrolled-face").evaluate("img => img.naturalWidth") > 100
    # the charts are drawn by the page's own script
    assert page.locator("#hour-heatmap svg rect.hour-cell").count() == 24 * 2  # one day and the totals
    page.screenshot(path=str(tmp_path / "trace.png"), full_page=True)
    assert (tmp_path / "trace.png").stat().st_size > 20000

    # the same photo route refuses another region's eyes: a trainee gets nothing
    other = browser.new_context().new_page()
    login(other, live.url, live.account("trainee", 1)["username"])
    assert other.request.get(live.url + sources[0]).status == 404
    other.context.close()
    context.close()
