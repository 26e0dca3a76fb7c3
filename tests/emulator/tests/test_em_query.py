"""The EM query filter language: tokenizer, parser, evaluation, and the query service over the default jobs."""

from __future__ import annotations

import urllib.parse

import pytest

from emulator.em_query import BoolOp, Comparison, Field, FilterError, compile_filter, parse_filter, tokenize

from .conftest import (JOB_FILESERVER, JOB_FRENCH, JOB_GOLD, JOB_NIGHTLY_1, JOB_NIGHTLY_2, JOB_REPORTS, NS, SERVER_2,
                       EmCaller)


def _names(caller: EmCaller, filter_text: str, qtype: str = "Job") -> list[str]:
    root = caller.get_xml("/api/query", {"type": qtype, "filter": filter_text})
    return sorted(ref.get("Name") for ref in root.iter(f"{NS}Ref"))


def _status(caller: EmCaller, filter_text: str, qtype: str = "Job") -> int:
    return caller.call("GET", "/api/query", {"type": qtype, "filter": filter_text}).status


# --------------------------------------------------------------------------------------------- syntax

def test_tokenizer_kinds() -> None:
    kinds = [t.kind for t in tokenize('(Name=="a ""b""",JobType!=Backup);x<=1')]
    assert kinds == ["LPAREN", "WORD", "OP", "QUOTED", "OR", "WORD", "OP", "WORD", "RPAREN", "AND", "WORD", "OP",
                     "WORD", "END"]


def test_doubled_quote_is_one_quote() -> None:
    tree = parse_filter('Name=="Backup ""Gold""; tier,1"')
    assert tree == Comparison("Name", "==", 'Backup "Gold"; tier,1', True)


def test_operators_inside_quotes_are_text() -> None:
    assert parse_filter('Name=="Reports==Daily"') == Comparison("Name", "==", "Reports==Daily", True)
    assert parse_filter('Name=="a<b>c!=d"') == Comparison("Name", "==", "a<b>c!=d", True)


def test_unquoted_spaces_are_ignored() -> None:
    # optional_query_parameters: "If the string contains spaces and is not included in quotes, the server will
    # ignore spaces in the string."
    assert parse_filter("Name==Fileserver Backup") == Comparison("Name", "==", "FileserverBackup", False)
    assert parse_filter(" Name == x ") == Comparison("Name", "==", "x", False)


def test_and_binds_tighter_than_or() -> None:
    tree = parse_filter("a==1,b==2;c==3")
    assert isinstance(tree, BoolOp) and tree.op == "or"
    assert isinstance(tree.items[1], BoolOp) and tree.items[1].op == "and"
    grouped = parse_filter("(a==1,b==2);c==3")
    assert isinstance(grouped, BoolOp) and grouped.op == "and"


@pytest.mark.parametrize("text", [
    'Name=="unterminated',
    'Name=="a"b',                 # text glued to a closing quote
    'Name==a"b"',                 # quote glued to an unquoted value
    "Name==",
    "==x",
    "Name=x",
    "Name==a==b",                 # an unquoted value cannot contain ==
    "(Name==a",
    "Name==a)",
    "Name==a;",
    ";Name==a",
    "Name==a,,b==c",
    'Name=="a" "b"',
    "Name!x",
    '"Name"=="x"',
])
def test_malformed_filters_raise(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)


def test_empty_filter_is_no_filter() -> None:
    assert parse_filter(None) is None
    assert parse_filter("   ") is None


def test_compile_checks_fields_and_values() -> None:
    fields = {"name": Field("Name", "string", lambda r: r["name"]),
              "flag": Field("Flag", "bool", lambda r: r["flag"]),
              "result": Field("Result", "enum", lambda r: r["result"], ("None", "Success", "Warning", "Failed"))}
    with pytest.raises(FilterError, match="Unknown filter parameter"):
        compile_filter(parse_filter("Nope==1"), fields)
    with pytest.raises(FilterError, match="Boolean"):
        compile_filter(parse_filter("Flag==maybe"), fields)
    with pytest.raises(FilterError, match="possible values"):
        compile_filter(parse_filter("Result==Great"), fields)
    pred = compile_filter(parse_filter("result>=warning;FLAG==True;name!=X"), fields)
    assert pred({"name": "y", "flag": True, "result": "Failed"})
    assert not pred({"name": "y", "flag": True, "result": "Success"})
    assert not pred({"name": "x", "flag": True, "result": "Failed"})


# --------------------------------------------------------------------------------------------- over the API

def test_exact_names_with_special_characters(em_api) -> None:
    _api, _clock, caller = em_api
    assert _names(caller, 'Name=="Backup ""Gold""; tier,1"') == ['Backup "Gold"; tier,1']
    assert _names(caller, 'Name=="Reports==Daily"') == ["Reports==Daily"]
    assert _names(caller, 'Name=="Sauvegarde quotidienne élémentaire"') == ["Sauvegarde quotidienne élémentaire"]
    assert _names(caller, 'name=="SAUVEGARDE QUOTIDIENNE ÉLÉMENTAIRE"') == ["Sauvegarde quotidienne élémentaire"]


def test_injection_attempts_do_not_match_other_jobs(em_api) -> None:
    _api, _clock, caller = em_api
    # the name pasted without doubling its quotes: a syntax error, not a different filter
    assert _status(caller, 'Name=="Backup "Gold"; tier,1"') == 400
    # the name pasted without quotes: ';' and ',' would split it; the pieces are not valid comparisons
    assert _status(caller, 'Name==Backup "Gold"; tier,1') == 400
    assert _status(caller, "Name==Reports==Daily") == 400
    # a value crafted to close the quote and add an always-true clause, sent correctly escaped, is just a name
    crafted = 'x",Name!="'
    escaped = crafted.replace('"', '""')
    assert _names(caller, f'Name=="{escaped}"') == []
    # the same value sent unescaped would be "Name==x OR Name!=''": valid syntax, and it matches everything;
    # that is the client's job to prevent, and the emulator shows it does match everything
    assert len(_names(caller, f'Name=="{crafted}"')) > 10


def test_same_name_on_two_servers(em_api) -> None:
    _api, _clock, caller = em_api
    root = caller.get_xml("/api/query", {"type": "Job", "filter": 'Name=="Nightly Backup"'})
    uids = sorted(ref.get("UID") for ref in root.iter(f"{NS}Ref"))
    assert uids == sorted([f"urn:veeam:Job:{JOB_NIGHTLY_1}", f"urn:veeam:Job:{JOB_NIGHTLY_2}"])
    root = caller.get_xml("/api/query", {"type": "Job",
                                         "filter": f'Name=="Nightly Backup";BackupServerUid=="urn:veeam:BackupServer:{SERVER_2}"'})
    assert [ref.get("UID") for ref in root.iter(f"{NS}Ref")] == [f"urn:veeam:Job:{JOB_NIGHTLY_2}"]
    root = caller.get_xml("/api/query", {"type": "Job", "filter": 'Name=="Nightly Backup";BackupServerName=="VBR01.lab.local"'})
    assert [ref.get("UID") for ref in root.iter(f"{NS}Ref")] == [f"urn:veeam:Job:{JOB_NIGHTLY_1}"]


def test_field_types(em_api) -> None:
    _api, _clock, caller = em_api
    assert "Weekly Archive" in _names(caller, "ScheduleEnabled==false")
    assert "Weekly Archive" not in _names(caller, "ScheduleEnabled==true")
    assert _names(caller, "ScheduleConfigured==False") == ["Ad-hoc Test Backup"]
    assert _names(caller, "JobType==replica") == ["SQL Replication"]
    copies = ["Immediate Copy to DR", "Offsite Backup Copy"]
    assert _names(caller, "(jobtype==backupcopy),(JobType==ImmediateBackupCopy)") == copies
    assert _names(caller, f"UID==urn:veeam:Job:{JOB_REPORTS}") == ["Reports==Daily"]
    assert _names(caller, f'uid=="{JOB_GOLD}"') == ['Backup "Gold"; tier,1']  # the bare GUID matches the URN
    assert _names(caller, 'Platform==HyperV;Name!="Exchange Backup"') == ["Reports==Daily"]
    assert _names(caller, "Name==NightlyBackup") == []
    assert _status(caller, "NextRun>=yesterday") == 400
    assert _status(caller, "Colour==red") == 400
    assert _names(caller, "Platform==AgentForLinux", "AgentBackupJob") == ["Linux Agent Backup"]
    assert _names(caller, "Name==\"Shared Files Backup\"", "NasJob") == ["Shared Files Backup"]
    assert _status(caller, "JobType==NasBackup", "NasJob") == 400  # not a NasJob query field


def test_sessions_query_result_order_and_dates(em_api) -> None:
    _api, clock, caller = em_api
    assert caller.call("POST", f"/api/jobs/{JOB_FILESERVER}", "action=retry").status == 202
    clock.advance(10)
    root = caller.get_xml("/api/query", {"type": "BackupJobSession", "format": "Entities", "sortDesc": "CreationTime",
                                         "filter": f'JobUid=="urn:veeam:Job:{JOB_FILESERVER}"'})
    sessions = list(root.iter(f"{NS}BackupJobSession"))
    assert [s.findtext(f"{NS}IsRetry") for s in sessions] == ["true", "false"]
    assert [s.findtext(f"{NS}Result") for s in sessions] == ["Success", "Failed"]
    assert len(_names(caller, "Result==Failed;IsRetry==false", "BackupJobSession")) >= 1
    assert _names(caller, 'Result>Success;JobName=="File Server Backup"', "BackupJobSession") == \
        ["File Server Backup@" + sessions[1].get("Name").split("@")[1]]
    created = sessions[0].findtext(f"{NS}CreationTimeUTC")
    assert _names(caller, f'CreationTime>="{created}";JobName=="File Server Backup"', "BackupJobSession") == \
        [sessions[0].get("Name")]
    assert _status(caller, "State==Sleeping", "BackupJobSession") == 400


def test_paging_and_links(em_api) -> None:
    _api, _clock, caller = em_api
    root = caller.get_xml("/api/query", {"type": "job", "sortAsc": "name", "pageSize": "5", "page": "2"})
    paging = root.find(f"{NS}PagingInfo")
    assert paging is not None
    total = len(caller.get_xml("/api/query", {"type": "Job"}).findall(f"{NS}Refs/{NS}Ref"))
    assert paging.attrib == {"PageNum": "2", "PageSize": "5", "PagesCount": str(-(-total // 5))}
    rels = [ln.get("Rel") for ln in paging.iter(f"{NS}Link")]
    assert rels == ["First", "Previous", "Next", "Last"]
    names = [r.get("Name") for r in root.iter(f"{NS}Ref")]
    everything = sorted((r.get("Name") for r in caller.get_xml("/api/query", {"type": "Job"}).iter(f"{NS}Ref")),
                        key=str.casefold)
    assert names == everything[5:10]
    first = urllib.parse.urlsplit(paging.find(f"{NS}Links/{NS}Link").get("Href"))
    assert urllib.parse.parse_qs(first.query)["page"] == ["1"]
    assert caller.call("GET", "/api/query", "type=Job&pageSize=0").status == 400
    assert caller.call("GET", "/api/query", "type=Job&sortAsc=Colour").status == 400


def test_query_types_and_formats(em_api) -> None:
    _api, _clock, caller = em_api
    assert caller.call("GET", "/api/query").status == 400
    assert caller.call("GET", "/api/query", "type=Vm").status == 400
    assert caller.call("GET", "/api/query", "type=Job&format=Entity").status == 400
    root = caller.get_xml("/api/query", {"type": "JOB", "format": "Entities", "filter": f"UID=={JOB_FRENCH}"})
    assert [j.get("Name") for j in root.iter(f"{NS}Job")] == ["Sauvegarde quotidienne élémentaire"]
    assert root.find(f"{NS}Entities/{NS}Jobs") is not None
    root = caller.get_xml("/api/query", {"type": "NasJob", "format": "Entities"})
    assert root.find(f"{NS}Entities/{NS}NASJobs/{NS}NASJob") is not None
    root = caller.get_xml("/api/query", {"type": "AgentBackupJob", "format": "Entities"})
    assert len(root.findall(f"{NS}Entities/{NS}AgentBackupJobs/{NS}AgentBackupJob")) == 2
    root = caller.get_xml("/api/query", {"type": "BackupServer"})
    assert len(root.findall(f"{NS}Refs/{NS}Ref")) == 2
    caller.call("POST", f"/api/jobs/{JOB_REPORTS}", "action=start")
    root = caller.get_xml("/api/query", {"type": "Task", "filter": "State==Running"})
    assert [t.findtext(f"{NS}TaskId") for t in root.iter(f"{NS}Task")] == ["task-1"]
    assert root.find(f"{NS}Resources/{NS}Tasks") is not None
