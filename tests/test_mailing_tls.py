"""`digest --send` over STARTTLS and implicit TLS (SSL) with a login, against a real aiosmtpd
server on 127.0.0.1 whose certificate a throwaway private CA signed (made here with the
`openssl` command): the certificate is verified (mail.ca_file), the password reaches the server
and is never printed or stored, and every way it could leak or be refused is one Error line."""

import json
import shutil
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import assert_refused, ok, snapshot
from test_mailing import Mailbox, free_port

PASSWORD = "s3cret pass w0rd"  # a space inside: a password file keeps it
USER = "reminders"

pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
              # the implicit-TLS server below cannot say it requires TLS for AUTH (see `server`)
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A private CA (ca.pem) and the server's certificate for IP 127.0.0.1 it signed."""
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=peerpath test CA")
    openssl("req", *curve, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                       "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "1",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return folder


class Logins:
    """An aiosmtpd authenticator that accepts USER with PASSWORD and remembers every attempt."""

    def __init__(self):
        self.attempts = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.attempts.append((mechanism, login, password, encrypted(server)))
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)  # aiosmtpd answers


def encrypted(server) -> bool:
    """Whether the SMTP session `server` (aiosmtpd's) runs over TLS, STARTTLS or implicit."""
    return server.transport.get_extra_info("ssl_object") is not None


class TlsMailbox(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        self.encrypted = getattr(self, "encrypted", []) + [encrypted(server)]
        return await super().handle_DATA(server, session, envelope)


def server_context(certificates) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    return context


@pytest.fixture(params=["starttls", "ssl"])
def server(request, certificates):
    """A mail server needing a login over TLS: STARTTLS required, or implicit TLS (SSL)."""
    box, logins = TlsMailbox(), Logins()
    options = dict(hostname="127.0.0.1", port=free_port(), authenticator=logins, auth_required=True)
    if request.param == "starttls":
        controller = Controller(box, tls_context=server_context(certificates), require_starttls=True,
                                auth_require_tls=True, **options)
    else:  # aiosmtpd 1.4 counts only STARTTLS as TLS for auth_require_tls: the tests check it instead
        controller = Controller(box, ssl_context=server_context(certificates), auth_require_tls=False, **options)
    controller.start()
    box.port, box.security, box.logins = controller.port, request.param, logins
    yield box
    controller.stop()


@pytest.fixture
def demo(demo_db, run, server, certificates, monkeypatch):
    monkeypatch.delenv("PEERPATH_SMTP_PASSWORD", raising=False)
    for key, value in (("mail.host", "127.0.0.1"), ("mail.port", server.port), ("mail.security", server.security),
                       ("mail.ca_file", certificates / "ca.pem"), ("mail.user", USER),
                       ("mail.sender", "reminders@nami-demo.example"),
                       ("mail.coordinator_to", "coordinator@nami-demo.example")):
        ok(run("config", "set", key, value))
    return demo_db


def assert_password_nowhere(db, *outputs):
    assert all(PASSWORD not in output for output in outputs)
    for name, data in snapshot(db).items():
        assert PASSWORD.encode() not in data, name
        assert b"s3cret" not in data, name


def test_the_password_from_the_environment_logs_in_over_tls_and_is_never_printed_or_stored(demo, run, server,
                                                                                            monkeypatch):
    monkeypatch.setenv("PEERPATH_SMTP_PASSWORD", PASSWORD)
    result = run("digest", "--send")
    assert result.exit_code == 0, result.stderr
    planned = len(json.loads(ok(run("digest", "log", "--json"))))
    assert planned > 1 and result.stderr == f"{planned} of {planned} digest(s) sent\n" and result.stdout == ""
    assert len(server.messages) == planned and all(server.encrypted)
    assert server.logins.attempts and all(attempt[1:] == (USER, PASSWORD, True) for attempt in server.logins.attempts)
    dry = run("digest", "--send", "--dry-run", "--as-of", "2026-12-20")
    audit = ok(run("audit", "--json", "--contact"))
    shown = ok(run("config", "show", "--json"))
    assert_password_nowhere(demo, result.stdout, result.stderr, dry.stdout, dry.stderr, audit, shown)


def test_the_password_file_gives_its_first_line_and_stays_out_of_the_database(demo, run, server, tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")
    ok(run("config", "set", "mail.password_file", secret))
    result = run("digest", "--send")
    assert result.exit_code == 0, result.stderr
    assert server.messages and server.logins.attempts[-1][1:] == (USER, PASSWORD, True)
    assert_password_nowhere(demo, result.stdout, result.stderr, ok(run("audit", "--json")))


def test_a_wrong_password_is_one_error_line_and_nothing_is_logged(demo, run, server, monkeypatch):
    monkeypatch.setenv("PEERPATH_SMTP_PASSWORD", "not-the-s3cret")
    before = snapshot(demo)
    result = run("digest", "--send")
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("0 of ") and len(lines) == 2
    assert lines[1].startswith(f"Error: the mail server 127.0.0.1:{server.port} failed: 535 ")
    assert "not-the-s3cret" not in result.stderr and server.messages == []
    assert snapshot(demo) == before


def test_a_certificate_no_trusted_authority_signed_is_refused(demo, run, server, monkeypatch):
    """Without mail.ca_file the system's authorities are asked, and none of them signed it:
    nothing is sent, and the password never leaves (no login is tried)."""
    monkeypatch.setenv("PEERPATH_SMTP_PASSWORD", PASSWORD)
    ok(run("config", "unset", "mail.ca_file"))
    before = snapshot(demo)
    result = run("digest", "--send")
    assert result.exit_code == 1
    error = result.stderr.splitlines()[-1]
    assert error.startswith("Error: the mail server 127.0.0.1:") and "certificate does not verify" in error
    assert "mail.ca_file" in error and len(result.stderr.splitlines()) == 2
    assert server.messages == [] and server.logins.attempts == []
    assert snapshot(demo) == before
    assert_password_nowhere(demo, result.stdout, result.stderr)


def test_a_certificate_for_another_host_name_is_refused(demo, run, server, monkeypatch):
    """The certificate names 127.0.0.1; asked as localhost, the name does not match."""
    monkeypatch.setenv("PEERPATH_SMTP_PASSWORD", PASSWORD)
    ok(run("config", "set", "mail.host", "localhost"))
    result = run("digest", "--send")
    assert result.exit_code == 1 and "certificate does not verify" in result.stderr
    assert server.messages == [] and server.logins.attempts == []


def test_starttls_is_never_given_up_for_a_plain_connection(demo_db, run, monkeypatch):
    """A server that offers no STARTTLS: refused before any login, nothing sent in clear."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        monkeypatch.setenv("PEERPATH_SMTP_PASSWORD", PASSWORD)
        for key, value in (("mail.host", "127.0.0.1"), ("mail.port", controller.port), ("mail.user", USER),
                           ("mail.sender", "reminders@nami-demo.example")):
            ok(run("config", "set", key, value))
        result = run("digest", "--send")
    finally:
        controller.stop()
    assert result.exit_code == 1 and "STARTTLS" in result.stderr.splitlines()[-1]
    assert box.messages == [] and PASSWORD not in result.stderr


@pytest.mark.parametrize("setting, value, fragment", [
    ("mail.security", "none", "would cross the network unencrypted"),
    ("mail.ca_file", "missing-ca.pem", "cannot use mail.ca_file missing-ca.pem"),
    ("mail.password_file", "missing-password", "cannot read mail.password_file missing-password"),
])
def test_settings_that_cannot_work_are_refused_before_connecting(demo, run, server, setting, value, fragment,
                                                                 monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    if setting != "mail.password_file":
        monkeypatch.setenv("PEERPATH_SMTP_PASSWORD", PASSWORD)
    ok(run("config", "set", setting, value))
    before = snapshot(demo)
    for args in (("digest", "--send"), ("digest", "--send", "--dry-run"), ("sweep", "--send")):
        assert_refused(run(*args), fragment)
    assert snapshot(demo) == before and server.messages == [] and server.logins.attempts == []


def test_a_login_without_a_password_is_refused(demo, run, server, tmp_path):
    assert_refused(run("digest", "--send"), "mail.user is set but there is no password", "PEERPATH_SMTP_PASSWORD")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    ok(run("config", "set", "mail.password_file", empty))
    assert_refused(run("digest", "--send"), "is empty")
    assert server.logins.attempts == []


def test_a_ca_file_that_is_not_a_certificate_is_refused(demo, run, server, tmp_path, monkeypatch):
    monkeypatch.setenv("PEERPATH_SMTP_PASSWORD", PASSWORD)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    ok(run("config", "set", "mail.ca_file", junk))
    assert_refused(run("digest", "--send"), f"cannot use mail.ca_file {junk}")


def test_the_port_follows_the_security_unless_set_and_must_be_a_port(initialised, run, db):
    before = snapshot(db)
    assert_refused(run("config", "set", "mail.port", "70000"), "mail.port must be between 1 and 65,535")
    assert_refused(run("config", "set", "mail.port", "0"), "mail.port")
    assert snapshot(db) == before
    shown = {row["key"]: row["value"] for row in json.loads(ok(run("config", "show", "--json")))}
    assert shown["mail.port"] is None and shown["mail.ca_file"] is None
    assert ok(run("config", "set", "mail.port", "2525")) == "mail.port = 2525\n"
