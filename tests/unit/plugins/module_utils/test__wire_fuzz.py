# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fuzzing the wire parsers and the views (hypothesis): whatever a server sends, nothing escapes but VeeamError.

Bodies are the recorded samples mutated (cut, bytes flipped, garbage and markup inserted, spans deleted or
repeated, a BOM added), random unicode, random JSON values, random XML trees with Veeam's element names and
namespace prefixes, and deeply nested documents.  Each one goes through ``parse`` (with a content type that may
lie), then ``plain``, ``root``, ``error_text``, the EM list readers and every view function of both clients.
``parse`` may refuse a body, but only with a ``VeeamError`` of kind ``parse``; the views must not raise at all,
on any dict.  The runs are bounded (300 examples per test, no deadline) and keep no example database.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import fixture_bytes, fixture_names

FUZZ = settings(max_examples=300, deadline=None, database=None, derandomize=False, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

SEEDS = [fixture_bytes(name) for name in fixture_names(".xml", ".json", ".html", ".txt")]
BOM = b"\xef\xbb\xbf"
CONTENT_TYPES = st.sampled_from([None, "", "application/xml", "application/xml; charset=utf-8", "text/xml",
                                 "application/json", "application/json; charset=utf-8", "application/problem+json",
                                 "text/html", "text/plain", "application/octet-stream", "garbage/;;;"])
MARKUP = st.sampled_from([b"<", b">", b"/>", b"</", b"&", b"&amp;", b"&#0;", b"&#x110000;", b"<!--", b"-->",
                          b"<![CDATA[", b"]]>", b'"', b"'", b"=", b"{", b"}", b"[", b"]", b":", b",", b"\x00",
                          b"\\u0000", b"\\ud800", BOM, b"<v:Task xmlns:v='http://www.veeam.com/ent/v1.0'>",
                          b"<!DOCTYPE a [<!ENTITY e 'x'>]>", b"&e;", b"null", b"1e999", b"-0", b"NaN",
                          b"Infinity", b"9" * 5000, b"<?xml version='1.0'?>", b"xmlns:", b"@Href", b"#text",
                          b"<Links/>", b'"Links": 5', b'"Refs": {"Refs": 1}', b"<html>"])

# The fields the views read, in both spellings, so random dicts hit them with odd values.
EM_FIELDS = ["task_id", "state", "operation", "result", "href", "uid", "name", "job_uid", "job_name", "job_type",
             "progress", "creation_time_utc", "end_time_utc", "failure_message", "is_retry", "links", "platform",
             "description", "schedule_configured", "schedule_enabled", "next_run", "success", "message", "rel",
             "type", "text", "entities", "refs", "paging_info", "page_num", "pages_count", "jobs"]
M365_FIELDS = ["id", "name", "description", "isEnabled", "lastStatus", "lastRun", "nextRun", "lastBackup",
               "organizationId", "backupType", "repositoryId", "jobId", "status", "progress", "creationTime",
               "endTime", "details", "retryCount", "jobWillBeRetried", "jobType", "jobSessionConfigType", "statistics",
               "organization", "type", "state", "result", "initiatedBy", "scopeName", "clientHost", "reason",
               "results", "message", "errorCode", "error", "error_description"]
ELEMENTS = ["Task", "TaskId", "State", "Operation", "Result", "Message", "Links", "Link", "Job", "Jobs", "Refs", "Ref",
            "EntityReferences", "QueryResult", "Entities", "PagingInfo", "BackupJobSession", "Error", "LogonSession",
            "SessionId", "JobType", "Progress", "CreationTimeUTC", "x", "Rel", "Href"]
ATTRIBUTES = ["Href", "Type", "Name", "UID", "Rel", "Success", "Message", "StatusCode", "PageNum", "PagesCount",
              "xmlns", "xmlns:v", "xmlns:xsi"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                    st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.one_of(st.sampled_from(EM_FIELDS + M365_FIELDS + ["Links", "Refs", "Message", "@Href", "#text"]),
              st.text(max_size=10)), inner, max_size=5), max_leaves=12)
# member values of the random entities: mostly scalars, sometimes a small list or object (a link list, a result)
member_values = st.one_of(scalars, scalars, st.lists(scalars | st.dictionaries(
    st.sampled_from(["rel", "href", "type", "name", "text", "success", "message"]), scalars, max_size=4), max_size=3),
    st.dictionaries(st.sampled_from(["rel", "href", "type", "name", "text", "success", "message", "id"]), scalars,
                    max_size=4))


def _dicts(fields):
    return st.dictionaries(st.one_of(st.sampled_from(fields), st.text(max_size=8)), member_values, max_size=10)


em_dicts = _dicts(EM_FIELDS)
m365_dicts = _dicts(M365_FIELDS)


@st.composite
def mutated_samples(draw):
    body = bytearray(draw(st.sampled_from(SEEDS)))
    for operation in draw(st.lists(st.sampled_from(["cut", "flip", "insert", "delete", "repeat", "bom"]),
                                   min_size=1, max_size=5)):
        at = draw(st.integers(0, len(body)))
        if operation == "cut":
            del body[at:]
        elif operation == "flip" and at < len(body):
            body[at] ^= draw(st.integers(1, 255))
        elif operation == "insert":
            body[at:at] = draw(st.one_of(MARKUP, st.binary(min_size=1, max_size=24),
                                         st.text(min_size=1, max_size=12).map(lambda t: t.encode("utf-8"))))
        elif operation == "delete":
            del body[at:at + draw(st.integers(1, 64))]
        elif operation == "repeat":
            body[at:at] = body[at:at + draw(st.integers(1, 200))] * draw(st.integers(1, 3))
        elif operation == "bom":
            body[0:0] = BOM
    return bytes(body)


@st.composite
def xml_trees(draw, depth=0):
    """A random XML element with Veeam-like names, attributes, prefixes, repeated children and text."""
    name = draw(st.sampled_from(ELEMENTS))
    prefix = draw(st.sampled_from(["", "", "v:", "ns0:"]))
    attrs = draw(st.dictionaries(st.sampled_from(ATTRIBUTES), st.text(max_size=12), max_size=4))
    rendered = "".join(' %s="%s"' % (k, v.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;"))
                       for k, v in attrs.items())
    if prefix:
        rendered += ' xmlns:%s="http://www.veeam.com/ent/v1.0"' % prefix[:-1]
    if depth > 3 or draw(st.booleans()):
        text = draw(st.text(max_size=20)).replace("&", "&amp;").replace("<", "&lt;")
        text = "".join(c for c in text if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd"))
        inner = text
    else:
        inner = "".join(draw(st.lists(xml_trees(depth + 1), max_size=4)))
    return "<%s%s%s>%s</%s%s>" % (prefix, name, rendered, inner, prefix, name)


@st.composite
def nested(draw):
    depth = draw(st.integers(1, 1500))  # deeper ones are the explicit examples of test_deep_nesting
    kind = draw(st.sampled_from(["list", "object", "xml", "mixed"]))
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"Links":' * depth + b"null" + b"}" * depth
    if kind == "xml":
        return b"<Links>" * depth + b"<Link Rel='Up' Href='/x'/>" + b"</Links>" * depth
    return b'{"Refs":[' * depth + b"1" + b"]}" * depth


bodies = st.one_of(
    mutated_samples(),
    st.sampled_from(SEEDS),
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.text(max_size=200).map(lambda t: ("<" + t).encode("utf-8")),
    st.text(max_size=200).map(lambda t: ("{" + t).encode("utf-8")),
    json_values.map(lambda v: json.dumps(v).encode("utf-8")),
    xml_trees().map(lambda x: x.encode("utf-8")),
    xml_trees().map(lambda x: BOM + ('<?xml version="1.0" encoding="utf-8"?>' + x).encode("utf-8")),
)


def em_views(entity):
    """Every EM view of one dict; none may raise."""
    _em.task_view(entity)
    _em.session_view(entity)
    for kind in ("vm", "nas", "agent"):
        job = _em._job(entity, kind, "Job")
        _em.public(job)
        _em._links({"links": job["_links"]})
    _em.session_running(_em.session_view(entity))
    _em.task_done(_em.task_view(entity))
    _em.run_state({"session": _em.session_view(entity)})


def m365_views(raw):
    """Every VB365 view of one dict; none may raise."""
    _m365.session_view(raw)
    _m365.restore_session_view(raw)
    _m365.is_running(raw.get("lastStatus"))
    _m365.restore_session_stopped(raw)
    _m365.newest_first([raw, {"creationTime": raw.get("creationTime")}])
    _m365.job_view(raw, {"b2d9414d-c417-4a94-b3a5-85d5c3dd8ec3": "tech.onmicrosoft.com"})
    _m365.job_view(raw, None, raw.get("id"))


def dicts_in(value, limit=60):
    """The dicts inside a parsed document (breadth first, bounded)."""
    found, todo = [], [value]
    while todo and len(found) < limit:
        item = todo.pop(0)
        if isinstance(item, dict):
            found.append(item)
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return found


def check_body(body, content_type):
    try:
        data = W.parse(body, content_type)
    except VeeamError as exc:
        assert exc.kind == "parse" and str(exc)
        return
    try:
        plain = W.plain(data)
        W.root(data)
    except VeeamError as exc:
        assert exc.kind == "parse"
        return
    message, code = W.error_text(data)
    assert message is None or (isinstance(message, str) and message.strip() == message and message)
    assert code is None or isinstance(code, str)
    for item in _em._entities(data):
        em_views(item)
    page_num, pages = _em._paging(data)
    assert isinstance(page_num, int) and isinstance(pages, int)
    for entity in dicts_in(plain):
        em_views(entity)
    for raw in dicts_in(data):
        m365_views(raw)
    try:
        _m365.newest_first(_m365._items(data))
    except VeeamError as exc:
        assert exc.kind == "parse"


# ------------------------------------------------------------------------------------------------ properties
@FUZZ
@given(body=bodies, content_type=CONTENT_TYPES)
def test_nothing_escapes_the_parsers_but_veeam_error(body, content_type):
    check_body(body, content_type)


@FUZZ
@given(body=mutated_samples(), content_type=CONTENT_TYPES)
def test_mutated_samples(body, content_type):
    check_body(body, content_type)


@FUZZ
@given(body=nested(), content_type=CONTENT_TYPES)
@example(body=b"[" * 100000 + b"]" * 100000, content_type=None)
@example(body=b"<a>" * 20000 + b"</a>" * 20000, content_type="application/xml")
def test_deep_nesting(body, content_type):
    check_body(body, content_type)


@FUZZ
@given(entity=em_dicts)
@example(entity={"links": 5})
@example(entity={"links": [{"rel": ["Up"], "href": "/x"}]})
@example(entity={"links": [{"rel": "Up", "type": 5, "name": {"a": 1}}]})
@example(entity={"links": {"link": {"rel": "Start"}}, "result": [], "progress": {"text": "x"}})
def test_em_views_never_raise(entity):
    em_views(entity)
    em_views(W.plain(entity))


@FUZZ
@given(raw=m365_dicts)
@example(raw={"organizationId": ["b2d9414d-c417-4a94-b3a5-85d5c3dd8ec3"]})
@example(raw={"organizationId": {"id": 1}, "id": ["x"], "statistics": {"a": [1]}, "type": 5})
def test_m365_views_never_raise(raw):
    m365_views(raw)


@FUZZ
@given(data=json_values)
def test_error_text_of_any_json_value(data):
    message, code = W.error_text(data)
    assert message is None or isinstance(message, str)
    assert code is None or isinstance(code, str)
    try:
        W.root(data)
    except VeeamError as exc:
        assert exc.kind == "parse"


@FUZZ
@given(body=st.sampled_from(SEEDS), cut=st.integers(0, 10 ** 6))
def test_every_cut_of_every_sample(body, cut):
    check_body(body[:cut % (len(body) + 1)], None)
