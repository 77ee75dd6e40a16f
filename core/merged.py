"""Peers merged into others (`peer merge`, core.merging): each duplicate's document kept whole
in `merged_peers` under its id. Only reading them lives here, so that every command that may be
given a merged peer's id can say where it went without importing the merge itself."""

MERGED = "merged_peers"


def row_problem(document) -> str:
    """What makes a stored `merged_peers` document unfit to be written back, or ""."""
    for field, kind in (("merged_into", str), ("on", str), ("peer", dict), ("filled", list)):
        if type(document.get(field)) is not kind:
            return f"its {field} is not {kind.__name__}"
    return ""


def merged_record(tx, peer_id: str):
    """The `merged_peers` document of a peer merged into another, or None."""
    return tx.get(MERGED, peer_id)


def merged_refusal(tx, peer_id: str):
    """The line refusing a merged peer's id ("peer 'P0002' was merged into P0001 on ..."), or None."""
    record = merged_record(tx, peer_id)
    if record is None:
        return None
    return f"peer '{peer_id}' was merged into {record['merged_into']} on {record['on']}: use {record['merged_into']}"


def merged_into(tx, peer_id: str) -> set:
    """The ids of the peers merged into `peer_id`."""
    return {document["id"] for document in tx.search(MERGED, merged_into=peer_id)}
