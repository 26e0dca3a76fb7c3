# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_wire: bodies in, plain data out (XML and JSON alike), and Veeam's error messages."""

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils import veeam_vocabulary as V
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    expect_error, fixture_bytes, fixture_names)

BOM = b"\xef\xbb\xbf"


def normalize(value):
    """Plain data with JSON's typing and nulls folded onto XML's strings: ``True`` -> ``"true"``, ``100`` ->
    ``"100"``; ``None`` and ``[]`` members dropped (JSON writes ``"Name": null`` or ``"Links": null`` where XML
    leaves the attribute or element out, and ``plain`` reads a null list container as ``[]``)."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def all_keys(value):
    if isinstance(value, dict):
        return set(value) | set().union(*(all_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(all_keys(v) for v in value))
    return set()


def doc(name):
    return W.parse(fixture_bytes(name))


# ------------------------------------------------------------------------------------------------ every sample
@pytest.mark.parametrize("name", fixture_names(".xml", ".json"))
def test_every_sample_parses(name):
    data = doc(name)
    assert isinstance(data, (dict, list)) and data
    root_name, body = W.root(data)
    if name.endswith(".xml"):
        assert root_name == re.search(rb"<([A-Za-z]+)[ >/]", fixture_bytes(name).split(b"?>")[-1]).group(1).decode()
    else:  # JSON: the object itself, unless it is one member holding an object ({"explore": {...}})
        assert root_name is None or (len(data) == 1 and root_name == next(iter(data)))
    assert isinstance(body, (dict, list))
    keys = all_keys(body)
    assert all(k == W.snake(k) and not k.startswith(("@", "#", "xmlns")) for k in keys)
    assert "xmlns" not in json.dumps(body)


def test_the_token_request_sample_is_not_a_response():
    """The form body of a token request is neither XML nor JSON: a parse error that shows its start."""
    with expect_error("parse", "neither XML nor JSON", "content type not given", "'grant_type=password"):
        W.parse(fixture_bytes("m365_token_request_form_v1.txt"))


# ------------------------------------------------------------------------------------------------ XML == JSON
SINGLE_TWINS = [
    ("em_task_finished_start_job.xml", "Task"),
    ("em_task_running_start_job.xml", "Task"),
    ("em_logon_session.xml", "LogonSession"),
    ("em_job_entity.xml", "Job"),
    ("em_backup_session_stopped_success.xml", "BackupJobSession"),
    ("em_query_job_by_name_reconstructed.xml", "QueryResult"),
    ("em_query_jobs_entities_constructed.xml", "QueryResult"),
]


def twin_of(xml_name):
    stem = xml_name[:-4].replace("_reconstructed", "").replace("_constructed", "")
    return stem + "_twin_constructed.json"


@pytest.mark.parametrize("xml_name,root_name", SINGLE_TWINS)
def test_xml_and_its_json_twin_give_the_same_plain_dict(xml_name, root_name):
    xml_root, from_xml = W.root(doc(xml_name))
    json_root, from_json = W.root(doc(twin_of(xml_name)))
    assert (xml_root, json_root) == (root_name, None)
    # the JSON twin of a job leaves out what the client does not read; compare what both have
    shared = {k: from_xml[k] for k in from_json if k in from_xml}
    assert set(normalize(from_json)) <= set(from_xml)
    assert normalize(shared) == normalize(from_json)


def test_task_views_agree():
    for name in ("em_task_finished_start_job.xml", "em_task_running_start_job.xml"):
        xml_view = _em.task_view(W.root(doc(name))[1])
        json_view = _em.task_view(W.root(doc(twin_of(name)))[1])
        assert xml_view == json_view
    assert _em.task_view(W.root(doc("em_task_finished_start_job.xml"))[1]) == {
        "id": "task-10", "state": "Finished", "operation": "StartJob", "success": True,
        "message": 'Job "SQL Backup" triggered to start.', "href": "https://localhost:9398/api/tasks/task-10"}
    assert _em.task_view(W.root(doc("em_task_running_start_job.xml"))[1])["success"] is None


def test_session_views_agree():
    name = "em_backup_session_stopped_success.xml"
    view = _em.session_view(W.root(doc(name))[1])
    assert view == _em.session_view(W.root(doc(twin_of(name)))[1])
    assert view == {
        "id": "d46e39e0-1131-4585-91a7-e828ce7eafae",
        "uid": "urn:veeam:BackupJobSession:d46e39e0-1131-4585-91a7-e828ce7eafae",
        "name": "Fileserver Backup@2014-10-19 05:22:52",
        "job_id": "4856ab37-2235-45e8-affe-d515878b01a9", "job_name": "Fileserver Backup",
        "veeam_job_type": "Backup", "state": "Stopped", "result": "Success", "message": None, "canceled": None,
        "progress_percent": 100, "processed_objects": None,
        "creation_time": "2014-10-19T05:22:52Z", "end_time": "2014-10-19T05:40:48Z", "failure_message": None,
        "is_retry": False,
        "job_uid": "urn:veeam:Job:4856ab37-2235-45e8-affe-d515878b01a9",
        "href": "https://localhost:9398/api/backupSessions/d46e39e0-1131-4585-91a7-e828ce7eafae?format=Entity"}
    # what modules return: the vocabulary's session keys and EM's own (docs/vocabulary.md), not the client's
    assert set(_em.public_session(view)) == V.session_keys("EM") == set(view) - set(_em.SESSION_PRIVATE)
    assert V.SESSION <= set(_em.public_session(view))


def test_job_views_agree():
    xml_job = _em._job(W.root(doc("em_job_entity.xml"))[1], "vm", "Job")
    json_job = _em._job(W.root(doc("em_job_entity_twin_constructed.json"))[1], "vm", "Job")
    assert _em.public(xml_job) == _em.public(json_job)
    assert _em.public(xml_job) == {
        "id": "5658281f-625e-4627-89dd-d2a0c48be99e", "uid": "urn:veeam:Job:5658281f-625e-4627-89dd-d2a0c48be99e",
        "name": "DB Backup", "type": "backup", "veeam_type": "Backup", "platform": "HyperV",
        "backup_server": "srv12.tech.local", "backup_server_id": "d1444f74-27e6-4399-81a9-d28ba98913f0",
        "description": "Backup of MS SQL Server DB", "enabled": True, "running": None, "last_result": None,
        "last_run": None, "schedule_configured": True, "schedule_enabled": True, "next_run": "2020-02-01T17:00:00Z"}
    # the vocabulary's job keys and EM's own (docs/vocabulary.md)
    assert set(_em.public(xml_job)) == V.job_keys("EM") and V.JOB <= set(_em.public(xml_job))
    assert [link["rel"] for link in xml_job["_links"]] == [link["rel"] for link in json_job["_links"]]


@pytest.mark.parametrize("xml_name", ["em_query_job_by_name_reconstructed.xml", "em_query_jobs_entities_constructed.xml",
                                      "em_jobs_entity_references.xml"])
def test_collections_give_the_same_items(xml_name):
    from_xml = _em._entities(doc(xml_name))
    from_json = _em._entities(doc(twin_of(xml_name)))
    assert from_xml and normalize(from_xml) == normalize(from_json)
    assert _em._paging(doc(xml_name)) == _em._paging(doc(twin_of(xml_name)))


def test_query_result_refs_are_a_list_in_both_forms():
    """EM's JSON query result nests its references as ``{"Refs": {"Refs": [...]}}``; XML as ``<Refs><Ref/>``."""
    for name in ("em_query_job_by_name_reconstructed.xml", "em_query_job_by_name_twin_constructed.json"):
        body = W.root(doc(name))[1]
        assert isinstance(body["refs"], list) and body["refs"][0]["name"] == "SQL Replication"
        assert body["paging_info"]["page_num"] in ("1", 1)


def test_query_entities_and_paging():
    data = doc("em_query_jobs_entities_constructed.xml")
    jobs = [_em._job(entity, "vm") for entity in _em._entities(data)]
    assert [(j["name"], j["type"], j["backup_server"]) for j in jobs] == [
        ("DB Backup", "backup", "srv12.tech.local"), ("SQL Replication", "replica", "srv02.tech.local")]
    assert _em._paging(data) == (1, 1)


def test_error_twins_give_the_same_message():
    assert W.error_text(doc("em_error_400.json")) == ("Node [root] does not exist.", None)
    assert W.error_text(doc("em_error_400_twin_constructed.xml")) == ("Node [root] does not exist.", None)


# ------------------------------------------------------------------------------------------------ namespaces
def _prefixed(xml_bytes, prefix="v"):
    """Every element of the default namespace moved to ``prefix:`` (attributes stay unqualified)."""
    text = xml_bytes.decode("utf-8")
    text = re.sub(r"<(/?)([A-Za-z])", r"<\1%s:\2" % prefix, text)
    text = text.replace('xmlns="http://www.veeam.com/ent/v1.0"', 'xmlns:%s="http://www.veeam.com/ent/v1.0"' % prefix)
    text = text.replace("<%s:?xml" % prefix, "<?xml")
    return text.encode("utf-8")


@pytest.mark.parametrize("name", ["em_task_finished_start_job.xml", "em_logon_session.xml", "em_job_entity.xml",
                                  "em_backup_session_stopped_success.xml", "em_query_job_by_name_reconstructed.xml",
                                  "em_query_jobs_entities_constructed.xml", "em_jobs_entity_references.xml",
                                  "em_error_500_constructed.xml"])
def test_namespace_prefixes_do_not_matter(name):
    plain_doc = W.root(doc(name))
    for prefix in ("v", "ent", "ns0"):
        prefixed = _prefixed(fixture_bytes(name), prefix)
        assert ("<%s:" % prefix).encode() in prefixed
        assert W.root(W.parse(prefixed)) == plain_doc
    assert W.error_text(W.parse(_prefixed(fixture_bytes(name)))) == W.error_text(doc(name))


def test_namespace_declarations_in_any_order_are_dropped():
    a = b'<Task xmlns:xsd="x" xmlns:xsi="y" xmlns="http://www.veeam.com/ent/v1.0" Href="/t"><State>Running</State></Task>'
    b = b'<?xml version="1.0" encoding="utf-8"?>\r\n<Task xmlns="http://www.veeam.com/ent/v1.0" xmlns:xsi="y" Href="/t">' \
        b'<State>Running</State></Task>'
    assert W.root(W.parse(a)) == W.root(W.parse(b)) == ("Task", {"href": "/t", "state": "Running"})


# ------------------------------------------------------------------------------------------------ BOM, empty
@pytest.mark.parametrize("name", ["em_error_400.json", "em_backup_server_reference.json", "m365_jobs_page_v8_reconstructed.json",
                                  "em_task_finished_start_job.xml"])
def test_a_byte_order_mark_is_ignored(name):
    body = fixture_bytes(name)
    assert W.parse(BOM + body) == W.parse(body)
    assert W.parse(BOM + body, "application/json; charset=utf-8" if name.endswith("json") else "application/xml") \
        == W.parse(body)
    assert W.parse((BOM + body).decode("utf-8")) == W.parse(body)  # also when handed as text


@pytest.mark.parametrize("body", [None, b"", b"   ", b"\r\n\t ", BOM, BOM + b"\n", ""])
def test_an_empty_body_is_none(body):
    assert W.parse(body, "application/xml") is None
    assert W.parse(body, "application/json") is None
    assert W.error_text(W.parse(body)) == (None, None)


def test_content_type_with_parameters_and_case():
    body = fixture_bytes("em_task_finished_ok.xml")
    assert W.parse(body, "Application/XML; charset=UTF-8") == W.parse(body)
    assert W.parse(b'{"a": 1}', "APPLICATION/JSON;charset=utf-8") == {"a": 1}
    assert W.parse(b'{"a": 1}', "application/problem+json") == {"a": 1}


# ------------------------------------------------------------------------------------------------ not XML/JSON
def test_html_error_page():
    with expect_error("parse") as caught:
        W.parse(fixture_bytes("html_error_page_constructed.html"), "text/html")
    assert str(caught.error) == ("The server sent an HTML page instead of XML or JSON ('Service Unavailable'): is the "
                                 "server address right, and is it the Veeam REST API?")


def test_html_page_without_title_and_mislabelled():
    with expect_error("parse", "The server sent an HTML page instead of XML or JSON: is the server address right"):
        W.parse(b"\n  <html><body>Bad gateway</body></html>", "application/xml")


@pytest.mark.parametrize("name", ["em_logon_session.xml", "em_job_entity.xml", "em_task_finished.xml",
                                  "em_query_job_by_name_reconstructed.xml"])
def test_truncated_xml(name):
    body = fixture_bytes(name)
    cut = body[:len(body) // 2]
    with expect_error("parse", "The server sent a task that is not well-formed XML (",
                      "; %d bytes)" % len(cut)) as caught:
        W.parse(cut, "application/xml", what="task")
    assert "line" in caught.error.message  # expat's reason names the place


@pytest.mark.parametrize("name", ["em_error_400.json", "m365_jobs_page_v8_reconstructed.json", "m365_token_reconstructed.json"])
def test_truncated_json(name):
    body = fixture_bytes(name)
    cut = body[:len(body) // 2]
    with expect_error("parse", "The server sent a token response that is not valid JSON (", "; %d bytes)" % len(cut)):
        W.parse(cut, "application/json", what="token response")


@pytest.mark.parametrize("body", [b"\xff\xfe\x00\x01garbage", b"\x80\x81\x82", bytes(range(128, 256))])
def test_random_bytes(body):
    with expect_error("parse") as caught:
        W.parse(body, "application/octet-stream")
    assert str(caught.error) == ("The server sent a response that is not UTF-8 text (%d bytes, content type "
                                 "application/octet-stream)" % len(body))


def test_wrong_content_type_plain_text():
    with expect_error("parse") as caught:
        W.parse(b"Service Unavailable", "text/plain")
    assert str(caught.error) == ("The server sent a response that is neither XML nor JSON (content type text/plain, "
                                 "starting 'Service Unavailable')")


def test_json_labelled_as_xml_is_read_as_json():
    assert W.parse(fixture_bytes("em_error_400.json"), "application/xml") == W.parse(fixture_bytes("em_error_400.json"))


def test_xml_labelled_as_json_is_read_as_xml():
    body = fixture_bytes("em_task_finished_ok.xml")
    assert W.parse(body, "application/json") == W.parse(body)


def test_deep_nesting_is_a_parse_error_not_a_crash():
    for body in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"<a>" * 3000 + b"</a>" * 3000):
        with expect_error("parse", "nested"):
            W.plain(W.parse(body))


def test_reasonable_nesting_is_fine():
    body = b'{"a":' * 40 + b'"x"' + b"}" * 40
    value = W.plain(W.parse(body))
    for _level in range(40):
        value = value["a"]
    assert value == "x"


def test_entities_are_not_expanded():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b"<Task>&lol2;</Task>")
    with expect_error("parse", "not well-formed XML"):
        W.parse(bomb)


# ------------------------------------------------------------------------------------------------ plain, root
@pytest.mark.parametrize("name,expected", [
    ("CreationTimeUTC", "creation_time_utc"), ("UID", "uid"), ("isEnabled", "is_enabled"), ("@Href", "href"),
    (".issued", "issued"), ("_links", "links"), ("v:TaskId", "task_id"), ("JobUid", "job_uid"),
    ("BackupServerName", "backup_server_name"), ("processingRateBytesPS", "processing_rate_bytes_ps"),
    ("FirstChanceExceptionMessage", "first_chance_exception_message"), ("NASJobs", "nas_jobs"),
    ("access_token", "access_token"), ("RetrySpecified1", "retry_specified1"), ("x-ms-id", "x_ms_id"),
])
def test_snake(name, expected):
    assert W.snake(name) == expected


def test_list_containers():
    assert W.root(W.parse(b"<Job><Links/></Job>")) == ("Job", {"links": []})
    one = W.root(W.parse(b'<Job><Links><Link Rel="Up" Href="/a"/></Links></Job>'))[1]
    assert one == {"links": [{"rel": "Up", "href": "/a"}]}
    two = W.root(W.parse(b'<Job><Links><Link Rel="Up"/><Link Rel="Down"/></Links></Job>'))[1]
    assert two == {"links": [{"rel": "Up"}, {"rel": "Down"}]}
    assert W.plain({"Links": [{"Rel": "Up", "Href": "/a"}]}) == one
    # the generic rule: <Jobs><Job/></Jobs> is a list, a container with attributes or another child is not
    assert W.root(W.parse(b"<R><Jobs><Job><Name>a</Name></Job></Jobs></R>"))[1] == {"jobs": [{"name": "a"}]}
    assert W.root(W.parse(b'<R><Jobs Count="1"><Job/></Jobs></R>'))[1] == {"jobs": {"count": "1", "job": None}}
    assert W.root(W.parse(b"<R><Options><Kind>x</Kind></Options></R>"))[1] == {"options": {"kind": "x"}}
    assert W.root(W.parse(b"<R><Status>x</Status></R>"))[1] == {"status": "x"}
    # repeated elements are lists, text with attributes keeps both
    assert W.root(W.parse(b"<R><Days>Mon</Days><Days>Tue</Days></R>"))[1] == {"days": ["Mon", "Tue"]}
    assert W.root(W.parse(b'<R><Result Success="true">Ok</Result></R>'))[1] == {"result": {"success": "true", "text": "Ok"}}


def test_root_forms():
    assert W.root(W.parse(b"<Task/>")) == ("Task", {})
    assert W.root({"a": 1, "b": 2}) == (None, {"a": 1, "b": 2})
    assert W.root([{"Id": 1}]) == (None, [{"id": 1}])
    assert W.root({"Refs": [{"Name": "x"}]}) == (None, {"refs": [{"name": "x"}]})


def test_small_helpers():
    assert [W.as_bool(v) for v in (True, "true", "True", " TRUE ", False, "false", None, 1, "yes")] == [
        True, True, True, True, False, False, False, False, False]
    assert [W.as_int(v) for v in ("100", 7, " 3 ", "x", None, "1.5")] == [100, 7, 3, None, None, None]
    assert W.as_int("x", 1) == 1
    assert W.text({"text": "a", "lang": "en"}) == "a" and W.text({"#text": "b"}) == "b" and W.text("c") == "c"


# ------------------------------------------------------------------------------------------------ error_text
@pytest.mark.parametrize("name,expected", [
    ("em_error_400.json", ("Node [root] does not exist.", None)),
    ("em_error_400_twin_constructed.xml", ("Node [root] does not exist.", None)),
    ("em_error_500_constructed.xml", ("Object reference not set to an instance of an object.", None)),
    ("m365_error_v6_constructed.json", ("Job is already running.", None)),
    ("m365_error_v7_constructed.json", ("Proxy is offline.", "ProxyOffline")),
    ("m365_error_v8_reconstructed.json", ("<message text - exact server wording not found in public sources>", None)),
    ("m365_oauth_error_constructed.json", ("The user name or password is incorrect.", "invalid_grant")),
])
def test_error_text_of_every_error_body(name, expected):
    assert W.error_text(doc(name)) == expected


@pytest.mark.parametrize("data,expected", [
    (None, (None, None)),
    ([], (None, None)),
    ([{"message": "x"}], (None, None)),
    ({"id": "1", "name": "job"}, (None, None)),
    ({"message": "  "}, (None, None)),
    ({"message": " padded "}, ("padded", None)),
    ({"error": "invalid_grant"}, (None, "invalid_grant")),
    ({"error": {"message": "inner", "code": "E1"}}, ("inner", None)),
    ({"message": "m", "errorCode": 42}, ("m", "42")),
    ({"Message": "Access denied.", "StatusCode": 403}, ("Access denied.", None)),
    ({"message": 5}, ("5", None)),
    ({"message": ["a", "b"]}, (None, None)),
    ({"Message": {"#text": "nested", "@Lang": "en"}, "StatusCode": 500}, ("nested", None)),
])
def test_error_text_shapes(data, expected):
    assert W.error_text(data) == expected


def test_error_text_of_an_oauth_style_error_object_beside_other_members():
    assert W.error_text({"error": {"message": "inner", "code": "E1"}, "status": 400}) == ("inner", "E1")
    assert W.error_text({"message": "m", "errorCode": ["not", "text"]}) == ("m", None)


def test_plain_skips_non_text_keys_and_refuses_runaway_nesting():
    assert W.plain({1: "x", "Name": "y"}) == {"name": "y"}
    deep = {}
    for _level in range(5000):
        deep = {"A": deep}
    with expect_error("parse") as caught:
        W.plain(deep)
    assert str(caught.error) == "The server sent a document nested too deeply to read"


def test_xml_without_xmltodict(monkeypatch):
    monkeypatch.setattr(W, "HAS_XMLTODICT", False)
    with expect_error("parse") as caught:
        W.parse(b"<Task/>")
    assert str(caught.error) == "The xmltodict Python library is needed to read XML responses"
    assert W.parse(b'{"a": 1}') == {"a": 1}


def test_error_text_of_message_element_with_attributes():
    data = W.parse(b'<Error StatusCode="500"><Message Lang="en">boom</Message></Error>')
    assert W.error_text(data) == ("boom", None)
