"""Build the slapd password-quality module (roles/slapd/files/.../govmail_pwcheck.c) for tests.

The role compiles the same source on the directory host; here it is compiled once per test run
into a temporary directory with Debian's gcc (bin/bootstrap-host slapd installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "roles/slapd/files/usr/local/src/govmail-pwcheck/govmail_pwcheck.c"


@cache
def build() -> Path:
    """Path of the compiled module (the compiler flags of the role)."""
    gcc = shutil.which("gcc")
    if not gcc:
        raise RuntimeError("gcc is missing: bin/bootstrap-host slapd installs it")
    out = Path(tempfile.mkdtemp(prefix="govmail-pwcheck-")) / "govmail_pwcheck.so"
    subprocess.run(
        [gcc, "-Wall", "-Wextra", "-Werror", "-O2", "-shared", "-fPIC", "-o", str(out), str(SOURCE)], check=True
    )
    return out
