"""The Word report opens cleanly in LibreOffice: docx -> PDF (headless), pages and text checked.

Needs LibreOffice Writer and poppler (CI: apt-get install -y libreoffice-writer poppler-utils).
The test fails, never skips, when they are missing. With NLP_REPORT_SCREENSHOT=PATH set, it
also writes the first page as PNG there (docs/img/report-page1.png is made this way).
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nlp.ingest import ImportOptions
from nlp.pipeline import import_file
from nlp.project import init_project
from nlp.pipeline import write_report
from nlp.store.decisions import Decision, record_decisions

# The bundled corpus: quotes and passages of published reports that the repository holds (the
# test once read the reports from ../shared/seeds, which only CI's checkout has beside it).
CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "vcs-commissioning" / "units.jsonl"
# Scripted coding so the test needs no model: a theme is suggested when its words occur,
# and a reviewer accepts the strongest suggestions. Only the layout is under test here.
KEYWORDS = {
    "bid_candy": ["bid candy", "named", "supply chain", "never heard", "prime"],
    "subsidising_contracts": ["subsidis", "reserves", "full cost", "own money"],
    "poor_communication": ["communicat", "informed", "told", "feedback", "clarity"],
    "eu_rules_risk_aversion": ["eu ", "procurement rules", "risk averse", "risk-averse"],
    "disproportionate_process": ["paperwork", "bureaucra", "pqq", "tender process", "bid writ"],
    "favours_large_providers": ["large", "small organisations", "smaller", "national"],
    "underfunding_and_payment_risk": ["payment by results", "funding", "cash", "cost", "pbr"],
    "partnership_and_collaboration": ["partner", "collaborat", "consorti", "relationship"],
    "service_user_voice": ["service user", "lived experience", "ex-offender"],
    "equality_and_specialist_services": ["women", "bame", "specialist", "equality"],
    "grants_over_contracts": ["grant"],
    "local_commissioning": ["local"],
}


def bundled_like_project(root: Path):
    """A project of the bundled corpus's quotes and passages, coded with the default
    (vcs-commissioning) codebook by keyword rules and a scripted reviewer."""
    assert CORPUS.is_file(), f"the bundled corpus is missing: {CORPUS}"
    p = init_project(root / "p")
    import_file(p.store, CORPUS, ImportOptions(text_col="text", id_col="id", kind="table"))
    scores = {}
    for r in p.store.corpus(answers_only=True):
        t = r.text.lower()
        s = {tid: min(0.95, 0.45 + 0.15 * sum(t.count(k) for k in kws))
             for tid, kws in KEYWORDS.items()}
        scores[r.response_id] = s
    p.store.write_model_codings(scores, {}, model_id="keywords")
    for i, c in enumerate(p.store.codings()):
        if c.confidence and (c.confidence >= 0.75 or (c.confidence >= 0.6 and i % 3)):
            record_decisions(p.store, c.response_id, [Decision(c.theme_id, "accepted", "model")],
                             coder="reviewer")
    return p


def _run(cmd: list[str], timeout: int = 240) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{cmd[0]} failed: {res.stderr[-2000:]}"
    return res.stdout


@pytest.mark.slow
def test_docx_report_converts_to_pdf(tmp_path):
    office = shutil.which("libreoffice") or shutil.which("soffice")
    assert office, "LibreOffice is missing: apt-get install -y libreoffice-writer"
    assert shutil.which("pdfinfo") and shutil.which("pdftotext") and shutil.which("pdftoppm"), \
        "poppler is missing: apt-get install -y poppler-utils"
    project = bundled_like_project(tmp_path)
    anonymise = importlib.util.find_spec("nlp.text.anonymise") is not None
    docx = write_report(project, tmp_path / "out", formats=("docx",), anonymise=anonymise)[0]
    project.close()
    # A private profile: several conversions (or a desktop LibreOffice) can run side by side.
    profile = (tmp_path / "lo-profile").as_uri()
    _run([office, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
          "--outdir", str(tmp_path / "pdf"), str(docx)])
    pdf = tmp_path / "pdf" / "report.pdf"
    assert pdf.exists()
    pages = int(re.search(r"Pages:\s+(\d+)", _run(["pdfinfo", str(pdf)])).group(1))
    assert 3 <= pages <= 60
    first = _run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"])
    assert "Findings" in first and "1 / About this draft" in first
    text = " ".join(_run(["pdftotext", str(pdf), "-"]).split())
    for part in ("2 / Findings", "Figure 1 / Share of answers", "Table 1 / Themes",
                 "What respondents said", "2.1 /"):
        assert part in text, part
    shot = os.environ.get("NLP_REPORT_SCREENSHOT")
    out = Path(shot) if shot else tmp_path / "page1"
    _run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(pdf),
          str(out.with_suffix(""))])
    assert out.with_suffix(".png").stat().st_size > 10_000
