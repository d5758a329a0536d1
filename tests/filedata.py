"""Test data shared by the test folders: small files built by hand."""
from __future__ import annotations


def pdf_bytes(lines: list[str]) -> bytes:
    """A one-page PDF with the given text lines (built by hand: no PDF writer needed)."""
    body = "BT /F1 11 Tf 50 750 Td 14 TL " + " ".join(
        "(" + ln.replace("(", r"\(").replace(")", r"\)") + ") '" for ln in lines) + " ET"
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            "/Resources << /Font << /F1 5 0 R >> >> >>",
            f"<< /Length {len(body)} >>\nstream\n{body}\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = "%PDF-1.4\n", []
    for i, o in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{o}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{off:010d} 00000 n \n" for off in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")


def csv_project(tmp_path, codebook: str, header: list[str], rows: list[list[str]]):
    """A project with `codebook` (YAML text) and `rows` imported from a CSV with `header`."""
    import csv

    from nlp.pipeline import import_file
    from nlp.project import init_project

    cb = tmp_path / "cb.yaml"
    cb.write_text(codebook, encoding="utf-8")
    p = init_project(tmp_path / "p", codebook=cb)
    f = tmp_path / "answers.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    import_file(p.store, f)
    return p
