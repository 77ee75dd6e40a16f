"""`peerpath digest --send`: digests e-mailed over SMTP to a real server started on 127.0.0.1
(aiosmtpd), read back with `email`; the sent log, consent, the resend window and a server that
fails part-way."""

import csv
import email
import email.policy
import io
import json
import re
import socket

import pytest
from aiosmtpd.controller import Controller

from conftest import DEMO_TODAY, assert_refused, ok, snapshot


class Mailbox:
    """An SMTP handler keeping what it accepts; it refuses every message after `accept` of them."""

    def __init__(self):
        self.messages, self.accept = [], None

    async def handle_DATA(self, server, session, envelope):
        if self.accept is not None and len(self.messages) >= self.accept:
            return "451 4.3.0 mailbox busy, try again later"
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def demo(demo_db, run, mailbox):
    db = demo_db
    for key, value in (("mail.host", "127.0.0.1"), ("mail.port", mailbox.port), ("mail.security", "none"),
                       ("mail.sender", "reminders@nami-demo.example"), ("mail.coordinator_to", "coordinator@nami-demo.example")):
        ok(run("config", "set", key, value))
    return db


def leaders_with_items(run) -> dict:
    found = {}
    for item in json.loads(ok(run("digest", "--role", "trainer", "--format", "json")))["items"]:
        if item["peer"] is not None:  # a training's seats are no leader's own (the demo's T0001)
            found.setdefault(item["peer"], []).append(item)
    return found


def addresses(run) -> dict:
    return {p["id"]: p["email"] for p in json.loads(ok(run("peer", "list", "--json", "--contact")))}


def test_each_leader_gets_only_their_own_reminders_and_the_coordinator_everything(demo, run, mailbox):
    expected = leaders_with_items(run)
    email_of = addresses(run)
    result = run("digest", "--send")
    assert ok(result) == "" and result.stderr == f"{len(expected) + 1} of {len(expected) + 1} digest(s) sent\n"
    by_address = {rcpt[0]: message for rcpt, message in mailbox.messages}
    assert set(by_address) == {email_of[p] for p in expected} | {"coordinator@nami-demo.example"}
    for peer, items in expected.items():
        message = by_address[email_of[peer]]
        body = message.get_content()
        assert message["From"] == "reminders@nami-demo.example" and message["To"] == email_of[peer]
        assert message["Subject"] == f"peerpath: {len(items)} thing(s) to do ({DEMO_TODAY})"
        assert all(item["text"] in body.replace("\n", " ") or item["text"][:40] in body for item in items)
        assert set(re.findall(r"P\d{4}", body)) == {peer}  # no other person's details
    coordinator = by_address["coordinator@nami-demo.example"].get_content()
    assert "Prospects with no contact" in coordinator
    log = json.loads(ok(run("digest", "log", "--json")))
    assert {row["recipient"] for row in log} == set(expected) | {"coordinator"}
    assert all(row["message_id"].endswith("@peerpath>") for row in log)
    assert {(e["action"], e["entity_id"]) for e in json.loads(ok(run("audit", "--json")))} >= \
        {("send", row["id"]) for row in log}


def test_the_same_reminders_are_not_sent_again_within_the_window(demo, run, mailbox):
    ok(run("digest", "--send"))
    sent = len(mailbox.messages)
    again = run("digest", "--send")
    assert again.exit_code == 0 and again.stderr == "0 of 0 digest(s) sent\n"
    assert len(mailbox.messages) == sent
    ok(run("--today", "2026-12-09", "digest", "--send"))  # past mail.resend_days (7): reminded again
    assert len(mailbox.messages) > sent


def test_consent_and_the_opt_out_are_honoured(demo, run, mailbox):
    expected = sorted(leaders_with_items(run))
    email_of = addresses(run)
    ok(run("peer", "edit", expected[0], "--consent", "contact=no"))
    ok(run("peer", "edit", expected[1], "--consent", "reminders=no"))
    ok(run("digest", "--send"))
    delivered = {rcpt[0] for rcpt, _ in mailbox.messages}
    assert email_of[expected[0]] not in delivered and email_of[expected[1]] not in delivered
    assert {email_of[p] for p in expected[2:]} <= delivered


def test_a_server_failing_part_way_logs_only_what_was_sent_and_the_rest_goes_next_run(demo, run, mailbox):
    planned = len(leaders_with_items(run)) + 1
    mailbox.accept = 1
    failed = run("digest", "--send")
    assert failed.exit_code == 1
    lines = failed.stderr.splitlines()
    assert lines[0] == f"1 of {planned} digest(s) sent"
    assert lines[1].startswith(f"Error: the mail server 127.0.0.1:{mailbox.port} failed: 451 ") and len(lines) == 2
    assert len(json.loads(ok(run("digest", "log", "--json")))) == 1
    mailbox.accept = None
    ok(run("digest", "--send"))
    assert len(mailbox.messages) == planned  # the first was not sent twice
    assert len(json.loads(ok(run("digest", "log", "--json")))) == planned


def test_without_a_server_nothing_is_sent_or_stored(demo, run, mailbox):
    ok(run("config", "unset", "mail.host"))
    before = snapshot(demo)
    assert_refused(run("digest", "--send"), "mail.host")
    assert snapshot(demo) == before and mailbox.messages == []


def test_a_dry_run_prints_the_messages_and_sends_nothing(demo, run, mailbox):
    shown = ok(run("digest", "--send", "--dry-run"))
    assert "To: coordinator@nami-demo.example\nSubject: peerpath: " in shown
    assert mailbox.messages == [] and json.loads(ok(run("digest", "log", "--json"))) == []


def test_the_password_comes_from_the_environment_and_is_never_stored(demo, run, mailbox, monkeypatch):
    monkeypatch.setenv("PEERPATH_SMTP_PASSWORD", "s3cret-passw0rd")
    result = run("digest", "--send")
    assert result.exit_code == 0 and "s3cret" not in result.stdout + result.stderr
    assert all(b"s3cret" not in data for data in snapshot(demo).values())


def test_the_log_as_csv_holds_the_rows_of_its_json(demo, run, mailbox):
    ok(run("digest", "--send"))
    rows = json.loads(ok(run("digest", "log", "--json")))
    table = list(csv.DictReader(io.StringIO(ok(run("digest", "log", "--csv")))))
    assert rows and table == [{key: str(value) for key, value in row.items()} for row in rows]
