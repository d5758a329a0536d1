"""The report-quote extractor: repeats of a longer quote (pull-quotes) are left out once."""
from nlp.ingest.quotes import Quote, drop_repeats, extract_quotes

FULL = ("We were named in the bid as a delivery partner, and after the contract was won "
        "nobody from the prime ever contacted us again about any referrals at all.")
PULL = "nobody from the prime ever contacted us again about any referrals"


def test_a_pull_quote_repeating_a_longer_quote_is_left_out():
    lines = ["2 Findings", "", f"One charity told us: “{FULL}”", "",
             f"“{PULL}”", "", "Another said: “The payments arrive months late and we "
             "borrow from reserves to pay staff in the meantime.”"]
    quotes = extract_quotes(lines)
    texts = [q.text for q in quotes]
    assert texts[0] == FULL and PULL not in texts and len(texts) == 2
    assert quotes[0].line == 3 and quotes[0].section == "2 Findings"


def test_answers_of_like_length_that_share_most_words_are_both_kept():
    a = Quote("We have not been paid for the last three months of delivery work", 1)
    b = Quote("We have not been paid for the last six months of delivery work now", 5)
    assert drop_repeats([a, b]) == [a, b]


def test_the_same_quote_twice_is_kept_once():
    a = Quote(FULL, 1)
    assert drop_repeats([a, Quote(FULL, 9)]) == [a]
