"""One command, one transaction (issue 14): every example of every command's help, run on the
demo, takes each database's lock once, parses its manifest once and reads each of its tables at
most once."""

from collections import Counter

import pytest

from peerpath.core import store
from test_cli_help import COMMANDS, IDS, examples, examples_folder, run_example


@pytest.fixture
def counted(monkeypatch):
    """Counts of lock acquisitions, manifest parses and table reads, by database file."""
    counts = Counter()

    def counting(method, what):
        def counted_method(self, *args, **kwargs):
            database = (self.store if isinstance(self, store.Transaction) else self).path
            counts[(database.name, what(args))] += 1
            return method(self, *args, **kwargs)
        return counted_method

    monkeypatch.setattr(store.Store, "_locked", counting(store.Store._locked, lambda args: "lock"))
    monkeypatch.setattr(store.Store, "_read_manifest", counting(store.Store._read_manifest, lambda args: "manifest"))
    monkeypatch.setattr(store.Transaction, "_load_table",
                        counting(store.Transaction._load_table, lambda args: f"table {args[0]}"))
    return counts


# `db copy` reads its target once more after the commit: verifying the copy is what it is for.
READ_AGAIN_AFTER_THE_COMMIT = {("db", "copy"): 2}


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_every_example_is_one_transaction(path, command, demo_folder, tmp_path, monkeypatch, counted):
    env = examples_folder(demo_folder, tmp_path, monkeypatch)
    for line in examples(command):
        counted.clear()
        run_example(line, env)
        repeated = {key: times for key, times in counted.items() if times > READ_AGAIN_AFTER_THE_COMMIT.get(path, 1)}
        assert not repeated, (line, repeated)
