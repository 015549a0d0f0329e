"""The shared contract check (../shared/tools/contract_smoke.py) against a live server."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import TRACKER, LiveServer

SMOKE = Path(__file__).resolve().parents[2] / "shared" / "tools" / "contract_smoke.py"


@pytest.mark.skipif(not SMOKE.exists(), reason="../shared/tools/contract_smoke.py is not beside this checkout")
def test_contract_smoke_passes(tmp_path, demo_videos):
    server = LiveServer(tmp_path, demo_videos)
    try:
        out = subprocess.run([sys.executable, str(SMOKE), "--base", server.url, "--tracker", TRACKER],
                             env=server.env, capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 failed" in out.stdout
