"""`peerpath calendar`: the dates that matter as an iCalendar file (RFC 5545).

All-day events for credential expiry (the renewal deadline, with what the renewal still lacks),
observations due, and each offering's first and last day and sessions. Every event's UID is
made of what it is about (`expiry-C0003@peerpath`, `session-S0012@peerpath`), so importing a
newer file updates the events instead of adding copies.
"""

import datetime as dt

PRODUCT = "-//peerpath//peerpath digest calendar//EN"


def calendar_events(tracker, peer_id=None) -> list:
    """(uid, day, summary, description) of every event, as of `tracker.today`; only `peer_id`'s
    when given (their credentials and observations, and the offerings they lead)."""
    with tracker.reading():
        if peer_id is not None:
            tracker.peer(peer_id)  # refuses an unknown peer by name
        events = _expiries(tracker) + _observations(tracker) + _offerings(tracker)
    if peer_id is not None:
        events = [event for event in events if peer_id in event[4]]
    return sorted((uid, day, summary, description) for uid, day, summary, description, _ in events)


def _expiries(tracker) -> list:
    events = []
    for status in tracker.leaders(status="certified"):
        certification = status.certification
        if certification.expires is None:
            continue
        lacks = f" Renewal: {status.renewal.summary}." if status.renewal else ""
        events.append((f"expiry-{certification.id}@peerpath", certification.expires,
                       f"{status.peer.name}: {status.pathway.title} expires",
                       f"{status.peer.id}'s certification lapses after this day.{lacks}", {status.peer.id}))
    return events


def _observations(tracker) -> list:
    return [(f"observation-{due['peer']}-{due['program']}@peerpath", dt.date.fromisoformat(due["due"]),
             f"{due['peer']}: {due['program']} observation due", due["reason"], {due["peer"]})
            for due in tracker.fidelity_due()]


def _offerings(tracker) -> list:
    events = []
    for offering in tracker.offerings():
        leaders = set(offering.leaders)
        for edge, day in (("starts", offering.started), ("ends", offering.ended)):
            if day is not None:
                events.append((f"offering-{offering.id}-{edge}@peerpath", day, f"{offering.name} {edge}",
                               f"{offering.program}, {offering.status}", leaders))
        for session in tracker.sessions(offering.id):
            events.append((f"session-{session.id}@peerpath", session.on, f"{offering.name}: session",
                           f"{offering.program}, led by {', '.join(session.leaders) or 'no one recorded'}",
                           set(session.leaders) or leaders))
    return events


def to_ical(events, stamp: dt.date) -> str:
    """The events as one VCALENDAR, lines ending CRLF and folded at 75 octets (RFC 5545)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODUCT}", "CALSCALE:GREGORIAN"]
    for uid, day, summary, description in events:
        lines += ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{stamp:%Y%m%d}T000000Z",
                  f"DTSTART;VALUE=DATE:{day:%Y%m%d}", f"DTEND;VALUE=DATE:{day + dt.timedelta(days=1):%Y%m%d}",
                  f"SUMMARY:{_text(summary)}", f"DESCRIPTION:{_text(description)}", "TRANSP:TRANSPARENT",
                  "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(_folded(line) + "\r\n" for line in lines)


def _text(value) -> str:
    """A TEXT value escaped as RFC 5545 section 3.3.11 asks."""
    return (str(value).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _folded(line: str) -> str:
    """Lines longer than 75 octets go on with CRLF and a space, never inside a UTF-8 character."""
    pieces: list = []
    current = b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > (75 if not pieces else 74):
            pieces.append(current)
            current = b""
        current += encoded
    pieces.append(current)
    return "\r\n ".join(piece.decode("utf-8") for piece in pieces)
