"""End to end in real headless Chromium: staff issue a certificate from the class page, its PDF verifies with
`tracker cert verify`, the public page /verify/<number> shows it valid without a login, then revoked."""
import re

from tests.e2e.conftest import login


def test_public_page_verifies_a_real_certificate(live, browser, tmp_path):
    trainee, staff = live.account("trainee", 0), live.account("staff")
    cls = live.demo["classes"][0]
    # The trainee's credited time is written straight into the server's database, as the heartbeat stream would
    # leave it: earning 330 s through the player takes minutes of real playback (tests/e2e/test_player.py and
    # tests/test_sessions_socket.py cover that). Everything after this row is the real server at work.
    for ch in cls["chapters"]:
        live.sql(f"INSERT INTO chapter_progress (trainee_id, chapter_id, credited_seconds) "
                 f"VALUES ({trainee['user_id']}, {ch['chapter_id']}, {ch['seconds']})")
    # Likewise the chapter quizzes and the final exam, as passed attempts (tests/e2e/test_quiz.py and
    # tests/test_assessment_requirements.py take them for real).
    for kind, chapter_id in [("quiz", ch["chapter_id"]) for ch in cls["chapters"]] + [("exam", "NULL")]:
        live.sql("INSERT INTO assessment_attempts (trainee_id, kind, class_id, chapter_id, seed, candidates, bank_sha256, "
                 "question_count, paper, started_ts, submitted_ts, status, pass_score, score, max_score, passed, "
                 f"photo_checks, page_leaves) VALUES ({trainee['user_id']}, '{kind}', {cls['class_id']}, {chapter_id}, "
                 "'seed', '[]', 'sha', 1, '[]', 1800000000, 1800000600, 'submitted', 60, 90, 100, true, false, 0)")

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    login(page, live.url, staff["username"])
    page.goto(f"{live.url}/classes/{cls['class_id']}")
    row = page.locator(f"tr[data-trainee-id='{trainee['user_id']}']")
    row.locator("button.issue-certificate").click()
    page.wait_for_url("**/certificates/*")
    number = page.inner_text("#number")
    assert re.fullmatch(r"\d{4}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", number)

    pdf = page.request.get(f"{live.url}/certificates/{number}/pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    (tmp_path / "cert.pdf").write_bytes(pdf.body())
    out = live.tracker("cert", "verify", str(tmp_path / "cert.pdf"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "genuine" in out.stdout and number in out.stdout

    public = browser.new_context().new_page()  # nobody logged in
    public.goto(f"{live.url}/verify/{number.lower().replace('-', ' ')}")  # as typed from paper
    assert public.inner_text("#verdict") == "有效"
    summary = public.inner_text("#summary")
    assert trainee["name"][0] + "*" * (len(trainee["name"]) - 1) in summary
    assert trainee["id_number"][:6] + "********" + trainee["id_number"][-4:] in summary
    assert trainee["name"] not in public.content()
    assert trainee["id_number"] not in public.content()
    assert public.locator("#checks li.bad").count() == 0 and public.locator("#checks li.ok").count() == 8
    public.screenshot(path=str(tmp_path / "verify.png"), full_page=True)
    assert (tmp_path / "verify.png").stat().st_size > 5000

    # the institution revokes it; the public page says so and when (the reason stays with the institution)
    page.fill("input[name=reason]", "结业考核材料不实")
    page.click("form[action$='/revoke'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    public.reload()
    assert public.inner_text("#verdict") == "已撤销"
    assert public.inner_text("#revoked-at") and "结业考核材料不实" not in public.content()
    assert live.tracker("ledger", "verify").returncode == 0
    context.close()
    public.context.close()
