"""mypy passes on core/, plugins/ and cli.py with the settings in setup.cfg's [mypy] section, so
every attribute a Tracker service uses is declared (core.session) and every call to another
area matches that area's signature."""

import subprocess
import sys
from pathlib import Path

from peerpath.core.tracker import Services, Tracker

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 0, "\n".join(errors or [result.stdout, result.stderr])
    assert result.stdout.startswith("Success: no issues found"), result.stdout


def test_tracker_shows_every_public_method_of_its_services(tmp_path):
    """Each area's public methods are Tracker's own too (`delegated`), so callers, the CLI, the
    web app and plugins, never reach into `tracker.services`; each runs the area's own method."""
    tracker = Tracker(db=tmp_path / "db.json", actor="tester")
    for field, area in Services.areas().items():
        service = area.service_class()
        public = [name for name, member in vars(service).items() if callable(member) and not name.startswith("_")]
        assert public, field
        for name in public:
            shown = getattr(Tracker, name, None)
            assert shown is not None and shown.__name__ == name, f"Tracker.{name} ({field})"
            assert shown.__doc__.startswith(f"{service.__qualname__}.{name}, run by tracker.services.{field} "), \
                f"Tracker.{name} ({field})"
        assert type(getattr(tracker.services, field)) is service
        assert getattr(tracker.services, field) is getattr(tracker.services, field), f"{field} is made once"
