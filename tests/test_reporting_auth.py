"""Credentials from the environment: mTLS with a custom CA and basic auth against a real
Pushgateway (`--web.config.file`), bearer tokens and URL credentials; secrets are never printed,
written or pushed."""

from __future__ import annotations

import base64
import fnmatch
import json
import urllib.request

import pytest

from tests.reporting_samples.fake_gateways import FaultyGateway, Reply
from tests.reporting_samples.support import (
    add_samples,
    all_output,
    isolated,
    metrics_file,
    push_warnings,
    reporter_lines,
    run_inline,
    spooled_files,
)
from tests.reporting_samples.tls_gateway import (
    USERNAME,
    basic_header,
    client_context,
    make_certificates,
    start_tls_pushgateway,
)

PASSWORD = "pw-Kx8s-2vQ9-secret"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls-gateway")
    files = make_certificates(folder / "certs")
    service = start_tls_pushgateway(folder, files, PASSWORD)
    yield service, files
    service.stop()


@pytest.fixture
def suite(pytester, monkeypatch):
    return isolated(pytester, monkeypatch)


def _use(monkeypatch, **env: str) -> None:
    for name, val in env.items():
        monkeypatch.setenv(f"E2E_PUSHGATEWAY_{name}", val)


def _groups(url: str, files) -> list[dict[str, str]]:
    request = urllib.request.Request(f"{url}/api/v1/metrics",
                                     headers={"Authorization": basic_header(PASSWORD)})
    with urllib.request.urlopen(request, timeout=5, context=client_context(files)) as answer:
        return [group["labels"] for group in json.load(answer)["data"]]


def test_mtls_with_a_custom_ca_and_basic_auth(suite, monkeypatch, tls):
    service, files = tls
    _use(monkeypatch, CA_FILE=str(files.ca), CERT_FILE=str(files.client_cert),
         KEY_FILE=str(files.client_key), USERNAME=USERNAME, PASSWORD=PASSWORD)
    add_samples(suite, "failing")

    result = run_inline(suite, "--pushgateway-url", service.url, "--metrics-job", "mtls")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert reporter_lines(result)[-1].endswith(
        f"pushed to {service.url} (job=mtls env=local suite=e2e)")
    assert {"job": "mtls", "env": "local", "suite": "e2e"} in _groups(service.url, files)
    assert PASSWORD not in all_output(result) + metrics_file(suite).read_text()


@pytest.mark.parametrize(("env", "warning"), [
    ({"PASSWORD": "wrong-" + PASSWORD},
     "reading /api/v1/metrics: 401 Unauthorized (check E2E_PUSHGATEWAY_USERNAME/_PASSWORD or "
     "_TOKEN): Unauthorized"),
    ({"CERT_FILE": "", "KEY_FILE": ""}, "TLS: *"),
    ({"CA_FILE": "other_ca"}, "TLS: * (check E2E_PUSHGATEWAY_CA_FILE)"),
])
def test_tls_and_auth_failures_warn_without_the_secret(suite, monkeypatch, tls, env, warning):
    service, files = tls
    settings = {"CA_FILE": str(files.ca), "CERT_FILE": str(files.client_cert),
                "KEY_FILE": str(files.client_key), "USERNAME": USERNAME, "PASSWORD": PASSWORD}
    settings.update({name: str(files.other_ca) if val == "other_ca" else val
                     for name, val in env.items()})
    _use(monkeypatch, **settings)
    add_samples(suite, "passing")

    result = run_inline(suite, "--pushgateway-url", service.url, "--metrics-push-retries", "0")

    assert result.ret == pytest.ExitCode.OK
    [line] = push_warnings(result)
    expected = f"e2e metrics: push to {service.url} failed after 1 attempt: {warning}"
    assert fnmatch.fnmatchcase(line, expected), line
    output = all_output(result)
    assert PASSWORD not in output
    assert base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode() not in output
    assert len(spooled_files(suite)) == 1


def test_a_token_wins_and_url_credentials_are_masked_and_never_pushed(suite, monkeypatch):
    token, password = "tok-3f9a1c77e2", "pw-hunter2-91"
    suite.makepyfile(test_secret_id=f"""
        import pytest

        @pytest.mark.parametrize("value", [{token!r}, "plain"])
        def test_with(value):
            pass
    """)
    with FaultyGateway(put=Reply(200)) as gateway:
        url_with_password = gateway.url.replace("http://", f"http://ci:{password}@")
        basic = run_inline(suite, "--pushgateway-url", url_with_password, "-v", "-rA")
        monkeypatch.setenv("E2E_PUSHGATEWAY_TOKEN", token)
        bearer = run_inline(suite, "--pushgateway-url", url_with_password, "-v", "-rA")
        puts = gateway.puts()

    assert (basic.ret, bearer.ret) == (pytest.ExitCode.OK, pytest.ExitCode.OK)
    assert [put.headers["Authorization"] for put in puts] == [
        "Basic " + base64.b64encode(f"ci:{password}".encode()).decode(), f"Bearer {token}"]
    for result in (basic, bearer):
        shown = reporter_lines(result)[-1]
        assert "http://***@127.0.0.1:" in shown
        assert password not in all_output(result)
    assert token not in "\n".join(reporter_lines(bearer))  # pytest itself shows the test id
    pushed = puts[-1].body.decode()
    assert token not in pushed
    assert token not in metrics_file(suite).read_text()
    assert 'test="test_secret_id.py::test_with[***]…#' in pushed  # redacted, still its own series
    assert 'test="test_secret_id.py::test_with[plain]"' in pushed


def test_a_token_read_with_its_trailing_newline_is_sent_without_it(suite, monkeypatch):
    token = "tok-from-a-file-7c1e"
    monkeypatch.setenv("E2E_PUSHGATEWAY_TOKEN", token + "\n")
    add_samples(suite, "passing")
    with FaultyGateway(put=Reply(200)) as gateway:
        result = run_inline(suite, "--pushgateway-url", gateway.url)
        puts = gateway.puts()
    assert result.ret == pytest.ExitCode.OK
    assert [put.headers["Authorization"] for put in puts] == [f"Bearer {token}"]
    assert token not in all_output(result)


@pytest.mark.parametrize("name", ["TOKEN", "PASSWORD"])
def test_a_credential_no_header_can_carry_is_a_usage_error_that_hides_it(
    suite, monkeypatch, name
):
    secret = "tok-SECRET\n-123"  # a line break inside: no HTTP header can carry it
    _use(monkeypatch, **{name: secret, "USERNAME": "ci"})
    add_samples(suite, "passing")
    with FaultyGateway(put=Reply(200)) as gateway:
        result = run_inline(suite, "--pushgateway-url", gateway.url)
        puts = gateway.puts()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"E2E_PUSHGATEWAY_{name} holds a control character" in all_output(result)
    assert puts == []
    for form in ("tok-SECRET", "-123"):
        assert form not in all_output(result)


def test_a_header_the_client_refuses_is_not_retried_nor_quoted():
    # The last net under GatewayAuth.check(): http.client's own error quotes the header.
    from reporting.auth import GatewayAuth
    from reporting.transport import Deadline, GatewayClient

    secret = "tok-SECRET\n-123"
    with FaultyGateway(put=Reply(200)) as gateway:
        client = GatewayClient(gateway.url, GatewayAuth(token=secret), 2.0, 2, Deadline(5.0))
        answer = client.request("PUT", "/metrics/job/x", b"")
        puts = gateway.puts()
    assert (answer.ok, answer.attempts, puts) == (False, 1, [])
    assert "invalid header value" in answer.detail
    assert "SECRET" not in answer.detail
