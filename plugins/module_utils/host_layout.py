# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of the role host_signing_certificate: read a host's signing directory (public facts only), and
change it one step at a time, one run at a time, never through a link the role did not make.

The layout under <dir>; everything in it but the consumer's key files belongs to the user the role runs as:
    signing.key -> current/signing.key      the consumer's stable paths
    signing.pem -> current/signing.pem
    current -> pairs/<name>                 the pair in use
    next -> pairs/<name>                    a new pair, during a rotation
    previous -> pairs/<name>                the replaced pair, until its certificate is retired
    pairs/<name>/signing.key                the key (0600, owner: the consumer), signing.pem (0644)
    rotation.lock                           held by the run that changes the directory
    retired.json                            the certificates this host retired (it may delete them later)

Every path is opened relative to an open directory, each component with O_NOFOLLOW: a link is read as a link (its
target as text, matched against the layout) and never followed. A private key is read only to hash its public half;
neither the key nor anything derived from its private half is returned.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import grp
import hashlib
import json
import math
import os
import pwd
import re
import socket
import stat
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    CertificateError,
    iso8601,
    parse_certificate,
    private_key_public_sha256,
)

KEY = "signing.key"
PEM = "signing.pem"
PAIR_FILES = (KEY, PEM)
CURRENT = "current"
NEXT = "next"
PREVIOUS = "previous"
PAIRS = "pairs"
LOCK = "rotation.lock"
LEDGER = "retired.json"
POINTERS = (CURRENT, NEXT, PREVIOUS)
# What the role makes at the top of <dir>; anything else there is someone else's and is left alone.
TOP_NAMES = (KEY, PEM, *POINTERS, PAIRS, LOCK, LEDGER)
PAIR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Names the role gives pairs: the time they were made, or adopted-<fingerprint> for a pair placed by hand.
ROLE_PAIR_NAME = re.compile(r"[0-9]{8}T[0-9]{6}\.[0-9]{6}Z|adopted-[0-9a-f]{16}")
# Files Ansible's atomic move leaves behind when a run dies while community.crypto writes a pair's file.
TEMPORARY = re.compile(r"\.ansible_tmp.*|tmp[A-Za-z0-9_]{6,}")
# What a step of the role leaves behind when it dies in the middle: a link or file being replaced (renamed over its
# name when done), and a pair being removed (renamed first, so that it leaves the layout at once).
STEP_TEMPORARY = re.compile(
    r"\.(signing\.key|signing\.pem|current|next|previous|retired\.json|rotation\.lock)\.[0-9]+\.tmp"
)
REMOVING = ".removing-"
KEY_MODE = 0o600
PEM_MODE = 0o644
DIR_MODE = 0o750
NEW_PAIR_MODE = 0o700
PARENT_MODE = 0o755
MAX_FILE = 64 * 1024
MAX_LEASE = 7 * 24 * 3600  # host_options.MAX_LOCK_TIMEOUT
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class LayoutError(Exception):
    """A step that cannot be taken; the message says why and what was left as it was."""

    def __init__(self, message: str, code: str = "HostLayoutRefused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --------------------------------------------------------------------------------------------------------------
# Reading, without following links.


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _entry(dir_fd: int, name: str) -> dict[str, Any] | None:
    """lstat of a name in an open directory, as plain data; None when it does not exist."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    entry = {
        "type": _kind(info.st_mode),
        "uid": info.st_uid,
        "gid": info.st_gid,
        "mode": stat.S_IMODE(info.st_mode),
        "nlink": info.st_nlink,
        # For the token only: a file replaced since it was read has another inode or time.
        "ino": info.st_ino,
        "mtime_ns": info.st_mtime_ns if not stat.S_ISDIR(info.st_mode) else None,
    }
    if entry["type"] == "link":
        entry["target"] = os.readlink(name, dir_fd=dir_fd)
    return entry


def _open_dir(dir_fd: int | None, name: str) -> int:
    return os.open(name, _OPEN_DIR, dir_fd=dir_fd) if dir_fd is not None else os.open(name, _OPEN_DIR)


@contextlib.contextmanager
def _opened(dir_fd: int | None, name: str) -> Iterator[int]:
    fd = _open_dir(dir_fd, name)
    try:
        yield fd
    finally:
        os.close(fd)


def _read(dir_fd: int, name: str) -> bytes | None:
    """The content of a regular file (at most MAX_FILE + 1 bytes), opened without following a link; None when
    it is not a regular file."""
    fd = os.open(name, _OPEN_FILE, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, size = [], 0
        while size <= MAX_FILE:
            chunk = os.read(fd, MAX_FILE + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _key_facts(dir_fd: int, name: str) -> dict[str, Any] | None:
    entry = _entry(dir_fd, name)
    if entry is None:
        return None
    facts = {**entry, "public_key_sha256": None, "problem": None}
    if entry["type"] != "file":
        facts["problem"] = f"{name} is not a file"
        return facts
    data = _read(dir_fd, name)
    if data is None or len(data) > MAX_FILE:
        facts["problem"] = f"{name} is not a readable private key (not a file, or larger than {MAX_FILE} bytes)"
        return facts
    try:
        facts["public_key_sha256"] = private_key_public_sha256(data)
    except CertificateError as exc:
        facts["problem"] = f"{name} {exc}"
    finally:
        del data
    return facts


def _certificate_facts(dir_fd: int, name: str) -> dict[str, Any] | None:
    entry = _entry(dir_fd, name)
    if entry is None:
        return None
    facts = {**entry, "problem": None}
    data = _read(dir_fd, name) if entry["type"] == "file" else None
    if data is None or len(data) > MAX_FILE:
        facts["problem"] = f"{name} is not a readable PEM certificate"
        return facts
    try:
        certificate = parse_certificate(data.decode("utf-8", "replace"))
    except CertificateError:
        facts["problem"] = f"{name} is not a readable PEM certificate"
        return facts
    facts.update(
        {
            "fingerprint_sha256": certificate.fingerprint_sha256,
            "public_key_sha256": certificate.public_key_sha256,
            "subject": certificate.subject,
            "not_before": iso8601(certificate.not_before),
            "not_after": iso8601(certificate.not_after),
            "made_for": list(certificate.made_for) if certificate.made_for else None,
        }
    )
    return facts


def _pair_facts(dir_fd: int) -> dict[str, Any]:
    """The key and certificate files of a directory (a pair, or <dir> itself for a pair placed by hand)."""
    return {"key": _key_facts(dir_fd, KEY), "certificate": _certificate_facts(dir_fd, PEM)}


def _pairs(dir_fd: int) -> dict[str, Any]:
    """Every entry of pairs/: for a directory, its pair and whatever else it holds."""
    found: dict[str, Any] = {}
    for name in sorted(os.listdir(dir_fd)):
        if name.startswith(REMOVING):
            continue  # a pair a step was removing when it died: a leftover (see _leftovers)
        entry = _entry(dir_fd, name)
        if entry is None:
            continue
        facts: dict[str, Any] = {**entry, "name_ok": bool(PAIR_NAME.fullmatch(name))}
        if entry["type"] == "dir" and facts["name_ok"]:
            with _opened(dir_fd, name) as pair_fd:
                names = sorted(os.listdir(pair_fd))
                facts.update(_pair_facts(pair_fd))
            facts["temporary"] = [n for n in names if n not in PAIR_FILES and TEMPORARY.fullmatch(n)]
            facts["other"] = [n for n in names if n not in PAIR_FILES and not TEMPORARY.fullmatch(n)]
        found[name] = facts
    return found


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """When a process started (clock ticks since boot, from /proc), to tell it from a later one with its ID."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()[19]


def _pid_namespace() -> str | None:
    """The PID namespace of this process: a process ID means the same process only within one (a container on the
    same machine has the machine's name and boot ID, and other processes behind the same IDs)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def controller_identity() -> dict[str, Any]:
    """Who holds a lock: the ansible process on the controller (this code runs in one of its workers)."""
    pid = os.getppid()
    return {
        "host": socket.gethostname(),
        "boot_id": _boot_id(),
        "pid_namespace": _pid_namespace(),
        "pid": pid,
        "started": process_start(pid),
    }


def _holder_alive(lock: dict[str, Any], now: float) -> tuple[bool, str]:
    """Whether the run that holds a lock may still be working, and why it is taken to be gone. A holder seen from
    the same machine and PID namespace (a run with the local connection, a cron job on the host) is working exactly
    as long as its ansible process is; any other until its lease runs out (every step of the run renews it)."""
    holder = lock.get("controller") or {}
    pid, started = holder.get("pid"), holder.get("started")
    here = (
        holder.get("host") == socket.gethostname()
        and holder.get("boot_id") is not None
        and holder.get("boot_id") == _boot_id()
        and holder.get("pid_namespace") is not None
        and holder.get("pid_namespace") == _pid_namespace()
        and isinstance(pid, int)
        and bool(started)
    )
    if here:
        if process_start(pid) == started:
            return True, ""
        return False, f"its ansible process {pid} on this machine has ended"
    expires = lock.get("expires")
    if not isinstance(expires, (int, float)) or not math.isfinite(expires):
        return False, "the lock does not say until when it holds"
    if now >= expires:
        return False, "its lease ran out at " + iso8601(datetime.datetime.fromtimestamp(expires, datetime.timezone.utc))
    return True, ""


def _lock_facts(dir_fd: int, now: float) -> dict[str, Any] | None:
    entry = _entry(dir_fd, LOCK)
    if entry is None:
        return None
    data = _read(dir_fd, LOCK) if entry["type"] == "file" else None
    try:
        lock = json.loads(data or b"")
        if not isinstance(lock, dict):
            raise ValueError
    except ValueError:
        return {"run": None, "alive": False, "why": "the lock file is unreadable", "entry": entry}
    alive, why = _holder_alive(lock, now)
    if isinstance(lock.get("expires"), (int, float)) and lock["expires"] > now + 2 * MAX_LEASE:
        alive, why = False, "it claims to hold for longer than any run may"
    holder = lock.get("controller") or {}
    return {
        "run": lock.get("run"),
        "holder": f"{holder.get('host')} (process {holder.get('pid')})",
        "acquired": lock.get("acquired"),
        "expires": lock.get("expires"),
        "alive": alive,
        "why": why,
        "entry": entry,
    }


def _ledger(dir_fd: int) -> tuple[list[dict[str, str]], str | None]:
    entry = _entry(dir_fd, LEDGER)
    if entry is None:
        return [], None
    data = _read(dir_fd, LEDGER) if entry["type"] == "file" else None
    try:
        retired = json.loads(data or b"").get("retired")
        if not isinstance(retired, list) or not all(
            isinstance(item, dict) and isinstance(item.get("fingerprint_sha256"), str) for item in retired
        ):
            raise ValueError
    except (ValueError, AttributeError):
        return [], f"{LEDGER} is unreadable; it is written anew at the next change"
    return [
        {
            "fingerprint_sha256": item["fingerprint_sha256"],
            "certificate_id": str(item.get("certificate_id") or ""),
            "action": "delete" if item.get("action") == "delete" else "deactivate",
        }
        for item in retired
    ], None


def _account(owner: str | None, group: str | None) -> dict[str, Any]:
    """The user and group the options name, as this host knows them."""
    found: dict[str, Any] = {"uid": None, "gid": None, "problems": []}
    if owner is not None:
        try:
            entry = pwd.getpwuid(int(owner)) if owner.isdigit() else pwd.getpwnam(owner)
            found["uid"], found["gid"] = entry.pw_uid, entry.pw_gid
        except KeyError:
            if owner.isdigit():
                found["uid"] = int(owner)
            else:
                found["problems"].append(f"host_signing_certificate_owner: the host has no user {owner}")
    if group is not None:
        try:
            found["gid"] = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            found["problems"].append(f"host_signing_certificate_group: the host has no group {group}")
            found["gid"] = None
    return found


def _unsafe_parent(path: str, runner: int) -> str | None:
    """Why the directories from / down to `path` (the parent of <dir>) would let another user swap <dir> for
    something else, or None. A missing directory is made by the runner, so the check stops there."""
    parts = [part for part in path.split("/") if part]
    for depth in range(len(parts) + 1):
        current = "/" + "/".join(parts[:depth])
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(info.st_mode):
            return f"{current} is not a directory"
        if info.st_uid not in (0, runner):
            return f"{current}, a parent of host_signing_certificate_dir, belongs to uid {info.st_uid}"
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            return f"{current}, a parent of host_signing_certificate_dir, is writable by other users"
    return None


def real_location(path: str) -> tuple[str, str | None]:
    """Where <dir> really is (its parent's links resolved; <dir> itself must not be one), and why it cannot be
    used, or None."""
    parent, name = os.path.split(path)
    real = os.path.join(os.path.realpath(parent), name)
    problem = _unsafe_parent(os.path.dirname(real), os.geteuid())
    if problem:
        return real, problem
    try:
        info = os.lstat(real)
    except FileNotFoundError:
        return real, None
    if stat.S_ISLNK(info.st_mode):
        return real, f"{real} is a link: give host_signing_certificate_dir as the directory itself"
    if not stat.S_ISDIR(info.st_mode):
        return real, f"{real} is not a directory"
    return real, None


def _token(facts: dict[str, Any]) -> str:
    """A digest of what a plan was made from: a step refuses to start when the directory changed since."""
    layout = {
        key: facts[key] for key in ("exists", "dir", "entries", "loose", "pairs", "retired", "others", "leftovers")
    }
    return hashlib.sha256(json.dumps(layout, sort_keys=True, default=str).encode()).hexdigest()


def look(path: str, owner: str | None, group: str | None, now: float) -> dict[str, Any]:
    """The public facts of a host's signing directory. Never writes, never follows a link."""
    real, problem = real_location(path)
    facts: dict[str, Any] = {
        "path": real,
        "requested_path": path,
        "problem": problem,
        "exists": False,
        "runner": {"uid": os.geteuid(), "gid": os.getegid()},
        "account": _account(owner, group),
        "dir": None,
        "entries": {},
        "loose": None,
        "pairs": {},
        "lock": None,
        "others": [],
        "leftovers": [],
        "retired": [],
        "retired_problem": None,
        "token": None,
    }
    if problem is None:
        try:
            _look_inside(real, facts, now)
        except FileNotFoundError:
            pass
        except OSError as exc:
            facts["problem"] = f"{real} cannot be read: {exc.strerror}"
    facts["token"] = _token(facts)
    return facts


def _leftovers(dir_fd: int, names: list[str]) -> list[str]:
    """What a step that died in the middle left, of the runner's own: temporary links and files at the top, and
    pairs it was removing."""
    found = []
    for name in names:
        entry = _entry(dir_fd, name) if STEP_TEMPORARY.fullmatch(name) else None
        if entry and entry["type"] in ("file", "link") and entry["uid"] == os.geteuid():
            found.append(name)
    pairs = _entry(dir_fd, PAIRS)
    if pairs and pairs["type"] == "dir":
        with _opened(dir_fd, PAIRS) as pairs_fd:
            for name in os.listdir(pairs_fd):
                entry = _entry(pairs_fd, name) if name.startswith(REMOVING) else None
                if entry and entry["type"] == "dir" and entry["uid"] == os.geteuid():
                    found.append(f"{PAIRS}/{name}")
    return sorted(found)


def _look_inside(real: str, facts: dict[str, Any], now: float) -> None:
    with _opened(None, real) as dir_fd:
        info = os.fstat(dir_fd)
        facts["exists"] = True
        facts["dir"] = {"uid": info.st_uid, "gid": info.st_gid, "mode": stat.S_IMODE(info.st_mode)}
        facts["entries"] = {name: _entry(dir_fd, name) for name in TOP_NAMES if name not in (LOCK,)}
        names = os.listdir(dir_fd)
        facts["others"] = sorted(n for n in names if n not in TOP_NAMES and not STEP_TEMPORARY.fullmatch(n))
        facts["leftovers"] = _leftovers(dir_fd, names)
        if any((facts["entries"][name] or {}).get("type") == "file" for name in PAIR_FILES):
            facts["loose"] = _pair_facts(dir_fd)
        if (facts["entries"][PAIRS] or {}).get("type") == "dir":
            with _opened(dir_fd, PAIRS) as pairs_fd:
                facts["pairs"] = _pairs(pairs_fd)
        facts["lock"] = _lock_facts(dir_fd, now)
        facts["retired"], facts["retired_problem"] = _ledger(dir_fd)


# --------------------------------------------------------------------------------------------------------------
# Changing, one step at a time, under the lock.


def _umask_free_mkdir(dir_fd: int, name: str, mode: int, uid: int, gid: int | None) -> None:
    """Make a directory that nobody else can enter before it has its final owner and mode: mkdir with the final
    mode (the umask can only take bits away), then chown and chmod through a descriptor of it."""
    os.mkdir(name, mode & NEW_PAIR_MODE, dir_fd=dir_fd)
    with _opened(dir_fd, name) as fd:
        os.fchown(fd, uid, -1 if gid is None else gid)
        os.fchmod(fd, mode)


def _link(dir_fd: int, name: str, target: str) -> bool:
    """name -> target, replacing what name was in one rename (a consumer never sees it missing). False when it
    already was that link."""
    existing = _entry(dir_fd, name)
    if existing and existing["type"] == "link" and existing["target"] == target:
        return False
    temporary = f".{name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary, dir_fd=dir_fd)
    os.symlink(target, temporary, dir_fd=dir_fd)
    os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    return True


def _unlink_link(dir_fd: int, name: str) -> bool:
    entry = _entry(dir_fd, name)
    if entry is None:
        return False
    if entry["type"] != "link":
        raise LayoutError(f"{name} is not a link; left as it is")
    os.unlink(name, dir_fd=dir_fd)
    return True


def _write_new(dir_fd: int, name: str, data: bytes, mode: int, uid: int, gid: int | None) -> None:
    """A new file with its final mode from the start (O_EXCL: never an existing file, never through a link)."""
    fd = os.open(name, _CREATE, mode & KEY_MODE, dir_fd=dir_fd)
    try:
        os.fchown(fd, uid, -1 if gid is None else gid)
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_file(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    temporary = f".{name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary, dir_fd=dir_fd)
    _write_new(dir_fd, temporary, data, mode, os.geteuid(), None)
    os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


@contextlib.contextmanager
def _guarded(dir_fd: int) -> Iterator[None]:
    """Serialise lock decisions of concurrent runs: a short flock on the directory while the lock file is read
    and written (the lock file itself is what lasts between the steps of a run)."""
    fcntl.flock(dir_fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)


class Step:
    """The steps of one run on one directory. run: {id, controller, lease (seconds)}."""

    def __init__(self, path: str, run: dict[str, Any], now: Callable[[], float]) -> None:
        self.path = path
        self.run = run
        self.now = now
        self.runner = os.geteuid()
        self.done: list[str] = []
        self.removed: list[str] = []

    # -- the lock ----------------------------------------------------------------------------------------------

    def _lock_record(self, acquired: str | None = None) -> bytes:
        moment = self.now()
        return json.dumps(
            {
                "run": self.run["id"],
                "controller": self.run.get("controller") or {},
                "acquired": acquired or iso8601(datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)),
                "expires": moment + float(self.run["lease"]),
            }
        ).encode()

    def _read_lock(self, dir_fd: int) -> dict[str, Any] | None:
        """The lock's facts, provided it is a file of the runner's own (never one another user placed or linked)."""
        lock = _lock_facts(dir_fd, self.now())
        entry = (lock or {}).get("entry")
        if entry and (entry["type"] != "file" or entry["uid"] != self.runner or entry["nlink"] != 1):
            raise LayoutError(f"{LOCK} is not a file of the user the role runs as; nothing was changed")
        return lock

    def take_lock(self, dir_fd: int, token: str | None, created: bool = False) -> None:
        """Hold the lock for this run: renew it when this run holds it already; otherwise take it when nobody
        holds it (or its holder is gone), provided the directory is as the plan saw it (token; a directory this
        step made was missing a moment ago, as the plan saw it)."""
        with _guarded(dir_fd):
            lock = self._read_lock(dir_fd)
            if lock and lock["run"] == self.run["id"]:
                _replace_file(dir_fd, LOCK, self._lock_record(lock.get("acquired")), 0o600)
                return
            if token is None and not created:
                raise LayoutError(
                    "this run does not hold the lock of the directory any more (another run took it over after its "
                    "lease ran out); nothing more was changed",
                    "LockLost",
                )
            if lock and lock["alive"]:
                raise LayoutError(
                    f"another run holds the lock of {self.path} (since {lock['acquired']}, from {lock['holder']}); "
                    "one run at a time. Nothing was changed",
                    "LockHeld",
                )
            if not created and look(self.path, None, None, self.now())["token"] != token:
                raise LayoutError(
                    f"{self.path} changed since it was read (another run?); nothing was changed. Run again",
                    "HostChanged",
                )
            if lock:
                self.done.append(f"took over the lock left by a run that is gone ({lock['why']})")
            _replace_file(dir_fd, LOCK, self._lock_record(), 0o600)

    def release_lock(self, dir_fd: int) -> None:
        with _guarded(dir_fd):
            lock = self._read_lock(dir_fd)
            if lock and lock["run"] == self.run["id"]:
                os.unlink(LOCK, dir_fd=dir_fd)

    # -- opening <dir> -----------------------------------------------------------------------------------------

    def open_dir(self, create: dict[str, Any] | None) -> tuple[int, bool]:
        """A descriptor of <dir>, made first (with its missing parents) when the plan says so; and whether this
        step made it (then it was missing, as the plan saw it, a moment ago)."""
        real, problem = real_location(self.path)
        if problem or real != self.path:
            raise LayoutError(f"cannot use {self.path}: {problem or 'it moved'}; nothing was changed")
        created = False
        if create is not None and not os.path.lexists(self.path):
            self._make_parents(os.path.dirname(self.path))
            # Another user may have made a missing parent between the look and now (under a sticky /tmp, say).
            problem = _unsafe_parent(os.path.dirname(self.path), self.runner)
            if problem:
                raise LayoutError(f"cannot use {self.path}: {problem}; nothing was made in it", "HostDirectoryUnsafe")
            parent, name = os.path.split(self.path)
            with _opened(None, parent) as parent_fd:
                try:
                    _umask_free_mkdir(parent_fd, name, DIR_MODE, self.runner, create.get("gid"))
                    created = True
                except FileExistsError:  # another run made it first: the token check below says what to do
                    pass
            if created:
                self.done.append(f"made {self.path}")
        return _open_dir(None, self.path), created

    def _make_parents(self, path: str) -> None:
        if os.path.lexists(path):
            return
        self._make_parents(os.path.dirname(path))
        parent, name = os.path.split(path)
        with _opened(None, parent) as parent_fd:
            _umask_free_mkdir(parent_fd, name, PARENT_MODE, self.runner, None)

    # -- the changes -------------------------------------------------------------------------------------------

    def _in_pair(self, dir_fd: int, relative: str) -> tuple[int, str]:
        """A descriptor of the directory that holds a layout path (".", "pairs", "pairs/<n>", "pairs/<n>/<file>",
        or a top-level name), opened component by component without following links, and the last name."""
        parts = relative.split("/")
        if relative == ".":
            return os.dup(dir_fd), "."
        fd = os.dup(dir_fd)
        try:
            for part in parts[:-1]:
                following = _open_dir(fd, part)
                os.close(fd)
                fd = following
        except OSError:
            os.close(fd)
            raise
        return fd, parts[-1]

    def set_modes(self, dir_fd: int, changes: list[dict[str, Any]]) -> None:
        """Owner, group and mode of paths of the layout, through descriptors opened without following links; a
        file with other hard links is refused (changing it would change a file elsewhere too)."""
        for change in changes:
            holder, name = self._in_pair(dir_fd, change["path"])
            try:
                fd = os.dup(holder) if name == "." else os.open(name, _OPEN_FILE, dir_fd=holder)
                try:
                    info = os.fstat(fd)
                    if stat.S_ISREG(info.st_mode) and info.st_nlink != 1:
                        raise LayoutError(f"{change['path']} has other hard links; its owner and mode were left")
                    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                        raise LayoutError(f"{change['path']} is neither a file nor a directory; left as it is")
                    uid = -1 if change.get("uid") is None else change["uid"]
                    gid = -1 if change.get("gid") is None else change["gid"]
                    if (uid, gid) != (-1, -1):
                        os.fchown(fd, uid, gid)
                    if change.get("mode") is not None:
                        os.fchmod(fd, change["mode"])
                finally:
                    os.close(fd)
            finally:
                os.close(holder)
            self.done.append(f"set the owner and mode of {change['path']}")

    def make_pairs_dir(self, dir_fd: int, gid: int | None) -> None:
        if _entry(dir_fd, PAIRS) is None:
            _umask_free_mkdir(dir_fd, PAIRS, DIR_MODE, self.runner, gid)
            self.done.append("made pairs/")

    def remove_pair(self, dir_fd: int, name: str) -> None:
        """Remove pairs/<name>: a directory of this runner holding only the pair's files (and temporary files of an
        interrupted write). Never the pair `current` points to. It is renamed first, so that it leaves the layout in
        one step even if the removal of its files is interrupted (sweep() finishes that)."""
        current = _entry(dir_fd, CURRENT)
        if current and current.get("target") == f"{PAIRS}/{name}":
            raise LayoutError(f"pairs/{name} is the pair in use; it was not removed")
        with _opened(dir_fd, PAIRS) as pairs_fd:
            entry = _entry(pairs_fd, name)
            if entry is None:
                return
            if entry["type"] != "dir" or entry["uid"] != self.runner:
                raise LayoutError(f"pairs/{name} is not a directory the role made; it was not removed")
            with _opened(pairs_fd, name) as pair_fd:
                self._check_pair_contents(pair_fd, name)
            os.rename(name, REMOVING + name, src_dir_fd=pairs_fd, dst_dir_fd=pairs_fd)
            self._delete_pair(pairs_fd, REMOVING + name)
        self.done.append(f"removed pairs/{name}")
        self.removed.append(f"pairs/{name}")

    @staticmethod
    def _check_pair_contents(pair_fd: int, name: str) -> None:
        names = os.listdir(pair_fd)
        strangers = [n for n in names if n not in PAIR_FILES and not TEMPORARY.fullmatch(n)]
        if strangers:
            raise LayoutError(f"pairs/{name} holds {', '.join(sorted(strangers))}; it was not removed")
        for item in names:
            if _entry(pair_fd, item)["type"] not in ("file", "link"):
                raise LayoutError(f"pairs/{name}/{item} is not a file; the pair was not removed")

    def _delete_pair(self, pairs_fd: int, name: str) -> None:
        with _opened(pairs_fd, name) as pair_fd:
            self._check_pair_contents(pair_fd, name)
            for item in os.listdir(pair_fd):
                os.unlink(item, dir_fd=pair_fd)
        os.rmdir(name, dir_fd=pairs_fd)

    def sweep(self, dir_fd: int) -> None:
        """Finish what a step that died in the middle left: its temporary links and files, and pairs it was
        removing (only the runner's own)."""
        for leftover in _leftovers(dir_fd, os.listdir(dir_fd)):
            if leftover.startswith(f"{PAIRS}/"):
                with _opened(dir_fd, PAIRS) as pairs_fd:
                    self._delete_pair(pairs_fd, leftover[len(PAIRS) + 1 :])
                self.removed.append(leftover)
            else:
                os.unlink(leftover, dir_fd=dir_fd)
            self.done.append(f"removed {leftover}, left by an interrupted step")

    def stage(self, dir_fd: int, name: str, gid: int | None) -> None:
        """A new, private pair directory for community.crypto to fill, staged as `next`."""
        with _opened(dir_fd, PAIRS) as pairs_fd:
            _umask_free_mkdir(pairs_fd, name, NEW_PAIR_MODE, self.runner, gid)
        _link(dir_fd, NEXT, f"{PAIRS}/{name}")
        self.done.append(f"staged pairs/{name} as next")

    def adopt(self, dir_fd: int, adopt: dict[str, Any]) -> None:
        """Copy a pair placed by hand at the stable paths into pairs/<name>, and point the stable paths at it
        through `current`. The copies are checked against what the plan saw (the fingerprints)."""
        name = adopt["name"]
        with _opened(dir_fd, PAIRS) as pairs_fd:
            if _entry(pairs_fd, name) is None:
                _umask_free_mkdir(pairs_fd, name, NEW_PAIR_MODE, self.runner, adopt.get("gid"))
                with _opened(pairs_fd, name) as pair_fd:
                    for filename, mode, uid in (
                        (KEY, KEY_MODE, adopt.get("key_uid")),
                        (PEM, PEM_MODE, self.runner),
                    ):
                        info = os.stat(filename, dir_fd=dir_fd, follow_symlinks=False)
                        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                            raise LayoutError(f"{filename} is not a plain file with one name; nothing was adopted")
                        data = _read(dir_fd, filename)
                        if data is None:
                            raise LayoutError(f"{filename} cannot be read; nothing was adopted")
                        _write_new(pair_fd, filename, data, mode, self.runner if uid is None else uid, adopt.get("gid"))
                        del data
                    copied = _pair_facts(pair_fd)
                    os.fchmod(pair_fd, DIR_MODE)
            else:
                with _opened(pairs_fd, name) as pair_fd:
                    copied = _pair_facts(pair_fd)
        if (copied["certificate"] or {}).get("fingerprint_sha256") != adopt["fingerprint_sha256"] or (
            copied["key"] or {}
        ).get("public_key_sha256") != adopt["public_key_sha256"]:
            raise LayoutError(f"pairs/{name} does not hold the pair found at the stable paths; nothing was switched")
        _link(dir_fd, CURRENT, f"{PAIRS}/{name}")
        self.relink(dir_fd, adopted=True)
        self.done.append(f"took the pair placed by hand into pairs/{name}")

    def relink(self, dir_fd: int, adopted: bool = False) -> None:
        """The stable paths as links through `current`. A file placed there by hand is replaced (in one rename)
        only once adopt() copied it into the layout."""
        for filename in PAIR_FILES:
            entry = _entry(dir_fd, filename)
            if entry is not None and entry["type"] != "link" and not (adopted and entry["type"] == "file"):
                raise LayoutError(f"{filename} is not a link the role made; it was left as it is")
            if _link(dir_fd, filename, f"{CURRENT}/{filename}"):
                self.done.append(f"pointed {filename} through current")

    def open_pair(self, dir_fd: int, name: str, gid: int | None) -> None:
        """Let the consumer's group into a pair's directory, once its files have their final modes."""
        with _opened(dir_fd, PAIRS) as pairs_fd, _opened(pairs_fd, name) as pair_fd:
            facts = _pair_facts(pair_fd)
            if any(facts[part] is None or facts[part]["type"] != "file" for part in ("key", "certificate")):
                raise LayoutError(f"pairs/{name} does not hold a key and a certificate; nothing was switched")
            info = os.fstat(pair_fd)
            if info.st_uid != self.runner:
                raise LayoutError(f"pairs/{name} is not a directory the role made; nothing was switched")
            os.fchown(pair_fd, -1, -1 if gid is None else gid)
            os.fchmod(pair_fd, DIR_MODE)

    def point(self, dir_fd: int, pointer: str, name: str | None) -> None:
        """current, next or previous -> pairs/<name>, or removed (name None)."""
        if name is None:
            if _unlink_link(dir_fd, pointer):
                self.done.append(f"removed {pointer}")
        elif _link(dir_fd, pointer, f"{PAIRS}/{name}"):
            self.done.append(f"pointed {pointer} at pairs/{name}")

    def switch_back(self, dir_fd: int, old: str | None) -> None:
        """current back to the pair in use before the switch (or, when the host had none, no pair at all); the new
        pair stays staged as next."""
        if old:
            self.point(dir_fd, CURRENT, old)
            self.point(dir_fd, PREVIOUS, None)
            return
        for name in (*PAIR_FILES, CURRENT):
            if _unlink_link(dir_fd, name):
                self.done.append(f"removed {name}")

    def write_ledger(self, dir_fd: int, retired: list[dict[str, str]]) -> None:
        _replace_file(dir_fd, LEDGER, json.dumps({"retired": retired}, indent=1).encode(), 0o644)
        self.done.append(f"recorded the retired certificates in {LEDGER}")
