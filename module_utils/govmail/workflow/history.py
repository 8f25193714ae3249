"""The life of every account, read from the Git history of the account files.

Each commit on the main line (``--first-parent``: merge commits, squash merges and direct
commits alike) is one approved request. Comparing the parsed account files before and
after it gives the events it approved; the branch commits behind a merge give who asked
and when; apply records (``records.py``) give when it was carried out. Entries are followed
by address, so a person moved to another unit's file keeps one history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..model.addresses import org_structural_accounts
from ..model.orgs import Province
from ..model.tree import PROVINCE_FILE, org_from_source, schema_problems
from ..model.yamlsource import parse
from . import records
from .gitlog import Commit, Git

VN = dt.timezone(dt.timedelta(hours=7))
INFO = ("name", "title", "unit", "given_name", "aliases")


@dataclass
class Event:
    """One approved change of one account."""

    address: str
    ops: list[str]
    changes: dict[str, list]
    reason: str | None
    state: dict | None  # the entry after the change
    merge: Commit  # the main-line commit that approved it
    requested: Commit  # the first commit of the request
    applied: dict | None = None  # {commit, finished, result} of the first apply that carried it out
    forge: dict | None = None  # the govmail-request/1 record of the merge, when the forge was asked

    def as_dict(self) -> dict:
        who = asked(self.requested, self.forge)
        approval = approved(self.merge, self.forge)
        out = {
            "address": self.address,
            "ops": self.ops,
            "changes": self.changes,
            "reason": self.reason,
            "requested": {"commit": self.requested.sha, "author": who["author"], "date": who["date"].isoformat()},
            "approved": {
                "commit": self.merge.sha,
                "merged_by": approval["merged_by"],
                "date": approval["date"].isoformat(),
                "merge": self.merge.is_merge,
            },
            "applied": self.applied,
        }
        if self.forge:  # from the forge's API at merge time (issue 11 §3)
            out["requested"].update(request=who["request"], source="forge")
            out["approved"].update(approvers=approval["approvers"], method=approval["method"], source="forge")
        return out


def _when(value: object, fallback: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return fallback


def asked(first: Commit, forge: dict | None) -> dict:
    """Who asked and when: the forge's request (author, opened) when recorded, else the first commit."""
    if forge:
        return {
            "author": forge.get("author") or first.author,
            "date": _when(forge.get("opened"), first.authored),
            "request": f"{'#' if forge.get('forge') == 'github' else '!'}{forge.get('number')}",
            "source": "forge",
        }
    return {"author": first.author, "date": first.authored, "source": "commit"}


def approved(merge: Commit, forge: dict | None) -> dict:
    """Who approved and when: the forge's approvers and merge time when recorded, else the merge commit."""
    if forge:
        return {
            "approvers": list(forge.get("approvers") or []),
            "merged_by": forge.get("merged_by") or merge.committer,
            "date": _when(forge.get("merged"), merge.committed),
            "method": forge.get("method"),
            "source": "forge",
        }
    return {"approvers": [merge.committer], "merged_by": merge.committer, "date": merge.committed, "source": "commit"}


@dataclass
class Request:
    """One approved change request: a main-line commit and the events it carried."""

    merge: Commit
    requested: Commit
    events: list[Event] = field(default_factory=list)
    applied: dict | None = None
    forge: dict | None = None  # the govmail-request/1 record (issue 11 §3); None for older history
    replies: list[dict] = field(default_factory=list)  # govmail-reply/1 records: when the letter was sent

    @property
    def received(self) -> dt.datetime:
        """R7.2a: when the request was received — the pull request's opening, else the first commit."""
        return asked(self.requested, self.forge)["date"]

    @property
    def approved_at(self) -> dt.datetime:
        return approved(self.merge, self.forge)["date"]

    @property
    def reply_sent(self) -> dt.date | None:
        """The day the reply letter was sent (``govmail reply --sent``), the latest one recorded."""
        days = [dt.date.fromisoformat(r["sent"]) for r in self.replies if isinstance(r.get("sent"), str)]
        return max(days) if days else None


class Accounts:
    """People at any revision, parsed once per file version."""

    def __init__(self, git: Git, accounts_dir: str = "accounts"):
        self.git = git
        self.dir = accounts_dir.rstrip("/")
        self._blobs: dict[tuple, tuple[dict, dict]] = {}
        self._provinces: dict[str, Province | None] = {}
        self._revs: dict[str, tuple[dict, dict]] = {}

    def _province(self, files: dict[str, str]) -> Province | None:
        blob = files.get(f"{self.dir}/{PROVINCE_FILE}")
        if blob is None:
            return None
        if blob not in self._provinces:
            src, problems = parse(f"{self.dir}/{PROVINCE_FILE}", self.git.blob(blob))
            ok = not problems and isinstance(src.data, dict) and not schema_problems(src, "province")
            self._provinces[blob] = (
                Province(src.data["domain"], src.data["province_code"], [], [], [], None, src) if ok else None
            )
        return self._provinces[blob]

    def _parse_blob(self, path: str, blob: str, province: Province | None = None) -> tuple[dict, dict]:
        key = (blob, province.domain if province else None, province.province_code if province else None)
        if key not in self._blobs:
            by_address, pending = {}, {}
            src, problems = parse(path, self.git.blob(blob))
            data = src.data if not problems and isinstance(src.data, dict) else {}
            org = (data.get("org") or {}) if isinstance(data.get("org"), dict) else {}
            parsed = org_from_source(src) if province and data else None
            for account in org_structural_accounts(parsed, province) if parsed else []:
                state = {k: getattr(account, k) for k in ("name", "title", "unit", "address", "status", "reason")}
                state.update(since=account.since, reset=account.reset, given_name=None, aliases=[])
                state.update(org=parsed.id, file=path, kind=account.kind)
                by_address[account.address] = state
            for person in data.get("people") or []:
                if not isinstance(person, dict) or "name" not in person:
                    continue
                state = {k: person.get(k) for k in (*INFO, "address", "status", "reason", "since", "reset")}
                state["status"] = state["status"] or "active"
                state["org"] = org.get("id")
                state["file"] = path
                state["kind"] = "person"
                if person.get("address"):
                    by_address[person["address"]] = state
                else:
                    pending[(org.get("id"), person["name"])] = state
            self._blobs[key] = (by_address, pending)
        return self._blobs[key]

    def at(self, rev: str | None) -> tuple[dict, dict]:
        """(address → entry, (org, name) → entry without an address) at ``rev``."""
        if rev is None:
            return {}, {}
        if rev not in self._revs:
            by_address, pending = {}, {}
            files = self.git.files(rev, self.dir)
            province = self._province(files)
            for path, blob in files.items():
                if path.endswith(".yaml") and not path.endswith("/province.yaml"):
                    a, p = self._parse_blob(path, blob, province)
                    by_address.update(a)
                    pending.update(p)
            self._revs[rev] = (by_address, pending)
        return self._revs[rev]

    def entry(self, rev: str | None, address: str, like: dict | None = None) -> dict | None:
        by_address, pending = self.at(rev)
        if address in by_address:
            return by_address[address]
        if like is not None:
            return pending.get((like.get("org"), like.get("name")))
        return None


def _norm(value):
    return sorted(value) if isinstance(value, list) else value


def diff(before: dict | None, after: dict | None) -> tuple[list[str], dict]:
    """The operations (create, move, update, reset, suspend, restore, revoke) between two states of an entry."""
    if before == after or after is None:
        return ([], {}) if after is not None or before is None else (["removed"], {})
    if before is None:
        return ["create"], {}
    ops, changes = [], {}
    if before.get("org") != after.get("org"):
        ops.append("move")
        changes["org"] = [before.get("org"), after.get("org")]
    info = {k: [before.get(k), after.get(k)] for k in INFO if _norm(before.get(k)) != _norm(after.get(k))}
    if info:
        ops.append("update")
        changes.update(info)
    if after.get("reset") is not None and after.get("reset") != before.get("reset"):
        ops.append("reset")
        changes["reset"] = [before.get("reset"), after.get("reset")]
    if before.get("status") != after.get("status"):
        ops.append({"revoked": "revoke", "suspended": "suspend"}.get(after["status"], "restore"))
        changes["status"] = [before.get("status"), after.get("status")]
    return ops, changes


class History:
    """Every approved request on the main line, with its events and apply records."""

    def __init__(self, git: Git, ref: str = "HEAD", accounts_dir: str = "accounts"):
        self.git = git
        self.ref = ref
        self.accounts = Accounts(git, accounts_dir)
        self.trail = records.load(git, ref)
        self.records = self.trail.applies
        self._requests: list[Request] | None = None

    def _branch_commits(self, merge: Commit) -> list[Commit]:
        if not merge.is_merge:
            return []
        return self.git.commits("--reverse", "--no-merges", f"{merge.parents[0]}..{merge.parents[1]}")

    def _requested(self, merge: Commit, address: str, before: dict | None, after: dict) -> Commit:
        """The first commit of the request that changed this entry (the merge itself for squash/direct commits)."""
        branch = self._branch_commits(merge)
        for commit in branch:
            state = self.accounts.entry(commit.sha, address, like=after)
            if state != before:
                return commit
        return branch[0] if branch else merge

    def _applied(self, merge: Commit, address: str | None) -> dict | None:
        """The first successful apply of ``merge`` or a later commit that carried ``address`` (or anything,
        for ``None``); the first failed one when none succeeded."""
        failed = None
        for commit, rec in self.records:
            if rec.get("check_mode"):
                continue
            if commit != merge.sha and not self.git.is_ancestor(merge.sha, commit):
                continue
            # Drift left alone (result "reported") is the directory's, not the request's: never a failure.
            hits = [
                c
                for c in rec.get("changes", [])
                if (address is None or c.get("address") == address) and c.get("result") != "reported"
            ]
            if address is not None and not hits:
                continue
            ok = all(c.get("result") == "ok" for c in hits)
            found = {"commit": commit, "finished": rec.get("finished"), "result": "ok" if ok else "error"}
            if address is not None:
                found["ops"] = sorted({c.get("op") for c in hits})
            if ok:
                return found
            failed = failed or found
        return failed

    def requests(self) -> list[Request]:
        if self._requests is not None:
            return self._requests
        out = []
        for merge in self.git.commits("--first-parent", "--reverse", self.ref, "--", self.accounts.dir):
            parent = merge.parents[0] if merge.parents else None
            before_all, _ = self.accounts.at(parent)
            after_all, _ = self.accounts.at(merge.sha)
            events = []
            for address in sorted(set(before_all) | set(after_all)):
                before, after = before_all.get(address), after_all.get(address)
                ops, changes = diff(before, after)
                if not ops:
                    continue
                requested = self._requested(merge, address, before, after) if after else merge
                reason = after.get("reason") if after and {"suspend", "revoke"} & set(ops) else None
                event = Event(address, ops, changes, reason, after, merge, requested)
                event.applied = self._applied(merge, address)
                applied_ops = event.applied.pop("ops", None) if event.applied else None
                if "create" in ops and applied_ops == ["adopt"]:
                    # The apply took over a mailbox that already existed (brownfield): not a new account.
                    event.ops = ["adopt" if op == "create" else op for op in ops]
                events.append(event)
            if not events:
                continue
            first = min((e.requested for e in events), key=lambda c: c.authored)
            forge = self.trail.requests.get(merge.sha)
            for e in events:
                e.forge = forge
            request = Request(
                merge, first, events, self._applied(merge, None), forge, self.trail.replies.get(merge.sha, [])
            )
            out.append(request)
        self._requests = out
        return out

    def of(self, address: str) -> list[Event]:
        return [e for r in self.requests() for e in r.events if e.address == address]


def local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(VN)


def applied_at(applied: dict) -> dt.datetime:
    """When an apply finished, in Vietnam time (records carry UTC, ``…Z``)."""
    return local(dt.datetime.fromisoformat(str(applied["finished"]).replace("Z", "+00:00")))


def history_text(events: list[Event]) -> str:
    if not events:
        return "No change of this address in the history."
    lines = []
    for e in events:
        what = ", ".join(e.ops)
        detail = "; ".join(f"{k}: {b!r} → {a!r}" for k, (b, a) in e.changes.items())
        if e.reason:
            detail = (detail + "; " if detail else "") + f"reason: {e.reason}"
        if e.ops in (["create"], ["adopt"]) and e.state:
            title = e.state.get("title") or {"org": "organisation", "body": "body", "unit": "unit"}.get(
                e.state.get("kind"), "mailbox"
            )
            detail = f"{e.state['name']}, {title}, {e.state['org']}" + (
                f"/{e.state['unit']}" if e.state.get("unit") else ""
            )
        r, m = e.requested, e.merge
        lines.append(f"{what}: {detail}")
        who, ok = asked(r, e.forge), approved(m, e.forge)
        if e.forge:
            lines.append(
                f"  requested {local(who['date']):%Y-%m-%d %H:%M} by {who['author']} in {who['request']}"
                f" ({e.forge.get('title') or r.subject})"
            )
            by = ", ".join(ok["approvers"])
            lines.append(
                f"  approved by {by}; merged ({ok['method']}) {local(ok['date']):%Y-%m-%d %H:%M}"
                f" by {ok['merged_by']} in {m.short}"
            )
        else:
            lines.append(
                f"  requested {local(r.authored):%Y-%m-%d %H:%M} by {r.author} <{r.author_email}> in {r.short}"
                f" ({r.subject})"
            )
            how = "merged" if m.is_merge else "approved (squash or direct commit)"
            lines.append(f"  {how} {local(m.committed):%Y-%m-%d %H:%M} by {m.committer} in {m.short}")
        if e.applied:
            when, result = applied_at(e.applied), e.applied["result"]
            lines.append(f"  applied {when:%Y-%m-%d %H:%M} ({result}) at {e.applied['commit'][:10]}")
        else:
            lines.append("  not applied yet (no apply record)")
    return "\n".join(lines)
