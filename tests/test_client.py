"""The Python client (ovc_api.client) against a live server, and its retry and streaming
machinery against scripted transports (httpx.MockTransport) where a real server cannot be
made to misbehave on cue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ovc_api.client import (
    Case,
    Child,
    Client,
    Conflict,
    Forbidden,
    IncompleteDownload,
    NetworkError,
    NotFound,
    RateLimited,
    Referral,
    ServerError,
    Service,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from ovc_api.settings import Settings

from .conftest import PASSWORD, Factory, LiveServer

API = "/api/v1"
KEY_SCOPES = ["cases:read", "cases:write", "cases:all", "stats:read", "audit:read"]


@dataclass(frozen=True)
class Org:
    """An organisation of this module's own, so listings hold only this module's records."""

    organisation_id: uuid.UUID
    admin_email: str
    caseworker_id: uuid.UUID
    case_id: uuid.UUID
    child_id: uuid.UUID
    service_id: uuid.UUID
    referral_id: uuid.UUID


async def make_org(app: FastAPI) -> Org:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        factory = Factory(app, http)
        organisation_id = await factory.organisation()
        receiver_id = await factory.organisation()
        admin = await factory.user(organisation_id, "org_admin", login=False)
        caseworker = await factory.user(organisation_id, "caseworker", login=False)
        child_id = await factory.child(organisation_id)
        case_id = await factory.case(organisation_id, child_id=child_id)
        shared = await factory.sharing(organisation_id, case_id, child_id, receiver_id)
    return Org(
        organisation_id,
        admin.email,
        caseworker.user_id,
        case_id,
        child_id,
        shared["service_id"],
        shared["referral_id"],
    )


def make_api_key(url: str, email: str, scopes: list[str] = KEY_SCOPES) -> str:
    with Client.login(url, email, PASSWORD) as admin:
        created = admin.post(f"{API}/api-keys", {"label": "script", "scopes": scopes})
    key: str = created["key"]
    return key  # unused until now: its first use may well be an export


@pytest.fixture(scope="module")
def live_url(settings: Settings) -> Iterator[str]:
    with LiveServer(settings) as server:
        yield server.url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def org(app: FastAPI) -> Org:
    return await make_org(app)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def network_analyst_email(app: FastAPI) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        factory = Factory(app, http)
        network_admin = await factory.network_admin()
        analyst = await factory.user(network_admin.organisation_id, "network_analyst", login=False)
    return analyst.email


@pytest.fixture(scope="module")
def api_key(live_url: str, org: Org) -> str:
    return make_api_key(live_url, org.admin_email)


@pytest.fixture
def ovc(live_url: str, api_key: str) -> Iterator[Client]:
    with Client(live_url, api_key=api_key) as client:
        yield client


def child_body(tag: str, **fields: Any) -> dict[str, Any]:
    return {
        "given_name_latin": f"Dara{tag}",
        "family_name_latin": f"Sok{tag}",
        "sex": "male",
        "date_of_birth": date(2016, 5, 4),
        "province": "battambang",
        "district": f"D{tag}",
        "care_arrangement": "kinship_care",
        **fields,
    }


def tag() -> str:
    return uuid.uuid4().hex[:8]


# --- authentication -----------------------------------------------------------------------


def test_login_and_api_key_both_authenticate(live_url: str, org: Org, api_key: str) -> None:
    with Client.login(live_url, org.admin_email, PASSWORD) as session:
        assert session.get(f"{API}/users/me")["email"] == org.admin_email
    with Client(live_url, api_key=api_key) as script:
        assert [c.id for c in script.iter_cases(child_id=org.child_id)] == [org.case_id]
    with pytest.raises(Unauthorized) as wrong:
        Client.login(live_url, org.admin_email, "not-the-password")
    assert wrong.value.status == 401
    assert wrong.value.problem["status"] == 401
    assert str(wrong.value).startswith("401 Unauthorized: ")
    with Client(live_url, api_key="ovc_nonsense") as bad, pytest.raises(Unauthorized):
        bad.get(f"{API}/children")


def test_a_login_refreshes_an_expired_access_token_once(live_url: str, org: Org) -> None:
    with Client.login(live_url, org.admin_email, PASSWORD) as session:
        first_refresh = session._refresh_token
        session._credential = "expired.or.garbled"
        assert session.get(f"{API}/users/me")["email"] == org.admin_email
        # The refresh token rotated, and the new access token is in use.
        assert session._refresh_token not in (None, first_refresh)
        assert session._credential != "expired.or.garbled"
        # A refresh that fails is reported, not retried forever.
        session._credential, session._refresh_token = "garbled", "also-garbled"
        with pytest.raises(Unauthorized) as failed:
            session.get(f"{API}/users/me")
        assert failed.value.url.endswith("/api/v1/auth/refresh")
        assert session._refresh_token is None


def test_logout_ends_the_session(live_url: str, org: Org) -> None:
    session = Client.login(live_url, org.admin_email, PASSWORD)
    token = session._credential
    session.logout()
    session.close()
    with Client(live_url, token=token) as stale, pytest.raises(Unauthorized):
        stale.get(f"{API}/users/me")


def test_constructor_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="http"):
        Client("ovc.example.org")
    with pytest.raises(ValueError, match="not both"):
        Client("http://x", api_key="a", token="b")


# --- typed resources and pagination -------------------------------------------------------


def counting_transport(paths: list[str]) -> httpx.HTTPTransport:
    class Counting(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            paths.append(f"{request.method} {request.url.path}")
            return super().handle_request(request)

    return Counting()


def test_iteration_follows_the_cursor_over_several_pages(live_url: str, api_key: str) -> None:
    t = tag()
    sent: list[str] = []
    with Client(live_url, api_key=api_key, transport=counting_transport(sent)) as ovc:
        created = [ovc.create_child(child_body(f"{t}x{i}", district=f"D{t}")).id for i in range(7)]
        sent.clear()
        children = list(ovc.iter_children(district=f"D{t}", page_size=3, sort="created_at"))
    assert [c.id for c in children] == created
    assert all(isinstance(c, Child) for c in children)
    assert sent == [f"GET {API}/children"] * 3  # 3 + 3 + 1


def test_iter_changes_pages_through_the_feed_and_remembers_where_to_resume(
    live_url: str, api_key: str
) -> None:
    sent: list[str] = []
    with Client(live_url, api_key=api_key, transport=counting_transport(sent)) as ovc:
        caught_up = ovc.iter_changes()
        list(caught_up)  # whatever other tests of this module recorded before
        t = tag()
        created = [str(ovc.create_child(child_body(f"{t}c{i}")).id) for i in range(3)]
        sent.clear()
        changes = ovc.iter_changes(caught_up.cursor, types=["child"], page_size=2)
        seen = [(c["type"], c["resource_id"]) for c in changes]
        assert seen == [("child.created", child_id) for child_id in created]
        assert sent == [f"GET {API}/changes"] * 2  # 2 + 1
        assert list(ovc.iter_changes(changes.cursor, types=["child"])) == []


def test_iteration_is_lazy(live_url: str, api_key: str) -> None:
    t = tag()
    sent: list[str] = []
    with Client(live_url, api_key=api_key, transport=counting_transport(sent)) as ovc:
        for i in range(3):
            ovc.create_child(child_body(f"{t}y{i}", district=f"D{t}"))
        sent.clear()
        first = next(ovc.iter_children(district=f"D{t}", page_size=2))
    assert first.district == f"D{t}"
    assert sent == [f"GET {API}/children"]


def test_create_and_get_child_typed_with_etag_and_raw(ovc: Client) -> None:
    t = tag()
    key = str(uuid.uuid4())
    child = ovc.create_child(child_body(t), idempotency_key=key)
    assert child.given_name_latin == f"Dara{t}"
    assert child.date_of_birth == date(2016, 5, 4)
    assert child.etag is not None
    # A retry with the same key returns the same record, not a second one.
    assert ovc.create_child(child_body(t), idempotency_key=key).id == child.id
    again = ovc.get_child(child.id)
    assert again.raw["id"] == str(child.id)
    assert again.raw["district"] == f"D{t}"
    assert again.etag == child.etag
    assert [c.id for c in ovc.iter_children(district=f"D{t}")] == [child.id]


def test_create_and_get_case(ovc: Client, org: Org) -> None:
    child = ovc.create_child(child_body(tag()))
    case = ovc.create_case(
        {
            "child_id": child.id,
            "referral_source": "provincial_social_affairs",
            "concerns": ["left_behind_by_migration"],
            "risk_level": "high",
            "opened_on": date(2026, 2, 1),
            "assigned_to": org.caseworker_id,  # an API key must name who holds the case
        }
    )
    assert isinstance(case, Case)
    assert (case.child_id, case.risk_level, case.opened_on) == (child.id, "high", date(2026, 2, 1))
    assert ovc.get_case(case.id).concerns == ["left_behind_by_migration"]
    assert [c.id for c in ovc.iter_cases(child_id=child.id, risk_level="high")] == [case.id]


def test_services_referrals_and_families(ovc: Client, org: Org) -> None:
    services = list(ovc.iter_services(case_id=org.case_id))
    assert [(type(s), s.id, s.service_type) for s in services] == [
        (Service, org.service_id, "emergency_food_package")
    ]
    assert ovc.get_service(org.service_id).delivered_on == date(2026, 1, 22)
    referrals = list(ovc.iter_referrals(case_id=org.case_id))
    assert [(type(r), r.id, r.status) for r in referrals] == [
        (Referral, org.referral_id, "pending")
    ]
    assert ovc.get_referral(org.referral_id).services_requested == ["counselling"]
    t = tag()
    family = ovc.post(
        f"{API}/families",
        {"name": f"Household {t}", "province": "battambang", "id_poor_status": "level_2"},
        idempotency_key=str(uuid.uuid4()),
    )
    assert ovc.get_family(family["id"]).name == f"Household {t}"
    assert [f.name for f in ovc.iter_families(q=f"Household {t}")] == [f"Household {t}"]


# --- errors carry the problem ---------------------------------------------------------------


def test_errors_carry_the_problem(ovc: Client) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFound) as not_found:
        ovc.get_child(missing)
    error = not_found.value
    assert error.status == 404
    assert error.problem["instance"] == f"{API}/children/{missing}"
    assert error.detail == "The resource does not exist"
    assert error.request_id == error.problem["request_id"]
    assert error.request_id
    assert str(error) == (
        f"404 Not Found: The resource does not exist "
        f"(GET {ovc.base_url}{API}/children/{missing}, request id {error.request_id})"
    )

    with pytest.raises(ValidationFailed) as invalid:
        ovc.create_child(child_body(tag(), sex="robot", province="atlantis"))
    locs = [e["loc"] for e in invalid.value.errors]
    assert locs == [["body", "province"], ["body", "sex"]]
    assert "\n" not in str(invalid.value)
    assert str(invalid.value).startswith("422 Unprocessable Content: body.province: ")

    with pytest.raises(ValidationFailed) as bad_filter:
        list(ovc.iter_children(sex="robot"))
    assert [e["loc"] for e in bad_filter.value.errors] == [["query", "sex"]]


def test_a_likely_duplicate_is_a_conflict_with_the_candidates(ovc: Client) -> None:
    t = tag()
    first = ovc.create_child(child_body(t))
    with pytest.raises(Conflict) as duplicate:
        ovc.create_child(child_body(t))
    assert [d["id"] for d in duplicate.value.problem["duplicates"]] == [str(first.id)]


# --- retries (scripted transport, recorded sleeps) -------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with these responses (or raising these errors) in turn."""
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


def problem(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"type": "about:blank", "title": "Busy", "status": status, "detail": "try later"}
    return httpx.Response(status, json=body, headers=headers)


def ok(body: Any = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"ok": True})


def fake_client(handler: Handler, sleeps: list[float], **options: Any) -> Client:
    return Client(
        "http://ovc.test",
        api_key="ovc_test",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        **options,
    )


def test_retry_after_in_seconds_and_as_an_http_date_is_honoured() -> None:
    in_30s = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    handler, seen = scripted(
        problem(429, {"Retry-After": "7"}), problem(503, {"Retry-After": in_30s}), ok()
    )
    sleeps: list[float] = []
    with fake_client(handler, sleeps) as ovc:
        assert ovc.get(f"{API}/children") == {"ok": True}
    assert len(seen) == 3
    assert sleeps[0] == 7
    assert 28 <= sleeps[1] <= 30


def test_without_retry_after_the_backoff_is_exponential() -> None:
    handler, seen = scripted(problem(503), problem(503), ok())
    sleeps: list[float] = []
    with fake_client(handler, sleeps) as ovc:
        ovc.get(f"{API}/children")
    assert (len(seen), sleeps) == (3, [0.5, 1.0])


def test_retries_are_bounded_and_the_last_error_is_raised() -> None:
    handler, seen = scripted(*[problem(429, {"Retry-After": "1"})] * 3)
    sleeps: list[float] = []
    with fake_client(handler, sleeps, max_retries=2) as ovc, pytest.raises(RateLimited) as error:
        ovc.get(f"{API}/children")
    assert (len(seen), sleeps, error.value.retry_after) == (3, [1.0, 1.0], 1.0)


def test_a_wait_longer_than_the_cap_is_not_slept_but_raised() -> None:
    handler, seen = scripted(problem(429, {"Retry-After": "3600"}))
    sleeps: list[float] = []
    with fake_client(handler, sleeps) as ovc, pytest.raises(RateLimited) as error:
        ovc.get(f"{API}/children")
    assert (len(seen), sleeps, error.value.retry_after) == (1, [], 3600.0)


def test_a_post_is_retried_only_with_an_idempotency_key() -> None:
    handler, seen = scripted(problem(503), problem(503), ok({"id": "x"}))
    sleeps: list[float] = []
    with fake_client(handler, sleeps) as ovc:
        with pytest.raises(ServiceUnavailable):
            ovc.post(f"{API}/families", {"name": "x"})
        assert len(seen) == 1
        assert ovc.post(f"{API}/families", {"name": "x"}, idempotency_key="k1") == {"id": "x"}
    assert [r.headers.get("idempotency-key") for r in seen] == [None, "k1", "k1"]


def test_a_failed_refresh_keeps_the_refresh_token_for_the_next_call() -> None:
    tokens = {"access_token": "a2", "refresh_token": "r2", "token_type": "bearer"}
    handler, seen = scripted(
        problem(401),  # the access token expired
        problem(503),  # the refresh meets a busy server: not retried (a POST without a key)
        problem(401),  # the next call: still expired
        httpx.Response(200, json=tokens),  # this refresh works
        ok(),
    )
    with Client(
        "http://ovc.test",
        token="a1",
        refresh_token="r1",
        transport=httpx.MockTransport(handler),
        sleep=lambda _: None,
    ) as ovc:
        with pytest.raises(ServiceUnavailable):
            ovc.get(f"{API}/users/me")
        assert ovc.get(f"{API}/users/me") == {"ok": True}
    refreshes = [json.loads(r.content) for r in seen if r.url.path.endswith("/auth/refresh")]
    assert refreshes == [{"refresh_token": "r1"}, {"refresh_token": "r1"}]
    assert seen[-1].headers["authorization"] == "Bearer a2"


def test_an_in_flight_idempotent_post_is_awaited_not_raised() -> None:
    in_progress = problem(409, {"Retry-After": "2"})
    handler, seen = scripted(in_progress, httpx.Response(201, json={"id": "x"}))
    sleeps: list[float] = []
    with fake_client(handler, sleeps) as ovc:
        assert ovc.post(f"{API}/families", {"name": "x"}, idempotency_key="k1") == {"id": "x"}
    assert (len(seen), sleeps) == (2, [2.0])
    # A conflict without Retry-After (a duplicate, a rule) is final; so is one on a POST
    # without a key, which the server cannot have been processing.
    handler, seen = scripted(problem(409), problem(409, {"Retry-After": "1"}))
    with fake_client(handler, sleeps) as ovc:
        with pytest.raises(Conflict):
            ovc.post(f"{API}/families", {"name": "x"}, idempotency_key="k2")
        with pytest.raises(Conflict):
            ovc.post(f"{API}/families", {"name": "x"})
    assert len(seen) == 2


def test_503_and_broken_connections_are_retried_on_idempotent_methods() -> None:
    handler, seen = scripted(
        problem(503, {"Retry-After": "1"}),
        httpx.RemoteProtocolError("server disconnected without sending a response"),
        ok(),
    )
    sleeps: list[float] = []
    with fake_client(handler, sleeps) as ovc:
        response = ovc._request("DELETE", f"{API}/api-keys/{uuid.uuid4()}")
    assert response.status_code == 200
    assert [r.method for r in seen] == ["DELETE"] * 3 and sleeps == [1.0, 1.0]


def test_create_methods_add_an_idempotency_key_so_retries_are_safe() -> None:
    child = {
        "id": str(uuid.uuid4()),
        "organisation_id": str(uuid.uuid4()),
        "sex": "female",
        "care_arrangement": "kinship_care",
        "province": "battambang",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    handler, seen = scripted(problem(503), httpx.Response(201, json=child))
    sleeps: list[float] = []
    with fake_client(handler, sleeps) as ovc:
        created = ovc.create_child({"sex": "female", "date_of_birth": date(2015, 1, 2)})
    assert created.id == uuid.UUID(child["id"])
    keys = [r.headers["idempotency-key"] for r in seen]
    assert len(keys) == 2 and keys[0] == keys[1] and uuid.UUID(keys[0])
    assert json.loads(seen[0].content) == {"sex": "female", "date_of_birth": "2015-01-02"}


def test_connection_failures() -> None:
    broken = httpx.ReadError("connection reset")
    refused = httpx.ConnectError("connection refused")
    handler, seen = scripted(broken, ok(), broken, refused, ok({"id": "y"}))
    sleeps: list[float] = []
    with fake_client(handler, sleeps) as ovc:
        assert ovc.get(f"{API}/children") == {"ok": True}  # a GET is retried
        with pytest.raises(NetworkError, match="connection reset"):
            ovc.post(f"{API}/families", {})  # the POST may have been processed: not retried
        # Never connected: nothing was sent, so even a POST without a key is retried.
        assert ovc.post(f"{API}/families", {}) == {"id": "y"}
    assert (len(seen), sleeps) == (5, [0.5, 0.5])


def test_an_error_that_is_not_problem_json_is_still_one_clear_line() -> None:
    page = "<html>\n<body>Bad gateway</body>\n</html>"
    handler, _ = scripted(httpx.Response(502, text=page))
    with fake_client(handler, []) as ovc, pytest.raises(ServerError) as error:
        ovc.get(f"{API}/children")
    assert str(error.value) == (
        "502 Bad Gateway: <html> <body>Bad gateway</body> </html> "
        f"(GET http://ovc.test{API}/children)"
    )


# --- streaming to a file -----------------------------------------------------------------


def test_any_get_streams_to_a_file(ovc: Client, tmp_path: Path) -> None:
    t = tag()
    child = ovc.create_child(child_body(t))
    calls: list[tuple[int, int]] = []
    target = tmp_path / "children.json"
    download = ovc.download(
        f"{API}/children",
        target,
        params={"district": f"D{t}"},
        progress=lambda rows, size: calls.append((rows, size)),
    )
    body = json.loads(target.read_bytes())
    assert [item["id"] for item in body["items"]] == [str(child.id)]
    assert download.bytes == target.stat().st_size
    assert calls[-1] == (0, download.bytes)
    assert [p.name for p in tmp_path.iterdir()] == ["children.json"]


def streamed(chunks: list[bytes], fail_after: int | None = None) -> Handler:
    def body() -> Iterator[bytes]:
        for index, chunk in enumerate(chunks):
            if index == fail_after:
                raise httpx.ReadError("peer closed connection")
            yield chunk

    def handle(request: httpx.Request) -> httpx.Response:
        handle.requests.append(request)  # type: ignore[attr-defined]
        return httpx.Response(200, content=body(), headers={"Content-Type": "text/csv"})

    handle.requests = []  # type: ignore[attr-defined]
    return handle


def test_export_counts_csv_rows_with_quoted_newlines_and_reports_progress(
    tmp_path: Path,
) -> None:
    chunks = [
        b'id,notes\r\n1,"first line\r\n',
        b'second ""quoted"" line"\r\n2,plain\r',
        b'\n3,"a, b"\r\n',
    ]
    handler = streamed([*chunks, b"# end rows=3\r\n"])
    calls: list[tuple[int, int]] = []
    target = tmp_path / "cases.csv"
    with fake_client(handler, []) as ovc:
        rows = ovc.export(
            "cases",
            target,
            variant="deidentified",
            progress=lambda r, b: calls.append((r, b)),
            status="active",
            opened_from=date(2026, 1, 1),
        )
    assert rows == 3
    # The end line is checked and left out of the file.
    assert target.read_bytes() == b"".join(chunks)
    # Progress trails by a line (the last line received might be the end line).
    size = len(b"".join(chunks))
    assert calls[-2:] == [(3, size), (3, size)]
    assert [r for r, _ in calls] == sorted(r for r, _ in calls)
    request = handler.requests[0]  # type: ignore[attr-defined]
    assert request.url.path == f"{API}/exports/cases"
    assert dict(request.url.params) == {
        "status": "active",
        "opened_from": "2026-01-01",
        "format": "csv",
        "variant": "deidentified",
    }
    assert request.headers["accept"] == "text/csv"


def test_export_counts_ndjson_lines(tmp_path: Path) -> None:
    handler = streamed([b'{"id": 1}\n{"id"', b': 2}\n{"id": 3}\n{"_end":true', b',"rows":3}\n'])
    with fake_client(handler, []) as ovc:
        assert ovc.export("children", tmp_path / "c.ndjson", format="ndjson") == 3


def test_a_broken_download_leaves_no_file(tmp_path: Path) -> None:
    handler = streamed([b"id\n1\n", b"2\n", b"3\n"], fail_after=2)
    target = tmp_path / "cases.csv"
    with fake_client(handler, []) as ovc, pytest.raises(NetworkError) as error:
        ovc.export("cases", target)
    assert "broke off after 7 bytes" in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("fmt", "chunks", "reason"),
    [
        ("csv", [b"id\r\n1\r\n2\r\n"], "lacks its end line"),
        ("csv", [b"id\r\n1\r\n", b"# end rows=2\r\n"], "announced 2 rows but 1 arrived"),
        ("csv", [b"id\r\n1\r\n# end rows=1"], "lacks its end line"),
        ("ndjson", [b'{"id":1}\n{"id":2}\n'], "lacks its end line"),
        ("ndjson", [b'{"id":1}\n{"_end":true,"rows":2}\n'], "announced 2 rows but 1 arrived"),
        ("ndjson", [b'{"id":1}\n{"_end":false,"rows":1}\n'], "lacks its end line"),
    ],
)
def test_a_truncated_export_raises_and_leaves_no_file(
    tmp_path: Path, fmt: Literal["csv", "ndjson"], chunks: list[bytes], reason: str
) -> None:
    """A stream that ends cleanly but short (a proxy, a server stopped mid-export) must not
    pass for a whole export."""
    target = tmp_path / f"cases.{fmt}"
    with fake_client(streamed(chunks), []) as ovc, pytest.raises(IncompleteDownload) as error:
        ovc.export("cases", target, format=fmt)
    assert reason in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_export_and_stats_names_cannot_smuggle_a_path(tmp_path: Path) -> None:
    with fake_client(scripted()[0], []) as ovc:
        with pytest.raises(ValueError, match="resource"):
            ovc.export("../users", tmp_path / "x.csv")
        with pytest.raises(ValueError, match="kind"):
            ovc.stats("cases?x=1")


# --- stats, reports and exports on the live server (once those routes exist) ---------------


def test_stats_json_and_csv(live_url: str, api_key: str, ovc: Client, org: Org) -> None:
    result = ovc.stats("cases", ["province"], from_=date(2026, 1, 1), period_of="opened")
    assert result["group_by"] == ["province"]
    assert set(result) >= {"group_by", "filters", "rows", "totals"}
    assert "battambang" in json.dumps(result["rows"])
    csv_text = ovc.stats_csv("cases", "province", from_="2026-01-01")
    assert csv_text.splitlines()[0].split(",")[0] == "province"


def test_network_statistics_with_a_login(
    live_url: str, api_key: str, network_analyst_email: str
) -> None:
    with Client.login(live_url, network_analyst_email, PASSWORD) as analyst:
        # Network figures cover whole quarters or years only (issue 10): from and to.
        result = analyst.stats(
            "cases", "province", network=True, from_="2026-01-01", to="2026-12-31"
        )
        assert result["group_by"] == ["province"]
        outcomes = analyst.stats_csv("outcomes", "year", network=True)
        assert outcomes.splitlines()[0].split(",")[0] == "year"
        with pytest.raises(Forbidden) as forbidden:
            analyst.stats("cases")  # one organisation's own figures need stats:read
    assert forbidden.value.url == f"{live_url}{API}/stats/cases"


def test_quarterly_report_json_and_csv(live_url: str, api_key: str, ovc: Client) -> None:
    assert isinstance(ovc.quarterly_report(2026, 1), dict)
    text = ovc.quarterly_report(2026, 1, "csv")
    assert isinstance(text, str) and text.strip()
    with pytest.raises(ValidationFailed):
        ovc.quarterly_report(2026, 5)


def test_live_export_of_cases(
    live_url: str, api_key: str, ovc: Client, org: Org, tmp_path: Path
) -> None:
    expected = len(list(ovc.iter_cases()))
    calls: list[tuple[int, int]] = []
    csv_rows = ovc.export(
        "cases", tmp_path / "cases.csv", progress=lambda r, b: calls.append((r, b))
    )
    assert csv_rows == expected
    assert calls[-1] == (expected, (tmp_path / "cases.csv").stat().st_size)
    ndjson_rows = ovc.export(
        "cases", tmp_path / "cases.ndjson", format="ndjson", variant="deidentified"
    )
    assert ndjson_rows == expected
    lines = (tmp_path / "cases.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == expected
