"""Sending digests by e-mail (`peerpath digest --send`, `sweep --send`) over SMTP.

Who gets what: every leader with an e-mail address gets their own leader digest, unless their
consent says `contact=no` or `reminders=no` (the per-person opt-out); the coordinator's and the
trainer's digests go to `mail.coordinator_to` and `mail.trainer_to` when set. A message holds
only the reminders not already sent to that person within `mail.resend_days`; a person with none
new gets nothing.

The sent log (table `sent_messages`) says who got which reminders, when, and the message id; it
never holds an address. Messages are sent with no lock held, and only those the server accepted
are logged, in one change after the batch: a server that fails part-way leaves the log saying
exactly what was sent, and the rest goes out on the next run. The password comes from the
environment (PEERPATH_SMTP_PASSWORD) or the file `mail.password_file` names; it is never stored
in the database or printed, and never sent over a connection that is not encrypted.

`mail.security` is `starttls` (the default: port 587, and a server that does not offer STARTTLS
is refused rather than talked to in clear), `ssl` (implicit TLS, port 465) or `none` (port 25,
no login). The server's certificate and host name are always verified: against the system's
authorities, or only those of the PEM bundle `mail.ca_file` names (a private CA's).
"""

import datetime as dt
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Optional

import attrs

from .digest import build_digest, digest_heading
from .errors import ValidationError

TABLE = "sent_messages"
PASSWORD_VARIABLE = "PEERPATH_SMTP_PASSWORD"


@attrs.frozen
class Message:
    """One digest to send: to whom (a peer id or a role), the address, the new items."""

    recipient: str
    address: str
    role: str
    items: tuple

    def email(self, sender: str, day: dt.date) -> EmailMessage:
        message = EmailMessage()
        message["From"], message["To"] = sender, self.address
        message["Subject"] = f"peerpath: {len(self.items)} thing(s) to do ({day})"
        message["Message-ID"] = make_msgid(domain="peerpath")
        lines = [f"What needs doing, as of {day}:"]
        for kind in dict.fromkeys(item.kind for item in self.items):
            lines += ["", digest_heading(kind)] + [f"  - {item.text}" for item in self.items if item.kind == kind]
        message.set_content("\n".join(lines) + "\n")
        return message


@attrs.frozen
class Sending:
    """What a send did: the messages sent (with their ids) and, if the server failed, why and
    how many were left for the next run."""

    sent: tuple
    planned: int
    failure: Optional[str] = None


def plan_messages(tracker, roles=("leader", "coordinator", "trainer")) -> list:
    """The messages a send would send now: each person's reminders not sent to them within
    mail.resend_days."""
    with tracker.reading() as tx:
        recently = _recently_sent(tx, tracker.today, tracker.core_setting("mail.resend_days"))
        messages = []
        if "leader" in roles:
            messages += _leader_messages(tracker, recently)
        for role in ("coordinator", "trainer"):
            address = tracker.core_setting(f"mail.{role}_to")
            if role in roles and address:
                fresh = tuple(i for i in build_digest(tracker, role) if i.identity not in recently.get(role, ()))
                if fresh:
                    messages.append(Message(role, address, role, fresh))
    return messages


def _leader_messages(tracker, recently) -> list:
    by_peer: dict = {}
    for item in build_digest(tracker, "trainer"):  # the kinds a leader's own digest holds
        if item.peer is not None:
            by_peer.setdefault(item.peer, {})[item.identity] = item
    messages = []
    for peer_id in sorted(by_peer):
        peer = tracker.peer(peer_id)
        reachable = peer.email and peer.consent.get("contact", True) and peer.consent.get("reminders", True)
        own = [item for item in build_digest(tracker, "leader", peer_id) if item.identity not in recently.get(peer_id, ())]
        if reachable and own:
            messages.append(Message(peer_id, peer.email, "leader", tuple(own)))
    return messages


def _recently_sent(tx, today, days) -> dict:
    since = (today - dt.timedelta(days=days)).isoformat()
    recently: dict = {}
    for document in tx.all(TABLE):
        if document["on"] > since:
            recently.setdefault(document["recipient"], set()).update(document["items"])
    return recently


def send_digests(tracker, roles=("leader", "coordinator", "trainer")) -> Sending:
    """Send what `plan_messages` finds over SMTP and log what the server accepted."""
    settings = mail_settings(tracker)
    messages = plan_messages(tracker, roles)
    tracker.release()  # no lock is held while the mail server is talked to
    sent, failure = [], None
    if messages:
        try:
            with _connect(settings) as server:
                for message in messages:
                    email = message.email(settings["sender"], tracker.today)
                    server.send_message(email)
                    sent.append((message, email["Message-ID"]))
        except (OSError, smtplib.SMTPException) as error:
            failure = f"the mail server {settings['host']}:{settings['port']} failed: {_reason(error)}"
    if sent:
        _log(tracker, sent)
    return Sending(sent=tuple(sent), planned=len(messages), failure=failure)


def _log(tracker, sent) -> None:
    with tracker.changing() as tx:
        for message, message_id in sent:
            document = {"id": tx.next_id("M"), "recipient": message.recipient, "role": message.role,
                        "on": tracker.today.isoformat(), "items": [item.identity for item in message.items],
                        "message_id": message_id}
            tx.insert(TABLE, document)
            tracker.audit_event("send", TABLE, document["id"], peer_id=message.recipient if message.role == "leader"
                                else None, details={"role": message.role, "items": len(message.items),
                                                    "message_id": message_id})


def sent_log(tracker) -> list:
    """Every message sent, oldest first: {id, recipient, role, on, items, message_id}."""
    with tracker.reading() as tx:
        return sorted(tx.all(TABLE), key=lambda document: int(document["id"][1:]))


# The port of each mail.security when mail.port is not set: submission with STARTTLS (RFC 6409),
# implicit TLS (RFC 8314) and plain SMTP.
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def mail_settings(tracker) -> dict:
    """The mail.* settings in force, checked before anything is sent: a host and a sender, a
    password when mail.user is set (never over an unencrypted connection), and the TLS context
    that verifies the server's certificate (against mail.ca_file when set)."""
    settings = {key: tracker.core_setting(f"mail.{key}")
                for key in ("host", "port", "security", "ca_file", "user", "password_file", "sender")}
    missing = [f"mail.{key}" for key in ("host", "sender") if not settings[key]]
    if missing:
        raise ValidationError(f"nothing can be sent before {' and '.join(missing)} are set "
                              f"(peerpath config set {missing[0]} VALUE)")
    settings["port"] = settings["port"] or DEFAULT_PORTS[settings["security"]]
    settings["password"] = _password(settings)
    if settings["user"]:
        if settings["security"] == "none":
            raise ValidationError("mail.user is set but mail.security is none: the password would cross the "
                                  "network unencrypted; set mail.security to starttls or ssl")
        if settings["password"] is None:
            raise ValidationError(f"mail.user is set but there is no password: set {PASSWORD_VARIABLE} "
                                  "or mail.password_file")
    settings["context"] = _tls_context(settings["ca_file"]) if settings["security"] != "none" else None
    return settings


def _password(settings) -> Optional[str]:
    """From the environment, else the first line of mail.password_file (its line ending is not
    part of the password; spaces are)."""
    if os.environ.get(PASSWORD_VARIABLE):
        return os.environ[PASSWORD_VARIABLE]
    if settings["password_file"]:
        try:
            text = Path(settings["password_file"]).expanduser().read_text()
        except (OSError, UnicodeError) as error:
            raise ValidationError(f"cannot read mail.password_file {settings['password_file']}: "
                                  f"{getattr(error, 'strerror', None) or error}") from None
        password = text.splitlines()[0] if text.splitlines() else ""
        if not password:
            raise ValidationError(f"mail.password_file {settings['password_file']} is empty")
        return password
    return None


def _tls_context(ca_file) -> ssl.SSLContext:
    """A context that verifies the server's certificate and host name: against the system's
    authorities, or only those of `ca_file` (a PEM bundle, e.g. a private CA) when given."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(Path(ca_file).expanduser()))
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        raise ValidationError(f"cannot use mail.ca_file {ca_file}: {reason}") from None


def _connect(settings):
    """A connected, encrypted (unless mail.security is none) and logged-in SMTP session; a
    server that offers no STARTTLS is refused, never talked to in clear. The connection is
    closed again if any step fails."""
    server: smtplib.SMTP
    if settings["security"] == "ssl":
        server = smtplib.SMTP_SSL(settings["host"], settings["port"], timeout=30, context=settings["context"])
    else:
        server = smtplib.SMTP(settings["host"], settings["port"], timeout=30)
    try:
        if settings["security"] == "starttls":
            server.starttls(context=settings["context"])
        if settings["user"]:
            server.login(settings["user"], settings["password"])
    except BaseException:
        server.close()
        raise
    return server


def _reason(error) -> str:
    """What went wrong, in one line, without an address or a password."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (f"its certificate does not verify ({error.verify_message}); set mail.ca_file to the "
                "certificate of the authority that signed it")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({f"{code} {_text(message)}" for code, message in error.recipients.values()})
        return f"a recipient was refused: {'; '.join(codes)}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return str(error) or type(error).__name__


def _text(message) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)
