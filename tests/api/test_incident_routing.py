"""Incident classes that route, through the API: on-site filing, department hand-offs and feedback,
the approval chain by role and community, and emergency notifications reaching a webhook and an SMTP server.

The receivers are real servers on local ports started by the tests: an HTTP server
taking the webhook's POSTs, and aiosmtpd's SMTP server taking the e-mail.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from gis import migrations
from gis.cluster import DATABASE
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer
from tests.gis.patrols import tiny

PHONE = "13912345678"


@pytest.fixture(scope="module")
def routed(create_database: Callable[..., URL]) -> Iterator[tuple[TestClient, URL, dict]]:
    """The tiny district (community C1 holds grids A and B; C2 holds none) in its own database, with users."""
    url = create_database("incident_routing_api", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        ids = tiny.make_district(conn)
        tiny.second_community(conn, ids)
        headers = {role: bearer(add_user(conn, role, role=role)) for role in ("analyst", "planner", "admin")}
        headers["gw1"] = bearer(add_user(conn, "gw1", role="grid_worker", worker_id=ids["worker_a"]))
        headers["gw2"] = bearer(add_user(conn, "gw2", role="grid_worker", worker_id=ids["worker_b"]))
        for community in ("C1", "C2"):
            for role in ("station_master", "community_director"):
                headers[f"{role}_{community}"] = bearer(
                    add_user(conn, f"{role}-{community}", role=role, district_id=ids["district"], community=community)
                )
    engine.dispose()
    settings = Settings(
        database_url=url.render_as_string(hide_password=False),
        incident_departments=[{"id": "housing", "name": "住建局"}, {"id": "urban", "name": "城管局"}],
    )
    with TestClient(create_app(settings)) as client:
        yield client, url, headers


def body(category: str, xy=(100, 100), **extra) -> dict:
    lon, lat = tiny.lonlat([xy])[0]
    return {"category": category, "lon": lon, "lat": lat, "reporter_phone": PHONE, "reporter_name": "张三", **extra}


def test_a_worker_handles_an_on_site_incident_and_files_it_for_the_check(routed):
    client, _, headers = routed
    made = client.post("/incidents", json=body("street_order.parking"), headers=headers["gw1"])
    assert made.status_code == 201 and made.json()["handling_class"] == "on_site"
    moves = f"/incidents/{made.json()['id']}/transitions"
    done = client.post(moves, json={"to": "verifying", "note": "车已挪走"}, headers=headers["gw1"])
    assert done.status_code == 200 and done.json()["status"] == "verifying"
    assert client.post(moves, json={"to": "closed"}, headers=headers["analyst"]).json()["status"] == "closed"
    got = client.get(f"/incidents/{made.json()['id']}", headers=headers["gw1"]).json()
    assert [(e["actor"], e["to_status"], e["note"]) for e in got["events"]] == [
        ("gw1", "reported", None), ("gw1", "verifying", "车已挪走"), ("analyst", "closed", None)
    ]  # fmt: skip
    assert got["routing"] == {"handoffs": [], "approvals": [], "notifications": []}


def test_a_coordinated_incident_is_handed_off_with_a_work_sheet_and_its_feedback_reaches_the_reporter(routed):
    client, _, headers = routed
    made = client.post("/incidents", json=body("dispute.neighbour", description="楼上漏水"), headers=headers["gw1"])
    new = made.json()["id"]
    assert client.get("/departments", headers=headers["analyst"]).json() == [
        {"id": "housing", "name": "住建局"}, {"id": "urban", "name": "城管局"}
    ]  # fmt: skip
    assert client.get("/departments", headers=headers["gw1"]).status_code == 403
    handoff = f"/incidents/{new}/handoff"
    early = client.post(handoff, json={"department": "housing"}, headers=headers["analyst"])
    assert early.status_code == 409 and "cannot move to 'dispatched'" in early.json()["description"]  # file it first
    for step in ("accepted", "filed"):
        client.post(f"/incidents/{new}/transitions", json={"to": step}, headers=headers["analyst"])
    bare = client.post(f"/incidents/{new}/transitions", json={"to": "dispatched"}, headers=headers["analyst"])
    assert bare.status_code == 409 and "see POST /incidents/{id}/handoff" in bare.json()["description"]
    unknown = client.post(handoff, json={"department": "zoo"}, headers=headers["analyst"])
    assert unknown.status_code == 400 and unknown.json()["detail"]["field"] == "department"
    assert "['housing', 'urban']" in unknown.json()["description"]
    assert client.post(handoff, json={"department": "housing"}, headers=headers["gw1"]).status_code == 403
    sent = client.post(handoff, json={"department": "housing", "note": "请三日内答复"}, headers=headers["analyst"])
    assert sent.status_code == 201 and sent.headers["location"] == f"/incidents/{new}/worksheet"
    sheet = sent.json()
    assert sheet["department"] == {"id": "housing", "name": "住建局"} and sheet["note"] == "请三日内答复"
    assert (sheet["incident"]["id"], sheet["incident"]["category"]) == (new, "dispute.neighbour")
    assert sheet["incident"]["grid_code"] == "A" and sheet["incident"]["due_at"]
    printable = client.get(f"/incidents/{new}/worksheet?format=html", headers=headers["analyst"])
    assert printable.headers["content-type"].startswith("text/html") and "住建局" in printable.text
    for answer in (sent, printable):
        assert PHONE not in answer.text and "张三" not in answer.text
    feedback = client.post(f"/incidents/{new}/feedback", json={"text": "已上门维修"}, headers=headers["analyst"])
    assert feedback.status_code == 201 and feedback.json()["department_id"] == "housing"
    assert client.post(f"/incidents/{new}/feedback", json={"text": "x"}, headers=headers["gw1"]).status_code == 403
    seen = client.get(f"/incidents/{new}", headers=headers["gw1"]).json()  # the reporter's own view
    assert seen["status"] == "dispatched"
    (given,) = seen["routing"]["handoffs"]
    assert given["department_name"] == "住建局" and given["by"] == "analyst"
    assert [(f["text"], f["by"]) for f in given["feedback"]] == [("已上门维修", "analyst")]
    assert isinstance(given["feedback"][0]["by_user_id"], int)
    assert client.get(f"/incidents/{new}", headers=headers["gw2"]).status_code == 403  # not theirs


def test_an_approval_incident_cannot_skip_a_step_nor_be_approved_by_the_wrong_role(routed):
    client, _, headers = routed
    new = client.post("/incidents", json=body("street_order.construction"), headers=headers["gw1"]).json()["id"]
    moves = f"/incidents/{new}/transitions"

    def step(to: str, who: str, note: str | None = None):
        return client.post(moves, json={"to": to, "note": note}, headers=headers[who])

    # the centre cannot go round the chain, nor take the community's steps
    skipped = step("accepted", "analyst")
    assert skipped.status_code == 409 and "['line_checked', 'returned', 'invalid', 'duplicate']" in skipped.text
    assert step("approved", "analyst").status_code == 409  # right role, but two steps early
    for to, who in (("line_checked", "analyst"), ("line_checked", "community_director_C1"),
                    ("line_checked", "gw1"), ("line_checked", "station_master_C2")):  # fmt: skip
        refused = step(to, who)
        assert refused.status_code == 403, (to, who)
    assert "outside the communities" in step("line_checked", "station_master_C2").json()["description"]
    early = step("director_reviewed", "community_director_C1")
    assert early.status_code == 409 and "may move to ['line_checked'" in early.json()["description"]
    assert step("line_checked", "station_master_C1", "线路核实无误").status_code == 200
    assert step("line_checked", "station_master_C1").status_code == 409  # taken already
    assert step("director_reviewed", "station_master_C1").status_code == 403
    assert step("director_reviewed", "community_director_C2").status_code == 403
    assert step("approved", "community_director_C1").status_code == 403  # the street office's, not the director's
    assert step("director_reviewed", "community_director_C1", "同意").status_code == 200
    assert step("approved", "gw1").status_code == 403
    done = step("approved", "analyst", "批准")
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert done.json()["next"] == ["dispatched", "parked"]
    got = client.get(f"/incidents/{new}", headers=headers["analyst"]).json()
    assert [(a["step"], a["by"], a["comment"]) for a in got["routing"]["approvals"]] == [
        ("line_checked", "station_master-C1", "线路核实无误"),
        ("director_reviewed", "community_director-C1", "同意"),
        ("approved", "analyst", "批准"),
    ]
    engine = create_engine(routed[1])
    with engine.connect() as conn:
        ids = conn.execute(
            text("SELECT id FROM app_user WHERE name = ANY(:n) ORDER BY array_position(:n, name)"),
            {"n": ["station_master-C1", "community_director-C1", "analyst"]},
        ).scalars()
        ids = list(ids)
    engine.dispose()
    assert [a["by_user_id"] for a in got["routing"]["approvals"]] == ids  # who, by user id
    assert [e["to_status"] for e in got["events"]] == ["reported", "line_checked", "director_reviewed", "approved"]


class _Hooks(BaseHTTPRequestHandler):
    received: list[dict] = []  # noqa: RUF012 - one list per test server class, see _webhook

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append({"type": self.headers["Content-Type"], "body": self.rfile.read(length)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _webhook(port: int) -> Iterator[list[dict]]:
    handler = type("Hooks", (_Hooks,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler.received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _smtp(port: int) -> Iterator[list]:
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.mail: list = []

        async def handle_DATA(self, server, session, envelope):
            self.mail.append(envelope)
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox.mail
    finally:
        controller.stop()


def _emergency_settings(url: URL, hook_port: int, smtp_port: int) -> dict[str, str]:
    return {
        "COMMGRID_DATABASE_URL": url.render_as_string(hide_password=False),
        "COMMGRID_EMERGENCY_WEBHOOK_URL": f"http://127.0.0.1:{hook_port}/alerts",
        "COMMGRID_SMTP_HOST": "127.0.0.1",
        "COMMGRID_SMTP_PORT": str(smtp_port),
        "COMMGRID_SMTP_FROM": "grid@example.org",
        "COMMGRID_EMERGENCY_EMAIL_TO": "duty@example.org,chief@example.org",
        "COMMGRID_NOTIFY_TIMEOUT": "5",
    }


def _settings(env: dict[str, str]) -> Settings:
    return Settings(**{k.removeprefix("COMMGRID_").lower(): v for k, v in env.items()})


def _check_message(hooks: list[dict], mail: list, incident: dict) -> None:
    (hook,) = hooks
    assert hook["type"].startswith("application/json")
    sent = json.loads(hook["body"])
    assert sent["event"] == "incident.emergency"
    assert {k: sent["incident"][k] for k in ("id", "category", "district", "grid_code")} == {
        "id": incident["id"], "category": "emergency.fire", "district": "tiny", "grid_code": "A"
    }  # fmt: skip
    assert (
        abs(sent["incident"]["lon"] - incident["lon"]) < 1e-9 and abs(sent["incident"]["lat"] - incident["lat"]) < 1e-9
    )
    (envelope,) = mail
    assert envelope.mail_from == "grid@example.org"
    assert envelope.rcpt_tos == ["duty@example.org", "chief@example.org"]
    letter = message_from_bytes(envelope.content, policy=email_policy)
    assert f"Emergency {incident['id']}: Fire in tiny" in letter["Subject"]
    content = letter.get_content()
    assert "emergency.fire" in content and "grid_code: A" in content and f"{incident['lon']}" in content
    for raw in (hook["body"].decode(), envelope.content.decode("utf-8", "replace"), content):
        assert PHONE not in raw and "张三" not in raw


def test_an_emergency_reaches_the_webhook_and_the_mailbox_at_once(routed):
    _, url, headers = routed
    hook_port, smtp_port = _free_port(), _free_port()
    env = _emergency_settings(url, hook_port, smtp_port)
    with _webhook(hook_port) as hooks, _smtp(smtp_port) as mail, TestClient(create_app(_settings(env))) as client:
        made = client.post("/incidents", json=body("emergency.fire", description="三楼冒烟"), headers=headers["gw1"])
        assert made.status_code == 201, made.text
        incident = made.json()
        _check_message(hooks, mail, incident)  # delivered after the answer, before the client returns
        shown = client.get(f"/incidents/{incident['id']}", headers=headers["gw1"]).json()["routing"]["notifications"]
        assert [(n["channel"], n["status"], n["attempts"]) for n in shown] == [
            ("webhook", "sent", 1),
            ("email", "sent", 1),
        ]
        quiet = client.post("/incidents", json=body("sanitation.garbage"), headers=headers["gw1"]).json()
        assert quiet["routing"]["notifications"] == [] and len(hooks) == 1 and len(mail) == 1
        # a resident's report through Open311 is told at once too, without their phone
        lon, lat = tiny.lonlat([(500, 300)])[0]
        form = {"service_code": "emergency.flooding", "lat": lat, "long": lon, "first_name": "Li", "phone": PHONE}
        posted = client.post("/open311/v2/requests.json", data=form)
        assert posted.status_code == 201, posted.text
        assert len(hooks) == 2 and len(mail) == 2
        flooding = json.loads(hooks[1]["body"])["incident"]
        assert (flooding["id"], flooding["category"], flooding["grid_code"]) == (
            int(posted.json()[0]["service_request_id"]), "emergency.flooding", "B"
        )  # fmt: skip
        assert PHONE not in hooks[1]["body"].decode() and PHONE not in mail[1].content.decode("utf-8", "replace")


def test_a_contact_that_is_down_fails_no_report_and_the_notify_command_retries(routed):
    _, url, headers = routed
    hook_port, smtp_port = _free_port(), _free_port()  # nothing listens there yet
    env = _emergency_settings(url, hook_port, smtp_port)
    with TestClient(create_app(_settings(env))) as client:
        made = client.post("/incidents", json=body("emergency.fire"), headers=headers["gw1"])
        assert made.status_code == 201, made.text
        incident = made.json()
        shown = client.get(f"/incidents/{incident['id']}", headers=headers["analyst"]).json()["routing"]
    failed = shown["notifications"]
    assert [(n["channel"], n["status"], n["attempts"]) for n in failed] == [
        ("webhook", "failed", 1),
        ("email", "failed", 1),
    ]
    assert all(n["error"] and n["attempted_at"] and n["sent_at"] is None for n in failed)
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", **env})
    with _webhook(hook_port) as hooks, _smtp(smtp_port) as mail:
        result = runner.invoke(cli, ["incidents", "notify"])
        assert result.exit_code == 0, result.output
        assert "2 sent, 0 failed" in result.output
        _check_message(hooks, mail, incident)
        again = runner.invoke(cli, ["incidents", "notify"])
        assert "0 sent, 0 failed" in again.output and len(hooks) == 1  # nothing goes out twice
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, attempts, error FROM incident_notification WHERE incident_id = :i ORDER BY id"),
            {"i": incident["id"]},
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("sent", 2, None), ("sent", 2, None)]
