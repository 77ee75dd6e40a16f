"""The fidelity report as a registered report (`peerpath report fidelity`): the observation
scores of `Tracker.fidelity_report`, as tables a chart or a spreadsheet can show."""

from .catalog import Report
from .reporting import ReportResult, Table


def fidelity(tracker, options) -> ReportResult:
    """Every observation's score over time by offering, the items most often missed, and drift."""
    found = tracker.fidelity_report()
    in_period = [(offering, point) for offering, points in found["offerings"].items() for point in points
                 if (options["start"] is None or point["on"] >= options["start"].isoformat())
                 and point["on"] <= options["end"].isoformat()]
    in_period.sort(key=lambda pair: (pair[1]["on"], pair[1]["observation"]))
    return ReportResult("fidelity", "Model fidelity scores", [
        Table("scores over time", ["on", "observation", "offering", "percent", "band", "passed"],
              [[p["on"], p["observation"], offering, p["percent"], p["band"], "yes" if p["passed"] else "no"]
               for offering, p in in_period]),
        Table("items most often missed", ["item", "times"], [[m["item"], m["times"]] for m in found["most_missed"]]),
        Table("drift", ["offering", "from", "to", "drop"],
              [[d["offering"], d["from"], d["to"], d["drop"]] for d in found["drift"]]),
    ], {"observations": len(in_period), "most_missed": found["most_missed"], "drift": found["drift"]},
        (options["start"], options["end"]))


FIDELITY = Report("fidelity", "Observation scores over time by offering, items most often missed, drift.",
                  fidelity)
