"""Plans: every operation, read against a directory state given as plain dicts."""

from govmail.directory.plan import plan, summary
from govmail.directory.render import plan_json, plan_markdown, plan_text
from govmail.model.addresses import Account


def acct(address, **kw):
    base = {"kind": "person", "org": "skhcn", "unit": "ppc", "name": "Lê Na", "title": "CV"}
    return Account(address, **{**base, **kw})


def test_against_an_empty_directory_everything_live_is_a_create():
    desired = [
        acct("a@x"),
        acct("b@x", status="suspended", reason="inactive", since="2026-01-01"),
        acct("c@x", status="revoked", reason="retired", since="2026-01-01"),
    ]
    changes = plan(desired, [])
    assert [(c.op, c.address, c.status) for c in changes] == [
        ("create", "a@x", "active"),
        ("create", "b@x", "suspended"),
    ]


def test_each_operation_against_a_live_state():
    current = [
        acct("same@x").as_dict(),
        acct("info@x").as_dict(),
        acct("moved@x").as_dict(),
        acct("reset@x", reset="1").as_dict(),
        acct("susp@x").as_dict(),
        acct("rest@x", status="suspended").as_dict(),
        acct("rev@x").as_dict(),
        acct("gone@x").as_dict(),
        acct("old@x", status="revoked").as_dict(),
    ]
    desired = [
        acct("same@x"),
        acct("info@x", title="Trưởng phòng", aliases=["i2@x"]),
        acct("moved@x", org="syt", unit=None),
        acct("reset@x", reset="2"),
        acct("susp@x", status="suspended", reason="compromised", since="2026-11-01"),
        acct("rest@x"),
        acct("rev@x", status="revoked", reason="retired", since="2026-11-01"),
        acct("old@x", status="revoked"),
    ]
    changes = plan(desired, current)
    assert [(c.op, c.address) for c in changes] == [
        ("update", "info@x"),
        ("move", "moved@x"),
        ("reset", "reset@x"),
        ("suspend", "susp@x"),
        ("restore", "rest@x"),
        ("revoke", "rev@x"),
        ("drift", "gone@x"),
    ]
    by = {c.address: c for c in changes}
    assert by["info@x"].changes == {"title": ["CV", "Trưởng phòng"], "aliases": [[], ["i2@x"]]}
    assert by["moved@x"].changes == {"org": ["skhcn", "syt"], "unit": ["ppc", None]}
    assert by["susp@x"].reason == "compromised"
    assert summary(changes)["by_op"] == {
        "update": 1,
        "move": 1,
        "reset": 1,
        "suspend": 1,
        "restore": 1,
        "revoke": 1,
        "drift": 1,
    }


def test_a_reset_on_a_suspended_account_waits_for_restore():
    current = [acct("s@x", status="suspended", reset="1", reason="inactive", since="2026-01-01").as_dict()]
    desired = [acct("s@x", status="suspended", reset="2", reason="inactive", since="2026-01-01")]
    assert plan(desired, current) == []


def test_renderings_carry_the_same_rows():
    changes = plan([acct("a@x", name="Lê | Na"), acct("b@x", org="syt")], [])
    assert plan_text(changes).splitlines()[0] == "Plan: 2 change(s): 2 create"
    md = plan_markdown(changes)
    assert "| create | `a@x` | person | `skhcn/ppc` | `Lê \\| Na` | `active` |" in md
    assert "| `skhcn` | 1 |" in md and "| `syt` | 1 |" in md
    assert '"total": 2' in plan_json(changes)
    assert plan_text([]) == "No changes: the directory matches the account files."


def test_reason_change_without_status_change_is_an_update():
    current = [acct("s@x", status="suspended", reason="inactive", since="2026-01-01").as_dict()]
    desired = [acct("s@x", status="suspended", reason="compromised phishing", since="2026-02-01")]
    [change] = plan(desired, current)
    assert change.op == "update"
    assert change.changes == {"reason": ["inactive", "compromised phishing"], "since": ["2026-01-01", "2026-02-01"]}


def test_undelivered_initial_password_is_issued_again():
    current = [acct("a@x", reset="!undelivered").as_dict()]
    [change] = plan([acct("a@x")], current)
    assert (change.op, change.changes) == ("reset", {"reset": ["!undelivered", None]})


def test_revoked_entry_left_in_the_live_tree_is_moved_on_the_next_run():
    current = [{**acct("r@x", status="revoked").as_dict(), "in_revoked_tree": False}]
    [change] = plan([acct("r@x", status="revoked", reason="retired", since="2026-01-01")], current)
    assert change.op == "revoke"


def test_hand_written_as_dict_matches_dataclasses_asdict():
    import dataclasses

    account = acct("a@x", aliases=["b@x"], reason="inactive", since="2026-01-01", reset="1")
    assert account.as_dict() == dataclasses.asdict(account)
    change = plan([acct("a@x", title="TP")], [acct("a@x").as_dict()])[0]
    assert change.as_dict() == dataclasses.asdict(change)


def test_markdown_shows_what_a_unit_wrote_as_inert_text():
    """Attack: a unit writes links, mentions, HTML and code-span breakers into a name and a title."""
    evil = "[Bấm đây](https://evil.example) @ttcds <img src=x onerror=alert(1)> `x` **đậm** | cột"
    changes = plan([acct("a@x", name=evil, title="<script>alert(1)</script>\nhàng mới")], [])
    md = plan_markdown(changes)
    row = next(line for line in md.splitlines() if "a@x" in line)
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    # Every cell a unit wrote is one code span with no backtick inside it: Markdown does nothing there.
    for cell in (cells[1], *cells[3:]):
        assert cell.startswith("`") and cell.endswith("`") and "`" not in cell[1:-1]
    assert "ʼxʼ" in row and "\\| cột" in row and "\n" not in row


def test_a_new_entrys_aliases_are_in_the_plan():
    changes = plan([acct("a@x", aliases=["giamdoc.syt@x", "vanphong.syt@x"])], [])
    [change] = changes
    assert change.changes == {"aliases": [[], ["giamdoc.syt@x", "vanphong.syt@x"]]}
    assert "giamdoc.syt@x" in plan_markdown(changes) and "vanphong.syt@x" in plan_text(changes)
