"""The audit log's hash chain: each line seals the one before it, and values can be redacted
without breaking it.

A stored line is the event plus `salt` (random, per event) and `hash`. The event is read as its
*leaves*: every value that is not a non-empty object, named by its path (`details.changes.notes.old`).
Each leaf has a digest, sha256(salt + [path, value]); the line's hash is
sha256(previous hash + the sorted [path, digest] pairs). So

- editing, inserting, deleting or moving a line changes a hash that the next line (or the
  manifest's `head`, for the last line) no longer matches;
- erasing a value replaces the leaf by `{"$redacted": digest}`: the digest is what the hash
  covers, so the chain still verifies, and the salt keeps the digest from matching the same
  value elsewhere. (A digest can confirm a guessed value of this one line; it never reveals one.)
"""

import hashlib
import os
import re

import orjson

GENESIS = hashlib.sha256(b"peerpath audit chain").hexdigest()
SEAL_FIELDS = ("salt", "hash")
REDACTED = "$redacted"


_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)


def is_redacted(value) -> bool:
    """A redaction marker: `{"$redacted": <a sha256 hex digest>}`, nothing else."""
    return (isinstance(value, dict) and set(value) == {REDACTED} and isinstance(value[REDACTED], str)
            and _DIGEST.fullmatch(value[REDACTED]) is not None)


def _canonical(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def leaves(document: dict, path=()):
    """(path, value) of every leaf of an event (its seal fields left out)."""
    for key, value in document.items():
        if not path and key in SEAL_FIELDS:
            continue
        here = path + (key,)
        if isinstance(value, dict) and value and not is_redacted(value):
            yield from leaves(value, here)
        else:
            yield here, value


def leaf_digest(salt: str, path, value) -> str:
    if is_redacted(value):
        return value[REDACTED]
    return hashlib.sha256(bytes.fromhex(salt) + _canonical([list(path), value])).hexdigest()


def line_hash(line: dict, previous: str) -> str:
    """The hash `line` must carry when it follows a line whose hash is `previous`."""
    salt = line["salt"]
    pairs = sorted([".".join(path), leaf_digest(salt, path, value)] for path, value in leaves(line))
    return hashlib.sha256(previous.encode() + b"\n" + _canonical(pairs)).hexdigest()


def seal(event: dict, previous: str) -> dict:
    """The stored line of a new event that follows `previous`."""
    line = {key: value for key, value in event.items() if key not in SEAL_FIELDS}
    line["salt"] = os.urandom(16).hex()
    line["hash"] = line_hash(line, previous)
    return line


def is_sealed(line: dict) -> bool:
    return isinstance(line.get("salt"), str) and isinstance(line.get("hash"), str)


def chain_problem(line, previous: str) -> str:
    """Why `line` does not follow `previous` in the chain, or ""."""
    if not isinstance(line, dict):
        return "it is not an event"
    if not is_sealed(line):
        return "it carries no chain hash"
    try:
        expected = line_hash(line, previous)
    except (ValueError, TypeError):
        return "its salt or a redacted value is malformed"
    if expected != line["hash"]:
        return "it does not match the chain (edited, inserted, deleted or moved)"
    return ""


class BrokenChain(ValueError):
    """A sealed line that does not follow the one before it ("event N: why")."""


def sealed_in_order(lines: list) -> tuple:
    """(the lines, each sealed one verified and each unsealed one sealed in turn, the last hash);
    a sealed line that does not verify raises BrokenChain, so history is never re-sealed."""
    head, sealed = GENESIS, []
    for number, line in enumerate(lines, 1):
        if is_sealed(line):
            problem = chain_problem(line, head)
            if problem:
                raise BrokenChain(f"event {number}: {problem}")
            sealed.append(line)
        else:
            sealed.append(seal(line, head))
        head = sealed[-1]["hash"]
    return sealed, head


def redact(line: dict, wanted) -> tuple:
    """(the line with every leaf for which `wanted(path, value)` holds replaced by its digest,
    the dotted paths redacted); the line's hash is unchanged."""
    salt, redacted = line["salt"], []

    def walk(value, path):
        if isinstance(value, dict) and value and not is_redacted(value):
            return {key: walk(sub, path + (key,)) if path or key not in SEAL_FIELDS else sub
                    for key, sub in value.items()}
        if path and not is_redacted(value) and wanted(path, value):
            redacted.append(".".join(path))
            return {REDACTED: leaf_digest(salt, path, value)}
        return value

    return walk(line, ()), redacted


def unsealed(line: dict) -> dict:
    """The event of a stored line, without its seal."""
    return {key: value for key, value in line.items() if key not in SEAL_FIELDS}
