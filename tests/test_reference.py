"""The reference library's own checks (tests/reference/), run in an interpreter whose `tinytorch` is
the reference export: this process imports the students' starting package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

OPTIONS = ["-q", "-p", "no:cacheprovider", "-rfEs", "-n", "0"]  # one process: it is one test of this suite


@pytest.mark.slow
def test_the_reference_passes_its_own_checks(reference_path: str, tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": reference_path, "OPENBLAS_NUM_THREADS": "1"}
    # run from elsewhere: `python -m` puts its working folder first on the path, and the course's own
    # folder holds the students' starting tinytorch
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests" / "reference"), *OPTIONS],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
