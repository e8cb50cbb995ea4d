"""Smoke test: ``benchmarks/updates.py --quick`` runs offline and prints its ratio lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_updates_benchmark_quick() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "updates.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "ratio bot/echo (en)" in out
    assert "goals: one at a time >= 0.3x echo (aim 0.5x); Help now p50/p99" in out
    assert "Help now latency (ms)" in out


def test_updates_benchmark_refuses_a_language_the_content_lacks() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "updates.py"), "--quick", "--lang", "xx"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "has no 'xx' language" in done.stderr
