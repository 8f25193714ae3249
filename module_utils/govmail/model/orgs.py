"""The account model: what the files declare, as typed objects that remember where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from .yamlsource import Source

COMMUNE_KINDS = ("commune", "ward", "special_zone")
ORG_KINDS = ("province_body", *COMMUNE_KINDS, "other_body")
STATUSES = ("active", "suspended", "revoked")
REASON_CODES = ("inactive", "compromised", "prohibited", "transferred", "retired", "resigned", "requested", "other")

# Commune-level bodies (R5.1b): address prefix → how the body is named.
BODIES = {"du": "Đảng ủy", "ubnd": "Ủy ban nhân dân", "hdnd": "Hội đồng nhân dân"}
PLACE_WORD = {"commune": "xã", "ward": "phường", "special_zone": "đặc khu"}


@dataclass
class Province:
    domain: str
    province_code: str
    approvers: list[str]
    reserved: list[str]
    system_accounts: list[dict]
    communes: dict[str, list[str]] | None  # kind → names, when a reference list is configured
    source: Source
    # Addresses the approvers allow outside Article 5's forms (e.g. an imported mailbox): validate --base
    # refuses any other hand-written address or alias that is not of its holder's form.
    approved_addresses: list[str] = field(default_factory=list)
    quotas: dict[str, str] = field(default_factory=dict)  # account kind → default mailbox quota ("2G")


@dataclass
class Unit:
    id: str
    name: str
    path: str  # "ttytkvprtc/ptctc"
    parent_id: str  # the id used after the dot in this unit's address (R5.1c, R5.1d)
    mailbox: bool
    status: str
    reason: str | None
    since: str | None
    fpath: tuple  # the field path inside the file, for messages
    reset: str | None = None


@dataclass
class Person:
    name: str
    title: str
    unit: str | None
    given_name: str | None
    address: str | None
    status: str
    reason: str | None
    since: str | None
    reset: str | None
    aliases: list[str]
    fpath: tuple
    inactive_reason: dict | None = None  # {text, until}: R8.2a's reason for not using the account
    quota: str | None = None  # mailbox quota overriding the province default of its kind


@dataclass
class Org:
    id: str
    name: str
    kind: str
    owners: list[str]
    contact: dict | None
    bodies: list[str]
    mailbox: bool
    status: str
    reason: str | None
    since: str | None
    units: list[Unit]
    people: list[Person]
    source: Source
    reset: str | None = None
    # body id → its own state (status, reason, since, reset) when written as {id: ubnd, …}
    body_states: dict[str, dict] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.source.path


@dataclass
class Tree:
    """A whole accounts/ directory, valid or not yet checked."""

    root: str
    province: Province
    orgs: list[Org] = field(default_factory=list)  # in sorted path order (allocation order)
