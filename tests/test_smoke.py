def test_demo_loads_and_ledger_verifies(app, demo, runner):
    assert {a["role"] for a in demo["accounts"]} == {"trainee", "staff", "regulator", "admin"}
    assert len(demo["classes"][0]["chapters"]) >= 2
    r = runner.invoke(args=["ledger", "verify"])
    assert r.exit_code == 0, r.output
    assert "ledger intact" in r.output
