"""`ovc-api stats|report|export` against a live server: output, progress, one-line errors and
exit codes (0 done, 1 API or network failure, 2 bad arguments). They need no OVC_* server
settings, only OVC_URL and an API key."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from fastapi import FastAPI

from ovc_api.cli import ExportProgress, main
from ovc_api.settings import Settings

from .test_client import API, LiveServer, Org, make_api_key, make_org


@pytest.fixture(scope="module")
def live_url(settings: Settings) -> Iterator[str]:
    with LiveServer(settings) as server:
        yield server.url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def org(app: FastAPI) -> Org:
    return await make_org(app)


@pytest.fixture(scope="module")
def api_key(live_url: str, org: Org) -> str:
    return make_api_key(live_url, org.admin_email)


@pytest.fixture
def env(live_url: str, api_key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """OVC_URL and OVC_API_KEY, and server settings that would not even validate."""
    monkeypatch.setenv("OVC_URL", live_url)
    monkeypatch.setenv("OVC_API_KEY", api_key)
    monkeypatch.setenv("OVC_ENVIRONMENT", "production")
    monkeypatch.setenv("OVC_SECRET_KEY", "changeme")
    monkeypatch.delenv("OVC_DATABASE_URL", raising=False)
    return live_url


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ovc-api: error: "), err
    return lines[0].removeprefix("ovc-api: error: ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- arguments and configuration ----------------------------------------------------------


def test_client_commands_do_not_need_server_settings(
    env: str, api_key: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["migrate"]) == 1  # the server's commands refuse this environment...
    assert "OVC_SECRET_KEY" in one_error_line(capsys.readouterr().err)
    # ...the client's do not read it.
    assert main(["export", "cases", "--out", str(tmp_path / "cases.csv")]) == 0
    assert capsys.readouterr().err == ""


def test_a_missing_server_or_api_key_is_a_usage_error(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OVC_URL")
    assert main(["report", "quarterly", "--year", "2026", "--quarter", "3"]) == 2
    assert one_error_line(capsys.readouterr().err) == "no server: pass --url or set OVC_URL"
    assert main(["export", "cases", "--out", "x.csv", "--url", "ovc.example.org"]) == 2
    assert "http://" in one_error_line(capsys.readouterr().err)
    monkeypatch.setenv("OVC_URL", env)
    assert main(["stats", "cases", "--api-key-env", "MY_OVC_KEY"]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        "no API key: set the environment variable MY_OVC_KEY"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["stats", "children"],
        ["stats", "cases", "--from", "2026-13-01"],
        ["stats", "cases", "--format", "xlsx"],
        ["stats", "cases", "--filter", "province"],
        ["report", "quarterly", "--year", "2026", "--quarter", "5"],
        ["report", "quarterly", "--quarter", "1"],
        ["export", "cases"],
        ["export", "families", "--out", "x.csv"],
    ],
)
def test_bad_arguments_exit_2(env: str, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2


def test_an_unreachable_server_is_exit_1(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    argv = ["export", "cases", "--out", str(tmp_path / "c.csv"), "--url", url, "--retries", "0"]
    assert main(argv) == 1
    assert one_error_line(capsys.readouterr().err).startswith(
        f"cannot reach the server: GET {url}{API}/exports/cases: "
    )
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_is_exit_1(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "cases", "--out", "/nonexistent-dir/cases.csv"]) == 1
    assert one_error_line(capsys.readouterr().err) == (
        "cannot write /nonexistent-dir/cases.csv: No such file or directory"
    )


# --- export --------------------------------------------------------------------------------


def test_export_writes_the_file_with_progress(
    env: str, api_key: str, org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cases.csv"
    assert main(["export", "cases", "--out", str(out), "--progress"]) == 0
    captured = capsys.readouterr()
    lines = out.read_text(encoding="utf-8").splitlines()
    rows = len(lines) - 1  # the module's cases have no line breaks in their cells
    megabytes = out.stat().st_size / 1_000_000
    assert captured.out == f"exported {rows:,} rows ({megabytes:.1f} MB) to {out}\n"
    progress = captured.err.splitlines()
    assert progress[-1] == f"exporting: {rows:,} rows, {megabytes:.1f} MB"
    assert all(line.startswith("exporting: ") for line in progress)
    assert str(org.case_id) in out.read_text(encoding="utf-8")


def test_export_filters_format_and_variant(
    env: str, api_key: str, org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cases.ndjson"
    argv = ["export", "cases", "--out", str(out), "--format", "ndjson", "--deidentified"]
    assert main([*argv, "--filter", f"child_id={org.child_id}"]) == 1  # singles a child out
    assert one_error_line(capsys.readouterr().err).startswith("422 Unprocessable Content: ")
    assert main([*argv, "--filter", "status=intake", "--filter", "risk_level=medium"]) == 0
    assert capsys.readouterr().err == ""  # no progress when stderr is not a terminal
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["status"], r["risk_level"]) for r in records] == [("intake", "medium")]
    assert "given_name_latin" not in records[0]
    assert "id" not in records[0]


def test_api_errors_are_exit_1_with_the_problem_on_one_line(
    env: str,
    api_key: str,
    live_url: str,
    org: Org,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = str(tmp_path / "cases.csv")
    monkeypatch.setenv("OVC_API_KEY", "ovc_wrong")
    assert main(["export", "cases", "--out", out]) == 1
    assert one_error_line(capsys.readouterr().err).startswith("401 Unauthorized: ")
    monkeypatch.setenv("OVC_API_KEY", make_api_key(live_url, org.admin_email, ["stats:read"]))
    assert main(["export", "cases", "--out", out]) == 1
    error = one_error_line(capsys.readouterr().err)
    assert error.startswith("403 Forbidden: Exports with names need the scopes")
    assert "request id " in error
    assert list(tmp_path.iterdir()) == []


# --- stats and report ------------------------------------------------------------------------


def test_stats_as_json_on_stdout_and_csv_to_a_file(
    env: str, api_key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["stats", "cases", "--group-by", "province", "--from", "2026-01-01"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["group_by"] == ["province"]
    out = tmp_path / "stats.csv"
    assert main([*argv, "--format", "csv", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert out.read_text(encoding="utf-8").splitlines()[0].split(",")[0] == "province"


def test_quarterly_report(
    env: str, api_key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "quarterly", "--year", "2026", "--quarter", "3"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), dict)
    out = tmp_path / "q3.csv"
    argv = ["report", "quarterly", "--year", "2026", "--quarter", "3", "--format", "csv"]
    assert main([*argv, "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").strip()


# --- the progress indicator ----------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_throttled_and_rewrites_one_line_on_a_terminal() -> None:
    now = [0.0]
    terminal = Terminal()
    progress = ExportProgress(terminal, clock=lambda: now[0])
    for step in range(10):  # ten updates within 0.2 s: only the first is drawn
        now[0] = step * 0.02
        progress(step * 1000, step * 250_000)
    now[0] = 0.3
    progress(12_000, 3_000_000)
    progress.finish(12_345, 3_100_000)
    assert terminal.getvalue() == (
        "\rexporting: 0 rows, 0.0 MB\x1b[K"
        "\rexporting: 12,000 rows, 3.0 MB\x1b[K"
        "\rexporting: 12,345 rows, 3.1 MB\x1b[K\n"
    )


def test_progress_in_a_log_is_one_line_per_second() -> None:
    now = [0.0]
    log = io.StringIO()
    progress = ExportProgress(log, clock=lambda: now[0])
    for step in range(5):
        now[0] = step * 0.5
        progress(step, step * 1_000_000)
    progress.finish(5, 5_000_000)
    assert log.getvalue().splitlines() == [
        "exporting: 0 rows, 0.0 MB",
        "exporting: 2 rows, 2.0 MB",
        "exporting: 4 rows, 4.0 MB",
        "exporting: 5 rows, 5.0 MB",
    ]
