"""bench/fuzz_sip.py, run short: it counts, reports a rate and finds nothing escaping."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_short_fuzz_run_reports_count_rate_and_no_escape() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fuzz_sip.py"), "--messages", "3000", "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "messages: 3,000 in" in run.stdout
    assert "exceptions escaped: 0" in run.stdout
