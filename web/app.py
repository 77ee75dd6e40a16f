"""The peerpath web app (`peerpath serve`): pages and forms over the Tracker, nothing more.

As thin as cli.py: every view opens one Tracker for the request, acting as the signed-in user,
calls its methods and renders the answer; every rule (what a step needs, who may do what) is
core's. Routes are denied unless they declare the action they need (`requires`), which core's
`permits` grants by role, so a route added without one is refused to everyone.
"""

import base64
import binascii
import functools
import gc
import hmac
import secrets
import time
from collections import defaultdict, deque

from flask import Flask, Response, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ..core import (ACTIVITY_KINDS, CADENCES, LEADER_STATUSES, LIVED_EXPERIENCE, SECTORS, SOURCES, STAGES,
                    PeerFilter, NotFound, PeerpathError, Tracker, User, next_stage, session_secret)
from .charts import chart_sections
from .downloads import report_download

PUBLIC = frozenset({"login", "static", "calendar_feed"})  # the feed checks its own secret
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")
FAILURES_ALLOWED, THROTTLE_SECONDS = 5, 300
FILTERS = ("community", "sector", "source", "language", "program", "stage", "since", "until")


def requires(action):
    """Let only users whose role permits `action` (core.permits) reach the view, which runs as
    one transaction of a Tracker acting as the user: committed when the view returns,
    discarded when it fails (core's refusals are shown on the page the form came from)."""
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if not g.user.may(action):
                abort(403)
            config = current_app.config
            g.tracker = Tracker(db=config["DB"], actor=g.user.name, today=config["TODAY"])
            g.tracker.begin_command()
            try:
                if g.tracker.user(g.user.name) == g.user:
                    response = view(*args, **kwargs)
                else:  # removed, or given another role, since signing in
                    session.clear()
                    response = redirect(url_for("login"), code=303)
            except BaseException as error:
                g.tracker.end_command(error)
                raise
            g.tracker.end_command()
            return response

        guarded.required_action = action
        return guarded

    return decorate


class LoginThrottle:
    """Refuse sign-ins for a name (or from an address) after FAILURES_ALLOWED failures within
    THROTTLE_SECONDS, until the oldest of them is that old."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.failures = defaultdict(deque)

    def blocked(self, *keys) -> bool:
        return any(len(self._recent(key)) >= FAILURES_ALLOWED for key in keys)

    def failed(self, *keys) -> None:
        for key in keys:
            self._recent(key).append(self.clock())

    def _recent(self, key) -> deque:
        times = self.failures[key]
        while times and times[0] <= self.clock() - THROTTLE_SECONDS:
            times.popleft()
        return times


def create_app(tracker: Tracker, today=None, behind_proxy: bool = False) -> Flask:
    """The app for `tracker`'s database, answering as of `today` (as --today takes it; by
    default PEERPATH_TODAY or each request's day); with `behind_proxy`, trusting one TLS
    reverse proxy's X-Forwarded-* headers and sending the session cookie over HTTPS only."""
    if not tracker.store.exists():
        raise PeerpathError(f"no database at {tracker.store.path}: run `peerpath init` or `peerpath demo` first")
    if not tracker.users():
        raise PeerpathError("nobody can sign in yet: add a user with `peerpath user add NAME --role admin`")
    app = Flask(__name__)
    app.config.update(
        DB=tracker.store.location, TODAY=today, SECRET_KEY=session_secret(tracker),
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_SECURE=behind_proxy,
        SESSION_COOKIE_NAME="peerpath_session", MAX_CONTENT_LENGTH=5 * 1024 * 1024,
    )
    if behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.extensions["login_throttle"] = LoginThrottle()
    app.before_request(_authorise)
    app.after_request(_security_headers)
    app.register_error_handler(PeerpathError, _refused)
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(HTTPException, _http_error)
    app.context_processor(lambda: {"csrf_token": _csrf_token, "user": g.get("user"), "STAGES": STAGES})
    _add_routes(app)
    return app


def run_server(app: Flask, host: str, port: int, threads: int) -> None:
    """Serve `app` with waitress, a production WSGI server, until interrupted. The cycle
    collector runs again (the CLI pauses it for one-shot commands): a server lives for days, and
    without it each request's cyclic garbage piled up and slowed every later request. What was
    built at start-up is frozen out of its scans."""
    import waitress

    gc.enable()
    gc.freeze()
    waitress.serve(app, host=host, port=port, threads=threads, ident="peerpath")


# --- every request ---------------------------------------------------------------------------------


def _authorise():
    """Who is asking, the CSRF check of every POST, and no route that does not say who may use
    it (`requires` then checks the role and opens the request's transaction)."""
    endpoint = request.endpoint
    g.user = User(session["user"], session["role"], session.get("peer")) if "user" in session else None
    if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf_token", ""),
                                                            session.get("csrf", "-")):
        abort(400, "the form's security token is missing or out of date: reload the page and try again")
    if endpoint in PUBLIC:
        return None
    if g.user is None:
        return redirect(url_for("login", next=request.full_path if request.method == "GET" else None))
    view = current_app.view_functions.get(endpoint) if request.url_rule else None
    if view is None or not hasattr(view, "required_action"):
        abort(403)  # a route that says nothing about who may use it is refused to everyone
    return None


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _security_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
    return response


def _refused(error):
    """A refusal from core: a form's is shown on the page the form came from (nothing was
    stored); a page's (a bad filter or date) on a page of its own."""
    if request.method != "POST":
        return render_template("error.html", code=400, name="Bad Request", description=str(error)), 400
    flash(f"Error: {error}", "error")
    back = request.form.get("back") or request.referrer or url_for("dashboard")
    return redirect(back if back.startswith("/") else url_for("dashboard"), code=303)


def _not_found(error):
    """An id this database does not hold (another affiliate's, or none): a page of its own."""
    if request.method == "POST":
        return _refused(error)
    return render_template("error.html", code=404, name="Not Found", description=str(error)), 404


def _http_error(error):
    return render_template("error.html", code=error.code, name=error.name, description=error.description), error.code


def _done(message: str, to: str):
    flash(message, "done")
    return redirect(to, code=303)


def _form(*names) -> dict:
    """The non-blank fields of the submitted form, by name."""
    return {name: request.form[name].strip() for name in names if request.form.get(name, "").strip()}


def _date(text):
    return g.tracker.read_date(text) if text else None


def _number(text, kind=float):
    if text in (None, ""):
        return None
    try:
        return kind(text)
    except ValueError:
        raise PeerpathError(f"'{text}' is not a number") from None


# --- routes ----------------------------------------------------------------------------------------


def _add_routes(app):
    for rule, view, methods in ROUTES:
        app.add_url_rule(rule, view_func=view, methods=methods)


def login():
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    name, password = request.form.get("name", ""), request.form.get("password", "")
    throttle = current_app.extensions["login_throttle"]
    keys = (f"name:{name}", f"address:{request.remote_addr}")
    if throttle.blocked(*keys):
        return render_template("login.html", next="", error="Too many failed sign-ins: wait a few minutes."), 429
    found = Tracker(db=current_app.config["DB"]).authenticate(name, password) if name and password else None
    if found is None:
        throttle.failed(*keys)
        return render_template("login.html", next="", error="Wrong name or password."), 401
    session.clear()
    session.update(user=found.name, role=found.role, peer=found.peer_id, csrf=secrets.token_urlsafe(32))
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("dashboard"),
                    code=303)


@requires("signed_in")
def logout():
    session.clear()
    return redirect(url_for("login"), code=303)


@requires("signed_in")
def dashboard():
    if g.user.may("self"):
        return redirect(url_for("my_page"))
    if not g.user.may("view"):
        return redirect(url_for("report_page", name="rollup"))
    tracker = g.tracker
    expiring = tracker.report("expiring")
    capacity = tracker.report("capacity").figures  # the forecast over its default horizon, as the digest
    return render_template("dashboard.html", expiring=expiring.figures["expiring"], days=expiring.figures["days"],
                           due=tracker.fidelity_due(), followups=tracker.followups(),
                           short=[f for f in capacity["forecast"] if f["short"]], horizon=capacity["horizon_days"])


@requires("view")
def followups():
    return render_template("followups.html", followups=g.tracker.followups())


@requires("view")
def observations_due():
    return render_template("due.html", due=g.tracker.fidelity_due())


@requires("view")
def pipeline():
    given = {name: request.args[name].strip() for name in FILTERS if request.args.get(name, "").strip()}
    for day in ("since", "until"):
        if day in given:
            given[day] = _date(given[day])
    try:
        peers = g.tracker.peers(where=PeerFilter(**given))
    except PeerpathError as error:
        flash(f"Error: {error}", "error")
        peers = []
    by_stage = {stage: [p for p in peers if p.stage == stage] for stage in STAGES}
    return render_template("pipeline.html", by_stage=by_stage, filters=request.args, next_stage=next_stage,
                           SECTORS=SECTORS, SOURCES=SOURCES, LIVED_EXPERIENCE=LIVED_EXPERIENCE,
                           programs=g.tracker.catalog.programs)


@requires("recruit")
def peer_add():
    fields = _form("name", "email", "phone", "community", "lived_experience", "source", "sector")
    if request.form.get("language", "").strip():
        fields["languages"] = (request.form["language"].strip(),)
    peer = g.tracker.add_peer(on=_date(request.form.get("on")), **fields)
    return _done(f"Added {peer.id} {peer.name}.", url_for("peer_page", peer_id=peer.id))


@requires("recruit")
def peer_stage(peer_id):
    peer = g.tracker.set_stage(peer_id, request.form.get("stage", ""), on=_date(request.form.get("on")))
    return _done(f"{peer.id} {peer.name} is now {peer.stage}.", request.form.get("back") or url_for("pipeline"))


@requires("view")
def peer_page(peer_id):
    tracker = g.tracker
    peer = tracker.peer(peer_id)
    programs = tracker.catalog.programs
    return render_template("peer.html", peer=peer, progress=tracker.progress(peer_id), programs=programs,
                           contact=g.user.may("contact"), next_stage=next_stage(peer.stage))


@requires("recruit")
def peer_enroll(peer_id):
    enrollment = g.tracker.enroll(peer_id, request.form.get("program", ""), role=request.form.get("role") or None,
                                  on=_date(request.form.get("on")))
    return _done(f"Enrolled {peer_id} in {enrollment.program}.", url_for("peer_page", peer_id=peer_id))


@requires("train")
def peer_record(peer_id):
    values = _form("domain", "outcome", "trainer", "evidence")
    values.update({k: v for k, v in {"hours": _number(request.form.get("hours")),
                                     "score": _number(request.form.get("score")),
                                     "on": _date(request.form.get("on")),
                                     "until": _date(request.form.get("until"))}.items() if v is not None})
    program, _, step = request.form.get("step", "").partition(":")
    record = g.tracker.record_step(peer_id, program, step, **values)
    return _done(f"Recorded {record.id}: {step} for {peer_id}.", url_for("peer_page", peer_id=peer_id))


@requires("recruit")
def peer_note(peer_id):
    peer = g.tracker.edit_peer(peer_id, notes=request.form.get("notes", "").strip() or None)
    return _done(f"Saved the notes of {peer.id}.", url_for("peer_page", peer_id=peer_id))


@requires("view")
def leaders_page():
    status = request.args.get("status") or None
    within = _number(request.args.get("expiring_within"), int)
    found = g.tracker.leaders(status=status, expiring_within=within, program=request.args.get("program") or None,
                              steps=False)  # the page shows next steps, not each step
    return render_template("leaders.html", leaders=found, status=status, within=within,
                           LEADER_STATUSES=LEADER_STATUSES, programs=g.tracker.catalog.programs)


@requires("view")
def offerings_page():
    tracker = g.tracker
    offerings = tracker.offerings()
    return render_template("offerings.html", offerings=offerings, programs=tracker.catalog.programs,
                           sessions={o.id: tracker.sessions(o.id) for o in offerings}, CADENCES=CADENCES)


@requires("recruit")
def offering_add():
    """Plan a new offering (or record one already running): `offering add`'s fields."""
    fields = _form("program", "name", "schedule", "location", "status", "cadence", "language")
    offering = g.tracker.add_offering(fields.pop("program", ""), fields.pop("name", ""),
                                      leaders=request.form.get("leaders", ""), started=_date(request.form.get("started")),
                                      ended=_date(request.form.get("ended")), **fields)
    return _done(f"Added {offering.id} {offering.name} ({offering.status}).", url_for("offerings_page") + f"#{offering.id}")


@requires("recruit")
def offering_close(offering_id):
    """End an offering (`offering close`): completed with its graduates, a count and the names
    (or peer ids) of those who consent to be contacted, one a line; or cancelled."""
    named = [line.strip() for line in request.form.get("graduate", "").splitlines() if line.strip()]
    offering = g.tracker.close_offering(offering_id, on=_date(request.form.get("on")),
                                        cancelled=request.form.get("cancelled") == "yes",
                                        graduates=_number(request.form.get("graduates"), int), graduate=named)
    graduates = f", {offering.graduates} graduate(s)" if offering.graduates is not None else ""
    return _done(f"{offering.id} is {offering.status} on {offering.ended}{graduates}.",
                 url_for("offerings_page") + f"#{offering.id}")


@requires("train")
def observe(offering_id):
    tracker = g.tracker
    offering = tracker.offering(offering_id)
    checklist = tracker.catalog.current_checklist(offering.program)
    if request.method == "GET":
        return render_template("observe.html", offering=offering, checklist=checklist)
    answers = {item.key: request.form.get(f"item-{item.key}", "") for item in checklist.items}
    observation = tracker.observe(offering_id, checklist.key, request.form.get("observer", "").strip(), answers,
                                  on=_date(request.form.get("on")))
    return _done(f"Observation {observation.id}: {observation.percent} % ({observation.band}).",
                 url_for("offerings_page"))


def _reports_for(user) -> list:
    reports = g.tracker.catalog.reports
    return [r for r in reports.values() if user.may("view") or r.name == "rollup"]


@requires("rollup")
def reports_page():
    return render_template("reports.html", reports=_reports_for(g.user))


@requires("rollup")
def report_page(name):
    if name not in {r.name for r in _reports_for(g.user)}:
        abort(403 if name in g.tracker.catalog.reports else 404)
    options = {"start": _date(request.args.get("from")), "end": _date(request.args.get("to")),
               "by": request.args.get("by") or None, "horizon": _number(request.args.get("horizon"), int)}
    what_if = [line.strip() for line in request.args.get("what_if", "").splitlines() if line.strip()]
    tracker = g.tracker
    result = tracker.report_what_if(what_if, name, **options) if what_if else tracker.report(name, **options)
    download = request.args.get("format")
    if download:
        return report_download(result, download)
    return render_template("report.html", result=result, sections=[Markup(s) for s in chart_sections(result)],
                           report=tracker.catalog.report(name))


@requires("recruit")
def import_page():
    """Preview an uploaded sheet, then import exactly those bytes once confirmed (they travel in
    the confirm form, base64-encoded, so core decodes them the same way both times)."""
    if request.method == "GET":
        return render_template("import.html", preview=None)
    upload = request.files.get("file")
    if upload is not None:
        name, data = upload.filename or "upload.csv", upload.read()
    else:
        name, data = request.form.get("name", "upload.csv"), _sheet_bytes(request.form.get("sheet", ""))
    if not data.strip():
        raise PeerpathError("choose a CSV file to import")
    confirmed = request.form.get("confirm") == "yes"
    result = g.tracker.import_peers(name, dry_run=not confirmed, data=data)
    if confirmed:
        return _done(f"Imported {len(result.added)} peer(s).", url_for("pipeline"))
    return render_template("import.html", preview=result, name=name, sheet=base64.b64encode(data).decode())


def _sheet_bytes(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise PeerpathError("the confirmed sheet is damaged: upload it again") from None


@requires("view")
def settings_page():
    tracker = g.tracker
    sources = {}
    for key in tracker.catalog.programs:
        sources.update(tracker.rule_sources(key))
    return render_template("settings.html", settings=tracker.settings(), sources=sources,
                           may_change=g.user.may("configure"))


@requires("configure")
def setting_change():
    key = request.form.get("key", "")
    value = request.form.get("value", "").strip()
    if value:
        g.tracker.set_setting(key, value)
        return _done(f"{key} = {value}", url_for("settings_page"))
    g.tracker.unset_setting(key)
    return _done(f"{key} is back to its default", url_for("settings_page"))


@requires("view")
def trainings_page():
    tracker = g.tracker
    return render_template("trainings.html", trainings=tracker.trainings(), programs=tracker.catalog.programs,
                           names={peer.id: peer.name for peer in tracker.peers()})


@requires("recruit")
def training_add():
    fields = _form("program", "trainers", "location")
    training = g.tracker.add_training(fields.get("program", ""), _date(request.form.get("on")),
                                      until=_date(request.form.get("until")), trainers=fields.get("trainers", ""),
                                      location=fields.get("location"),
                                      capacity=_number(request.form.get("capacity"), int))
    return _done(f"Planned {training.id}.", url_for("trainings_page") + f"#{training.id}")


@requires("recruit")
def training_enroll(training_id):
    peer_ids = [word for word in request.form.get("peers", "").replace(",", " ").split() if word]
    g.tracker.enroll_in_training(training_id, peer_ids)
    return _done(f"Enrolled {', '.join(peer_ids)} in {training_id}.", url_for("trainings_page") + f"#{training_id}")


@requires("train")
def training_close(training_id):
    results = {key[len("result-"):]: value for key, value in request.form.items() if key.startswith("result-")}
    chosen = {result: [peer for peer, given in results.items() if given == result]
              for result in ("passed", "not passed", "partial")}
    g.tracker.close_training(training_id, passed=chosen["passed"], not_passed=chosen["not passed"],
                             partial=chosen["partial"])
    return _done(f"Closed {training_id}: {len(chosen['passed'])} passed.", url_for("trainings_page") + f"#{training_id}")


@requires("self")
def my_page():
    """A leader's own page: their progress and the activity they logged, approved or waiting."""
    tracker = g.tracker
    peer_id = g.user.peer_id
    return render_template("me.html", peer=tracker.peer(peer_id), progress=tracker.progress(peer_id),
                           activities=tracker.activities(peer_id, status=None), kinds=ACTIVITY_KINDS)


@requires("self")
def my_activity():
    """A leader logs their own hours or talk: stored pending, counted once a coordinator approves."""
    activity = g.tracker.add_activity(g.user.peer_id, request.form.get("kind", ""),
                                      _number(request.form.get("hours")), on=_date(request.form.get("on")),
                                      pending=True)
    return _done(f"Logged {activity.id}: {activity.hours:g} h of {activity.kind}, waiting for approval.",
                 url_for("my_page"))


@requires("view")
def activities_page():
    """Volunteer activity that counts (`activity list [--for PEER]`), and the form a coordinator
    records a peer's activity with."""
    tracker = g.tracker
    peer_id = request.args.get("peer", "").strip() or None
    return render_template("activities.html", activities=tracker.activities(peer_id), peer_id=peer_id,
                           names={peer.id: peer.name for peer in tracker.peers()}, kinds=ACTIVITY_KINDS)


@requires("approve")
def activity_add():
    """A coordinator records a peer's volunteer activity (`activity add`): it counts at once."""
    fields = _form("offering", "outreach")
    activity = g.tracker.add_activity(request.form.get("peer", "").strip(), request.form.get("kind", ""),
                                      _number(request.form.get("hours")), on=_date(request.form.get("on")),
                                      offering_id=fields.get("offering"), outreach_id=fields.get("outreach"),
                                      stipend=_number(request.form.get("stipend")))
    return _done(f"Recorded {activity.id}: {activity.peer_id} {activity.hours:g} h of {activity.kind}.",
                 url_for("activities_page", peer=activity.peer_id))


@requires("approve")
def pending_activities():
    tracker = g.tracker
    names = {peer.id: peer.name for peer in tracker.peers()}
    return render_template("pending.html", activities=tracker.activities(status="pending"), names=names)


@requires("approve")
def approve_activity(activity_id):
    activity = g.tracker.approve_activity(activity_id)
    return _done(f"Approved {activity.id}: {activity.peer_id} {activity.hours:g} h of {activity.kind}.",
                 url_for("pending_activities"))


def calendar_feed(token):
    """The affiliate's calendar (as `peerpath calendar` writes it) for a calendar program, which
    cannot sign in: opened by a user's feed secret alone, in one read-only transaction; a
    revoked or unknown secret is not found."""
    tracker = Tracker(db=current_app.config["DB"], today=current_app.config["TODAY"])
    tracker.begin_command()
    try:
        calendar = None if tracker.feed_user(token) is None else tracker.calendar()
    finally:
        tracker.end_command()
    if calendar is None:
        abort(404)
    return Response(calendar, mimetype="text/calendar")


@requires("calendar")
def calendar_page():
    return render_template("calendar.html", feed=None)


@requires("calendar")
def calendar_change():
    if request.form.get("revoke") == "yes":
        g.tracker.revoke_feed(g.user.name)
        return _done("Your calendar feed is off: its address no longer works.", url_for("calendar_page"))
    token = g.tracker.new_feed(g.user.name)
    return render_template("calendar.html", feed=url_for("calendar_feed", token=token, _external=True))


ROUTES = (
    ("/login", login, ["GET", "POST"]),
    ("/logout", logout, ["POST"]),
    ("/", dashboard, ["GET"]),
    ("/followups", followups, ["GET"]),
    ("/observations/due", observations_due, ["GET"]),
    ("/peers", pipeline, ["GET"]),
    ("/peers/add", peer_add, ["POST"]),
    ("/peers/<peer_id>", peer_page, ["GET"]),
    ("/peers/<peer_id>/stage", peer_stage, ["POST"]),
    ("/peers/<peer_id>/enroll", peer_enroll, ["POST"]),
    ("/peers/<peer_id>/record", peer_record, ["POST"]),
    ("/peers/<peer_id>/notes", peer_note, ["POST"]),
    ("/leaders", leaders_page, ["GET"]),
    ("/offerings", offerings_page, ["GET"]),
    ("/offerings/add", offering_add, ["POST"]),
    ("/offerings/<offering_id>/close", offering_close, ["POST"]),
    ("/offerings/<offering_id>/observe", observe, ["GET", "POST"]),
    ("/reports", reports_page, ["GET"]),
    ("/reports/<name>", report_page, ["GET"]),
    ("/import", import_page, ["GET", "POST"]),
    ("/settings", settings_page, ["GET"]),
    ("/settings/change", setting_change, ["POST"]),
    ("/trainings", trainings_page, ["GET"]),
    ("/trainings/add", training_add, ["POST"]),
    ("/trainings/<training_id>/enroll", training_enroll, ["POST"]),
    ("/trainings/<training_id>/close", training_close, ["POST"]),
    ("/me", my_page, ["GET"]),
    ("/me/activity", my_activity, ["POST"]),
    ("/activities", activities_page, ["GET"]),
    ("/activities/add", activity_add, ["POST"]),
    ("/activities/pending", pending_activities, ["GET"]),
    ("/activities/<activity_id>/approve", approve_activity, ["POST"]),
    ("/calendar", calendar_page, ["GET"]),
    ("/calendar/change", calendar_change, ["POST"]),
    ("/calendar/<token>.ics", calendar_feed, ["GET"]),
)
