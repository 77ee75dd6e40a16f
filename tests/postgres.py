"""A throwaway PostgreSQL cluster for the tests: `initdb` and `pg_ctl` into a temporary folder,
listening on 127.0.0.1 only, on a free port, with its unix socket in that folder.

Started once per test session (tests/conftest.py, `postgres_cluster`) and stopped at its end. If
it cannot start, the tests that need it fail saying why: never a skip. PostgreSQL refuses to run
as root, so when the tests run as root (as CI does) the server runs as an unprivileged user: the
`postgres` user Debian's package creates, else `nobody`.

Host connections need the password (scram-sha-256), so the tests exercise passwords as a real
server asks for them.
"""

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ADMIN = "peerpath_admin"


def server_bindir() -> Path:
    """The folder holding initdb and pg_ctl: on PATH, else `pg_config --bindir`, else Debian's
    /usr/lib/postgresql/<version>/bin (newest version first)."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = []
    if shutil.which("pg_config"):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        candidates.append(bindir)
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists():
            return Path(folder)
    raise ClusterError("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql; "
                       ".ci/run installs it)")


class ClusterError(Exception):
    """Why the test cluster could not start."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_user():
    """The unprivileged user to run the server as when we are root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ClusterError("running as root, and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


class Cluster:
    """A running throwaway cluster; `new_database()` gives the URL of a new, empty database."""

    def __init__(self):
        self.bindir = server_bindir()
        self.user = _server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="peerpath-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.password = secrets.token_hex(12)
        self._databases = 0
        self.running = False

    def _run(self, *command):
        """Run one of the server's programs, as the server's user."""
        argv = [str(self.bindir / command[0]), *command[1:]]
        if self.user is not None:
            argv = ["runuser", "-u", self.user.pw_name, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ClusterError(f"{command[0]} failed ({result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()[-2000:]}{self._log_tail()}")
        return result

    def _log_tail(self) -> str:
        try:
            return "\nserver log:\n" + self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def start(self) -> "Cluster":
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self.user is not None:
            for path in (self.folder, pwfile):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", ADMIN, f"--pwfile={pwfile}", "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256")
        pwfile.unlink()
        # fsync off: a test cluster is thrown away, and a crash of it loses nothing of value.
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres", password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://{ADMIN}{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database of its own."""
        import psycopg

        self._databases += 1
        name = f"peerpath_test_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
