"""Topics stage (view): what `nlp topics` prints for a fitted result, a table and notes."""
from __future__ import annotations

from dataclasses import dataclass

from .model import TopicResult


@dataclass(frozen=True)
class TopicsView:
    """What `nlp topics` prints: a table and notes under it."""
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...]
    result: TopicResult
    refitted: bool


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def view_topics(result: TopicResult, *, refitted: bool = False) -> TopicsView:
    """Table rows and notes for a result."""
    rows = []
    by_codes = result.params.get("matched_by_codes") or {}
    for t in result.topics:
        sim = f", {t.theme_similarity:.2f}" if t.theme_similarity is not None else ""
        theme = (f"NEW (nearest {t.theme_id}{sim})" if t.emergent and t.theme_id else
                 "NEW" if t.emergent else
                 f"{t.theme_id} ({by_codes[str(t.topic_id)]:.0%} of its answers coded so"
                 f"{sim})" if str(t.topic_id) in by_codes else
                 f"{t.theme_id} ({t.theme_similarity:.2f})" if sim else f"{t.theme_id} (accepted)")
        rows.append((str(t.topic_id), t.label, ", ".join(t.keywords[:6]), str(t.size),
                     f"{t.share:.1%}", theme, _short(t.quotes[0][1]) if t.quotes else ""))
    p = result.params
    how = (f"consensus k-means, k={p.get('k')}" if p.get("method") == "consensus-kmeans"
           else f"UMAP + HDBSCAN, min cluster size {p.get('hdbscan_min_cluster_size')}")
    notes = [f"{len(result.response_ids)} answers modelled, {len(result.excluded)} non-answers "
             f"left out; {how}; {len(p.get('seeded_themes', []))} codebook themes seeded topics."]
    notes.append(f"Outliers: {result.outlier_share:.1%} before reassignment, "
                 f"{result.unassigned_share:.1%} left unassigned.")
    if result.stability:
        s = result.stability
        notes.append(f"Stability over {s.runs} fits (other seeds, shuffled answers): "
                     f"{s.survival:.0%} of topics survive, mean adjusted Rand index "
                     f"{s.mean_ari:.2f} (worst pair {s.min_ari:.2f}).")
    base = result.coherence_baseline
    if base is None:
        notes.append(f"Coherence (NPMI) {result.coherence:.3f}; keyword diversity "
                     f"{result.diversity:.2f}.")
    else:
        verdict = ("above" if result.coherence > base + 0.01 else
                   "below" if result.coherence < base - 0.01 else "no better than")
        notes.append(f"Coherence (NPMI, -1 to 1) {result.coherence:.3f} against "
                     f"{base:.3f} for random sets of {p.get('top_words', 10)} of this "
                     f"consultation's words: {verdict} chance"
                     + ("." if verdict != "no better than" else "; read the keywords with "
                        "care.") + f" Keyword diversity {result.diversity:.2f}.")
    cut = p.get("match_cut")
    if cut is not None:
        notes.append(f"A topic is its nearest theme's when their similarity reaches {cut:.2f} "
                     "(only 5% of random sets of as many answers as the median topic holds "
                     "come that close), or when most of its answers are coded with the "
                     "theme; else the topic is NEW.")
    if result.emergent:
        notes.append(f"{len(result.emergent)} emergent topic(s) (NEW) match no codebook "
                     "theme; one can become a theme of the codebook (`nlp topics accept`, "
                     "or \"Add to codebook\" on the app's Topics page).")
    title = (f"Topics ({'fitted now' if refitted else 'saved model'}; codebook "
             f"{result.codebook or '-'} v{result.codebook_version or '-'})")
    return TopicsView(title=title, columns=("#", "Topic", "Keywords", "Answers", "Share",
                                            "Theme (similarity)", "Example quote"),
                      rows=tuple(rows), notes=tuple(notes), result=result, refitted=refitted)
