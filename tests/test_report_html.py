"""`peerpath report NAME --html FILE`: one self-contained, printable HTML file of SVG charts,
each with its title, description and the table of its numbers; written like every other file."""

import re
import stat
from html.parser import HTMLParser

import pytest

from conftest import ok


class Elements(HTMLParser):
    """The tags of a document with their attributes, and its text."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parsed(path) -> Elements:
    elements = Elements()
    elements.feed(path.read_text())
    return elements


@pytest.mark.parametrize("name", ["funnel", "capacity", "expiring", "fidelity", "activity", "retention", "equity"])
def test_each_report_is_a_private_self_contained_page_of_charts_and_tables(name, demo_db, run, tmp_path):
    out = tmp_path / f"{name}.html"
    result = run("report", name, "--html", out)
    assert ok(result) == "" and result.stderr == f"Wrote {out}\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    page = parsed(out)
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags
    # nothing fetched: no element points outside the file
    assert not [attrs for _, attrs in page.tags if {"src", "href"} & set(attrs)]
    assert not re.search(r"url\(|@import", out.read_text())
    assert tags.count("svg") >= 1 and tags.count("svg") <= tags.count("table")
    svg_attrs = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert all(attrs["role"] == "img" for attrs in svg_attrs)
    assert tags.count("title") == 1 + tags.count("svg") + tags.count("rect") - _legend_boxes(page)
    assert tags.count("desc") == tags.count("svg")


def _legend_boxes(page) -> int:
    """Legend squares are the only rects without their own <title> (drawn at y=4)."""
    return sum(1 for tag, attrs in page.tags if tag == "rect" and attrs.get("y") == "4")


def test_the_funnel_page_shows_the_numbers_of_the_report(demo_db, run, tmp_path):
    out = tmp_path / "funnel.html"
    ok(run("report", "funnel", "--html", out))
    text = "".join(parsed(out).text)
    figures = __import__("json").loads(ok(run("report", "funnel", "--json")))["figures"]
    assert "Recruitment funnel" in text
    assert "Peers who ever reached each recruitment stage" in text
    assert f"prospect: ever reached {figures['reached']['prospect']}" in text  # a bar's own title


def test_an_existing_file_is_kept_unless_force(demo_db, run, tmp_path):
    out = tmp_path / "capacity.html"
    out.write_text("keep me")
    refused = run("report", "capacity", "--html", out)
    assert refused.exit_code == 1
    assert refused.stderr == f"Error: {out} already exists: give --force to replace it\n"
    assert out.read_text() == "keep me"
    ok(run("report", "capacity", "--html", out, "--force"))
    assert "<svg" in out.read_text()


def test_names_are_escaped_in_the_page(demo_db, run, tmp_path):
    ok(run("offering", "add", "connection", "<script>alert(1)</script>", "--leaders", "P0023"))
    out = tmp_path / "capacity.html"
    ok(run("report", "capacity", "--html", out))
    page = out.read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_fidelity_report_lists_every_observation_score_in_date_order(demo_db, run):
    data = __import__("json").loads(ok(run("report", "fidelity", "--json")))
    scores = data["tables"][0]
    assert scores["title"] == "scores over time"
    assert [row[0] for row in scores["rows"]] == sorted(row[0] for row in scores["rows"])
    assert data["figures"]["observations"] == len(scores["rows"]) > 0
