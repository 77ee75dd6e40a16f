"""The Family-to-Family plugin, tested with the fixtures peerpath ships for plugin authors
(`peerpath_db`, `peerpath`, `assert_plugin_valid`), which pytest loads once peerpath is installed."""

import json

from peerpath.core.testing import assert_plugin_valid

ALL_MET = {"two_teachers": "yes", "on_time": "yes", "confidentiality": "yes", "curriculum": 5,
           "family_story": "yes", "participation": 4, "no_advice": "yes"}


def ok(result):
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_the_plugin_meets_the_contract():
    assert_plugin_valid("family_to_family")


def test_a_teacher_is_walked_to_certification(peerpath, tmp_path, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", "2026-06-01")
    ok(peerpath("peer", "add", "Mae", "--lived-experience", "family"))
    ok(peerpath("peer", "add", "Lou", "--lived-experience", "both"))
    for peer in ("P0001", "P0002"):
        ok(peerpath("enroll", peer, "family_to_family", "--on", "2026-01-01"))
        ok(peerpath("record", peer, "family_to_family", "affiliate_interview", "--outcome", "passed", "--on", "2026-01-05"))
        ok(peerpath("record", peer, "family_to_family", "fidelity_agreement", "--on", "2026-01-06"))
        ok(peerpath("record", peer, "family_to_family", "training", "--on", "2026-01-09", "--until", "2026-01-11"))
    assert json.loads(ok(peerpath("f2f-ready", "--json"))) == [{"peer": "P0001", "name": "Mae"},
                                                              {"peer": "P0002", "name": "Lou"}]
    # The digest_items hook reminds the trainer of both, and Mae of herself only.
    trainer = json.loads(ok(peerpath("digest", "--role", "trainer", "--format", "json")))["items"]
    assert {(i["peer"], i["source"]) for i in trainer if i["kind"] == "Family-to-Family"} == \
        {("P0001", "family_to_family"), ("P0002", "family_to_family")}
    own = json.loads(ok(peerpath("digest", "--role", "leader", "--for", "P0001", "--format", "json")))["items"]
    assert [i["peer"] for i in own if i["kind"] == "Family-to-Family"] == ["P0001"]
    ok(peerpath("offering", "add", "family_to_family", "Spring class", "--leaders", "P0001,P0002"))
    for week in range(8):
        ok(peerpath("session", "add", "O0001", "--on", f"2026-03-{week * 3 + 2:02d}"))
    for peer in ("P0001", "P0002"):
        [status] = json.loads(ok(peerpath("progress", peer, "--json")))
        assert (status["status"], status["certified_on"]) == ("certified", "2026-03-23")
        # The certification_granted hook left a note on the teacher's record.
        notes = json.loads(ok(peerpath("peer", "show", peer, "--json")))["notes"]
        assert notes == "2026-03-23: certified Family-to-Family teacher, may lead classes"
    assert json.loads(ok(peerpath("f2f-ready", "--json"))) == []
    assert not [i for i in json.loads(ok(peerpath("digest", "--format", "json")))["items"] if i["kind"] == "Family-to-Family"]
    report = json.loads(ok(peerpath("report", "f2f_classes", "--json")))
    assert report["figures"] == {"classes": 1, "sessions_held": 8}
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(ALL_MET))
    # 5 yes/no of weight 1 + curriculum 5 x 2 + participation 4 = 19 of 20 = 95%
    assert "95%" in ok(peerpath("observe", "O0001", "--checklist", "f2f_class", "--observer", "Pat",
                                "--answers", answers))


def test_a_person_without_family_experience_is_refused(peerpath):
    ok(peerpath("peer", "add", "Sol", "--lived-experience", "self"))
    result = peerpath("enroll", "P0001", "family_to_family")
    assert result.exit_code == 1
    assert "lived experience" in result.stderr
