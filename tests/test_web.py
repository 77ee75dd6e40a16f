"""The web app (`peerpath serve`) through Flask's test client, on a copy of the demo: every
page and form, the roles, the security rules, and what each change stores."""

import ast
import re
from pathlib import Path

import pytest

from conftest import DEMO_TODAY, ok
from peerpath.core import ROLES, Tracker
from peerpath.web.app import PUBLIC, create_app, run_server

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

PASSWORD = "correct horse battery"
WEB = Path(__file__).parent.parent / "web"


@pytest.fixture
def app(demo_db):
    tracker = Tracker(db=demo_db)
    tracker.begin_command()
    for role in ROLES:
        tracker.set_password(role, PASSWORD)
    tracker.end_command()
    app = create_app(Tracker(db=demo_db), today=DEMO_TODAY)
    app.config["TESTING"] = True
    return app


def stored(demo_db) -> Tracker:
    return Tracker(db=demo_db, today=DEMO_TODAY)


def token(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(app, name, password=PASSWORD, address="127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/login")
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token(page)})
    return client, response


@pytest.fixture
def as_role(app):
    def signed_in(role):
        client, response = sign_in(app, role)
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return signed_in


def post(client, url, page_url, **form):
    """Submit a form of `page_url` (its CSRF token) to `url`; the response after redirects."""
    form["csrf_token"] = token(client.get(page_url))
    return client.post(url, data=form, follow_redirects=True)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_signing_in_is_needed_for_every_page_but_the_login(app):
    client = app.test_client()
    for url in ("/", "/peers", "/peers/P0001", "/leaders", "/reports/funnel", "/settings", "/calendar"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    assert client.get("/login").status_code == 200


def test_every_route_declares_who_may_use_it(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in PUBLIC:
            assert hasattr(app.view_functions[rule.endpoint], "required_action"), rule


def test_a_wrong_password_is_refused_and_repeated_failures_throttle(app):
    client, response = sign_in(app, "coordinator", "not the password")
    assert response.status_code == 401 and "Wrong name or password" in text(response)
    assert client.get("/").status_code == 302  # still signed out
    for _ in range(4):
        sign_in(app, "coordinator", "still wrong")
    client, response = sign_in(app, "coordinator")  # the right password, too late
    assert response.status_code == 429 and "Too many failed sign-ins" in text(response)
    _, response = sign_in(app, "trainer")  # nor any name from the address that failed
    assert response.status_code == 429
    _, response = sign_in(app, "trainer", address="127.0.0.2")  # another name elsewhere is not held up
    assert response.status_code == 303
    _, response = sign_in(app, "coordinator", address="127.0.0.2")  # the name that failed is, anywhere
    assert response.status_code == 429


def test_the_dashboard_links_every_number_to_its_list(as_role):
    page = text(as_role("coordinator").get("/"))
    assert "What needs attention" in page
    for link in ('href="/observations/due"', 'href="/followups"', 'href="/reports/capacity"', 'href="#expiring"'):
        assert link in page
    count = re.search(r'<span class="count">(\d+)</span> certifications lapsing', page).group(1)
    assert int(count) == len(re.findall(r"<tr><td><a href=\"/peers/P\d+\">", page.split('id="expiring"')[1]))


def test_a_coordinator_adds_a_peer_and_the_audit_names_them(as_role, demo_db):
    client = as_role("coordinator")
    response = post(client, "/peers/add", "/peers", name="Rosa Diaz", email="rosa@example.org",
                    community="Cicero", source="hospital talk", on="2026-11-30")
    assert response.status_code == 200 and "Added P" in text(response)
    peer = next(p for p in stored(demo_db).peers() if p.name == "Rosa Diaz")
    assert (peer.email, peer.community, str(peer.stage_since())) == ("rosa@example.org", "Cicero", "2026-11-30")
    event = stored(demo_db).audit(peer.id)[-1]
    assert (event.action, event.actor) == ("add", "coordinator")


def test_a_form_without_its_csrf_token_is_refused_and_stores_nothing(as_role, demo_db):
    client = as_role("coordinator")
    before = len(stored(demo_db).peers())
    response = client.post("/peers/add", data={"name": "Forged"})
    assert response.status_code == 400 and "security token" in text(response)
    response = client.post("/peers/add", data={"name": "Forged", "csrf_token": "guessed"})
    assert response.status_code == 400
    assert len(stored(demo_db).peers()) == before


def test_moving_a_peer_to_the_next_stage(as_role, demo_db):
    prospect = next(p for p in stored(demo_db).peers() if p.stage == "prospect")
    client = as_role("coordinator")
    page = text(client.get(f"/peers/{prospect.id}"))
    assert "Move to contacted" in page
    response = post(client, f"/peers/{prospect.id}/stage", f"/peers/{prospect.id}", stage="contacted")
    assert f"{prospect.id} {prospect.name} is now contacted" in text(response)
    assert stored(demo_db).peer(prospect.id).stage == "contacted"


def test_a_refusal_from_core_is_one_error_line_and_nothing_is_stored(as_role, demo_db):
    client = as_role("coordinator")
    before = stored(demo_db).peer("P0001")
    response = post(client, "/peers/P0001/stage", "/peers/P0001", stage="no such stage")
    assert response.status_code == 200
    errors = re.findall(r'<p class="flash error" role="alert">([^<]*)</p>', text(response))
    assert len(errors) == 1 and errors[0].startswith("Error: ")
    assert stored(demo_db).peer("P0001") == before


def test_a_trainer_walks_a_teacher_to_certification_and_sees_them_listed(as_role, demo_db):
    coordinator = as_role("coordinator")
    post(coordinator, "/peers/add", "/peers", name="Tomas Reyes", lived_experience="self", on="2025-12-20")
    peer = next(p for p in stored(demo_db).peers() if p.name == "Tomas Reyes")
    response = post(coordinator, f"/peers/{peer.id}/enroll", f"/peers/{peer.id}", program="peer_to_peer",
                    on="2026-01-01")
    assert "Enrolled" in text(response)
    trainer = as_role("trainer")
    steps = [("affiliate_interview", {"outcome": "passed", "on": "2026-01-05"}),
             ("fidelity_agreement", {"on": "2026-01-06"}), ("online_course", {"on": "2026-01-10"}),
             ("trainer_interview", {"outcome": "passed", "on": "2026-01-20"}),
             ("training", {"on": "2026-02-01", "until": "2026-02-02"})]
    for step, values in steps:
        response = post(trainer, f"/peers/{peer.id}/record", f"/peers/{peer.id}", step=f"peer_to_peer:{step}",
                        **values)
        assert f"{step} for {peer.id}" in text(response), text(response)
    status = next(s for s in stored(demo_db).leaders() if s.peer.id == peer.id)
    assert status.status == "certified"
    assert f"{peer.id} Tomas Reyes" in text(trainer.get("/leaders?status=certified"))
    assert stored(demo_db).audit(peer.id)[-1].actor == "trainer"


def test_scoring_an_observation_from_the_programs_checklist(as_role, demo_db):
    tracker = stored(demo_db)
    offering = next(o for o in tracker.offerings() if o.program == "connection" and o.status == "running")
    checklist = tracker.catalog.current_checklist("connection")
    client = as_role("trainer")
    page = text(client.get(f"/offerings/{offering.id}/observe"))
    assert all(item.text in page for item in checklist.items)
    answers = {f"item-{item.key}": "yes" if item.type == "yes_no" else "5" for item in checklist.items}
    response = post(client, f"/offerings/{offering.id}/observe", f"/offerings/{offering.id}/observe",
                    observer="Trainer T", on="2026-11-30", **answers)
    assert "100.0 % (good)" in text(response)
    latest = max(stored(demo_db).observations(), key=lambda o: o.id)
    assert (latest.offering_id, latest.observer, str(latest.on)) == (offering.id, "Trainer T", "2026-11-30")


def test_importing_a_sheet_shows_a_preview_first_then_stores_on_confirm(as_role, demo_db):
    client = as_role("coordinator")
    before = len(stored(demo_db).peers())
    sheet = "Name,Email,Community\nIva Novak,iva@example.org,Berwyn\nJon Park,,Aurora\n"
    page_token = token(client.get("/import"))
    from io import BytesIO
    preview = client.post("/import", data={"csrf_token": page_token, "file": (BytesIO(sheet.encode()), "s.csv")},
                          content_type="multipart/form-data")
    assert "Would import 2 peer(s)" in text(preview) and "Iva Novak" in text(preview)
    assert len(stored(demo_db).peers()) == before
    hidden = dict(re.findall(r'<input type="hidden" name="(name|sheet)" value="([^"]*)"', text(preview)))
    response = client.post("/import", data={"csrf_token": token(preview), "confirm": "yes", **hidden},
                           follow_redirects=True)
    assert "Imported 2 peer(s)" in text(response)
    names = {p.name for p in stored(demo_db).peers()}
    assert {"Iva Novak", "Jon Park"} <= names and len(names) >= before


def test_reports_show_charts_with_their_numbers_and_download(as_role):
    client = as_role("coordinator")
    page = text(client.get("/reports/funnel"))
    assert "<svg" in page and "<table" in page and "<title>" in page
    csv = client.get("/reports/funnel?format=csv")
    assert csv.mimetype == "text/csv" and 'filename="funnel.csv"' in csv.headers["Content-Disposition"]
    assert client.get("/reports/funnel?format=json").get_json()["report"] == "funnel"
    assert client.get("/reports/nonsense").status_code == 404


def test_a_viewer_reads_without_contact_details_and_cannot_write(as_role, demo_db):
    peer = stored(demo_db).peer("P0001")
    coordinator = text(as_role("coordinator").get("/peers/P0001"))
    assert peer.email in coordinator
    viewer = as_role("viewer")
    page = text(viewer.get("/peers/P0001"))
    assert peer.name in page and peer.email not in page and (peer.phone or "@") not in page
    assert "<form method=\"post\" action=\"/peers/P0001/enroll\"" not in page
    before = stored(demo_db).peer("P0001")
    for url, form in (("/peers/P0001/stage", {"stage": "contacted"}), ("/peers/add", {"name": "X"}),
                      ("/settings/change", {"key": "recruitment.followup_days", "value": "9"})):
        assert post(viewer, url, "/peers", **form).status_code == 403, url
    assert stored(demo_db).peer("P0001") == before


def test_a_trainer_records_steps_but_cannot_change_settings_or_add_peers(as_role, demo_db):
    trainer = as_role("trainer")
    assert post(trainer, "/settings/change", "/settings", key="recruitment.followup_days", value="9").status_code == 403
    assert post(trainer, "/peers/add", "/peers", name="X").status_code == 403
    coordinator = as_role("coordinator")
    response = post(coordinator, "/settings/change", "/settings", key="recruitment.followup_days", value="9")
    assert "recruitment.followup_days = 9" in text(response)
    assert dict((k, v) for k, _, v in stored(demo_db).settings())["recruitment.followup_days"] == 9


def test_the_state_role_sees_roll_ups_only(as_role):
    state = as_role("state")
    assert state.get("/").headers["Location"].endswith("/reports/rollup")
    assert state.get("/reports/rollup").status_code == 200
    for url in ("/peers", "/peers/P0001", "/leaders", "/reports/funnel", "/settings"):
        assert state.get(url).status_code == 403, url
    assert "funnel" not in text(state.get("/reports"))


def test_names_are_shown_as_text_never_as_markup(as_role, demo_db):
    client = as_role("coordinator")
    post(client, "/peers/add", "/peers", name="<script>alert(1)</script>")
    peer = next(p for p in stored(demo_db).peers() if p.name.startswith("<script"))
    for url in ("/peers", f"/peers/{peer.id}"):
        page = text(client.get(url))
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page


def test_every_page_sends_a_strict_content_security_policy_and_no_inline_script(as_role):
    client = as_role("coordinator")
    for url in ("/", "/peers", "/peers/P0001", "/leaders", "/offerings", "/reports", "/reports/capacity",
                "/import", "/settings", "/calendar", "/followups", "/observations/due", "/trainings",
                "/activities/pending", "/activities", "/reports/graduates", "/reports/capacity?horizon=30", "/login"):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "unsafe-inline" not in policy and "script-src" not in policy
        assert "<script" not in text(response), url
        assert response.headers["X-Frame-Options"] == "DENY"


def test_the_session_cookie_is_signed_http_only_and_same_site(app):
    _, response = sign_in(app, "coordinator")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    proxied = create_app(Tracker(db=app.config["DB"]), behind_proxy=True)
    proxied.config["TESTING"] = True
    _, response = sign_in(proxied, "coordinator")
    assert "Secure" in response.headers["Set-Cookie"]
    value = cookie.split(";")[0].split("=", 1)[1]
    forged = app.test_client()
    forged.set_cookie("peerpath_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert forged.get("/").status_code == 302  # a tampered cookie signs nobody in


def test_a_calendar_feed_opens_by_its_secret_until_revoked(as_role):
    client = as_role("trainer")
    page = text(post(client, "/calendar/change", "/calendar"))
    url = re.search(r"<code>http://localhost(/calendar/[^<]+\.ics)</code>", page).group(1)
    anonymous = client.application.test_client()
    feed = anonymous.get(url)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert feed.get_data(as_text=True).startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in feed.get_data(as_text=True)
    post(client, "/calendar/change", "/calendar", revoke="yes")
    assert anonymous.get(url).status_code == 404
    assert anonymous.get("/calendar/guessed.ics").status_code == 404
    assert as_role("viewer").get("/calendar").status_code == 403


def test_serve_refuses_a_database_nobody_can_sign_in_to(tmp_path):
    from peerpath.core import PeerpathError

    tracker = Tracker(db=tmp_path / "new.json")
    with pytest.raises(PeerpathError, match="no database"):
        create_app(tracker)
    tracker.init()
    with pytest.raises(PeerpathError, match="user add"):
        create_app(tracker)


def test_the_web_layer_imports_only_cores_public_api():
    for path in WEB.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module and node.module.startswith("core"):
                assert node.module == "core" and node.level == 2, f"{path.name} imports {node.module}"
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("peerpath.core."):
                pytest.fail(f"{path.name} imports {node.module}")


def test_a_peer_this_database_does_not_hold_is_not_found(as_role, demo_db):
    client = as_role("coordinator")
    response = client.get("/peers/P9999")
    assert response.status_code == 404 and "unknown peer &#39;P9999&#39;" in text(response)
    assert client.get("/offerings/O9999/observe").status_code == 404


def leader_of(demo_db) -> str:
    return stored(demo_db).user("leader").peer_id


def test_a_leader_sees_only_their_own_progress_and_logs_hours_a_coordinator_approves(as_role, demo_db):
    peer_id = leader_of(demo_db)
    leader = as_role("leader")
    assert leader.get("/").headers["Location"].endswith("/me")
    page = text(leader.get("/me"))
    assert stored(demo_db).peer(peer_id).name in page and "waiting for approval" in page
    for url in ("/peers", "/peers/P0001", f"/peers/{peer_id}", "/leaders", "/reports/rollup", "/activities/pending"):
        assert leader.get(url).status_code == 403, url
    counted = len(stored(demo_db).activities(peer_id))
    response = post(leader, "/me/activity", "/me", kind="outreach", hours="2.5", on="2026-11-29")
    logged = re.search(r"Logged (A\d+): 2.5 h of outreach, waiting for approval", text(response)).group(1)
    assert len(stored(demo_db).activities(peer_id)) == counted  # not counted yet
    assert [a.id for a in stored(demo_db).activities(peer_id, status="pending")][-1] == logged
    assert post(leader, f"/activities/{logged}/approve", "/me").status_code == 403

    coordinator = as_role("coordinator")
    assert logged in text(coordinator.get("/activities/pending"))
    response = post(coordinator, f"/activities/{logged}/approve", "/activities/pending")
    assert f"Approved {logged}" in text(response)
    approved = stored(demo_db).activities(peer_id)[-1]
    assert (approved.id, approved.status, approved.approved_by) == (logged, "approved", "coordinator")
    assert stored(demo_db).audit(peer_id)[-1].actor == "coordinator"


def test_a_user_removed_since_signing_in_is_signed_out(as_role, demo_db):
    client = as_role("viewer")
    assert client.get("/peers").status_code == 200
    tracker = stored(demo_db)
    tracker.remove_user("viewer")
    response = client.get("/peers")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert client.get("/peers").status_code == 302  # the session is gone


def test_a_training_is_planned_filled_and_closed_from_the_trainings_page(as_role, demo_db, run):
    ok(run("record", "P0026", "connection", "interview", "--outcome", "passed", "--on", "2026-11-01"))
    ok(run("record", "P0026", "connection", "fidelity_agreement", "--on", "2026-11-02"))
    coordinator = as_role("coordinator")
    response = post(coordinator, "/trainings/add", "/trainings", program="connection", on="2026-11-20",
                    until="2026-11-22", trainers="Dana Ruiz, Lee Park", capacity="2")
    training = re.search(r"Planned (T\d+)\.", text(response)).group(1)
    response = post(coordinator, f"/trainings/{training}/enroll", "/trainings", peers="P0025, P0026")
    assert f"Enrolled P0025, P0026 in {training}" in text(response) and "0 of 2 seat(s) left" in text(response)
    assert post(as_role("viewer"), f"/trainings/{training}/close", "/trainings",
                **{"result-P0025": "passed", "result-P0026": "not passed"}).status_code == 403
    trainer = as_role("trainer")
    response = post(trainer, f"/trainings/{training}/close", "/trainings",
                    **{"result-P0025": "passed"})  # P0026 left without a result: nothing is recorded
    assert "Error: give a result for every trainee" in text(response)
    assert not stored(demo_db).training(training).closed
    response = post(trainer, f"/trainings/{training}/close", "/trainings",
                    **{"result-P0025": "passed", "result-P0026": "not passed"})
    assert f"Closed {training}: 1 passed." in text(response)
    closed = stored(demo_db).training(training)
    assert closed.results == {"P0025": "passed", "P0026": "not passed"}
    statuses = {s.peer.id: s.status for s in stored(demo_db).leaders(program="connection")}
    assert statuses["P0025"] == "certified"
    assert stored(demo_db).audit("P0025")[-1].actor == "trainer"


def test_a_report_by_a_grouping_and_as_if_a_setting_were_changed_stores_nothing(as_role, demo_db):
    from conftest import snapshot

    client = as_role("viewer")
    by_month = text(client.get("/reports/activity?by=month"))
    assert re.search(r"<td>20\d\d-\d\d</td>", by_month)
    before = snapshot(demo_db)
    page = text(client.get("/reports/expiring?what_if=reports.expiring_days%3D500"))
    assert "Assumed: what if reports.expiring_days = 500: nothing was written." in page
    assert page.count("<tr><td>P") > text(client.get("/reports/expiring")).count("<tr><td>P")
    assert snapshot(demo_db) == before
    refused = client.get("/reports/expiring?what_if=no.such.setting%3D1")
    assert refused.status_code == 400 and "Error: " in text(refused)
    download = client.get("/reports/expiring?what_if=reports.expiring_days%3D500&format=json").get_json()
    assert download["what_if"] == {"reports.expiring_days": 500}


def test_an_uploaded_sheet_is_read_as_core_reads_a_file(as_role, demo_db):
    from io import BytesIO

    client = as_role("coordinator")
    for data, name in (("Name\nJosé Núñez\n".encode("cp1252"), "José Núñez"),
                       ("Name\nZoë Brontë\n".encode("utf-16"), "Zoë Brontë")):
        preview = client.post("/import", data={"csrf_token": token(client.get("/import")),
                                               "file": (BytesIO(data), "sheet.csv")},
                              content_type="multipart/form-data")
        assert name in text(preview)
    workbook = client.post("/import", data={"csrf_token": token(client.get("/import")),
                                            "file": (BytesIO(b"PK\x03\x04rest"), "peers.xlsx")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "peers.xlsx is an Excel workbook" in text(workbook)


# --- look ahead (issue 17): the forecast, graduates, offerings and activity in the web app ------------


def test_the_capacity_report_takes_a_horizon_and_the_dashboard_reads_the_forecast(as_role):
    client = as_role("coordinator")
    page = text(client.get("/reports/capacity"))
    assert 'name="horizon"' in page and "forecast to 2027-03-01 (90 days)" in page
    assert "forecast to 2026-12-31 (30 days)" in text(client.get("/reports/capacity?horizon=30"))
    assert client.get("/reports/capacity?horizon=30&format=json").get_json()["figures"]["horizon_days"] == 30
    assert 'name="horizon"' not in text(client.get("/reports/funnel"))
    refused = client.get("/reports/funnel?horizon=30")
    assert refused.status_code == 400 and "report &#39;funnel&#39; has no --horizon" in text(refused)
    assert client.get("/reports/capacity?horizon=soon").status_code == 400
    # the dashboard: short today (O0002) and short once the planned class in Spanish begins (O0007)
    dashboard = text(client.get("/"))
    assert '<span class="count">2</span> offerings short of leaders within 90 days' in dashboard
    short = dashboard.split('id="short"')[1]
    assert "O0002 Cicero Thursday group" in short and "2026-12-01" in short
    assert "O0007 Cicero Peer-to-Peer class in Spanish" in short and "2027-01-10" in short


def test_report_graduates_is_listed_and_shows_the_graduates_who_became_leaders(as_role):
    client = as_role("viewer")
    assert 'href="/reports/graduates"' in text(client.get("/reports"))
    page = text(client.get("/reports/graduates"))
    assert "Graduates who became leaders" in page and "June Fischer" in page and "O0006" in page
    rows = client.get("/reports/graduates?format=json").get_json()["tables"]
    assert any(table["title"] == "graduates who became leaders" for table in rows)


def test_an_offering_is_planned_from_the_offerings_page_and_audited(as_role, demo_db):
    coordinator = as_role("coordinator")
    page = text(coordinator.get("/offerings"))
    assert 'action="/offerings/add"' in page and 'action="/offerings/O0003/close"' in page
    assert 'action="/offerings/O0005/close"' not in page  # completed already
    response = post(coordinator, "/offerings/add", "/offerings", program="peer_to_peer", name="Joliet class",
                    leaders="P0027, P0028", status="planned", started="2027-02-06", ended="2027-03-27",
                    cadence="weekly", language="Spanish", location="Joliet library")
    assert response.status_code == 200 and "Added O0008 Joliet class (planned)." in text(response)
    offering = stored(demo_db).offering("O0008")
    assert (offering.status, offering.leaders, offering.cadence, offering.language, str(offering.started)) == \
        ("planned", ("P0027", "P0028"), "weekly", "Spanish", "2027-02-06")
    [event] = [e for e in stored(demo_db).audit() if e.entity == "offerings" and e.entity_id == "O0008"]
    assert (event.action, event.actor) == ("add", "coordinator")
    # core's refusal: one error line on the page, nothing stored
    response = post(coordinator, "/offerings/add", "/offerings", program="peer_to_peer", name="Bad",
                    cadence="daily")
    assert "Error: " in text(response) and len(stored(demo_db).offerings()) == 8


def test_an_offering_is_closed_with_its_graduates_who_become_peers(as_role, demo_db):
    coordinator = as_role("coordinator")
    response = post(coordinator, "/offerings/O0003/close", "/offerings", on="2026-11-28", graduates="9",
                    graduate="Rosa Mendez\n\n Luz Ortega \n")
    assert "O0003 is completed on 2026-11-28, 9 graduate(s)." in text(response)
    tracker = stored(demo_db)
    closed = tracker.offering("O0003")
    assert (closed.status, str(closed.ended), closed.graduates) == ("completed", "2026-11-28", 9)
    graduates = {p.name: p for p in tracker.peers() if p.graduate_of == "O0003"}
    assert set(graduates) == {"Rosa Mendez", "Luz Ortega"}
    assert {(p.source, p.stage) for p in graduates.values()} == {("graduate", "prospect")}
    assert {tracker.audit(p.id)[-1].actor for p in graduates.values()} == {"coordinator"}
    [close] = [e for e in tracker.audit() if e.entity_id == "O0003" and e.action not in ("add", "session")]
    assert close.actor == "coordinator"
    # closing it again is refused and changes nothing; a cancelled one takes no graduates
    response = post(coordinator, "/offerings/O0003/close", "/offerings", graduates="3", back="/offerings")
    assert "Error: O0003 is already completed" in text(response) and stored(demo_db).offering("O0003") == closed
    assert "<h1>Offerings and sessions</h1>" in text(response)  # back on the page of the form
    response = post(coordinator, "/offerings/O0002/close", "/offerings", cancelled="yes", graduates="3")
    assert "Error: a cancelled offering has no graduates" in text(response)
    assert stored(demo_db).offering("O0002").status == "running"


@pytest.mark.parametrize("role", ["viewer", "trainer"])
def test_only_a_coordinator_plans_or_closes_offerings(as_role, demo_db, role):
    client = as_role(role)
    assert 'action="/offerings/add"' not in text(client.get("/offerings"))
    before = stored(demo_db).offerings()
    assert post(client, "/offerings/add", "/offerings", program="ioov", name="X").status_code == 403
    assert post(client, "/offerings/O0003/close", "/offerings", graduates="2").status_code == 403
    forged = as_role("coordinator").post("/offerings/O0003/close", data={"graduates": "2"})
    assert forged.status_code == 400 and "security token" in text(forged)
    assert stored(demo_db).offerings() == before


def test_a_coordinator_records_a_peers_activity_and_lists_it(as_role, demo_db):
    coordinator = as_role("coordinator")
    listed = text(coordinator.get("/activities"))
    assert all(a.id in listed for a in stored(demo_db).activities())
    response = post(coordinator, "/activities/add", "/activities", peer="P0030", kind="talk", hours="1.5",
                    on="2026-11-30", offering="O0004", stipend="50")
    assert "Recorded A0013: P0030 1.5 h of talk." in text(response)
    [added] = [a for a in stored(demo_db).activities("P0030") if a.id == "A0013"]
    assert (added.kind, added.hours, str(added.on), added.offering_id, added.stipend, added.status) == \
        ("talk", 1.5, "2026-11-30", "O0004", 50, "approved")
    [event] = [e for e in stored(demo_db).audit("P0030") if e.entity_id == "A0013"]
    assert (event.action, event.actor) == ("add", "coordinator")
    own = text(coordinator.get("/activities?peer=P0030"))
    assert "A0013" in own and "P0023" not in own.split("<tbody>")[1]
    before = stored(demo_db).activities(status=None)
    for form, refusal in (({"hours": "lots"}, "&#39;lots&#39; is not a number"), ({"hours": "1", "kind": "nap"}, "kind"),
                          ({"hours": "1", "peer": "P9999"}, "P9999")):
        response = post(coordinator, "/activities/add", "/activities", **{"peer": "P0030", "kind": "talk", **form})
        assert "Error: " in text(response) and refusal in text(response), form
    assert stored(demo_db).activities(status=None) == before


@pytest.mark.parametrize("role", ["viewer", "trainer"])
def test_others_read_activity_but_only_a_coordinator_records_it(as_role, demo_db, role):
    client = as_role(role)
    page = text(client.get("/activities"))
    assert "A0001" in page and 'action="/activities/add"' not in page
    before = stored(demo_db).activities(status=None)
    response = post(client, "/activities/add", "/activities", peer="P0030", kind="talk", hours="1")
    assert response.status_code == 403 and stored(demo_db).activities(status=None) == before


def test_the_server_collects_cyclic_garbage_though_commands_pause_it(app, monkeypatch):
    """The CLI pauses the cycle collector for a command; a server must not run for days without
    it (its requests' cyclic garbage would pile up)."""
    import gc

    import waitress

    seen = {}
    monkeypatch.setattr(waitress, "serve", lambda *args, **kwargs: seen.update(collecting=gc.isenabled()))
    gc.disable()
    try:
        run_server(app, "127.0.0.1", 0, threads=1)
    finally:
        gc.unfreeze()
        gc.enable()
    assert seen == {"collecting": True}
