"""Who may sign in to the web app and what each role may do.

A user is a row of the `users` table: name, role and a password hash made with scrypt (a
memory-hard KDF, stdlib `hashlib.scrypt`) and a random salt. The password itself is never
stored, returned, audited or logged; the audit event of `user add` names the user and role.

The role rules are here, not in the web layer, so the CLI, the web app and any other front
end grant the same things: `permits(role, action)`.
"""

import hashlib
import hmac
import os
import secrets
from typing import Optional

import attrs

from .errors import ValidationError
from .safe_output import database_files
from .session import Service
from .values import USER_ROLES, check_text, one_of
from .storage import data_folder

TABLE = "users"
ROLES = USER_ROLES

# action -> the roles allowed it.
#   view: the affiliate's peers, leaders, offerings and reports; contact: email, phone, notes;
#   recruit: add, stage, edit and import peers, enrol, offerings; train: record steps, score
#   observations; configure: settings; users: manage users; rollup: the state roll-up;
#   calendar: a calendar feed (expiries and sessions, with names); approve: count the
#   activity leaders log themselves; self: a leader's own progress and activity log;
#   signed_in: what any user may (sign out).
PERMISSIONS = {
    "view": {"coordinator", "trainer", "viewer", "admin"},
    "contact": {"coordinator", "admin"},
    "recruit": {"coordinator", "admin"},
    "train": {"coordinator", "trainer", "admin"},
    "configure": {"coordinator", "admin"},
    "users": {"admin"},
    "rollup": {"coordinator", "trainer", "viewer", "state", "admin"},
    "calendar": {"coordinator", "trainer", "admin"},
    "approve": {"coordinator", "admin"},
    "self": {"leader"},
    "signed_in": set(ROLES),
}

# scrypt's cost: 16 MiB of memory per hash (n * r * 128 bytes), a few tens of milliseconds.
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
MIN_PASSWORD = 10


def permits(role: str, action: str) -> bool:
    """Whether a user of `role` may do `action` (see PERMISSIONS); an unknown action is refused."""
    return role in PERMISSIONS.get(action, ())


@attrs.frozen
class User:
    """A user as the front ends see one: never the hash or salt."""

    name: str
    role: str = attrs.field(validator=one_of(ROLES, "role"))
    peer_id: Optional[str] = None  # a leader's own peer record

    def may(self, action: str) -> bool:
        return permits(self.role, action)


def _digest(password: str, salt: bytes, cost: dict) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=2 ** 26, dklen=32, **cost)


class Users(Service):
    """The users of one tracker's database."""

    def add(self, name: str, role: str, password: str, peer_id=None) -> User:
        """Store a new user (a leader: with their own peer record); the change is audited
        without the password or its hash."""
        if not (name or "").strip():
            raise ValidationError("a user needs a name")
        check_text("user name", name)
        User(name, role)  # refuses an unknown role
        if (role == "leader") != bool(peer_id):
            raise ValidationError("a leader signs in as their own peer record: give --peer PEER_ID" if role == "leader"
                                  else f"only a leader is a peer record (--peer), not a {role}")
        with self.tracker.changing() as tx:
            if peer_id:
                peer_id = self.tracker.peer(peer_id).id  # refuses an unknown peer
            if _find(tx, name) is not None:
                raise ValidationError(f"user '{name}' already exists")
            user_id = tx.next_id("U")
            tx.insert(TABLE, {"id": user_id, "name": name, "role": role, "peer_id": peer_id,
                              **_password_fields(password)})
            self.tracker.audit_event("user add", TABLE, user_id, peer_id=peer_id, details={"name": name, "role": role})
        return User(name, role, peer_id)

    def list(self) -> list:
        with self.tracker.reading(missing_ok=True) as tx:
            return sorted((_user(d) for d in tx.all(TABLE)), key=lambda u: u.name)

    def get(self, name: str):
        """The User named `name`, or None (removed)."""
        with self.tracker.reading(missing_ok=True) as tx:
            document = _find(tx, name)
        return None if document is None else _user(document)

    def remove(self, name: str) -> None:
        """Take a user's sign-in away (their past changes keep their name in the audit trail)."""
        with self.tracker.changing() as tx:
            document = self._document(tx, name)
            tx.remove(TABLE, document)
            self.tracker.audit_event("user remove", TABLE, document["id"], details={"name": name})

    def set_password(self, name: str, password: str) -> None:
        with self.tracker.changing() as tx:
            document = self._document(tx, name)
            tx.replace(TABLE, {**document, **_password_fields(password)})
            self.tracker.audit_event("user password", TABLE, document["id"], details={"name": name})

    def new_feed(self, name: str) -> str:
        """A new secret for the user's calendar feed URL, replacing (revoking) any earlier one.
        Only its SHA-256 is stored, so the database cannot give a feed away; the secret is
        shown this once."""
        token = secrets.token_urlsafe(24)
        self._set_feed(name, hashlib.sha256(token.encode()).hexdigest(), "user feed")
        return token

    def revoke_feed(self, name: str) -> None:
        self._set_feed(name, None, "user feed revoke")

    def feed_user(self, token: str):
        """The User whose calendar feed `token` opens, or None (revoked, unknown)."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.tracker.reading(missing_ok=True) as tx:
            for document in tx.all(TABLE):
                if document.get("feed") and hmac.compare_digest(document["feed"], digest):
                    return _user(document)
        return None

    def _set_feed(self, name, digest, action) -> None:
        with self.tracker.changing() as tx:
            document = self._document(tx, name)
            if not permits(document["role"], "calendar"):
                raise ValidationError(f"a {document['role']} has no calendar feed (it names people)")
            tx.replace(TABLE, {**document, "feed": digest})
            self.tracker.audit_event(action, TABLE, document["id"], details={"name": name})

    @staticmethod
    def _document(tx, name) -> dict:
        document = _find(tx, name)
        if document is None:
            raise ValidationError(f"no user '{name}'")
        return document

    def authenticate(self, name: str, password: str):
        """The User if `password` is theirs, else None (an unknown name costs the same time)."""
        with self.tracker.reading(missing_ok=True) as tx:
            document = _find(tx, name)
        salt = bytes.fromhex(document["salt"]) if document else b"\0" * 16
        cost = document.get("scrypt", SCRYPT) if document else SCRYPT
        digest = _digest(password, salt, cost)
        if document is None or not hmac.compare_digest(digest.hex(), document["hash"]):
            return None
        return _user(document)


def _user(document) -> User:
    return User(document["name"], document["role"], document.get("peer_id"))


def _find(tx, name: str):
    """The stored user named `name`, or None."""
    return next((document for document in tx.all(TABLE) if document["name"] == name), None)


def _password_fields(password: str) -> dict:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters")
    salt = os.urandom(16)
    return {"salt": salt.hex(), "hash": _digest(password, salt, SCRYPT).hex(), "scrypt": dict(SCRYPT)}


def session_secret(tracker) -> bytes:
    """The key that signs the web app's session cookies: kept in a file of its own next to the
    database (`DB.web-secret`, mode 0600), made the first time, never in the code. A PostgreSQL
    database has no folder of ours: its key is kept in the user's data folder, named by a hash
    of the database's URL (without its password)."""
    files = database_files(tracker.store.path)
    if files:
        path = files[0].with_name(files[0].name + ".web-secret")
    else:
        folder = data_folder()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = folder / f"{hashlib.sha256(str(tracker.store.path).encode()).hexdigest()[:16]}.web-secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_hex(32))
    return _read_secret(path)


def _read_secret(path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as file:
        text = file.read().strip()
    if len(text) < 32:
        raise ValidationError(f"{path} does not hold a session key: remove it to make a new one")
    return text.encode()
