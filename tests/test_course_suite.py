"""A course reader's own tests pass when dropped in (DESIGN I).

tests/course_suite/ is shaped like the course's: its conftest's engine per
test is never disposed, so aiosqlite's ResourceWarning surfaces in some
later test; warnings are errors only in our own suite, never imposed on
tests we did not write (pyproject.toml has no `filterwarnings`).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.live_server import REPO_ROOT

COURSE_SUITE = Path(__file__).parent / 'course_suite'
SUITE_TIMEOUT_SECONDS = 300


def test_course_shaped_suite_passes_against_the_package(tmp_path):
    shutil.copytree(COURSE_SUITE, tmp_path / 'tests')
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(('TEST_DATABASE_URL', 'COV_CORE'))
    }

    run = subprocess.run(
        [
            sys.executable,
            '-m',
            'pytest',
            '-c',
            str(REPO_ROOT / 'pyproject.toml'),
            '--rootdir',
            str(tmp_path),
            '-p',
            'no:cacheprovider',
            '-q',
            'tests',
        ],
        cwd=tmp_path,  # no database file here, nor a .env
        env=environment,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_SECONDS,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert '19 passed' in run.stdout
    assert not list(tmp_path.glob('*.db'))
