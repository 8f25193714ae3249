"""Real temporary Git repositories for the audit tests: several authors, branches, merges, fixed dates."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

PEOPLE = {
    "ttcds": ("Lê Văn Duyệt", "ttcds@khanhhoa.gov.vn"),
    "skhcn-it": ("Phạm Quốc Huy", "skhcn@khanhhoa.gov.vn"),
    "syt-tccb": ("Trần Thị Hoa", "syt@khanhhoa.gov.vn"),
    "github": ("GitHub", "noreply@github.com"),  # the committer of GitHub's merge button
}


class Repo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, who: str = "ttcds", when: str = "2026-01-05T09:00:00+07:00") -> str:
        name, email = PEOPLE[who]
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_DATE": when,
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        proc = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"git {args}: {proc.stderr}"
        return proc.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text), encoding="utf-8")

    def commit(
        self,
        message: str,
        files: dict[str, str] | None = None,
        who: str = "ttcds",
        when: str = "2026-01-05T09:00:00+07:00",
    ) -> str:
        if files:
            self.write(files)
        self.git("add", "-A", who=who, when=when)
        self.git("commit", "-q", "-m", message, who=who, when=when)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "main") -> None:
        self.git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)

    def merge(self, branch: str, who: str = "ttcds", when: str = "2026-01-06T10:00:00+07:00") -> str:
        """A merge commit (--no-ff), as a forge's "Create a merge commit" button makes."""
        self.checkout("main")
        self.git("merge", "-q", "--no-ff", "-m", f"Merge branch '{branch}'", branch, who=who, when=when)
        return self.git("rev-parse", "HEAD")

    def squash(
        self,
        branch: str,
        message: str,
        *,
        author: str,
        authored: str,
        who: str = "ttcds",
        when: str = "2026-01-06T10:00:00+07:00",
    ) -> str:
        """A squash merge: the requester is the author (with the first commit's date), the approver commits."""
        self.checkout("main")
        self.git("merge", "-q", "--squash", branch, who=who, when=when)
        name, email = PEOPLE[author]
        self.git("commit", "-q", "-m", message, f"--author={name} <{email}>", f"--date={authored}", who=who, when=when)
        return self.git("rev-parse", "HEAD")
