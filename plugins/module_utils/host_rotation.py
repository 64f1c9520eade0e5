# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host rotation plan: from the public facts of a host's signing directory (host_layout.look), the IAM user's
certificates, the role's options and the time, what one run does on the host and in IAM, in order.

Pure: no I/O, no Ansible, no clock of its own. Its promises, which test_host_rotation_properties.py checks over
generated hosts, users and failures:
- blocked means nothing is written, on the host or in IAM;
- the consumer always reads a key and a certificate that match; a run switches to a new pair only once its
  certificate is active in IAM, and back to the pair it replaced when the consumer check fails;
- a certificate is retired only after the switch and the consumer check, and only when this host made it (the
  made-for name in it), retired or deleted it before (retired.json), or holds it in a pair; any, when forced;
- a certificate is deleted to make room only when it is inactive and this host's (any inactive one, when forced),
  or this host made it and its key is gone;
- a pair leaves the host only when its certificate is one this host retires or deletes, now or before (every such
  certificate is written to retired.json before the first write in IAM), or it is debris of an interrupted run that
  never reached IAM; a pair the role did not make, or whose certificate the host cannot account for, stays;
- the role acts only on the links and directories it made (a directory an earlier release gave to the consumer is
  taken back only when everything in it is as the role made it).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import made_for_uri
from ansible_collections.certops.aws.plugins.module_utils.rules import (
    ACTIVE,
    INACTIVE,
    LIMIT_EXCEEDED,
    QUOTA_PER_USER,
    Record,
    by_fingerprint,
    expiring_within,
    oldest_first,
)

KEY, PEM, CURRENT, NEXT, PREVIOUS, PAIRS = "signing.key", "signing.pem", "current", "next", "previous", "pairs"
LEDGER, LOCK = "retired.json", "rotation.lock"
PAIR_TARGET = re.compile(r"pairs/([A-Za-z0-9][A-Za-z0-9._-]{0,127})")
ROLE_PAIR_NAME = re.compile(r"[0-9]{8}T[0-9]{6}\.[0-9]{6}Z|adopted-[0-9a-f]{16}")
DIR_MODE, KEY_MODE, WRITABLE_BY_OTHERS = 0o750, 0o600, 0o022

# error_code of a blocked host (besides LimitExceeded and InvalidParameters).
SHARED_USER = "SharedIamUser"
LOCK_HELD = "LockHeld"
DIRECTORY_UNSAFE = "HostDirectoryUnsafe"
LAYOUT_FOREIGN = "HostLayoutForeign"
PAIR_UNUSABLE = "HostPairUnusable"
PAIR_COPIED = "HostPairCopied"
PAIR_OTHER_USER = "HostPairOtherUser"
CERTIFICATE_UNKNOWN = "HostCertificateUnknown"
INVALID_PARAMETERS = "InvalidParameters"

PROVISION, ROTATE, RESUME, FINISH, NONE, BLOCKED = "provision", "rotate", "resume", "finish", "none", "blocked"


class Blocked(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Pair:
    """A key and certificate on the host: pairs/<name>, or the stable paths themselves (name None: placed by hand)."""

    name: str | None
    fingerprint: str | None = None
    public_key: str | None = None
    made_for: tuple[str, str, str, str] | None = None
    problem: str | None = None
    foreign: str | None = None
    key_facts: dict[str, Any] | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None and self.foreign is None

    @property
    def incomplete(self) -> bool:
        """An empty pair directory, or one of the two files alone: what an interrupted making or removal leaves."""
        return self.problem is not None and (self.problem == "empty" or " exists but " in self.problem)


@dataclass(frozen=True)
class HostPlan:
    """One run on one host. The steps, in order:

    begin   take the lock, then: sweep, create_dir, modes_before, ledger (before any write in IAM: what this run may
            retire or delete), adopt, relink, detach, forget, discard, new_pair (staged)
    make    the new pair's key, request and certificate (community.crypto), when new_pair
    IAM     make_room (delete), upload (and wait until IAM lists it as active)
    switch  previous -> switch_from, current -> switch_to, then the consumer check (back to switch_from if it fails)
    IAM     retire (deactivate, or delete)
    end     sweep, final_ledger (without what is gone for good), modes_after, clear_next, remove, forget_previous,
            unlock
    """

    action: str
    reason: str
    error_code: str | None = None
    user_name: str | None = None
    dir: str | None = None
    create_dir: bool = False
    gid: int | None = None
    key_uid: int | None = None
    modes_before: tuple[dict[str, Any], ...] = ()
    ledger: tuple[dict[str, str], ...] | None = None
    final_ledger: tuple[dict[str, str], ...] | None = None
    adopt: dict[str, Any] | None = None
    relink: bool = False
    forget: tuple[str, ...] = ()
    discard: tuple[str, ...] = ()
    new_pair: str | None = None
    make_room: tuple[str, ...] = ()
    upload: bool = False
    switch_to: str | None = None
    switch_from: str | None = None
    detach: bool = False
    retire: tuple[str, ...] = ()
    retire_by_deleting: bool = False
    clear_next: bool = False
    remove: tuple[str, ...] = ()
    forget_previous: bool = False
    modes_after: tuple[dict[str, Any], ...] = ()
    keep: tuple[str, ...] = ()
    current_certificate_id: str | None = None
    new_certificate: dict[str, Any] | None = None
    made_for: str | None = None
    took_over_lock: str | None = None
    sweep: tuple[str, ...] = ()
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.action == BLOCKED

    @property
    def begins(self) -> bool:
        """Whether the run takes the lock in a step of its own before the rest: anything in IAM, or a switch, or a
        change on the host that comes before them."""
        return bool(
            self.make_room
            or self.detach
            or self.upload
            or self.retire
            or self.switch_to
            or self.create_dir
            or self.modes_before
            or self.adopt
            or self.relink
            or self.forget
            or self.discard
            or self.new_pair
        )

    @property
    def changes(self) -> bool:
        return bool(
            self.begins
            or self.clear_next
            or self.remove
            or self.forget_previous
            or self.modes_after
            or self.ledger is not None
            or self.final_ledger is not None
            or self.took_over_lock is not None
            or bool(self.sweep)
        )

    def consequences(self, conditional: bool) -> list[str]:
        """What the plan does besides its action, one phrase each."""
        would = "would " if conditional else ""
        parts = []
        if self.make_room:
            parts.append(f"{would}delete {', '.join(self.make_room)} in IAM to make room")
        if self.retire:
            how = "delete" if self.retire_by_deleting else "deactivate"
            when = " once the consumer works with the new pair" if self.switch_to else ""
            parts.append(f"{would}{how} {', '.join(self.retire)} in IAM{when}")
        removed = [f"pairs/{name}" for name in (*self.discard, *self.remove)]
        if removed:
            parts.append(f"{would}remove {', '.join(removed)} from the host (the key in it included)")
        if self.keep:
            parts.append(f"{would}keep {', '.join(f'pairs/{name}' for name in self.keep)} on the host")
        changed = [change["path"] for change in (*self.modes_before, *self.modes_after)]
        if changed:
            parts.append(f"{would}set the owner, group or mode of {', '.join(changed)}")
        if self.sweep:
            parts.append(f"{would}remove {', '.join(self.sweep)}, left by an interrupted step")
        if self.took_over_lock and self.changes:
            parts.append(f"{would}take over the lock left by a run that is gone ({self.took_over_lock})")
        return parts

    def summary(self) -> str:
        """What the run would do, in the conditional: check mode's report and the task's message."""
        if self.blocked:
            return f"{self.user_name}: {self.reason}"
        head = {
            PROVISION: "would be provisioned with a new pair",
            ROTATE: "would be rotated to a new pair",
            RESUME: f"would carry on with pairs/{self.switch_to}",
            FINISH: "would be tidied up",
        }.get(self.action)
        first = f"{self.user_name} {head}: {self.reason}" if head else f"{self.user_name}: {self.reason}"
        return "; ".join([first, *self.consequences(conditional=True)])

    def steps(self, token: str | None) -> dict[str, Any]:
        """The arguments of each step, as the role passes them to the modules: None for a step that does not run.
        token: the look's digest of the directory; the step that takes the lock refuses when it changed since."""
        begin = end = None
        if self.begins:
            begin = {
                "token": token,
                "create": self.create_dir,
                "gid": self.gid,
                "modes": list(self.modes_before),
                "ledger": _listed(self.ledger),
                "adopt": self.adopt,
                "relink": self.relink,
                "forget": list(self.forget),
                "discard": list(self.discard),
                "detach": self.detach,
                "stage": self.new_pair,
            }
        if self.changes:
            end = {
                "token": None if begin else token,
                "clear_next": self.clear_next,
                "remove": list(self.remove),
                "forget_previous": self.forget_previous,
                "modes": list(self.modes_after),
                "ledger": _listed(self.final_ledger if self.final_ledger is not None or begin else self.ledger),
            }
        switch = None
        if self.switch_to:
            switch = {"to": self.switch_to, "from": self.switch_from, "gid": self.gid}
        return {
            "begin": begin,
            "new_pair": self.new_pair,
            "subject_alt_name": [f"URI:{self.made_for}"] if self.made_for else [],
            "make_room": list(self.make_room),
            "upload": self.upload,
            "switch": switch,
            "retire": list(self.retire),
            "retire_state": "absent" if self.retire_by_deleting else "inactive",
            "end": end,
        }

    def as_dict(self, token: str | None = None) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data = {name: list(value) if isinstance(value, tuple) else value for name, value in data.items()}
        data.update(blocked=self.blocked, begins=self.begins, changes=self.changes, summary=self.summary())
        data["steps"] = self.steps(token)
        return data


# --------------------------------------------------------------------------------------------------------------


def _listed(entries: tuple[dict[str, str], ...] | None) -> list[dict[str, str]] | None:
    return None if entries is None else list(entries)


def _target(entry: dict[str, Any] | None) -> str | None:
    """The pair a pointer link names, or None."""
    match = PAIR_TARGET.fullmatch((entry or {}).get("target") or "")
    return match.group(1) if match else None


def pair_from_facts(name: str | None, facts: dict[str, Any] | None, where: str) -> Pair:
    """A Pair from the look's facts of a directory; where: how messages name its files ("", "next/")."""
    facts = facts or {}
    key, cert = facts.get("key"), facts.get("certificate")
    foreign = f"{where}{', '.join(facts['other'])} (not made by this role)" if facts.get("other") else None
    problem = None
    if key is None and cert is None:
        problem = "empty"
    elif (key is None) != (cert is None):
        problem = f"{where}{PEM if cert else KEY} exists but {where}{KEY if cert else PEM} does not"
    elif key["type"] != "file" or cert["type"] != "file":
        problem = f"{where}{KEY} and {where}{PEM} must be files"
    elif key["nlink"] != 1 or cert["nlink"] != 1:
        foreign = f"{where}{KEY if key['nlink'] != 1 else PEM} has other hard links"
    elif cert.get("problem"):
        problem = f"{where}{PEM} is not a readable PEM certificate"
    elif key.get("problem"):
        problem = f"{where}{KEY} is not a readable private key (corrupt, encrypted, or not a key)"
    elif key.get("public_key_sha256") != cert.get("public_key_sha256"):
        problem = f"{where}{KEY} is not the key of {where}{PEM}"
    made_for = (cert or {}).get("made_for")
    return Pair(
        name=name,
        fingerprint=(cert or {}).get("fingerprint_sha256"),
        public_key=(key or {}).get("public_key_sha256"),
        made_for=tuple(made_for) if made_for and len(made_for) == 4 else None,
        problem=problem,
        foreign=foreign,
        key_facts=key,
    )


def _describe(record: Record) -> str:
    return f"{record['certificate_id']} ({record['status']}, expires {record.get('not_after') or 'an unreadable date'})"


def _not_due(record: Record, threshold: int) -> str:
    return (
        f"not due: the host's certificate {record['certificate_id']} expires on {record.get('not_after')}, after the "
        f"threshold of {threshold} days"
    )


class _Planner:
    def __init__(
        self,
        options: dict[str, Any],
        facts: dict[str, Any],
        records: list[Record],
        now: datetime.datetime,
        shared_with: list[str],
    ) -> None:
        self.options, self.facts, self.now, self.shared_with = options, facts, now, shared_with
        self.records = oldest_first(records)
        self.user, self.host = options["user_name"], options["host_name"]
        self.dir = facts.get("path") or options["dir"]
        self.runner = facts["runner"]["uid"]
        account = facts.get("account") or {}
        self.key_uid, self.gid = account.get("uid"), account.get("gid")
        entries = facts.get("entries") or {}
        self.entries = {name: entries.get(name) for name in (KEY, PEM, CURRENT, NEXT, PREVIOUS, PAIRS, LEDGER)}
        self.pairs_facts = facts.get("pairs") or {}
        self.ledger = list(facts.get("retired") or [])
        self.ledgered = {item["fingerprint_sha256"] for item in self.ledger}
        # What this host set out to delete (to make room, or to retire by deleting), as opposed to deactivate: only a
        # deletion explains a certificate the listing lacks.
        self.ledgered_deletions = {item["fingerprint_sha256"] for item in self.ledger if item.get("action") == "delete"}
        self.listing_confirmed = False  # set once the user's listing holds the host's certificate in use

    # -- what is whose ------------------------------------------------------------------------------------------

    def made_for_uri(self) -> str:
        return made_for_uri(self.host, self.user, self.options["dir"], self.options.get("account") or "")

    def made_here(self, made_for: Any) -> bool:
        """Whether a made-for name names this host, this IAM user (whose names IAM compares regardless of case), this
        directory and this account label: the same host may hold another identity (another user, or the same user
        name in another account) in another directory, and its certificates are not this one's."""
        return (
            bool(made_for)
            and len(made_for) == 4
            and made_for[0] == self.host
            and str(made_for[1]).casefold() == self.user.casefold()
            and made_for[2] == self.options["dir"]
            and str(made_for[3]).casefold() == (self.options.get("account") or "").casefold()
        )

    def confirmed(self, record: Record | None) -> bool:
        """Whether the user's listing is known to be the right one (the right user, in the right account): it holds
        the host's certificate in use, or a certificate made for this host and user, or one a pair on the host holds.
        Only then does a certificate missing from it count as deleted by this host; in another account, every one of
        the host's certificates is missing."""
        if record is not None:
            return True
        held = {pair.fingerprint for pair in (self.pair(name) for name in self.pairs_facts) if pair and pair.usable}
        return any(self.made_here(r.get("made_for")) or r.get("fingerprint_sha256") in held for r in self.records)

    def debris(self, pair: Pair) -> bool:
        """Whether a pair nobody points at is what an interrupted run of this host left. Incomplete: without a
        certificate (a key made before the run stopped), or with one the right listing does not have, or one this
        host retired. Whole: made for this host, user and directory, and its certificate not in the right listing
        (staged, never uploaded). "The right listing": known to be this user's in this account (confirmed())."""
        rec = self.record_of(pair)
        if pair.incomplete:
            if rec is None:
                return pair.fingerprint is None or self.listing_confirmed
            return pair.fingerprint in self.ledgered and rec["status"] != ACTIVE
        return pair.usable and rec is None and self.listing_confirmed and self.made_here(pair.made_for)

    def retired_here(self, pair: Pair, gone: set[str]) -> bool:
        """Whether this host retires or deletes the pair's certificate in this run, or did in an earlier one. A
        certificate the listing lacks counts as deleted by this host only when this host set out to delete it
        (retired.json) and the listing is known to be the right one: in another account, every one is missing."""
        rec = self.record_of(pair)
        if rec is not None and rec["certificate_id"] in gone:
            return True
        if rec is None:
            return self.deleted_here(pair.fingerprint)
        return pair.fingerprint in self.ledgered and rec["status"] != ACTIVE

    def deleted_here(self, fingerprint: str | None) -> bool:
        return fingerprint in self.ledgered_deletions and self.listing_confirmed

    def record_of(self, pair: Pair | None) -> Record | None:
        return by_fingerprint(self.records, pair.fingerprint) if pair is not None and pair.fingerprint else None

    def pair(self, name: str | None) -> Pair | None:
        """pairs/<name>; None when there is no such directory."""
        if name is None or name not in self.pairs_facts:
            return None
        return pair_from_facts(name, self.pairs_facts[name], f"pairs/{name}/")

    def identity(self, pair: Pair, what: str) -> None:
        """Refuse a pair the role made for another host (a copy) or another IAM user."""
        if pair.made_for and pair.made_for[0] != self.host:
            raise Blocked(
                f"cannot rotate: {what} in {self.dir} was made for host {pair.made_for[0]}, not {self.host}: a copy of "
                "another host's pair (a cloned image?). The role does not rotate it, so as not to retire that host's "
                "certificate; move it away to give this host a pair of its own",
                PAIR_COPIED,
            )
        if pair.made_for and pair.made_for[1].casefold() != self.user.casefold():
            raise Blocked(
                f"cannot rotate: {what} in {self.dir} was made for IAM user {pair.made_for[1]}, and this run is for "
                f"IAM user {self.user}. Check host_signing_certificate_user_name (and the account or profile of the "
                "IAM calls); if the host really changes user, move the pair away first",
                PAIR_OTHER_USER,
            )

    def foreign(self, what: str) -> Blocked:
        return Blocked(
            f"cannot rotate: in {self.dir}, {what}: the role acts only on the links and files it made. Remove it (or "
            "give the role another directory) and run again; nothing was changed",
            LAYOUT_FOREIGN,
        )

    def unusable(self, problem: str) -> Blocked:
        return Blocked(
            f"cannot rotate: the host's pair in {self.dir} cannot be used: {problem}. The role replaces only a pair it "
            "can read: repair it, or move signing.key and signing.pem away to provision a new pair",
            PAIR_UNUSABLE,
        )

    # -- the layout -----------------------------------------------------------------------------------------

    def directory_changes(self, path: str, entry: dict[str, Any], take_back: int | None) -> list[dict[str, Any]]:
        """What makes a directory of the layout the runner's, not writable by others, and open to the consumer's
        group. One an earlier release gave to the consumer (the configured owner) is taken back."""
        change: dict[str, Any] = {}
        mode = entry["mode"]
        if entry["uid"] != self.runner:
            if take_back is None or entry["uid"] != take_back:
                where = self.dir if path == "." else path
                raise Blocked(
                    f"cannot rotate: {where} belongs to uid {entry['uid']}, not to the user "
                    f"the role runs as (uid {self.runner}). The role keeps its pairs in a directory of its own: give "
                    "another host_signing_certificate_dir, or give this one to that user; nothing was changed",
                    DIRECTORY_UNSAFE,
                )
            change["uid"], mode = self.runner, DIR_MODE
        if self.gid is not None and (entry["gid"] != self.gid or mode & 0o050 != 0o050):
            change["gid"], mode = self.gid, mode | 0o050
        mode &= ~WRITABLE_BY_OTHERS
        if mode != entry["mode"]:
            change["mode"] = mode
        return [{"path": path, **change}] if change else []

    def check_layout(self) -> list[dict[str, Any]]:
        """Refuse what the role did not make; return the changes that take the layout back."""
        take_back = self.key_uid if self.key_uid is not None and self.key_uid != self.runner else None
        changes: list[dict[str, Any]] = []
        if self.facts.get("dir"):
            changes += self.directory_changes(".", self.facts["dir"], take_back)
        others = self.facts.get("others") or []
        if changes and others:
            raise Blocked(
                f"cannot rotate: {self.dir} holds {', '.join(others)}, which the role did not make, and the role "
                "changes the owner, group or mode only of a directory of its own: give host_signing_certificate_dir "
                "a directory of its own; nothing was changed",
                DIRECTORY_UNSAFE,
            )
        ledger = self.entries.get(LEDGER)
        if ledger and (ledger["type"] != "file" or ledger["uid"] != self.runner or ledger["nlink"] != 1):
            raise self.foreign(f"{LEDGER} is not a file of the user the role runs as")
        for name in (KEY, PEM):
            entry = self.entries[name]
            if entry and entry["type"] == "link":
                if entry["uid"] != self.runner or entry["target"] != f"{CURRENT}/{name}":
                    raise self.foreign(f"{name} is a link to {entry['target']}")
            elif entry and entry["type"] != "file":
                raise self.foreign(f"{name} is neither a file nor a link")
        for name in (CURRENT, NEXT, PREVIOUS):
            entry = self.entries[name]
            if entry and (entry["type"] != "link" or entry["uid"] != self.runner or _target(entry) is None):
                raise self.foreign(f"{name} is {_what(entry)}")
        pairs = self.entries[PAIRS]
        if pairs:
            if pairs["type"] != "dir":
                raise self.foreign(f"pairs is {_what(pairs)}")
            changes += self.directory_changes(PAIRS, pairs, take_back)
        for name, facts in self.pairs_facts.items():
            if facts["type"] != "dir" or not facts["name_ok"]:
                raise self.foreign(f"pairs/{name} is {_what(facts)}")
            if facts["uid"] != self.runner:
                changes += self.directory_changes(f"pairs/{name}", facts, take_back)
                certificate = facts.get("certificate")
                if certificate and certificate["type"] == "file" and certificate["uid"] != self.runner:
                    changes.append({"path": f"pairs/{name}/{PEM}", "uid": self.runner})
        return changes

    def consumer_pair(self) -> tuple[Pair | None, bool, str | None]:
        """The pair the consumer reads; whether the stable paths must be made (again) as links; and the pair a
        half-done adoption of a hand-placed pair was copied to (it carries on)."""
        key, pem = self.entries[KEY], self.entries[PEM]
        current = self.pair(_target(self.entries[CURRENT]))
        kinds = ((key or {}).get("type"), (pem or {}).get("type"))
        if kinds == (None, None):
            return current, current is not None, None
        if None in kinds:
            have, missing = (PEM, KEY) if kinds[0] is None else (KEY, PEM)
            raise self.unusable(f"{have} exists but {missing} does not")
        if kinds == ("link", "link"):
            return current, False, None
        loose = pair_from_facts(None, self.facts.get("loose"), "")
        if kinds == ("file", "file"):
            return loose, False, None
        # One stable path is a link through current, the other still the file placed by hand: an adoption that
        # stopped half way carries on when both lead to the same pair.
        loose_facts = self.facts.get("loose") or {}
        if current is not None and kinds[0] == "file":
            same = (loose_facts.get("key") or {}).get("public_key_sha256") == current.public_key
        elif current is not None:
            same = (loose_facts.get("certificate") or {}).get("fingerprint_sha256") == current.fingerprint
        else:
            same = False
        if not same:
            raise self.unusable("signing.key and signing.pem lead to different pairs")
        return current, False, current.name

    # -- the plan -------------------------------------------------------------------------------------------

    def preconditions(self) -> str | None:
        """Refusals that need no look at the pairs; what a stale lock was taken over for, if any."""
        if self.shared_with:
            raise Blocked(
                f"IAM user {self.user} is also the user of {', '.join(self.shared_with)} in this play: one IAM user "
                "per host, or the hosts would retire each other's certificates (hosts in different AWS accounts: set "
                "host_signing_certificate_account per account); nothing was changed",
                SHARED_USER,
            )
        if self.facts.get("problem"):
            raise Blocked(f"cannot rotate: {self.facts['problem']}; nothing was changed", DIRECTORY_UNSAFE)
        problems = (self.facts.get("account") or {}).get("problems") or []
        if problems:
            raise Blocked(f"{'; '.join(problems)}; nothing was changed", INVALID_PARAMETERS)
        lock = self.facts.get("lock")
        entry = (lock or {}).get("entry")
        if entry and (entry["type"] != "file" or entry["uid"] != self.runner or entry["nlink"] != 1):
            raise self.foreign(f"{LOCK} is not a file of the user the role runs as")
        if lock and lock.get("alive"):
            raise Blocked(
                f"another run is changing {self.dir} (it holds the lock since {lock.get('acquired')}, from "
                f"{lock.get('holder')}): one run at a time per directory; nothing was changed. A lock left by a run "
                f"that is gone expires by itself, or remove {self.dir}/rotation.lock",
                LOCK_HELD,
            )
        return lock.get("why") if lock else None

    def plan(self) -> HostPlan:
        took_over = self.preconditions()
        modes_before = self.check_layout()
        consumer, relink, half_adopted = self.consumer_pair()
        if consumer is not None and consumer.foreign:
            raise self.foreign(consumer.foreign)
        if consumer is not None and not consumer.usable:
            raise self.unusable(consumer.problem or "")
        if consumer is not None:
            self.identity(consumer, "the host's pair")
        record = self.record_of(consumer)
        self.listing_confirmed = self.confirmed(record)
        if consumer is not None and record is None and not self.deleted_here(consumer.fingerprint):
            raise Blocked(
                f"cannot rotate: the host's certificate (SHA-256 {consumer.fingerprint}) is not one of IAM user "
                f"{self.user}'s certificates. Check host_signing_certificate_user_name and the account or profile of "
                "the IAM calls. If it was deleted from IAM on purpose, move signing.key and signing.pem away to "
                "provision a new pair: the role never removes a key whose certificate it cannot account for. If the "
                "pair was made moments ago, IAM may not list it yet: run again in a minute",
                CERTIFICATE_UNKNOWN,
            )

        current_name = _target(self.entries[CURRENT]) if consumer is not None and consumer.name else None
        adopt_name = None
        if consumer is not None and consumer.name is None:
            adopt_name = "adopted-" + (consumer.fingerprint or "").replace(":", "").lower()[:16]
        pairs = {name: self.pair(name) for name in self.pairs_facts}
        held = {p.fingerprint: p for p in [consumer, *pairs.values()] if p is not None and p.usable and p.fingerprint}

        def own(rec: Record) -> bool:
            fingerprint = rec.get("fingerprint_sha256")
            return self.made_here(rec.get("made_for")) or fingerprint in self.ledgered or fingerprint in held

        # What an earlier run left: the staged pair, the replaced one, debris.
        forget: list[str] = []
        discard: list[str] = []
        remove: list[str] = []
        keep: list[str] = []
        retire: list[str] = []
        staged_name = _target(self.entries[NEXT])
        staged = pairs.get(staged_name) if staged_name else None
        staged_record = self.record_of(staged)
        resume_to = None
        switched_unchecked = staged is not None and staged_name == current_name
        if self.entries[NEXT] and staged is None:
            forget.append(NEXT)
        elif staged is not None and not switched_unchecked:
            if staged.usable:
                self.identity(staged, "the staged pair (next)")
            staged_active = staged_record is not None and staged_record["status"] == ACTIVE
            if (
                staged.usable
                and staged_active
                and not expiring_within(staged_record, self.options["threshold_days"], self.now)
            ):
                resume_to = staged
            elif staged.usable and staged_active:
                # Uploaded by an earlier run, but due itself by now: it is not switched to; it goes as a replaced
                # pair goes, its certificate retired and then the pair removed.
                forget.append(NEXT)
                retire.append(staged_record["certificate_id"])
                remove.append(staged_name)
            if resume_to is None and staged_name not in remove:
                if staged_active:
                    raise Blocked(
                        f"cannot rotate: the staged pair in {self.dir}/next cannot be used "
                        f"({staged.problem or staged.foreign}) but its certificate is active in IAM",
                        PAIR_UNUSABLE,
                    )
                if staged.foreign or not ROLE_PAIR_NAME.fullmatch(staged_name):
                    raise self.foreign(f"the staged pair pairs/{staged_name} is not one the role made")
                if staged_record is not None or not staged.usable or self.listing_confirmed:
                    # Never uploaded (or no longer in IAM, or inactive): no consumer has used it.
                    discard.append(staged_name)
                else:
                    # Its certificate may be active in another account than the one listed: kept, unstaged, until a
                    # listing known to be the right one lacks it too.
                    keep.append(staged_name)
                forget.append(NEXT)

        previous_name = _target(self.entries[PREVIOUS])
        previous = pairs.get(previous_name) if previous_name else None
        previous_record = self.record_of(previous)
        forget_previous = bool(self.entries[PREVIOUS])
        pending_check = (
            switched_unchecked
            and record is not None
            and record["status"] == ACTIVE
            and not expiring_within(record, self.options["threshold_days"], self.now)
            and previous is not None
            and previous_name != current_name
            and previous.usable
            and previous_record is not None
            and previous_record["status"] == ACTIVE
        )
        if previous is not None and previous_name != current_name and not pending_check:
            # The pair an earlier rotation switched away from, its consumer check passed: its certificate goes.
            if previous.usable:
                self.identity(previous, "the replaced pair (previous)")
            if previous.usable and previous_record and previous_record["status"] == ACTIVE:
                retire.append(previous_record["certificate_id"])
                remove.append(previous_name)
            elif previous.usable and (
                self.retired_here(previous, set())
                or (previous_record is not None and self.made_here(previous.made_for))
            ):
                remove.append(previous_name)  # retired (or deleted) by this host once it had switched away
            elif ROLE_PAIR_NAME.fullmatch(previous_name) and not previous.foreign and previous_record is None:
                discard.append(previous_name)
            else:
                keep.append(previous_name)

        referenced = {current_name, staged_name, previous_name}
        for name, pair in pairs.items():
            if name in referenced or name in discard:
                continue
            if not pair.foreign and ROLE_PAIR_NAME.fullmatch(name) and self.debris(pair):
                discard.append(name)
            elif name != adopt_name:
                keep.append(name)

        orphans = [r for r in self.records if r["status"] == ACTIVE and own(r) and r["fingerprint_sha256"] not in held]
        options = self.options
        force, threshold = options["force"], options["threshold_days"]
        active = record is not None and record["status"] == ACTIVE
        new_certificate = None
        switch_to = switch_from = new_pair = None
        upload = clear_next = False
        if resume_to is not None:
            action = RESUME
            resumed = self.record_of(resume_to)
            reason = f"an earlier run uploaded the staged pair's certificate {resumed['certificate_id']}"
            switch_to, clear_next = resume_to.name, True
            switch_from = consumer.name or adopt_name if consumer is not None else None
            new_certificate = {"certificate_id": resumed["certificate_id"], "fingerprint_sha256": resume_to.fingerprint}
            if active:
                retire.append(record["certificate_id"])
        elif pending_check:
            action = RESUME
            reason = (
                f"an earlier run switched to pairs/{current_name} and stopped before the consumer check passed; "
                f"{previous_record['certificate_id']} is still active"
            )
            switch_to, switch_from, clear_next = current_name, previous_name, True
            new_certificate = {"certificate_id": record["certificate_id"], "fingerprint_sha256": consumer.fingerprint}
            retire.append(previous_record["certificate_id"])
            remove.append(previous_name)
        elif consumer is None:
            action, reason = PROVISION, f"the host has no pair in {self.dir}"
        elif record is None:
            action = ROTATE
            reason = (
                f"the host's certificate ({consumer.fingerprint}) was deleted from IAM by this host (to make room "
                "for a rotation that then stopped)"
            )
        elif not active:
            action = ROTATE
            reason = (
                f"the host's certificate {record['certificate_id']} is {record['status']} in IAM (the role never "
                "reactivates a certificate)"
            )
        elif force or expiring_within(record, threshold, self.now):
            action = ROTATE
            reason = "rotation forced" if force else f"the host's certificate {_describe(record)} is due"
            retire.append(record["certificate_id"])
        else:
            action, reason = NONE, _not_due(record, threshold)
        if switched_unchecked:
            clear_next = True

        if action in (PROVISION, ROTATE):
            new_pair = self.now.strftime("%Y%m%dT%H%M%S.%fZ")
            switch_to, upload, clear_next = new_pair, True, True
            switch_from = (consumer.name or adopt_name) if consumer is not None else None
        if action in (PROVISION, ROTATE, RESUME):
            retire += [r["certificate_id"] for r in orphans]
            if force:
                keep_fingerprint = (new_certificate or {}).get("fingerprint_sha256")
                retire += [
                    r["certificate_id"]
                    for r in self.records
                    if r["status"] == ACTIVE and r["fingerprint_sha256"] != keep_fingerprint
                ]
        elif orphans:
            retire += [r["certificate_id"] for r in orphans]
        retire = list(dict.fromkeys(retire))
        make_room = self.room(own, held, force) if upload else []
        retire = [certificate_id for certificate_id in retire if certificate_id not in make_room]
        # The host's own certificate is inactive and goes to make room: the pair is no use to the consumer, and is
        # detached first (the stable paths removed), so that a run that stops before the switch leaves a host with no
        # pair - provisioned by the next run - rather than one whose certificate IAM no longer has.
        detach = record is not None and record["certificate_id"] in make_room
        if detach:
            switch_from = None

        # A pair leaves the host with its certificate: one this run retires or deletes, or one this host did before.
        gone = set(retire) | set(make_room)
        for name, pair in pairs.items():
            if name in remove or name in discard or name in (switch_to, current_name) or not pair.usable:
                continue
            if self.retired_here(pair, gone):
                remove.append(name)
        if switch_to and consumer is not None:
            old = consumer.name or adopt_name
            if self.retired_here(consumer, gone):
                remove.append(old)
            elif old != switch_to:
                keep.append(old)
        keep = [name for name in dict.fromkeys(keep) if name not in remove and name not in discard]

        retire_by_deleting = options["old_certificate_action"] == "delete"
        adopt = None
        if half_adopted is not None:
            adopt = self.adoption(consumer, half_adopted)
        elif adopt_name is not None and switch_to:
            adopt = self.adoption(consumer, adopt_name)
        modes_after = self.key_modes(consumer if not switch_to or switch_to == current_name else None, adopt)
        ledger, final_ledger = self.new_ledgers(
            retire, make_room, held, [*remove, *discard], retire_by_deleting, adopt_name
        )
        plan = HostPlan(
            action=action,
            reason=reason,
            user_name=self.user,
            dir=self.dir,
            create_dir=bool(new_pair) and not self.facts.get("exists"),
            gid=self.gid,
            key_uid=self.key_uid,
            modes_before=tuple(modes_before),
            ledger=ledger,
            final_ledger=final_ledger,
            adopt=adopt,
            relink=relink,
            forget=tuple(forget),
            discard=tuple(dict.fromkeys(discard)),
            new_pair=new_pair,
            make_room=tuple(make_room),
            upload=upload,
            switch_to=switch_to,
            switch_from=switch_from if switch_from != switch_to else None,
            detach=detach,
            retire=tuple(retire),
            retire_by_deleting=retire_by_deleting,
            clear_next=clear_next,
            remove=tuple(dict.fromkeys(remove)),
            # The switch points previous at the pair it replaces; the end forgets it once that pair is dealt with.
            forget_previous=forget_previous or bool(switch_from and switch_from != switch_to),
            modes_after=tuple(modes_after),
            keep=tuple(keep),
            current_certificate_id=record["certificate_id"] if record else None,
            new_certificate=new_certificate,
            made_for=self.made_for_uri() if new_pair else None,
            took_over_lock=took_over,
            sweep=tuple(self.facts.get("leftovers") or ()),
        )
        return replace(plan, action=FINISH) if action == NONE and plan.changes else plan

    def room(self, own: Callable[[Record], bool], held: dict[str, Pair], force: bool) -> list[str]:
        """What is deleted before the upload so that IAM's quota has room, oldest first: inactive certificates of
        this host; then active ones this host made whose key is gone; then, when forced, any inactive one."""
        missing = len(self.records) + 1 - QUOTA_PER_USER
        if missing <= 0:
            return []
        inactive_own = [r for r in self.records if r["status"] != ACTIVE and own(r)]
        orphans = [r for r in self.records if r["status"] == ACTIVE and own(r) and r["fingerprint_sha256"] not in held]
        others = [r for r in self.records if r["status"] != ACTIVE and not own(r)] if force else []
        candidates = [*inactive_own, *orphans, *others]
        if len(candidates) >= missing:
            return [r["certificate_id"] for r in candidates[:missing]]
        described = ", ".join(
            _describe(r) + ("" if own(r) else ", not made or retired by this host") for r in self.records
        )
        actives = sum(r["status"] == ACTIVE for r in self.records)
        head = (
            f"the user already has {actives} active signing certificates"
            if actives >= QUOTA_PER_USER
            else f"IAM user {self.user} already has {len(self.records)} signing certificates"
        )
        raise Blocked(
            f"cannot rotate: {head} ({described}) and IAM allows at most {QUOTA_PER_USER} per user, inactive ones "
            "included. The role deletes only inactive certificates this host made or retired (any inactive one when "
            "forced), never one that may be in use: delete one (certops.aws.iam_signing_certificate, state absent), "
            "or set host_signing_certificate_force for one run; nothing was changed",
            LIMIT_EXCEEDED,
        )

    def new_ledgers(
        self,
        retire: list[str],
        make_room: list[str],
        held: dict[str, Pair],
        remove: list[str],
        by_deleting: bool,
        adopted: str | None,
    ) -> tuple[tuple[dict[str, str], ...] | None, tuple[dict[str, str], ...] | None]:
        """retired.json as the run's first step writes it (what it may retire or delete is added before the first
        write in IAM, so that a run that fails half way can still account for it), and as its last step leaves it
        (without what is gone from IAM and from the host). Each None when it stays as it was."""
        listed = {r["fingerprint_sha256"] for r in self.records if r.get("fingerprint_sha256")}
        staying = {fingerprint for fingerprint, pair in held.items() if (pair.name or adopted) not in remove}
        entries = [item for item in self.ledger if item["fingerprint_sha256"] in listed | set(held)]
        known = {item["fingerprint_sha256"] for item in entries}
        deletions = {*make_room, *(retire if by_deleting else ())}
        for certificate_id in [*make_room, *retire]:
            rec = next(r for r in self.records if r["certificate_id"] == certificate_id)
            if rec.get("fingerprint_sha256") and rec["fingerprint_sha256"] not in known:
                action = "delete" if certificate_id in deletions else "deactivate"
                entry = {"fingerprint_sha256": rec["fingerprint_sha256"], "certificate_id": certificate_id}
                entries.append({**entry, "action": action})
                known.add(rec["fingerprint_sha256"])
        deleted = set(make_room) | (set(retire) if by_deleting else set())
        gone = {r["fingerprint_sha256"] for r in self.records if r["certificate_id"] in deleted}
        final = [item for item in entries if item["fingerprint_sha256"] in (listed - gone) | staying]
        unchanged = not self.facts.get("retired_problem")
        first = None if unchanged and entries == self.ledger else tuple(entries)
        last = None if final == (entries if first is not None else self.ledger) and unchanged else tuple(final)
        if first is not None and last == first:
            last = None
        return first, last

    def adoption(self, consumer: Pair, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "fingerprint_sha256": consumer.fingerprint,
            "public_key_sha256": consumer.public_key,
            "key_uid": self.key_uid,
            "gid": self.gid,
        }

    def key_modes(self, consumer: Pair | None, adopt: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Keep the key the consumer goes on reading private, and its owner's when one is given. New pairs and
        adopted copies are made that way; this is for a pair the run keeps using."""
        if consumer is None or consumer.key_facts is None or adopt is not None:
            return []
        facts = consumer.key_facts
        change: dict[str, Any] = {}
        if facts["mode"] != KEY_MODE:
            change["mode"] = KEY_MODE
        if self.key_uid is not None and facts["uid"] != self.key_uid:
            change["uid"] = self.key_uid
        if self.gid is not None and facts["gid"] != self.gid:
            change["gid"] = self.gid
        if not change:
            return []
        return [{"path": f"pairs/{consumer.name}/{KEY}" if consumer.name else KEY, **change}]


def _what(entry: dict[str, Any]) -> str:
    if entry.get("type") == "link":
        return f"a link to {entry.get('target')}"
    return {"dir": "a directory", "file": "a file"}.get(entry.get("type"), "not a file, directory or link")


def plan_host(
    options: dict[str, Any],
    facts: dict[str, Any],
    records: list[Record],
    now: datetime.datetime,
    shared_with: list[str] | None = None,
) -> HostPlan:
    """Decide one host's run. records: the user's certificates as the info module returns them, each with
    made_for: [host, user, directory, account] of its made-for name, or None."""
    planner = _Planner(options, facts, records, now, shared_with or [])
    try:
        plan = planner.plan()
    except Blocked as blocked:
        return HostPlan(
            action=BLOCKED, reason=blocked.message, error_code=blocked.code, user_name=planner.user, dir=planner.dir
        )
    return _with_views(plan, planner)


def _iam_view(records: list[Record]) -> list[dict[str, Any]]:
    return [
        {key: rec.get(key) for key in ("certificate_id", "status", "fingerprint_sha256", "not_after")}
        for rec in oldest_first(records)
    ]


def _with_views(plan: HostPlan, planner: _Planner) -> HostPlan:
    """The plan with what diff mode shows before and after: the host's pairs, and the user's certificates."""
    entries = planner.entries
    loose = (entries[KEY] or {}).get("type") == "file"
    current = _target(entries[CURRENT])
    in_use = "signing.key and signing.pem (placed by hand)" if loose else (f"pairs/{current}" if current else None)
    before_host = {
        "in_use": in_use,
        "staged": f"pairs/{_target(entries[NEXT])}" if _target(entries[NEXT]) else None,
        "previous": f"pairs/{_target(entries[PREVIOUS])}" if _target(entries[PREVIOUS]) else None,
        "pairs": sorted(planner.pairs_facts),
    }
    after_pairs = {name for name in planner.pairs_facts if name not in plan.remove and name not in plan.discard}
    after_pairs |= {name for name in (plan.new_pair, (plan.adopt or {}).get("name")) if name}
    after_pairs -= set(plan.remove)
    in_use_after = in_use
    if plan.switch_to:
        in_use_after = f"pairs/{plan.switch_to}"
    elif plan.adopt:
        in_use_after = f"pairs/{plan.adopt['name']}"
    after_host = {
        "in_use": in_use_after,
        "staged": None if plan.clear_next or NEXT in plan.forget else before_host["staged"],
        "previous": None if plan.forget_previous else before_host["previous"],
        "pairs": sorted(after_pairs),
    }
    gone = set(plan.make_room) | (set(plan.retire) if plan.retire_by_deleting else set())
    after_records = [
        {**rec, "status": INACTIVE} if rec["certificate_id"] in plan.retire else rec
        for rec in planner.records
        if rec["certificate_id"] not in gone
    ]
    if plan.upload:
        validity = datetime.timedelta(days=planner.options["validity_days"])
        after_records.append(
            {
                "certificate_id": "(new; IAM chooses its ID)",
                "status": ACTIVE,
                "fingerprint_sha256": None,
                "not_after": (planner.now + validity).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "upload_date": "9999",
            }
        )
    fields = {name: getattr(plan, name) for name in plan.__dataclass_fields__ if name not in ("before", "after")}
    return HostPlan(
        **fields,
        before={"host": before_host, "iam": _iam_view(planner.records)},
        after={"host": after_host, "iam": _iam_view(after_records)},
    )


# --------------------------------------------------------------------------------------------------------------
# What a run did: host_signing_certificate_result.


def _succeeded(result: Any) -> bool:
    return isinstance(result, Mapping) and not result.get("failed") and not result.get("skipped")


def _changed_items(result: Any) -> list[str]:
    """The loop items of a registered loop result whose task changed something (a write that took effect)."""
    if not isinstance(result, Mapping):
        return []
    return [str(item.get("item")) for item in result.get("results") or [] if item.get("changed")]


def outcome(plan: dict[str, Any], check_mode: bool, done: dict[str, Any]) -> dict[str, Any]:
    """host_signing_certificate_result: in check mode what the run would do; otherwise what its steps did, read
    from their results (never what was only planned). done: the registered results of the steps (begin, make_room,
    upload, switch, retire, end; a step that did not run is None or skipped), and failure: the message and
    error_code of the step that failed, with failed_task, its name."""
    steps_ran = not check_mode and plan.get("changes") and not plan.get("blocked")
    failure = done.get("failure") if steps_ran else None
    result = {
        "user_name": plan.get("user_name"),
        "action": plan.get("action"),
        "reason": plan.get("reason"),
        "error_code": plan.get("error_code"),
        "current_certificate_id": plan.get("current_certificate_id"),
        "new_certificate_id": (plan.get("new_certificate") or {}).get("certificate_id"),
        "new_fingerprint_sha256": (plan.get("new_certificate") or {}).get("fingerprint_sha256"),
        "deleted_to_make_room": list(plan.get("make_room") or []),
        "retired": list(plan.get("retire") or []),
        "removed_pairs": [f"pairs/{name}" for name in (*(plan.get("discard") or []), *(plan.get("remove") or []))],
        "kept_pairs": [f"pairs/{name}" for name in plan.get("keep") or []],
        "switched": bool(plan.get("switch_to")),
        "check_mode": bool(check_mode),
        "failed": bool(plan.get("blocked")),
    }
    if check_mode or not steps_ran:
        if not check_mode:
            result.update(deleted_to_make_room=[], retired=[], removed_pairs=[], switched=False)
        result["report"] = plan.get("summary") if check_mode or plan.get("blocked") else _report(result, plan, [])
        return result

    upload = done.get("upload")
    certificate = upload.get("certificate") if isinstance(upload, Mapping) else None
    if certificate:
        result["new_certificate_id"] = certificate.get("certificate_id")
        result["new_fingerprint_sha256"] = certificate.get("fingerprint_sha256")
    elif plan.get("upload"):
        result["new_certificate_id"] = result["new_fingerprint_sha256"] = None
    result["deleted_to_make_room"] = _changed_items(done.get("make_room"))
    result["retired"] = _changed_items(done.get("retire"))
    removed = []
    for step in ("begin", "end"):
        if isinstance(done.get(step), Mapping):
            removed += done[step].get("removed") or []
    result["removed_pairs"] = removed
    result["switched"] = _succeeded(done.get("switch")) and not _succeeded(done.get("switch_back"))
    if not _succeeded(done.get("end")):
        result["kept_pairs"] = []
    notes = []
    if failure:
        result["failed"] = True
        result["error_code"] = failure.get("error_code") or "HostRotationFailed"
        result["reason"] = f"{done.get('failed_task') or 'a step'} failed: {failure.get('msg') or 'no message'}"
        notes = [
            note
            for step in ("begin", "switch")
            if isinstance(done.get(step), Mapping)
            for note in done[step].get("done") or []
        ]
    result["report"] = _report(result, plan, notes)
    return result


def _report(result: dict[str, Any], plan: dict[str, Any], notes: list[str]) -> str:
    """One line per host, for people: what happened and why."""
    user = result["user_name"]
    if result["failed"]:
        line = f"{user}: {result['reason']}"
    elif plan.get("action") in (PROVISION, ROTATE, RESUME) and result["switched"]:
        in_use_before = (plan.get("before") or {}).get("host", {}).get("in_use")
        if in_use_before == f"pairs/{plan.get('switch_to')}":
            verb = "checked the consumer with its pair"  # an earlier run had switched already
        else:
            verb = "provisioned with a new pair" if plan["action"] == PROVISION else "switched to a new pair"
        line = f"{user}: {verb}, certificate {result['new_certificate_id']} (why: {plan.get('reason')})"
    elif plan.get("action") == FINISH:
        line = f"{user}: tidied up ({plan.get('reason')})"
    else:
        line = f"{user}: {plan.get('reason')}"
    parts = [line]
    if result["deleted_to_make_room"]:
        parts.append(f"deleted {', '.join(result['deleted_to_make_room'])} in IAM to make room")
    if result["retired"]:
        how = "deleted" if plan.get("retire_by_deleting") else "deactivated"
        parts.append(f"{how} {', '.join(result['retired'])} in IAM")
    if result["removed_pairs"]:
        parts.append(f"removed {', '.join(result['removed_pairs'])} from the host")
    if result["kept_pairs"]:
        parts.append(f"kept {', '.join(result['kept_pairs'])}")
    if notes:
        parts.append("done before the failure: " + ", ".join(notes))
    return "; ".join(parts)


def hosts_sharing_users(claims: list[Any]) -> dict[str, list[str]]:
    """For each host, the other hosts whose IAM user is the same (IAM user names are unique regardless of case)
    in the same account label. claims: [host, options] pairs, options as host_options.check_options returns them."""
    by_user: dict[tuple[str, str | None], list[str]] = {}
    for host, options in claims:
        if not isinstance(options, dict) or not isinstance(options.get("user_name"), str):
            continue
        account = options.get("account")
        key = (options["user_name"].casefold(), None if account is None else str(account).casefold())
        by_user.setdefault(key, []).append(str(host))
    return {
        host: [other for other in hosts if other != host]
        for hosts in by_user.values()
        if len(hosts) > 1
        for host in hosts
    }
