"""Test data for the review app: a small project with model suggestions (no ML models)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app.py"

ANSWERS = [
    ("a1", "The prime named us in their bid and we never heard from them again.", "charity"),
    ("a2", "We used our reserves to keep the service going because the price was too low.",
     "charity"),
    ("a3", "Nobody answered our clarification questions before the deadline.", "social"),
    ("a4", "The tender documents ran to 200 pages; <b>bold</b> **stars** [link](http://x) $x$",
     "social"),
    ("a5", "N/A", "charity"),
    ("a6", "Payment in arrears puts our cash flow at risk every quarter.", "public"),
]


def make_project(root: Path, *, suggestions: bool = True):
    """A project with six answers (one a non-answer) and the model's suggestions."""
    from nlp.pipeline import import_file
    from nlp.project import init_project

    project = init_project(root)
    csv = root / "answers.csv"
    csv.write_text("id,text,group\n" + "".join(
        f'{i},"{t}",{g}\n' for i, t, g in ANSWERS), encoding="utf-8")
    import_file(project.store, csv)
    if suggestions:
        tids = project.store.active_codebook().theme_ids
        scores = {
            "a1": {tids[0]: 0.91, tids[2]: 0.55, tids[1]: 0.2},
            "a2": {tids[1]: 0.62, tids[0]: 0.1},
            "a3": {tids[2]: 0.88},
            "a4": {tids[3]: 0.51, tids[2]: 0.45},
            "a6": {tids[1]: 0.3, tids[4]: 0.7},
        }
        full = {rid: {t: s.get(t, 0.0) for t in tids} for rid, s in scores.items()}
        unc = {"a4": 0.95, "a2": 0.8, "a1": 0.6, "a6": 0.4, "a3": 0.1}
        project.store.write_model_codings(full, {t: 0.5 for t in tids}, model_id="test",
                                          uncertainty=unc)
    return project


# Answers like the bundled vcs-commissioning corpus (voluntary sector on commissioning), with
# the themes a model might suggest for them; written for the browser test and screenshots.
DEMO = [
    ("We were named as a delivery partner in the prime's bid and then never heard from them "
     "again. Nobody from the prime returned our calls after the contract was awarded.",
     ["bid_candy", "poor_communication"]),
    ("We have run this service for twelve years. Our reserves are now paying for a service "
     "the council says it values.", ["subsidising_contracts"]),
    ("The contract price does not cover our overheads, so every referral costs us money. "
     "Payment comes three months late as well.",
     ["subsidising_contracts", "underfunding_and_payment_risk"]),
    ("We asked three clarification questions and got no answer before the deadline.",
     ["poor_communication"]),
    ("The tender pack ran to 140 pages for a contract worth £40,000.",
     ["disproportionate_process"]),
    ("Only the large national providers have bid writers who can keep up with this.",
     ["favours_large_providers", "disproportionate_process"]),
    ("Payment in arrears means we carry three months of staff costs ourselves.",
     ["underfunding_and_payment_risk"]),
    ("Officers told us the rules forbid them from talking to us during the process.",
     ["eu_rules_risk_aversion", "poor_communication"]),
    ("A grant would let us design the service with the women who use it.",
     ["grants_over_contracts", "service_user_voice"]),
    ("Specialist services for Black and minoritised women are lost in generic lots.",
     ["equality_and_specialist_services"]),
    ("Local knowledge counts for nothing in the scoring; a provider from 200 miles away won.",
     ["local_commissioning", "favours_large_providers"]),
    ("Working with the other local charities in a consortium gave us a fair chance.",
     ["partnership_and_collaboration"]),
    ("Feedback we gave at the market engagement event was ignored.", ["poor_communication"]),
    ("They re-tender every two years, so nobody can plan or keep staff.",
     ["eu_rules_risk_aversion"]),
    ("The people who use our service were never asked what they need.", ["service_user_voice"]),
    ("We used our own fundraising to keep the helpline open at weekends.",
     ["subsidising_contracts"]),
    ("The lead provider promised the earth and subcontracted nothing.", ["bid_candy"]),
    ("Social value is 5% of the score, price is 60%.", ["eu_rules_risk_aversion"]),
    ("We could not meet the insurance requirements written for large firms.",
     ["favours_large_providers"]),
    ("Commissioners changed the specification twice without telling bidders.",
     ["poor_communication"]),
]


def make_demo_project(root: Path):
    """A project of 60 answers in two files (respondent groups in the metadata), the model's
    suggestions with scores for all, and two researchers' decisions on a few."""
    import random

    from nlp.pipeline import import_file
    from nlp.project import init_project
    from nlp.store.decisions import Decision, record_decisions

    rng = random.Random(1)
    project = init_project(root)
    groups = ["small charity", "medium charity", "social enterprise"]
    rows = [(f"s{i:03d}", DEMO[i % len(DEMO)], groups[i % 3]) for i in range(60)]
    for name, part in (("survey_2019.csv", rows[:36]), ("interviews_2019.csv", rows[36:])):
        body = "".join('{},"{}",{},R{}\n'.format(rid, text.replace('"', "'"), g, k % 17)
                       for k, (rid, (text, _), g) in enumerate(part))
        (root / name).write_text("id,text,group,respondent_id\n" + body, encoding="utf-8")
        import_file(project.store, root / name)
    from nlp.text.segment import segment_spans

    tids = project.store.active_codebook().theme_ids
    scores, unc, evidence = {}, {}, {}
    for rid, (text, themes), _ in rows:
        s = {t: round(rng.uniform(0.0, 0.3), 2) for t in tids}
        sents = segment_spans(text.replace('"', "'"))
        for k, t in enumerate(themes):
            s[t] = round(rng.uniform(0.45, 0.97), 2)
            evidence[(rid, t)] = sents[k % len(sents)]  # the k-th theme rests on the k-th
        scores[rid] = s
        unc[rid] = round(max(1 - abs(p - 0.5) / 0.5 for p in s.values()), 3)
    project.store.write_model_codings(scores, {t: 0.5 for t in tids}, model_id="demo",
                                      uncertainty=unc, evidence=evidence)
    for rid, (_, themes), _ in rows[:12]:
        record_decisions(project.store, rid, [Decision(t, "accepted", "model", scores[rid][t])
                                              for t in themes], coder="ben")
    for rid, (_, themes), _ in rows[6:14]:
        record_decisions(project.store, rid, [Decision(themes[0], "accepted")], coder="cat")
    return project
