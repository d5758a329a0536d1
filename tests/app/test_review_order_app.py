"""The review queue follows the tool's review order by default, marks a random check, and
states how far to trust the unreviewed suggestions (issue 24, items 3-4)."""
from __future__ import annotations

from nlp.store import decisions as dec
from nlp.store.review_order import write_review_order


def test_the_queue_follows_the_review_order_and_marks_random_checks(app_at, project):
    # a3 is the most certain answer, but the review order puts it first, as a random check.
    write_review_order(project.store, {"a3": 1, "a6": 2, "a1": 3, "a2": 4, "a4": 5}, ["a3"],
                       model_id="test")
    at = app_at()
    assert not at.exception
    assert at.query_params["item"] == "a3"
    assert any("Random check" in i.value for i in at.info)
    captions = "\n".join(c.value for c in at.caption)
    assert "Not enough random checks reviewed yet" in captions
    # Decide on the check: the next answer is the order's second; the estimate has one check.
    tid = project.store.active_codebook().theme_ids[2]
    dec.record_decisions(project.store, "a3", [dec.Decision(tid, "accepted", "model", 0.88)],
                        coder="ana")
    at = app_at()
    assert at.query_params["item"] == "a6"
    assert not any("Random check" in i.value for i in at.info)
    assert "(1 so far" in "\n".join(c.value for c in at.caption)  # one check: no interval yet
