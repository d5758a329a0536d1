"""REFI-QDA export (.qdpx, .qdc), schema validity, offsets, and the round trip back in."""
from __future__ import annotations

import sys
import types
import zipfile
from xml.etree import ElementTree as ET

import pytest

from nlp import errors
from nlp.ingest import ImportOptions
from nlp.pipeline import import_file
from nlp.project import init_project
from nlp.pipeline import export_qdc, export_qdpx, import_qdpx, project_xml
from nlp.refiqda import (CODEBOOK_NS, MODEL_USER_NAME, PROJECT_NS, codebook_xml, read_qdc,
                         validate_xml)
from nlp.store.decisions import Decision, record_decisions

NS = {"q": PROJECT_NS}

CSV = (
    "id,text,respondent,region,org_type,size\n"
    "r1,\"The prime named us in the bid, then we never heard from them again.\","
    "A1,Wales,charity,12\n"
    "r2,\"We use our reserves to keep the service running — café talk aside 😀.\","
    "A1,Wales,charity,12\n"
    "r3,\"Nobody answered our questions.\nThe portal was down for a week.\","
    "B2,North,social enterprise,40\n"
    "r4,\"=HYPERLINK(\"\"http://x\"\")\",C3,North,charity,3\n"
    "r5,N/A,C3,North,charity,3\n"
)


def fake_anonymiser(texts):
    return [t.replace("prime", "[ORG]") for t in texts]


@pytest.fixture
def project(tmp_path):
    p = init_project(tmp_path / "p")
    f = tmp_path / "answers.csv"
    f.write_text(CSV, encoding="utf-8")
    import_file(p.store, f, ImportOptions(respondent_col="respondent"))
    s = p.store
    s.write_model_codings({"r1": {"bid_candy": 0.91, "poor_communication": 0.2},
                           "r2": {"subsidising_contracts": 0.8},
                           "r3": {"poor_communication": 0.7, "bid_candy": 0.6}},
                          {}, model_id="t")
    record_decisions(s, "r1", [Decision("bid_candy", "accepted", "model")], coder="alice")
    record_decisions(s, "r3", [Decision("bid_candy", "rejected", "model")], coder="alice")
    record_decisions(s, "r3", [Decision("poor_communication", "accepted")], coder="bob")
    yield p
    p.close()


def _qde(path):
    with zipfile.ZipFile(path) as zf:
        return zf.read("project.qde"), {n: zf.read(n) for n in zf.namelist()}


def test_qdpx_validates_against_the_refi_schema(project, tmp_path):
    out = export_qdpx(project.store, tmp_path / "p.qdpx", anonymiser=fake_anonymiser)
    xml, members = _qde(out)
    assert validate_xml(xml, "project") == []
    assert all(n == "project.qde" or n.startswith("sources/") for n in members)
    root = ET.fromstring(xml)
    order = [c.tag.split("}")[1] for c in root]
    assert order == ["Users", "CodeBook", "Variables", "Cases", "Sources", "Description"]


def test_qdc_validates_and_reads_back(project, tmp_path):
    xml = codebook_xml(project.store.active_codebook())
    assert validate_xml(xml, "codebook") == []
    assert ET.fromstring(xml).tag == f"{{{CODEBOOK_NS}}}CodeBook"
    out = export_qdc(project.store, tmp_path / "c.qdc")
    cb = read_qdc(out)
    orig = project.store.active_codebook()
    assert [(t.theme_id, t.label, t.definition, t.include, t.exclude) for t in cb.themes] == \
        [(t.theme_id, t.label, t.definition, t.include, t.exclude) for t in orig.themes]


def test_validation_reports_a_broken_document(project):
    xml, _ = project_xml(project.store, anonymise=False)
    broken = xml.replace(b'isCodable="true"', b'isCodable="maybe"', 1)
    assert validate_xml(broken, "project")


def test_offsets_count_code_points_and_texts_are_utf8_without_bom(project, tmp_path):
    out = export_qdpx(project.store, tmp_path / "p.qdpx", anonymise=False)
    xml, members = _qde(out)
    root = ET.fromstring(xml)
    for src in root.iterfind(".//q:TextSource", NS):
        data = members["sources/" + src.get("plainTextPath").split("://")[1]]
        assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
        text = data.decode("utf-8")
        for sel in src.iterfind("q:PlainTextSelection", NS):
            a, b = int(sel.get("startPosition")), int(sel.get("endPosition"))
            assert text[a:b] == text and b == len(text)
    r2 = root.find(".//q:TextSource[@name='r2']", NS)
    data = members["sources/" + r2.get("plainTextPath").split("://")[1]]
    sel = r2.find("q:PlainTextSelection", NS)
    # 'é' is 2 bytes and the emoji 4 bytes in UTF-8 (2 UTF-16 units): one code point each.
    assert int(sel.get("endPosition")) == len(data.decode("utf-8")) < len(data)


def test_coders_are_users_and_model_suggestions_stay_apart(project, tmp_path):
    xml, _ = project_xml(project.store, anonymise=False)
    root = ET.fromstring(xml)
    users = {u.get("guid"): u for u in root.iterfind(".//q:User", NS)}
    names = {u.get("id"): u.get("name") for u in users.values()}
    assert names == {"model": MODEL_USER_NAME, "alice": "alice", "bob": "bob"}
    by_user = {}
    for sel in root.iterfind(".//q:PlainTextSelection", NS):
        for cd in sel.iterfind("q:Coding", NS):
            assert cd.get("creatingUser") in users
            by_user.setdefault(users[cd.get("creatingUser")].get("id"), set()).add(
                sel.get("name").split(" / ")[0])
    # "open" suggestions only: r1's and r3's were all decided by a researcher, so only r2
    # keeps a model coding; alice's rejection of r3 is no coding at all.
    assert by_user == {"model": {"r2"}, "alice": {"r1"}, "bob": {"r3"}}


def test_cases_carry_respondent_attributes(project):
    xml, _ = project_xml(project.store, anonymise=False)
    root = ET.fromstring(xml)
    var = {v.get("guid"): (v.get("name"), v.get("typeOfVariable"))
           for v in root.iterfind(".//q:Variable", NS)}
    # CSV cells are text: a variable keeps the type its values have in the project.
    assert ("row", "Integer") in var.values() and ("region", "Text") in var.values()
    cases = {c.get("name"): c for c in root.iterfind(".//q:Case", NS)}
    assert set(cases) == {"A1", "B2", "C3"}
    a1 = {var[v.find("q:VariableRef", NS).get("targetGUID")][0]: v[1].text
          for v in cases["A1"].iterfind("q:VariableValue", NS)}
    assert a1["region"] == "Wales" and a1["org_type"] == "charity" and a1["size"] == "12"
    assert len(cases["A1"].findall("q:SourceRef", NS)) == 2


def test_export_anonymises_by_default(project, tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("nlp.text.anonymise")
    fake.anonymise_texts = lambda texts, **kw: calls.append(len(texts)) or fake_anonymiser(texts)
    monkeypatch.setitem(sys.modules, "nlp.text.anonymise", fake)
    _, members = _qde(export_qdpx(project.store, tmp_path / "d.qdpx"))
    assert calls
    texts = [v.decode() for k, v in members.items() if k.startswith("sources/")]
    assert any("[ORG]" in t for t in texts) and not any("prime" in t for t in texts)
    _, members = _qde(export_qdpx(project.store, tmp_path / "raw.qdpx", anonymise=False))
    assert any("prime" in v.decode() for k, v in members.items() if k.startswith("sources/"))


def test_respondent_names_become_pseudonyms(project, tmp_path):
    def names_out(texts):
        return [t.replace("A1", "[PERSON]") for t in texts]

    xml, _ = project_xml(project.store, anonymiser=names_out)
    root = ET.fromstring(xml)
    cases = {c.get("name") for c in root.iterfind(".//q:Case", NS)}
    assert cases == {"respondent 1", "B2", "C3"}
    assert b'"A1"' not in xml and b">A1<" not in xml


@pytest.mark.slow
def test_export_with_the_real_anonymiser(tmp_path):
    p = init_project(tmp_path / "p")
    f = tmp_path / "a.csv"
    f.write_text("id,text\nr1,Please call Sarah Jones on 07700 900123 or sarah@example.org\n",
                 encoding="utf-8")
    import_file(p.store, f)
    _, members = _qde(export_qdpx(p.store, tmp_path / "p.qdpx"))
    text = next(v.decode() for k, v in members.items() if k.startswith("sources/"))
    assert "07700 900123" not in text and "sarah@example.org" not in text
    p.close()


def _state(store):
    return {(c.response_id, c.theme_id, c.coder): (c.status, c.origin,
                                                   None if c.confidence is None
                                                   else round(c.confidence, 3))
            for c in store.codings()}


def test_round_trip_gives_the_same_codings(project, tmp_path):
    out = export_qdpx(project.store, tmp_path / "p.qdpx", anonymise=False, suggestions="all")
    q = init_project(tmp_path / "q")
    try:
        summary = import_qdpx(q.store, out)
        assert summary.imported == 5 and summary.format == "qdpx"
        assert _state(q.store) == _state(project.store)
        a, b = project.store.corpus(), q.store.corpus()
        assert a.ids == b.ids and a.texts == b.texts
        assert [r.respondent_id for r in a] == [r.respondent_id for r in b]
        assert b[0].metadata["region"] == "Wales" and b[0].metadata["size"] == "12"
        assert b.responses[4].flag == "non_answer"
        # Importing the same file again adds nothing.
        assert import_qdpx(q.store, out).source_already_present
    finally:
        q.close()


def test_round_trip_of_open_suggestions_into_the_same_project(project, tmp_path):
    out = export_qdpx(project.store, tmp_path / "p.qdpx", anonymiser=fake_anonymiser)
    before = _state(project.store)
    summary = import_qdpx(project.store, out)
    assert summary.imported == 0 and summary.skipped_present == 5
    assert _state(project.store) == before
    assert "prime" in project.store.response("r1").text  # the project's text is kept


FOREIGN = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Interviews" origin="QualCoder 3.5">
 <Users><User guid="11111111-1111-4111-8111-111111111111" name="Dana"/></Users>
 <CodeBook><Codes>
  <Code guid="22222222-2222-4222-8222-222222222222" name="Poor communication" isCodable="true"/>
  <Code guid="33333333-3333-4333-8333-333333333333" name="Folder" isCodable="false">
   <Code guid="44444444-4444-4444-8444-444444444444" name="Late payment" isCodable="true">
    <Description>Paid months after delivery.</Description></Code>
  </Code>
 </Codes></CodeBook>
 <Sources>
  <TextSource guid="55555555-5555-4555-8555-555555555555" name="interview1"
    plainTextPath="internal://55555555-5555-4555-8555-555555555555.txt">
   <PlainTextSelection guid="66666666-6666-4666-8666-666666666666" startPosition="{a}"
     endPosition="{b}" creatingUser="11111111-1111-4111-8111-111111111111">
    <Coding guid="77777777-7777-4777-8777-777777777777"
      creatingUser="11111111-1111-4111-8111-111111111111">
     <CodeRef targetGUID="22222222-2222-4222-8222-222222222222"/></Coding>
    <Coding guid="88888888-8888-4888-8888-888888888888">
     <CodeRef targetGUID="44444444-4444-4444-8444-444444444444"/></Coding>
   </PlainTextSelection>
  </TextSource>
 </Sources>
</Project>"""


def test_import_of_another_programs_file(tmp_path):
    text = "\ufeffQ: How was it?\r\nA: They never replied to émails and paid late.\r\n"
    body = text[1:]
    a = body.index("They")
    b = body.index("late.") + len("late.")
    path = tmp_path / "foreign.qdpx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", FOREIGN.replace("{a}", str(a)).replace("{b}", str(b)))
        zf.writestr("Sources/55555555-5555-4555-8555-555555555555.txt", text.encode("utf-8"))
    p = init_project(tmp_path / "p")
    try:
        summary = import_qdpx(p.store, path)
        assert summary.imported == 1 and any("new themes" in n for n in summary.notes)
        r = p.store.corpus()[0]
        assert r.text == "They never replied to émails and paid late."
        assert r.response_id == f"interview1@{a}-{b}"
        cb = p.store.active_codebook()
        assert "late_payment" in cb.theme_ids and "poor_communication" in cb.theme_ids
        got = {(c.theme_id, c.coder, c.status) for c in p.store.codings()}
        assert got == {("poor_communication", "Dana", "accepted"),
                       ("late_payment", "Dana", "accepted")}
    finally:
        p.close()


def test_import_refuses_what_is_not_a_qdpx(tmp_path, store):
    bad = tmp_path / "x.qdpx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(errors.InputError, match="not a ZIP"):
        import_qdpx(store, bad)
    dtd = tmp_path / "d.qdpx"
    with zipfile.ZipFile(dtd, "w") as zf:
        zf.writestr("project.qde", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
                                   '<Project xmlns="urn:QDA-XML:project:1.0" name="x"/>')
    with pytest.raises(errors.InputError, match="DTD"):
        import_qdpx(store, dtd)
    assert store.count_responses() == 0


def test_unknown_suggestions_option(project, tmp_path):
    with pytest.raises(errors.NlpError, match="suggestions"):
        export_qdpx(project.store, tmp_path / "x.qdpx", anonymise=False, suggestions="some")
    assert not (tmp_path / "x.qdpx").exists()


def test_line_breaks_can_be_flattened_for_picky_readers(project, tmp_path):
    out = export_qdpx(project.store, tmp_path / "p.qdpx", anonymise=False, line_breaks="space")
    xml, members = _qde(out)
    assert validate_xml(xml) == []
    texts = [v.decode() for k, v in members.items() if k.startswith("sources/")]
    assert "Nobody answered our questions. The portal was down for a week." in texts
    assert not any("\n" in t for t in texts)
    with pytest.raises(errors.NlpError, match="line_breaks"):
        project_xml(project.store, anonymise=False, line_breaks="crlf")


def test_an_empty_project_still_validates(store):
    xml, files = project_xml(store, anonymise=False)
    assert validate_xml(xml) == [] and files == {}


def _spans(store):
    return {(c.response_id, c.theme_id, c.coder): (c.status, c.spans) for c in store.codings()}


@pytest.mark.parametrize("line_breaks", ["keep", "space"])
def test_span_codes_validate_and_round_trip(project, tmp_path, line_breaks):
    s = project.store
    text3 = s.response("r3").text  # "Nobody answered our questions.\nThe portal was down..."
    second = (text3.index("The portal"), len(text3))
    record_decisions(s, "r3", [Decision("poor_communication", "accepted",
                                        spans=[(0, 30), second])], coder="bob")
    record_decisions(s, "r1", [Decision("bid_candy", "accepted", spans=[(0, 31)])],
                     coder="carol")
    record_decisions(s, "r1", [Decision("poor_communication", "rejected", spans=[(0, 31)])],
                     coder="carol")
    out = export_qdpx(s, tmp_path / "p.qdpx", anonymise=False, suggestions="all",
                      line_breaks=line_breaks)
    xml, members = _qde(out)
    assert validate_xml(xml, "project") == []
    root = ET.fromstring(xml)
    sels = {(e.get("startPosition"), e.get("endPosition")) for e in root.iterfind(
        ".//q:TextSource[@name='r3']/q:PlainTextSelection", NS)}
    assert ("0", "30") in sels
    [src3] = [e for e in root.iterfind(".//q:TextSource", NS) if e.get("name") == "r3"]
    body = members[f"sources/{src3.get('plainTextPath').split('//')[1]}"].decode("utf-8")
    for a, b in sels:
        if (a, b) != ("0", str(len(body))):
            assert body[int(a):int(b)] in ("Nobody answered our questions.",
                                           "The portal was down for a week.")
    q = init_project(tmp_path / "q")
    try:
        import_qdpx(q.store, out)
        got, want = _spans(q.store), _spans(s)
        if line_breaks == "keep":
            assert got == want
        else:  # texts flattened: the same words, offsets of the flattened text
            assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in want.items()}
            t = q.store.response("r3").text
            assert [t[a:b] for a, b in got[("r3", "poor_communication", "bob")][1]] == [
                "Nobody answered our questions.", "The portal was down for a week."]
        assert got[("r1", "bid_candy", "carol")][1] == ((0, 31),)
    finally:
        q.close()


def test_span_offsets_follow_the_anonymiser(project, tmp_path):
    s = project.store
    t = s.response("r1").text
    a = t.index("then")
    record_decisions(s, "r1", [Decision("bid_candy", "accepted", spans=[(0, a)])], coder="ana")
    xml, files = project_xml(s, anonymiser=fake_anonymiser, suggestions="none")
    root = ET.fromstring(xml)
    [sel] = [e for e in root.iterfind(".//q:PlainTextSelection", NS)
             if e.get("startPosition") == "0" and "span:" in e.find("q:Description", NS).text]
    [src] = [e for e in root.iterfind(".//q:TextSource", NS) if e.get("name") == "r1"]
    body = files[f"sources/{src.get('guid')}.txt"].decode("utf-8")
    assert body[:int(sel.get("endPosition"))] == "The [ORG] named us in the bid, "


def test_memos_are_notes_with_refs(project, tmp_path):
    from nlp.store.memos import add_memo

    s = project.store
    add_memo(s, "answer", "r1", "The prime is named: anonymise!", author="ana")
    add_memo(s, "theme", "bid_candy", "Overlaps with subsidising", author="bob")
    add_memo(s, "project", None, "Pilot round", author="ana")
    xml, _ = project_xml(s, anonymiser=fake_anonymiser)
    assert validate_xml(xml, "project") == []
    root = ET.fromstring(xml)
    notes = {n.get("guid"): n for n in root.iterfind("q:Notes/q:Note", NS)}
    assert len(notes) == 3
    texts = sorted(n.find("q:PlainTextContent", NS).text for n in notes.values())
    assert texts == ["Overlaps with subsidising", "Pilot round", "The [ORG] is named: anonymise!"]
    users = {u.get("guid"): u.get("name") for u in root.iterfind("q:Users/q:User", NS)}
    assert {users[n.get("creatingUser")] for n in notes.values()} == {"ana", "bob"}
    [src] = [e for e in root.iterfind(".//q:TextSource", NS) if e.get("name") == "r1"]
    [ref] = src.findall("q:NoteRef", NS)
    assert notes[ref.get("targetGUID")].get("name") == "Memo on answer r1 by ana"
    code_refs = [r.get("targetGUID") for r in root.iterfind(".//q:Code/q:NoteRef", NS)]
    assert [notes[g].get("name") for g in code_refs] == ["Memo on theme bid_candy by bob"]
    [proj_ref] = root.findall("q:NoteRef", NS)
    assert notes[proj_ref.get("targetGUID")].get("name") == "Memo on the project by ana"


def test_memos_round_trip_through_qdpx(project, tmp_path):
    from nlp.store.memos import add_memo, list_memos

    s = project.store
    add_memo(s, "answer", "r1", "Check the tone", author="ana")
    add_memo(s, "theme", "bid_candy", "Overlaps with subsidising", author="bob")
    add_memo(s, "project", None, "Pilot round", author="ana")
    out = export_qdpx(s, tmp_path / "p.qdpx", anonymise=False)
    q = init_project(tmp_path / "q")
    try:
        summary = import_qdpx(q.store, out)
        assert "3 notes became memos" in summary.notes
        got = {(m.target, m.target_id, m.author, m.text) for m in list_memos(q.store)}
        assert got == {(m.target, m.target_id, m.author, m.text) for m in list_memos(s)}
    finally:
        q.close()
