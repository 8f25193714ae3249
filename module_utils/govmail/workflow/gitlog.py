"""A thin, typed layer over the ``git`` program: commits, file versions and notes.

Everything the audit commands know comes from here, so it is the only module that runs git.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SEP = "\x1f"
FORMAT = SEP.join(("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%s"))


class GitError(RuntimeError):
    """git failed; the message carries its error output."""


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    authored: dt.datetime
    committer: str
    committer_email: str
    committed: dt.datetime
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:10]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def _commit(line: str) -> Commit:
    sha, parents, an, ae, ad, cn, ce, cd, subject = line.split(SEP, 8)
    return Commit(
        sha,
        tuple(parents.split()),
        an,
        ae,
        dt.datetime.fromisoformat(ad),
        cn,
        ce,
        dt.datetime.fromisoformat(cd),
        subject,
    )


class Git:
    """One repository."""

    def __init__(self, cwd: str | Path = "."):
        if not Path(cwd).is_dir():
            raise GitError(f"{cwd}: no such directory")
        self.cwd = str(cwd)
        self._show = lru_cache(maxsize=4096)(self._show_uncached)
        self._blob = lru_cache(maxsize=8192)(self._blob_uncached)

    def run(self, *args: str, input: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(["git", *args], cwd=self.cwd, capture_output=True, text=True, input=input, check=False)
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def rev(self, ref: str) -> str:
        return self.run("rev-parse", "--verify", f"{ref}^{{commit}}").strip()

    def commits(self, *args: str) -> list[Commit]:
        out = self.run("log", f"--format={FORMAT}", *args)
        return [_commit(line) for line in out.splitlines() if line]

    def commit(self, ref: str) -> Commit:
        return self.commits("-1", ref)[0]

    def files(self, rev: str, under: str) -> dict[str, str]:
        """path → blob id of every file under ``under`` at ``rev``."""
        out = self.run("ls-tree", "-r", rev, "--", under)
        result = {}
        for line in out.splitlines():
            meta, path = line.split("\t", 1)
            result[path] = meta.split()[2]
        return result

    def _show_uncached(self, rev: str, path: str) -> str | None:
        proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=self.cwd, capture_output=True, check=False)
        if proc.returncode != 0:
            return None
        return proc.stdout.decode("utf-8", errors="replace")

    def show(self, rev: str, path: str) -> str | None:
        """The text of ``path`` at ``rev`` (a blob id works with path ""), or None when absent."""
        return self._show(rev, path)

    def blob(self, blob_id: str) -> str:
        """A blob's text (cached: the same version of a file is parsed once)."""
        return self._blob(blob_id)

    def _blob_uncached(self, blob_id: str) -> str:
        return self.run("cat-file", "blob", blob_id)

    def changed(self, base: str, head: str, under: str | None = None) -> list[tuple[str, list[str]]]:
        """(status letter(s), paths) of every file (under ``under``, else anywhere) that differs between two
        revisions. Paths are read NUL-separated, so no name can be quoted, split or confused."""
        spec = [under] if under else []
        out = self.run("diff", "--name-status", "-z", "--no-ext-diff", "-M", base, head, "--", *spec)
        fields = out.split("\0")
        rows, i = [], 0
        while i < len(fields) and fields[i]:
            status = fields[i]
            count = 2 if status[:1] in ("R", "C") else 1
            rows.append((status, fields[i + 1 : i + 1 + count]))
            i += 1 + count
        return rows

    def is_ancestor(self, older: str, newer: str) -> bool:
        return (
            subprocess.run(
                ["git", "merge-base", "--is-ancestor", older, newer], cwd=self.cwd, capture_output=True, check=False
            ).returncode
            == 0
        )
