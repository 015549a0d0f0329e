"""The chapter player's page (issue 12): the identity watermark shows the name and the masked ID, never the whole
ID; the chapter's end links to its quiz and the next chapter; the exam's photo box reads reasons as sentences."""
import json
import re

from models import User
from tests.test_access import web_login
from tracker.extensions import db
from tracker.proctoring.faces import MESSAGES


def trainee(demo, n=0):
    return [a for a in demo["accounts"] if a["role"] == "trainee"][n]


def test_player_shows_a_watermark_with_the_masked_id_and_leads_to_the_quiz(app, demo):
    t = trainee(demo)
    ch1, ch2 = demo["classes"][0]["chapters"]
    with app.app_context(), db.transaction() as s:
        user = s.get(User, t["user_id"])
        name, id_number = user.name, user.id_number
    page = web_login(app, t["username"]).get(f"/learn/chapters/{ch1['chapter_id']}").get_data(as_text=True)
    mark = re.search(r'<div id="watermark"[^>]*>([^<]*)</div>', page)
    assert mark and 'aria-hidden="true"' in mark.group(0)
    assert name in mark.group(1) and id_number[:6] + "*" * 8 + id_number[-4:] in mark.group(1)
    assert id_number not in page  # never the whole ID, anywhere on the page
    assert f'href="/learn/chapters/{ch1["chapter_id"]}/quiz"' in page and f'href="/learn/chapters/{ch2["chapter_id"]}"' in page
    assert 'id="chapter-done"' in page
    # the page passes data as JSON, never as an inline script (CSP)
    assert not re.search(r"<script(?![^>]*(src=|type=\"application/json\"))", page)


def test_exam_page_carries_the_photo_verdicts_as_sentences(app, demo):
    t = trainee(demo)
    cid = demo["classes"][0]["class_id"]
    page = web_login(app, t["username"]).get(f"/learn/classes/{cid}/exam").get_data(as_text=True)
    cfg = json.loads(re.search(r'<script id="quiz-config" type="application/json">(.*?)</script>', page).group(1))
    assert cfg["photo_messages"] == MESSAGES and "replayed" in cfg["photo_messages"]
    assert "deadline_missed" in cfg["photo_messages"]
