"""A small fake of MISP's REST API on 127.0.0.1:<random port>, speaking to the real PyMISP.

It answers what PyMISP calls to connect (servers/getVersion, users/view/me, attributes/describeTypes
with PyMISP's own bundled copy) and what the bot calls: events
viewed (GET and HEAD) by uuid, added and edited with their attributes, and sightings added to an
attribute. As MISP does, it keeps one event per uuid (a second add of the same uuid is refused with
403) and matches attributes by uuid on edit. It checks the Authorization header.

On demand it is slow (`slow(path_prefix, seconds)`) or fails: `fail(method, path_prefix, status, after_effect=...)` answers one matching call
with that status, after doing what it asked when `after_effect` (a created event whose answer is lost);
`hold(path_prefix, parties)` keeps the next calls waiting until that many have arrived, proving they overlap.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pymisp
from pymisp.api import describe_types

MISP_KEY = "fake-misp-automation-key-0123456789abcdef"
_ATTRIBUTE_FIELDS = ("type", "category", "value", "to_ids", "comment", "first_seen", "distribution")


@dataclass
class Request:
    method: str
    path: str
    body: Any


@dataclass
class _Failure:
    method: str
    path_prefix: str
    status: int
    after_effect: bool


@dataclass
class FakeMisp:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by uuid
    sightings: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _holds: dict[str, tuple[threading.Barrier, list[int]]] = field(default_factory=dict)  # barrier, calls left
    _delays: dict[str, float] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FakeMisp:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def fail(self, method: str, path_prefix: str, *, status: int = 500, after_effect: bool = False) -> None:
        self._failures.append(_Failure(method, path_prefix, status, after_effect))

    def hold(self, path_prefix: str, *, parties: int) -> threading.Barrier:
        """The next `parties` calls to `path_prefix` wait for each other; later ones pass."""
        barrier = threading.Barrier(parties, timeout=10)
        self._holds[path_prefix] = (barrier, [parties])
        return barrier

    def slow(self, path_prefix: str, *, seconds: float) -> None:
        """Answer calls to `path_prefix` only after `seconds`."""
        self._delays[path_prefix] = seconds

    def calls(self, method: str, path_prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # -- the API ---------------------------------------------------------------------------------
    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        for prefix, (barrier, left) in list(self._holds.items()):
            with self._lock:
                held = path.startswith(prefix) and left[0] > 0
                left[0] -= held
            if held:
                barrier.wait()
        time.sleep(max((delay for prefix, delay in self._delays.items() if path.startswith(prefix)), default=0))
        failure = next((f for f in self._failures if f.method == method and path.startswith(f.path_prefix)), None)
        if failure is not None:
            self._failures.remove(failure)
            if not failure.after_effect:
                return failure.status, {"name": "Internal error", "message": "injected failure", "url": path}
        with self._lock:
            status, answer = self._route(method, path, body)
        if failure is not None:
            return failure.status, {"name": "Internal error", "message": "injected failure", "url": path}
        return status, answer

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/servers/getVersion":
            return 200, {"version": "2.5.2", "pymisp_recommended_version": pymisp.__version__, "perm_sync": False,
                         "perm_sighting": True, "perm_galaxy_editor": False, "request_encoding": ["gzip"],
                         "filter_sightings": True}
        if method == "GET" and path == "/users/view/me":
            return 200, {"User": {"id": "1", "email": "bot@example.org", "org_id": "1", "role_id": "3"},
                         "Role": {"id": "3", "name": "User", "perm_add": True, "perm_modify": True,
                                  "perm_sighting": True},
                         "UserSetting": {}}
        if method == "GET" and path == "/attributes/describeTypes.json":
            return 200, {"result": describe_types}
        if path.startswith("/events/view/"):
            event = self.events.get(path.removeprefix("/events/view/"))
            if event is None:
                return 404, {"name": "Invalid event.", "message": "Invalid event.", "url": path}
            return 200, {"Event": event}
        if method == "POST" and path == "/events/add":
            return self._add_event(body)
        if method == "POST" and path.startswith("/events/edit/"):
            return self._edit_event(path.removeprefix("/events/edit/"), body)
        if method == "POST" and path.startswith("/sightings/add/"):
            return self._add_sighting(path.removeprefix("/sightings/add/"), body)
        return 404, {"name": "Not Found", "message": "Not Found", "url": path}

    def _add_event(self, body: dict[str, Any]) -> tuple[int, Any]:
        body = body.get("Event", body)
        uuid = body.get("uuid")
        if uuid in self.events:
            return 403, {"name": "Event already exists, if you would like to edit it, use the url in the location header.",
                         "message": "Event already exists", "url": "/events/add"}
        if not body.get("info"):
            return 403, {"name": "Could not add Event", "message": "Could not add Event",
                         "errors": {"Event": {"info": ["Info cannot be empty."]}}}
        event = {"id": str(next(self._ids)), "uuid": uuid, "Attribute": []}
        self.events[uuid] = event
        self._apply(event, body)
        return 200, {"Event": event}

    def _edit_event(self, uuid: str, body: dict[str, Any]) -> tuple[int, Any]:
        event = self.events.get(uuid)
        if event is None:
            return 404, {"name": "Invalid event", "message": "Invalid event", "url": f"/events/edit/{uuid}"}
        self._apply(event, body.get("Event", body))
        return 200, {"Event": event}

    def _apply(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        for name in ("info", "distribution", "threat_level_id", "analysis", "date"):
            if name in body:
                event[name] = body[name]
        by_uuid = {attribute["uuid"]: attribute for attribute in event["Attribute"]}
        for sent in body.get("Attribute", []):
            attribute = by_uuid.get(sent.get("uuid")) if sent.get("uuid") else None
            if attribute is None:
                attribute = {"id": str(next(self._ids)), "uuid": sent.get("uuid"), "event_id": event["id"]}
                event["Attribute"].append(attribute)
            attribute.update({name: sent[name] for name in _ATTRIBUTE_FIELDS if name in sent})

    def _add_sighting(self, attribute_uuid: str, body: dict[str, Any]) -> tuple[int, Any]:
        if not any(a["uuid"] == attribute_uuid for e in self.events.values() for a in e["Attribute"]):
            return 404, {"name": "Invalid attribute.", "message": "Invalid attribute.", "url": f"/sightings/add/{attribute_uuid}"}
        sighting = {"id": str(next(self._ids)), "attribute_uuid": attribute_uuid, **body}
        self.sightings.append(sighting)
        return 200, {"Sighting": sighting}


def _handler_for(fake: FakeMisp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = self.path.split("?", 1)[0]
            fake.requests.append(Request(method, path, body))
            if self.headers.get("Authorization") != MISP_KEY:
                status, answer = 403, {"name": "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.",
                                       "message": "Authentication failed.", "url": path}
            else:
                status, answer = fake.answer(method, path, body)
            payload = b"" if method == "HEAD" else json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout tests)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_HEAD(self) -> None:
            self._serve("HEAD")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
