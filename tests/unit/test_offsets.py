"""Spans carried through text rewrites: line ends, flattened white space, anonymisation."""
from nlp.text.offsets import normalise_line_breaks, rewrite_with_spans


def words(text, spans):
    return [text[a:b] for a, b in spans]


def test_line_ends_and_flattening_move_spans_with_their_words():
    t = "  Hi  there\r\nAna said  no.\rThen  "
    sp = [(6, 11), (13, 26)]
    assert words(t, sp) == ["there", "Ana said  no."]
    t1, s1 = normalise_line_breaks(t, sp)
    assert t1 == "  Hi  there\nAna said  no.\nThen  " and words(t1, s1) == words(t, sp)
    t2, s2 = normalise_line_breaks(t, sp, collapse=True)
    assert t2 == "Hi there Ana said no. Then" and words(t2, s2) == ["there", "Ana said no."]
    # a span of white space alone comes back empty, still in its place in the list
    assert normalise_line_breaks(t, [(0, 2), (6, 11)], collapse=True)[1] == ((0, 0), (3, 8))


def test_rewrite_cuts_at_span_edges_and_keeps_order():
    texts = ["Ana Smith rang. Bob rang too.", "no spans here, Ana"]
    calls = []

    def anon(pieces):
        calls.append(len(pieces))
        return [p.replace("Ana", "[PERSON]").replace("Bob", "[PERSON]") for p in pieces]

    new, spans = rewrite_with_spans(texts, [[(16, 29), (0, 15)], []], anon)
    assert calls == [4]  # one call for every piece of every text
    assert new == ["[PERSON] Smith rang. [PERSON] rang too.", "no spans here, [PERSON]"]
    assert words(new[0], spans[0]) == ["[PERSON] rang too.", "[PERSON] Smith rang."]
    assert spans[1] == ()
