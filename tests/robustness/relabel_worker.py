"""One reviewer process for the concurrency test: relabels answers of a project database with
the functions the review app calls (record_decisions, undo_last) until its time is up.

    python relabel_worker.py DB_URL WORKER_ID START_AT SECONDS OUT.json

Every "set" decision carries a unique tag in its confidence (WORKER_ID * 10^7 + n), so the
test can find each one in the event log. Worker 0 also refreshes the model's suggestions every
few seconds (a big write transaction, as the app's background job does). Writes what it did
to OUT.json: tags set, clears, events undone, errors.
"""
from __future__ import annotations

import json
import random
import sys
import time


def main(url: str, wid: int, start_at: float, seconds: float, out: str) -> None:
    from nlp.store import Store
    from nlp.store.decisions import Decision, record_decisions, undo_last

    store = Store(url)
    ids = store.corpus().ids[:8]  # a hot set: the two reviewers keep colliding
    themes = store.active_codebook().theme_ids[:3]
    coders = [f"worker{wid}", "shared"]  # its own name, and one both reviewers use
    rnd = random.Random(wid)
    done = {"tags": [], "clears": 0, "undone": 0, "decisions": 0, "undos": 0, "refreshes": 0,
            "errors": []}
    while time.time() < start_at:
        time.sleep(0.005)
    t0 = time.time()
    next_refresh = t0 + 3
    seq = 0
    while time.time() - t0 < seconds:
        coder = rnd.choice(coders)
        rid = rnd.choice(ids)
        try:
            r = rnd.random()
            if r < 0.05:
                done["undone"] += len(undo_last(store, coder))
                done["undos"] += 1
            elif r < 0.15:
                record_decisions(store, rid, [Decision(rnd.choice(themes), None)], coder=coder)
                done["clears"] += 1
                done["decisions"] += 1
            else:
                picked = rnd.sample(themes, rnd.choice([1, 1, 2]))
                decisions = []
                for t in picked:
                    seq += 1
                    tag = float(wid * 10_000_000 + seq)
                    decisions.append(Decision(t, rnd.choice(["accepted", "rejected"]),
                                              "researcher", tag))
                record_decisions(store, rid, decisions, coder=coder)
                done["tags"] += [d.confidence for d in decisions]
                done["decisions"] += len(decisions)
            if wid == 0 and time.time() >= next_refresh:
                scores = {i: {t: rnd.random() for t in themes} for i in ids}
                store.write_model_codings(scores, {t: 0.5 for t in themes}, model_id="test")
                done["refreshes"] += 1
                next_refresh = time.time() + 3
        except Exception as exc:  # every failure is a lost relabel: report it
            done["errors"].append(f"{type(exc).__name__}: {exc}")
    done["elapsed"] = time.time() - t0
    store.close()
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(done, fh)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
