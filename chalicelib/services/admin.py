"""Editing the team configuration through the admin API: reps, queues and routing rules.

Every change follows one path, so the API and the team file can never disagree about what is
valid: load the configuration, apply the change to its file shape (`team_to_dict`), check the
whole document with the file's own validator (`team_from_dict`, which reports every problem with
its path, e.g. ``reps[4].phone``), and save it only if nobody saved another version meanwhile.

Seen by running Lambdas: the container that saved a change uses it at once; every other container
reads the configuration through the team store's cache, so it sees the change within that cache's
lifetime (30 s for DynamoTeamStore). Leads captured in that window are routed by the old roster.

Lost updates, two defences:

- A versioned save. The configuration is read fresh (past any cache) with its version, and saved
  on the condition that the version is unchanged (one conditional write in DynamoDB); otherwise
  the edit is refused (EditConflictError, 409), across Lambda containers too.
- If-Match. Every entry has a version (a hash of its stored shape, sent as the ETag); a client
  that read a rep, edited it and sends it back with the version it read is refused
  (PreconditionFailedError, 412) when someone changed that rep in between. Without If-Match the
  last write wins, as PUT promises.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import (
    ConfigError,
    ConflictError,
    InvalidPayloadError,
    LeadclockError,
    NotFoundError,
)
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import TeamChangedError, TeamStore
from chalicelib.team_file import team_from_dict, team_to_dict

# Names the document in ConfigError messages.
SOURCE = "team configuration"
ANY = "*"  # an If-Match that accepts whatever version exists

Item = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One list in the team file whose entries the API edits, and what names an entry."""

    section: str  # the top-level key: "reps"
    key: str  # the entry's identifying field: "id"
    noun: str  # for messages: "rep"
    param: str  # the URL parameter holding the key, named in 404s: "rep_id"


REPS = Kind("reps", "id", "rep", "rep_id")
QUEUES = Kind("queues", "name", "queue", "name")
RULES = Kind("rules", "name", "rule", "name")


@dataclass(frozen=True)
class Stored:
    """An entry as saved, in the file's shape, with its version (the ETag)."""

    item: Item
    version: str
    created: bool = False


class EditConflictError(ConflictError):
    """The configuration changed between loading it for an edit and saving the edit (409)."""

    code = "edit_conflict"


class InUseError(ConflictError):
    """An entry can't be deleted while others name it; `problems` lists where (409)."""

    code = "in_use"

    def __init__(self, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class PreconditionFailedError(LeadclockError):
    """If-Match named a version of the entry that is no longer the stored one (412)."""

    code = "precondition_failed"


def version_of(item: Mapping[str, Any]) -> str:
    """A short, stable hash of an entry's stored shape: equal entries, equal versions."""
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def list_items(kind: Kind, *, team: TeamStore) -> list[Item]:
    """Every entry of `kind`, in file order (for rules, the order they are tried in)."""
    return _entries(team_to_dict(team.load_latest()[0]), kind)


def get_item(kind: Kind, key: str, *, team: TeamStore) -> Stored:
    """One entry; NotFoundError if there is none called `key`."""
    entries = _entries(team_to_dict(team.load_latest()[0]), kind)
    index = _require(kind, key, _index(entries, kind, key))
    return Stored(entries[index], version_of(entries[index]))


def put_item(
    kind: Kind,
    key: str,
    body: object,
    *,
    position: int | None = None,
    expected: frozenset[str] | None = None,
    team: TeamStore,
) -> Stored:
    """Create or replace the entry `key` with `body` (the file's shape; its key may be left out).

    A new entry is appended, or inserted at `position`; an existing one stays where it is unless
    `position` moves it. `expected`: the versions the client accepts (If-Match), if any."""
    fields = _object(body)
    if fields.get(kind.key, key) != key:
        raise InvalidPayloadError(f"must be {key!r}, as in the URL, or left out", field=kind.key)
    draft = _open(kind, key, team=team, expected=expected, may_create=True)
    entry = {kind.key: key, **fields}
    if draft.index is not None and position is None:
        at = draft.index
        draft.entries[at] = entry
    else:
        if draft.index is not None:
            del draft.entries[draft.index]
        at = len(draft.entries) if position is None else _position(position, len(draft.entries))
        draft.entries.insert(at, entry)
    return _commit(draft, at, team=team)


def patch_item(
    kind: Kind, key: str, body: object, *, expected: frozenset[str] | None = None, team: TeamStore
) -> Stored:
    """Merge `body`'s top-level keys into the entry: a value replaces the key's whole value, and
    null removes the key (JSON Merge Patch, one level deep). The key itself can't change."""
    changes = _object(body)
    if kind.key in changes and changes[kind.key] != key:
        raise InvalidPayloadError(f"can't be changed; it must be {key!r}", field=kind.key)
    draft = _open(kind, key, team=team, expected=expected)
    at = _require(kind, key, draft.index)
    merged = dict(draft.entries[at])
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    draft.entries[at] = merged
    return _commit(draft, at, team=team)


def delete_item(
    kind: Kind, key: str, *, expected: frozenset[str] | None = None, team: TeamStore
) -> None:
    """Remove the entry; InUseError while another part of the configuration names it."""
    draft = _open(kind, key, team=team, expected=expected)
    del draft.entries[_require(kind, key, draft.index)]
    try:
        _save(draft, team=team)
    except ConfigError as exc:
        # The stored document was valid, so what is wrong now are references to what went;
        # the validator calls them unknown, which reads oddly about something being deleted.
        unknown, names = f"unknown {kind.noun} {key!r}", f"names {kind.noun} {key!r}"
        problems = [(path, names if why == unknown else why) for path, why in exc.problems]
        where = ", ".join(path for path, _ in problems)
        message = f"{kind.noun} {key!r} is still named at {where}; change those first"
        raise InUseError(message, problems) from None


def pause_rep(rep_id: str, *, team: TeamStore) -> Stored:
    """Stop assigning new leads to the rep until resumed (this ends any out of office)."""
    return _set_status(rep_id, {"status": "paused"}, team=team)


def resume_rep(rep_id: str, *, team: TeamStore) -> Stored:
    """Make the rep active again, whether paused or out of office."""
    return _set_status(rep_id, {"status": "active"}, team=team)


def set_out_of_office(rep_id: str, body: object, *, team: TeamStore) -> Stored:
    """Out of office until `body["until"]` (ISO 8601 with offset); from then on they are back."""
    fields = _object(body)
    unknown = sorted(set(fields) - {"until"})
    if unknown:
        raise InvalidPayloadError(f"unknown field {unknown[0]!r}", field=unknown[0])
    if "until" not in fields:
        raise InvalidPayloadError("required: when the rep is back", field="until")
    # The validator judges the value, with the same rule and message as the team file.
    state = {"status": "out_of_office", "out_of_office_until": fields["until"]}
    return _set_status(rep_id, state, team=team)


def _set_status(rep_id: str, state: Item, *, team: TeamStore) -> Stored:
    draft = _open(REPS, rep_id, team=team, expected=None)
    at = _require(REPS, rep_id, draft.index)
    rep = {k: v for k, v in draft.entries[at].items() if k != "out_of_office_until"}
    draft.entries[at] = rep | state
    return _commit(draft, at, team=team)


@dataclass(frozen=True)
class _Draft:
    """The configuration loaded for an edit, and its file shape being edited."""

    kind: Kind
    before: TeamConfig
    version: int  # the stored version `before` is; the save is conditional on it
    document: dict[str, object]
    entries: list[Item]  # document[kind.section], edited in place
    index: int | None  # where the entry named in the URL was; None if it did not exist


def _open(
    kind: Kind,
    key: str,
    *,
    team: TeamStore,
    expected: frozenset[str] | None,
    may_create: bool = False,
) -> _Draft:
    before, version = _load_for_edit(team)
    document = team_to_dict(before)
    entries = _entries(document, kind)
    index = _index(entries, kind, key)
    if index is None and not may_create:
        _require(kind, key, index)
    if expected is not None:
        current = None if index is None else version_of(entries[index])
        if current is None or not (ANY in expected or current in expected):
            raise PreconditionFailedError(
                f"the {kind.noun} changed since it was read (If-Match); read it again"
            )
    return _Draft(kind, before, version, document, entries, index)


def _commit(draft: _Draft, at: int, *, team: TeamStore) -> Stored:
    """Validate and save the draft; the entry now at `at`, as stored."""
    after = _save(draft, team=team)
    stored = _entries(team_to_dict(after), draft.kind)[at]
    return Stored(stored, version_of(stored), created=draft.index is None)


def _save(draft: _Draft, *, team: TeamStore) -> TeamConfig:
    after = team_from_dict(draft.document, file=SOURCE)
    if after != draft.before:  # nothing changed, nothing to write
        _save_if_unchanged(team, draft.version, after)
    return after


def _load_for_edit(team: TeamStore) -> tuple[TeamConfig, int]:
    return team.load_latest()


def _save_if_unchanged(team: TeamStore, version: int, after: TeamConfig) -> None:
    # One conditional write: it lands only over the version the edit was made on.
    try:
        team.save(after, expected_version=version)
    except TeamChangedError:
        raise EditConflictError(
            "the team configuration changed while this edit was being made; retry it"
        ) from None


def _entries(document: dict[str, object], kind: Kind) -> list[Item]:
    entries = document.get(kind.section)
    # team_to_dict always writes the list; this is the type checker's proof, not a real case.
    if not isinstance(entries, list):
        raise TypeError(f"team_to_dict gave no {kind.section} list")
    return entries


def _index(entries: list[Item], kind: Kind, key: str) -> int | None:
    return next((i for i, entry in enumerate(entries) if entry.get(kind.key) == key), None)


def _require(kind: Kind, key: str, index: int | None) -> int:
    if index is None:
        raise NotFoundError(f"no {kind.noun} {key!r}", field=kind.param)
    return index


def _object(body: object) -> Item:
    if not isinstance(body, dict):
        raise InvalidPayloadError("must be a JSON object", field="body")
    return body


def _position(position: int, size: int) -> int:
    if not 0 <= position <= size:
        raise InvalidPayloadError(f"must be from 0 to {size}", field="position")
    return position
