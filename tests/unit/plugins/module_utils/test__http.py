# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_http: base URL, TLS options, the retry policy (safe vs unsafe requests), error translation, body cap, cookies."""

from __future__ import annotations

import base64
import signal
import socket
import threading
import time

import pytest
import requests

from ansible_collections.backupops.veeam.plugins.module_utils import _http
from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy, base_url
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    BASIC, EM_TOKEN, PASSWORD, USERNAME, FakeServer, Reply, connect_timeout, cut_body, dropped, expect_error, read_timeout, refused, reset,
    tls_failure, wrong_tls_version, xml)

BASE = "https://em.example:9398"
WHERE = "https://em.example:9398"


# ------------------------------------------------------------------------------------------------ base_url
@pytest.mark.parametrize("server,port,path,expected", [
    ("em.example", 9398, "/api", "https://em.example:9398"),
    ("  em.example  ", 9398, "", "https://em.example:9398"),
    ("EM.Example", 9398, "", "https://em.example:9398"),
    ("em.example:9443", 9398, "/api", "https://em.example:9443"),
    ("https://em.example", 9398, "/api", "https://em.example:9398"),
    ("https://em.example:9443/", 9398, "/api", "https://em.example:9443"),
    ("http://em.example:9399/api/", 9398, "/api", "http://em.example:9399"),
    ("https://em.example:9398/api", 9398, "/api", "https://em.example:9398"),
    ("10.0.0.5", 4443, "", "https://10.0.0.5:4443"),
    ("[fd00::5]", 9398, "/api", "https://[fd00::5]:9398"),
    ("[fd00::5]:9443", 9398, "/api", "https://[fd00::5]:9443"),
    ("https://[::1]:4443", 9398, "", "https://[::1]:4443"),
    ("fd00::5", 9398, "/api", "https://[fd00::5]:9398"),
    # a path is a reverse proxy's prefix, kept; the API's own path at its end is left out
    ("https://proxy.example/veeam/em", 443, "/api", "https://proxy.example:443/veeam/em"),
    ("https://proxy.example/veeam/em/", 443, "/api", "https://proxy.example:443/veeam/em"),
    ("https://proxy.example/veeam/em/api", 443, "/api", "https://proxy.example:443/veeam/em"),
    ("https://proxy.example/veeam/em/api/", 443, "/api", "https://proxy.example:443/veeam/em"),
    ("https://proxy.example:8443/vb365", 4443, "", "https://proxy.example:8443/vb365"),
    ("https://proxy.example/vbr/api", 9419, "", "https://proxy.example:9419/vbr/api"),
    ("https://proxy.example/rapi", 9398, "/api", "https://proxy.example:9398/rapi"),
    ("proxy.example/veeam", 9398, "/api", "https://proxy.example:9398/veeam"),
])
def test_base_url_forms(server, port, path, expected):
    assert base_url(server, port, path=path) == expected


def test_base_url_default_scheme():
    assert base_url("em.example", 9399, default_scheme="http") == "http://em.example:9399"


@pytest.mark.parametrize("server,port,message", [
    ("", 9398, "No server given: set the server option or its environment variable"),
    (None, 9398, "No server given: set the server option or its environment variable"),
    ("   ", 9398, "No server given: set the server option or its environment variable"),
    ("ftp://em.example", 9398, "server 'ftp://em.example' is not a hostname, host:port or http(s) URL"),
    ("https://", 9398, "server 'https://' is not a hostname, host:port or http(s) URL"),
    ("em.example:abc", 9398, "server 'https://em.example:abc' has an invalid port"),
    ("em.example:99999", 9398, "server 'https://em.example:99999' has an invalid port"),
    ("em.example:0", 9398, "port 0 is not a TCP port (1-65535)"),
    ("em.example", 70000, "port 70000 is not a TCP port (1-65535)"),
    ("em.example", 0, "port 0 is not a TCP port (1-65535)"),
    ("em.example", None, "port None is not a TCP port (1-65535)"),
    ("HTTPS://em.example/some/path?x=1", 4443,
     "server 'HTTPS://em.example/some/path?x=1' has a query string or fragment: give scheme://host:port[/path] only"),
    ("https://em.example:9398/api#top", 9398,
     "server 'https://em.example:9398/api#top' has a query string or fragment: give scheme://host:port[/path] only"),
])
def test_base_url_bad_input_is_a_usage_error(server, port, message):
    with expect_error("usage") as caught:
        base_url(server, port)
    assert str(caught.error) == message


@pytest.mark.parametrize("server", [
    "https://%s:%s@em.example:9398" % (USERNAME.replace("\\", "%5C"), PASSWORD),
    "https://admin:%s@em.example" % PASSWORD,
    "admin:%s@em.example" % PASSWORD,
    "https://admin@em.example:9398/api",
    "https://:%s@em.example" % PASSWORD,
])
def test_user_info_in_server_is_refused_without_showing_it(server):
    """Credentials go in username and password, never in a URL that messages show."""
    with expect_error("usage") as caught:
        base_url(server, 9398, path="/api")
    assert str(caught.error) == ("server carries a user name or password (user:password@host): give the host alone, "
                                 "and the credentials as username and password")
    assert "admin" not in str(caught.error)


@pytest.mark.parametrize("secret", ["se/cret-Pw", "se?cret/Pw", "a/b#c?d"])
def test_a_password_with_a_slash_in_server_is_refused_and_not_shown(secret):
    """urlsplit cannot find user info whose password has a "/" in it: whatever the message, it shows no password."""
    for server in ("https://admin:%s@em.example:9398" % secret, "admin:%s@em.example" % secret):
        with expect_error("usage") as caught:
            base_url(server, 9398, path="/api")
        assert secret not in str(caught.error) and "admin" not in str(caught.error)


# ------------------------------------------------------------------------------------------------ TLS
def test_certificates_are_checked_by_default(server, make_transport, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport().request("GET", "/api/")
    assert server.calls[0].verify is True


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_from_the_environment_is_not_used(server, make_transport, monkeypatch, tmp_path, variable):
    """trust_env is off: the environment's CA bundle does not replace the default check (ca_path is the way)."""
    bundle = tmp_path / "corporate.pem"
    bundle.write_text("not read by the fake")
    monkeypatch.setenv(variable, str(bundle))
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    transport = make_transport()
    transport.request("GET", "/api/")
    assert server.calls[0].verify is True and transport.session.trust_env is False


def test_ca_path_reaches_the_request(server, make_transport, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read by the fake")
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport(ca_path=str(ca)).request("GET", "/api/")
    assert server.calls[0].verify == str(ca)


def test_requests_ca_bundle_does_not_override_ca_path(server, make_transport, monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read by the fake")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/elsewhere.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/curl.pem")
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport(ca_path=str(ca)).request("GET", "/api/")
    assert server.calls[0].verify == str(ca)


@pytest.mark.parametrize("name", ["missing.pem", ""])
def test_a_ca_path_that_is_not_a_file_is_a_usage_error(make_transport, tmp_path, name):
    path = str(tmp_path / name) if name else str(tmp_path)  # a file that is not there, a directory
    with expect_error("usage") as caught:
        make_transport(ca_path=path)
    assert str(caught.error) == ("ca_path %r is not a file: give the PEM file of the CA that signed the server's "
                                 "certificate (or its environment variable)" % path)


def test_a_ca_path_is_not_checked_when_certificates_are_not(server, make_transport, tmp_path):
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport(validate_certs=False, ca_path=str(tmp_path / "missing.pem")).request("GET", "/api/")
    assert server.calls[0].verify is False


def test_validate_certs_false_wins_over_ca_path_and_environment(server, make_transport, monkeypatch, tmp_path):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/elsewhere.pem")
    ca = tmp_path / "ca.pem"
    ca.write_text("not read by the fake")
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport(validate_certs=False, ca_path=str(ca)).request("GET", "/api/")
    assert server.calls[0].verify is False


def test_timeout_and_user_agent_reach_the_request(server, make_transport):
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport(timeout=12.5, user_agent="ansible-backupops.veeam/0.1.0 (test)").request("GET", "/api/")
    assert server.calls[0].timeout == 12.5
    assert server.calls[0].headers["User-Agent"] == "ansible-backupops.veeam/0.1.0 (test)"


def test_tls_verification_failure_names_ca_path_and_validate_certs(server, make_transport):
    server.on("POST", "/api/sessionMngr/", tls_failure())
    with expect_error("tls") as caught:
        make_transport().request("POST", "/api/sessionMngr/?v=latest", safe=True, display_path="/api/sessionMngr/")
    assert str(caught.error) == (
        "TLS handshake with %s failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
        "certificate (_ssl.c:1006) (POST /api/sessionMngr/). No ca_path was given and the CA bundle of requests "
        "does not hold the CA that signed the server's certificate: give that CA's PEM file as ca_path, or set "
        "validate_certs: false to skip the check (not recommended)" % WHERE)
    assert len(server.attempts) == 1  # a TLS failure is not transient: no retry
    assert "?v=" not in str(caught.error)


def test_tls_verification_failure_with_a_wrong_ca_file_names_that_file(server, make_transport, tmp_path):
    ca = tmp_path / "other-ca.pem"
    ca.write_text("not read by the fake")
    server.on("POST", "/api/sessionMngr/", tls_failure())
    with expect_error("tls") as caught:
        make_transport(ca_path=str(ca)).request("POST", "/api/sessionMngr/", safe=True)
    assert str(caught.error).endswith(
        "ca_path %s does not hold the CA that signed the server's certificate (or lacks an intermediate CA of its "
        "chain): give the PEM file of that CA, with the whole chain, as ca_path, or set validate_certs: false to "
        "skip the check (not recommended)" % ca)


def test_https_against_a_plain_http_port(server, make_transport):
    server.on("GET", "/api/", wrong_tls_version())
    with expect_error("tls", "did not answer TLS: if it serves plain HTTP, give server as http://host:port"):
        make_transport().request("GET", "/api/")


def test_http_against_an_https_port(server, make_transport):
    server.on("GET", "/api/", dropped())
    transport = make_transport(base="http://em.example:9398/api", retry=RetryPolicy(attempts=1))
    with expect_error("connection") as caught:
        transport.request("GET", "/api/")
    assert str(caught.error) == ("Lost the connection to http://em.example:9398/api: the connection was closed before a "
                                 "response arrived (if the server expects HTTPS, give server as https://host:port) "
                                 "(GET /api/)")


# ------------------------------------------------------------------------------------------------ retries (safe)
@pytest.mark.parametrize("status", [503, 502, 504, 429])
def test_a_get_is_retried_on_transient_statuses(server, make_transport, clock, status):
    server.on("GET", "/api/jobs", Reply(status), Reply(status), xml(200, "em_jobs_entity_references.xml"))
    response = make_transport().request("GET", "/api/jobs")
    assert response.status == 200 and b"EntityReferences" in response.body
    assert server.count("GET", "/api/jobs") == 3
    assert clock.sleeps == [0.375, 0.75]  # base 0.5 * 2**n, full jitter with rand = 0.5 -> 3/4 of the ceiling


def test_a_get_gives_up_after_attempts_and_returns_the_last_answer(server, make_transport, clock):
    server.on("GET", "/api/jobs", Reply(503))
    response = make_transport().request("GET", "/api/jobs")
    assert response.status == 503
    assert server.count("GET", "/api/jobs") == 4
    assert clock.sleeps == [0.375, 0.75, 1.5]


def test_backoff_is_capped(server, make_transport, clock):
    server.on("GET", "/api/jobs", Reply(503))
    make_transport(retry=RetryPolicy(attempts=7, base=1.0, cap=4.0, sleep=clock.sleep, rand=lambda: 1.0)).request(
        "GET", "/api/jobs")
    assert clock.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize("retry_after,expected", [("3", 3.0), ("0", 0.0), ("2.5", 2.5), ("8", 8.0), ("-5", 0.0),
                                                  ("soon", 0.375), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.375)])
def test_retry_after_is_honoured(server, make_transport, clock, retry_after, expected):
    server.on("GET", "/api/jobs", Reply(429, headers={"Retry-After": retry_after}), xml(200, "<EntityReferences/>"))
    assert make_transport().request("GET", "/api/jobs").status == 200
    assert clock.sleeps == [expected]


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_longer_than_the_cap_is_not_waited_for(server, make_transport, clock, status):
    """The answer comes back at once: the caller's error says when the server takes requests again."""
    server.on("GET", "/api/jobs", Reply(status, headers={"Retry-After": "120"}), xml(200, "<EntityReferences/>"))
    response = make_transport().request("GET", "/api/jobs")
    assert response.status == status and response.header("Retry-After") == "120"
    assert server.count("GET") == 1 and clock.sleeps == []


def test_a_retry_after_beyond_the_cap_of_a_requests_own_policy(server, make_transport, clock):
    server.on("POST", "/v8/token", Reply(429, headers={"Retry-After": "15"}), Reply(429, headers={"Retry-After": "25"}),
              Reply(200))
    own = RetryPolicy(attempts=6, base=1.0, cap=20.0, sleep=clock.sleep, rand=lambda: 0.0)
    assert make_transport().request("POST", "/v8/token", safe=True, retry=own).status == 429
    assert server.count("POST") == 2 and clock.sleeps == [15.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500, 501])
def test_other_statuses_are_not_retried(server, make_transport, clock, status):
    server.on("GET", "/api/jobs", Reply(status))
    assert make_transport().request("GET", "/api/jobs").status == status
    assert server.count("GET") == 1 and clock.sleeps == []


@pytest.mark.parametrize("fault", [refused, dropped, reset, read_timeout, connect_timeout])
def test_a_get_is_retried_on_connection_trouble(server, make_transport, clock, fault):
    server.on("GET", "/api/jobs", fault(), fault(), xml(200, "<EntityReferences/>"))
    transport = make_transport()
    assert transport.request("GET", "/api/jobs").status == 200
    assert len(server.attempts) == 3 and transport.requests_sent == 3
    assert clock.sleeps == [0.375, 0.75]


def test_connection_refused_until_the_end(server, make_transport, clock):
    server.on("GET", "/api/jobs", refused())
    with expect_error("connection") as caught:
        make_transport().request("GET", "/api/jobs?format=Entity")
    assert str(caught.error) == ("Could not connect to %s: [Errno 111] Connection refused (GET /api/jobs). Check server "
                                 "and port, and that the Veeam REST service is running" % WHERE)
    assert len(server.attempts) == 4 and server.calls == [] and len(clock.sleeps) == 3
    assert caught.error.transient


def test_read_timeout_until_the_end_names_the_timeout_option(server, make_transport):
    server.on("GET", "/api/jobs", read_timeout())
    with expect_error("timeout") as caught:
        make_transport(timeout=30).request("GET", "/api/jobs")
    assert str(caught.error) == ("%s did not answer within 30 s (the timeout option) (GET /api/jobs). Raise timeout if "
                                 "the server is slow" % WHERE)
    assert caught.error.status is None and caught.error.method == "GET" and caught.error.path == "/api/jobs"


def test_connect_timeout_until_the_end(server, make_transport):
    server.on("GET", "/api/jobs", connect_timeout())
    with expect_error("timeout") as caught:
        make_transport(timeout=5).request("GET", "/api/jobs")
    assert str(caught.error) == ("Could not connect to %s within 5 s (GET /api/jobs). Check server and port, and that a "
                                 "firewall lets the connection through" % WHERE)


@pytest.mark.parametrize("method", ["HEAD", "DELETE", "OPTIONS"])
def test_other_safe_methods_are_retried(server, make_transport, method):
    server.on(method, "/api/logonSessions/x", Reply(503), Reply(204))
    assert make_transport().request(method, "/api/logonSessions/x").status == 204
    assert server.count(method) == 2


def test_a_post_marked_safe_is_retried(server, make_transport):
    server.on("POST", "/api/sessionMngr/", Reply(503), dropped(), Reply(201))
    assert make_transport().request("POST", "/api/sessionMngr/?v=latest", safe=True).status == 201
    assert server.count("POST") == 3


def test_a_request_can_bring_its_own_policy(server, make_transport, clock):
    server.on("POST", "/v8/token", Reply(429))
    own = RetryPolicy(attempts=6, base=1.0, cap=20.0, sleep=clock.sleep, rand=lambda: 0.0)
    assert make_transport().request("POST", "/v8/token", safe=True, retry=own).status == 429
    assert server.count("POST") == 6 and clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_a_request_policy_is_for_statuses_only_connection_errors_keep_the_transports(server, make_transport, clock):
    """A wrong port or scheme fails as fast with the token endpoint's patient policy as without it."""
    server.on("POST", "/v8/token", refused())
    own = RetryPolicy(attempts=6, base=1.0, cap=20.0, sleep=clock.sleep, rand=lambda: 0.0)
    with expect_error("connection"):
        make_transport().request("POST", "/v8/token", safe=True, retry=own)
    assert len(server.attempts) == 4 and clock.sleeps == [0.375, 0.75, 1.5]


def test_a_request_policy_after_connection_trouble(server, make_transport, clock):
    """Both kinds of retry in one request: the connection error is retried by the transport's policy, the 429s by
    the request's, and the tries count together."""
    server.on("POST", "/v8/token", dropped(), Reply(429), Reply(429), Reply(200))
    own = RetryPolicy(attempts=6, base=1.0, cap=20.0, sleep=clock.sleep, rand=lambda: 0.0)
    assert make_transport().request("POST", "/v8/token", safe=True, retry=own).status == 200
    assert len(server.attempts) == 4 and clock.sleeps == [0.375, 1.0, 2.0]


def test_retry_policy_delays():
    policy = RetryPolicy(attempts=0, base=0.5, cap=8.0, rand=lambda: 0.0)
    assert policy.attempts == 1
    assert [policy.delay(n) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    high = RetryPolicy(rand=lambda: 0.999999)
    assert all(high.delay(n) <= min(8.0, 0.5 * 2 ** n) for n in range(8))
    assert policy.delay(3, retry_after=100) == 8.0 and policy.delay(0, retry_after=1.5) == 1.5


# ------------------------------------------------------------------------------------------------ unsafe requests
@pytest.mark.parametrize("status", [503, 502, 504, 429, 500])
def test_a_post_is_never_retried_on_an_error_status(server, make_transport, clock, status):
    server.on("POST", "/api/jobs/x", Reply(status))
    assert make_transport().request("POST", "/api/jobs/x?action=start").status == status
    assert server.count("POST") == 1 and clock.sleeps == []


@pytest.mark.parametrize("fault,reason", [
    (dropped, "Lost the connection to %s: the connection was closed before a response arrived; " % WHERE),
    (reset, "Lost the connection to %s: [Errno 104] Connection reset by peer; " % WHERE),
    (read_timeout, "%s did not answer within 30 s (the timeout option); " % WHERE),
])
def test_a_post_whose_response_is_lost_is_sent_once(server, make_transport, clock, fault, reason):
    server.on("POST", "/api/jobs/x", fault(), xml(202, "em_task_running_start_job.xml"))
    with expect_error("response_lost") as caught:
        make_transport().request("POST", "/api/jobs/x?action=start", display_path="/api/jobs/{id}")
    assert str(caught.error).startswith(reason + "the server may or may not have acted on the request (POST "
                                        "/api/jobs/{id})")
    assert server.count("POST") == 1 and len(server.attempts) == 1 and clock.sleeps == []
    assert not caught.error.transient and isinstance(caught.error, _http.LostAnswerError)
    assert caught.error.timed_out is (fault is read_timeout)  # a late answer: the server may still act on it


def test_a_post_whose_body_breaks_off_is_response_lost(server, make_transport):
    server.on("POST", "/api/jobs/x", cut_body(202, b'<Task xmlns="http://www.veeam.com/ent/v1.0" Type="Ta'))
    with expect_error("response_lost", "the server may or may not have acted on the request"):
        make_transport().request("POST", "/api/jobs/x?action=start")
    assert server.count("POST") == 1


def test_a_get_whose_body_breaks_off_is_a_connection_error(server, make_transport):
    server.on("GET", "/api/jobs", cut_body(200, b"<EntityRefer"), xml(200, "<EntityReferences/>"))
    assert make_transport().request("GET", "/api/jobs").body == b"<EntityReferences/>"
    assert server.count("GET") == 2


def test_a_refused_post_may_be_tried_again(server, make_transport, clock):
    server.on("POST", "/api/jobs/x", refused(), connect_timeout(), xml(202, "em_task_running_start_job.xml"))
    assert make_transport().request("POST", "/api/jobs/x?action=start").status == 202
    assert len(server.attempts) == 3 and server.count("POST") == 1 and clock.sleeps == [0.375, 0.75]


def test_a_post_refused_until_the_end_is_a_connection_error_not_response_lost(server, make_transport):
    server.on("POST", "/api/jobs/x", refused())
    with expect_error("connection", "Could not connect to") as caught:
        make_transport().request("POST", "/api/jobs/x?action=start")
    assert server.calls == [] and len(server.attempts) == 4
    assert caught.error.not_sent and not isinstance(caught.error, _http.LostAnswerError)


# ------------------------------------------------------------------------------------------------ other failures
def raising(error):
    """A route answer that raises ``error`` from inside the adapter (as a broken requests setup would)."""
    def answer(_call):
        raise error
    return answer


def test_an_unexpected_requests_error_is_a_connection_error(server, make_transport):
    server.on("GET", "/api/jobs", raising(requests.exceptions.InvalidURL("bad url")))
    with expect_error("connection") as caught:
        make_transport(retry=RetryPolicy(attempts=1)).request("GET", "/api/jobs")
    assert str(caught.error) == "Request to %s failed: bad url (GET /api/jobs)" % WHERE


def test_an_unexpected_python_error_is_a_connection_error(server, make_transport):
    server.on("GET", "/api/jobs", raising(ValueError("odd")))
    with expect_error("connection") as caught:
        make_transport(retry=RetryPolicy(attempts=1)).request("GET", "/api/jobs")
    assert str(caught.error) == "Request to %s failed: ValueError: odd (GET /api/jobs)" % WHERE


def test_error_messages_show_no_query_string(server, make_transport):
    server.on("GET", "/api/query", refused())
    with expect_error("connection") as caught:
        make_transport(retry=RetryPolicy(attempts=1)).request("GET", "/api/query?type=Job&filter=Name%3D%3D%22x%22")
    assert "filter" not in str(caught.error) and "type=Job" not in str(caught.error)
    assert caught.error.path == "/api/query"


# ------------------------------------------------------------------------------------------------ bodies, cookies
def test_a_body_over_the_cap_by_content_length(server, make_transport):
    server.on("GET", "/api/jobs", Reply(200, b"<x/>", headers=[("Content-Length", str(_http.MAX_BODY_BYTES + 1))],
                                        content_length=False))
    with expect_error("parse") as caught:
        make_transport().request("GET", "/api/jobs")
    assert str(caught.error) == ("The server sent a response of %d bytes, more than the %d this collection reads "
                                 "(GET /api/jobs)" % (_http.MAX_BODY_BYTES + 1, _http.MAX_BODY_BYTES))


def test_a_streamed_body_over_the_cap(server, make_transport, monkeypatch):
    monkeypatch.setattr(_http, "MAX_BODY_BYTES", 1000)
    server.on("GET", "/api/jobs", Reply(200, b"<a>" + b"x" * 2000 + b"</a>", content_length=False))
    with expect_error("parse") as caught:
        make_transport().request("GET", "/api/jobs")
    assert str(caught.error) == ("The server sent a response larger than the 1000 bytes this collection reads "
                                 "(GET /api/jobs)")
    assert server.count("GET") == 1  # not a transient failure


def test_a_body_at_the_cap_is_read(server, make_transport, monkeypatch):
    monkeypatch.setattr(_http, "MAX_BODY_BYTES", 1000)
    body = b"<a>" + b"x" * 990 + b"</a>"
    server.on("GET", "/api/jobs", Reply(200, body))
    assert make_transport().request("GET", "/api/jobs").body == body


def test_cookies_are_never_kept(server, make_transport):
    cookie = "X-RestSvcSessionId=%s; Path=/api; HttpOnly" % EM_TOKEN
    server.on("POST", "/api/sessionMngr/", Reply(201, b"", [("X-RestSvcSessionId", EM_TOKEN), ("Set-Cookie", cookie)]))
    server.on("GET", "/api/jobs", xml(200, "<EntityReferences/>"))
    transport = make_transport()
    transport.request("POST", "/api/sessionMngr/?v=latest", safe=True)
    transport.request("GET", "/api/jobs")
    assert len(transport.session.cookies) == 0
    assert "Cookie" not in server.calls[1].headers


def test_the_fake_server_does_deliver_cookies():
    """The control for the test above: a session with the default cookie policy keeps and sends the cookie."""
    fake = FakeServer()
    fake.on("POST", "/api/sessionMngr/", Reply(201, b"", [("Set-Cookie", "X-RestSvcSessionId=abc; Path=/api")]))
    fake.on("GET", "/api/jobs", Reply(200, b"<x/>"))
    with requests.Session() as session:
        fake.mount_on(session)
        session.post("https://em.example:9398/api/sessionMngr/?v=latest")
        session.get("https://em.example:9398/api/jobs")
    assert fake.calls[1].headers.get("Cookie") == "X-RestSvcSessionId=abc"


def test_response_headers_are_case_insensitive(server, make_transport):
    server.on("GET", "/api/", Reply(200, b"<x/>", [("x-restsvcsessionid", "abc")], content_type="application/xml"))
    response = make_transport().request("GET", "/api/")
    assert response.header("X-RestSvcSessionId") == "abc" and response.content_type == "application/xml"
    assert response.header("Missing", "default") == "default"
    assert (response.method, response.path) == ("GET", "/api/")


# ------------------------------------------------------------------------------------------------ URLs
def test_links_from_the_server_are_reached_at_the_base(make_transport):
    transport = make_transport(base="https://em.example:9398/api/")
    assert transport.url("https://em01.lab.local:9398/api/jobs/1?format=Entity") == \
        "https://em.example:9398/api/jobs/1?format=Entity"
    assert transport.url("/api/jobs") == "https://em.example:9398/api/jobs"
    assert transport.url("api/jobs") == "https://em.example:9398/api/jobs"


def test_requests_library_missing(monkeypatch):
    monkeypatch.setattr(_http, "HAS_REQUESTS", False)
    with expect_error("usage") as caught:
        _http.Transport(BASE)
    assert str(caught.error) == "The requests Python library is required"


def _lost(timed_out):
    return _http.LostAnswerError("lost", timed_out=timed_out)


def test_after_a_dropped_connection_the_server_is_looked_at_once(make_transport, clock):
    looked = []
    result, looks = make_transport().look_after_lost(_lost(False), lambda: looked.append(1) or None)
    assert (result, looks, len(looked), clock.sleeps) == (None, 0, 1, [])


def test_after_a_timeout_the_server_is_looked_at_each_second_until_it_shows(make_transport, clock):
    answers = iter([[], [], ["session"]])
    result, looks = make_transport(timeout=10).look_after_lost(_lost(True), lambda: next(answers))
    assert (result, looks, clock.sleeps) == (["session"], 2, [1.0, 1.0])


def test_after_a_timeout_the_looking_stops_after_as_long_again_as_the_timeout(make_transport, clock):
    result, looks = make_transport(timeout=2.5).look_after_lost(_lost(True), lambda: (None, False),
                                                                seen=lambda seen: seen[1])
    assert (result, looks, clock.sleeps) == ((None, False), 3, [1.0, 1.0, 1.0])


def test_after_a_timeout_the_looking_is_capped_at_30_s(make_transport, clock):
    result, looks = make_transport(timeout=300).look_after_lost(_lost(True), lambda: None)
    assert result is None and looks == 30 and len(clock.sleeps) == 30


# ------------------------------------------------------------------------------------------------ reverse-proxy prefix
def test_a_prefix_goes_before_every_request_path(server, make_transport):
    transport = make_transport(base="https://proxy.example:443/veeam/em")
    assert transport.url("/api/jobs") == "https://proxy.example:443/veeam/em/api/jobs"
    assert transport.url("api/jobs?format=Entity") == "https://proxy.example:443/veeam/em/api/jobs?format=Entity"
    # a server's own link: its host is left out, and the prefix is added once, not twice
    assert transport.url("https://em01.lab.local:9398/api/jobs/1?format=Entity") == \
        "https://proxy.example:443/veeam/em/api/jobs/1?format=Entity"
    assert transport.url("https://proxy.example/veeam/em/api/tasks/task-3") == \
        "https://proxy.example:443/veeam/em/api/tasks/task-3"
    server.on("GET", "/veeam/em/api/jobs", xml(200, "<EntityReferences/>"))
    response = transport.request("GET", "/api/jobs")
    assert response.status == 200 and server.calls[0].path == "/veeam/em/api/jobs"
    assert response.path == "/veeam/em/api/jobs"


def test_a_path_that_only_starts_like_the_prefix_gets_it_too(make_transport):
    transport = make_transport(base="https://proxy.example:443/veeam")
    assert transport.url("/veeamfoo/x") == "https://proxy.example:443/veeam/veeamfoo/x"
    assert transport.url("/veeam") == "https://proxy.example:443/veeam/veeam"


def test_without_a_prefix_paths_are_kept(make_transport):
    transport = make_transport(base="https://em.example:9398")
    assert transport.url("/api/jobs") == "https://em.example:9398/api/jobs"
    assert transport.url("https://em01:9398/api/jobs?x=1") == "https://em.example:9398/api/jobs?x=1"


# ------------------------------------------------------------------------------------------------ the environment
def _no_proxy_variables(monkeypatch):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_proxies_from_the_environment_are_used(server, make_transport, monkeypatch):
    _no_proxy_variables(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    transport = make_transport()
    transport.request("GET", "/api/")
    assert transport.session.trust_env is False
    assert server.calls[0].proxies.get("https") == "http://proxy.corp.example:3128"


def test_no_proxy_leaves_the_server_out(server, make_transport, monkeypatch):
    _no_proxy_variables(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.setenv("NO_PROXY", "em.example,localhost")
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport().request("GET", "/api/")
    assert "https" not in server.calls[0].proxies


def test_without_proxy_variables_no_proxy_is_used(server, make_transport, monkeypatch):
    _no_proxy_variables(monkeypatch)
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport().request("GET", "/api/")
    assert not server.calls[0].proxies.get("https")


def _netrc_home(monkeypatch, tmp_path):
    """A HOME whose ~/.netrc has other credentials for the server (requests would send them with trust_env on)."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine em.example login netrc-user password netrc-Pw-from-file\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    return base64.b64encode(b"netrc-user:netrc-Pw-from-file").decode("ascii")


def test_the_netrc_of_the_control_session_is_used(monkeypatch, tmp_path):
    """The control for the tests below: a requests session that trusts the environment sends ~/.netrc's credentials."""
    from_netrc = _netrc_home(monkeypatch, tmp_path)
    fake = FakeServer()
    fake.on("GET", "/api/jobs", Reply(200, b"<x/>"))
    with requests.Session() as session:
        fake.mount_on(session)
        session.get("https://em.example:9398/api/jobs")
    assert fake.calls[0].headers.get("Authorization") == "Basic " + from_netrc


def test_no_credentials_are_read_from_netrc(server, make_transport, monkeypatch, tmp_path):
    _netrc_home(monkeypatch, tmp_path)
    server.on("GET", "/api/jobs", xml(200, "<EntityReferences/>"))
    make_transport().request("GET", "/api/jobs")
    assert "Authorization" not in server.calls[0].headers


def test_the_given_authorization_is_the_one_sent_whatever_netrc_says(server, make_transport, monkeypatch, tmp_path):
    _netrc_home(monkeypatch, tmp_path)
    server.on("POST", "/api/sessionMngr/", Reply(201))
    make_transport().request("POST", "/api/sessionMngr/?v=latest", headers={"Authorization": "Basic " + BASIC})
    assert server.calls[0].headers["Authorization"] == "Basic " + BASIC


# ------------------------------------------------------------------------------------------------ once, repeat_status
def test_once_never_retries_a_status(server, make_transport, clock):
    server.on("DELETE", "/api/logonSessions/x", Reply(503), Reply(204))
    assert make_transport().request("DELETE", "/api/logonSessions/x", once=True).status == 503
    assert server.count("DELETE") == 1 and clock.sleeps == []


@pytest.mark.parametrize("fault", [refused, dropped, read_timeout])
def test_once_never_retries_connection_trouble(server, make_transport, clock, fault):
    server.on("POST", "/v8/token/logout", fault(), Reply(204))
    with pytest.raises(_http.TransportError) as info:
        make_transport().request("POST", "/v8/token/logout", safe=True, once=True)
    assert len(server.attempts) == 1 and clock.sleeps == []
    assert not isinstance(info.value, _http.LostAnswerError)  # safe: nothing to settle


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_repeat_status_lets_an_unsafe_request_be_repeated_after_a_transient_status(server, make_transport, clock,
                                                                                   status):
    """The server did not act on a request it answered 429 or 502-504 (a logon)."""
    server.on("POST", "/api/sessionMngr/", Reply(status), Reply(status), Reply(201))
    response = make_transport().request("POST", "/api/sessionMngr/?v=latest", safe=False, repeat_status=True)
    assert response.status == 201 and server.count("POST") == 3 and clock.sleeps == [0.375, 0.75]


def test_repeat_status_does_not_repeat_an_unsafe_request_whose_answer_was_lost(server, make_transport, clock):
    server.on("POST", "/api/sessionMngr/", Reply(503), dropped(), Reply(201))
    with expect_error("response_lost"):
        make_transport().request("POST", "/api/sessionMngr/?v=latest", safe=False, repeat_status=True)
    assert server.count("POST") == 2 and clock.sleeps == [0.375]


def test_repeat_status_does_not_repeat_other_statuses(server, make_transport):
    server.on("POST", "/api/sessionMngr/", Reply(500), Reply(201))
    assert make_transport().request("POST", "/api/sessionMngr/?v=latest", safe=False, repeat_status=True).status == 500
    assert server.count("POST") == 1


def test_repeat_status_false_keeps_a_safe_request_from_status_retries(server, make_transport):
    server.on("GET", "/api/jobs", Reply(503), Reply(200))
    assert make_transport().request("GET", "/api/jobs", repeat_status=False).status == 503
    assert server.count("GET") == 1


# ------------------------------------------------------------------------------------------------ bounded
def test_inside_bounded_a_request_gets_what_the_wait_has_left_plus_grace(server, make_transport, clock):
    server.on("GET", "/api/tasks/task-1", xml(200, "<Task/>"))
    transport = make_transport(timeout=30, clock=clock.monotonic)
    transport.request("GET", "/api/tasks/task-1")
    with transport.bounded(clock.now + 5):
        transport.request("GET", "/api/tasks/task-1")
        clock.advance(20)  # past the deadline: the grace alone
        transport.request("GET", "/api/tasks/task-1")
    transport.request("GET", "/api/tasks/task-1")
    assert [call.timeout for call in server.calls] == [30.0, 7.0, 2.0, 30.0]


def test_the_grace_is_never_more_than_the_timeout(server, make_transport, clock):
    server.on("GET", "/api/tasks/task-1", xml(200, "<Task/>"))
    transport = make_transport(timeout=1, clock=clock.monotonic)
    with transport.bounded(clock.now - 10):
        transport.request("GET", "/api/tasks/task-1")
    with transport.bounded(clock.now + 60):
        transport.request("GET", "/api/tasks/task-1")
    assert [call.timeout for call in server.calls] == [1.0, 1.0]


def test_bounded_cuts_the_pauses_and_no_retry_starts_after_the_deadline(server, make_transport, clock):
    server.on("GET", "/api/tasks/task-1", Reply(503), Reply(503), Reply(503), xml(200, "<Task/>"))
    transport = make_transport(clock=clock.monotonic)
    with transport.bounded(clock.now + 1):
        assert transport.request("GET", "/api/tasks/task-1").status == 503
    assert server.count("GET") == 3 and clock.sleeps == [0.375, 0.625]


def test_past_the_deadline_connection_trouble_is_not_retried(server, make_transport, clock):
    server.on("GET", "/api/tasks/task-1", refused(), xml(200, "<Task/>"))
    transport = make_transport(clock=clock.monotonic)
    with transport.bounded(clock.now - 1):
        with expect_error("connection"):
            transport.request("GET", "/api/tasks/task-1")
    assert len(server.attempts) == 1 and clock.sleeps == []


def test_bounded_blocks_nest_and_restore_the_deadline(make_transport, clock):
    transport = make_transport(clock=clock.monotonic)
    assert transport.deadline is None
    with transport.bounded(1500.0):
        with transport.bounded(1200.0):
            assert transport.deadline == 1200.0
        assert transport.deadline == 1500.0
        with pytest.raises(RuntimeError):
            with transport.bounded(1100.0):
                raise RuntimeError("a poll failed")
        assert transport.deadline == 1500.0
    assert transport.deadline is None


# ------------------------------------------------------------------------------------------------ a server that drips
class DripServer:
    """A real local HTTP server that answers each request slowly: the status line and headers at once (or, with
    ``drip_head``, they too), then one byte every ``every`` seconds; a read timeout never runs out on it."""

    def __init__(self, every=0.3, size=40, drip_head=False, status=200):
        self.every = every
        self.body = b"x" * size
        self.head = ("HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % (status, size)).encode("ascii")
        self.drip_head = drip_head
        self.requests = []
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def seconds(self):
        """How long one answer takes to drip."""
        return self.every * (len(self.body) + (len(self.head) if self.drip_head else 0))

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _address = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.requests.append(data.split(b"\r\n", 1)[0].decode("ascii", "replace"))
                    if not self.drip_head:
                        conn.sendall(self.head)
                    for byte in (self.head if self.drip_head else b"") + self.body:
                        if self.stop.wait(self.every):
                            break
                        conn.sendall(bytes((byte,)))
                except OSError:
                    continue

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def drip():
    made = []

    def make(**kwargs):
        made.append(DripServer(**kwargs))
        return made[-1]
    yield make
    for one in made:
        one.close()


def _in_main_thread():
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        pytest.skip("the alarm that bounds a request's total time is only set in the main thread")


@pytest.mark.parametrize("drip_head", [False, True], ids=["body", "headers"])
def test_a_server_that_drips_its_answer_is_cut_at_the_timeout(drip, drip_head):
    _in_main_thread()
    slow = drip(drip_head=drip_head)
    base = "http://127.0.0.1:%d" % slow.port
    transport = _http.Transport(base, timeout=1, retry=RetryPolicy(attempts=1))
    start = time.monotonic()
    try:
        with expect_error("timeout") as caught:
            transport.request("GET", "/api/jobs?format=Entity")
    finally:
        transport.close()
    took = time.monotonic() - start
    assert took < 3.0 < slow.seconds, (took, slow.seconds)  # well under what the drip would take
    assert str(caught.error) == ("%s did not finish its answer within 1 s (the timeout option) (GET /api/jobs). Raise "
                                 "timeout if the server is slow" % base)
    assert isinstance(caught.error, _http.RequestTimeoutError) and caught.error.transient
    assert slow.requests == ["GET /api/jobs?format=Entity HTTP/1.1"]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # the alarm is off again


def test_an_unsafe_request_to_a_dripping_server_is_a_late_answer(drip):
    _in_main_thread()
    slow = drip()
    transport = _http.Transport("http://127.0.0.1:%d" % slow.port, timeout=1)
    start = time.monotonic()
    try:
        with expect_error("response_lost") as caught:
            transport.request("POST", "/api/v1/jobs/x/start", json_body={"performActiveFull": False},
                              display_path="/api/v1/jobs/{id}/start")
    finally:
        transport.close()
    assert time.monotonic() - start < 3.0 < slow.seconds
    assert isinstance(caught.error, _http.LostAnswerError) and caught.error.timed_out is True
    assert "did not finish its answer within 1 s (the timeout option); the server may or may not have acted on the " \
           "request (POST /api/v1/jobs/{id}/start)" in str(caught.error)
    assert len(slow.requests) == 1  # sent once


def test_a_dripping_server_inside_a_wait_is_cut_at_the_deadline_and_grace(drip):
    _in_main_thread()
    slow = drip()
    transport = _http.Transport("http://127.0.0.1:%d" % slow.port, timeout=10, retry=RetryPolicy(attempts=3))
    start = time.monotonic()
    try:
        with transport.bounded(time.monotonic() - 1):
            with expect_error("timeout") as caught:
                transport.request("GET", "/api/tasks/task-1")
    finally:
        transport.close()
    assert time.monotonic() - start < 4.0 < slow.seconds
    assert "did not finish its answer within 2 s (the timeout option, cut to what the wait had left)" in str(caught.error)
    assert len(slow.requests) == 1  # past the deadline: no retry


def test_the_alarm_leaves_an_earlier_signal_handler_in_place(server, make_transport):
    _in_main_thread()
    before = signal.getsignal(signal.SIGALRM)
    server.on("GET", "/api/", xml(200, "<EnterpriseManager/>"))
    make_transport(timeout=5).request("GET", "/api/")
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
