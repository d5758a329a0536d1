"""Docs: the README's picture of a report draft, made from the bundled corpus.

Builds a throwaway project from corpora/vcs-commissioning, codes it with the shipped model,
fits its topics, then records the corpus's own adjudicated hand codes as one researcher's
review (the model's suggestion accepted where the hand code has the theme, rejected where it
does not), writes the Word report, converts it to PDF with LibreOffice and the first page to
docs/img/report-page1.png with poppler.

    python docs/report_screenshot.py [--out docs/img/report-page1.png]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp import corpora  # noqa: E402
from nlp.pipeline import code_project, topics_command, write_report  # noqa: E402
from nlp.pipeline.demo import import_demo_corpus  # noqa: E402
from nlp.project import init_project  # noqa: E402
from nlp.store import review as rv  # noqa: E402

CODER = "corpus coders (adjudicated)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "report-page1.png")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # The folder's name is the report's title.
        project = init_project(tmp / "VCS commissioning",
                               codebook=corpora.codebook_path("vcs-commissioning"))
        import_demo_corpus(project.store, "vcs-commissioning")  # without its hand codes
        code_project(project)
        view = topics_command(project)
        gold = dict(zip(corpora.load("vcs-commissioning")["id"],
                        corpora.load("vcs-commissioning")["themes"]))
        suggested: dict[str, set[str]] = {}
        for c in project.store.codings(status="suggested"):
            suggested.setdefault(c.response_id, set()).add(c.theme_id)
        for rid, themes in gold.items():
            decisions = [rv.Decision(t, "accepted") for t in themes]
            decisions += [rv.Decision(t, "rejected") for t in suggested.get(rid, set()) - set(themes)]
            if decisions:
                rv.record_decisions(project.store, rid, decisions, coder=CODER)
        docx = write_report(project, tmp / "out", formats=("docx",),
                            topics=view.result.emergent)[0]
        project.close()
        subprocess.run(["soffice", f"-env:UserInstallation={(tmp / 'lo').as_uri()}",
                        "--headless", "--convert-to", "pdf", "--outdir", str(tmp), str(docx)],
                       check=True, capture_output=True)
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile",
                        str(tmp / "report.pdf"), str(args.out.with_suffix(""))], check=True)
    print(args.out)


if __name__ == "__main__":
    main()
