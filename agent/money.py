"""Amounts in a shopper's words: number words as digits, and the price limits a message states."""

from __future__ import annotations

import re

from retrieval.vocabulary import Preference

_UNITS = frozenset("kg g lb lbs oz l ml v w mm cm m in inch inches ft h hours hour min mah ah year years "
                   "bar cups cup person people x gb tb".split())
MONEY = r"(\d+(?:\.\d{1,2})?)"

_SMALL_NUMBERS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                               "thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * n for n, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if n > 1}
_NUMBER_WORDS = re.compile(r"\b(?:(?:a|an|one|two|three|four|five|six|seven|eight|nine)\s+(?:hundred|thousand|grand)"
                           r"(?:\s+(?:and\s+)?(?:" + "|".join(_TENS) + r")(?:[\s-]+(?:one|two|three|four|five|six|seven|"
                           r"eight|nine))?)?|(?:" + "|".join(_TENS) + r")(?:[\s-]+(?:one|two|three|four|five|six|seven|"
                           r"eight|nine))?|(?:" + "|".join(_SMALL_NUMBERS) + r")(?=\s*(?:bucks|dollars|quid|usd|"
                           r"people|persons?|person|kg|kilos?|pounds|lbs?|liters?|litres?|inch|inches|hours|speeds|"
                           r"cups|bar|watts?|volts?|ah\b|mah\b|-person|-season|-seater|seater|of us)))\b", re.I)
_SHORT_MONEY = re.compile(r"(?:(?<=\$)|(?<=under )|(?<=below )|(?<=budget of )|(?<=up to ))(\d+(?:\.\d+)?)\s*k\b", re.I)


def _words_to_number(phrase: str) -> int:
    """"two hundred and fifty" -> 250."""
    total, current = 0, 0
    for word in re.split(r"[\s-]+", phrase.lower()):
        if word in ("and",):
            continue
        if word in ("a", "an"):
            current = 1
        elif word in _SMALL_NUMBERS:
            current += _SMALL_NUMBERS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in ("thousand", "grand"):
            total += max(current, 1) * 1000
            current = 0
    return total + current


def _money_context(low: str, end: int, explicit: bool) -> bool:
    """Whether the number ending at `end` is money: a $ sign, a currency word, or no unit after it."""
    after = low[end:end + 12].split()
    if explicit:
        return True
    if after and after[0].strip(",.!?") in ("dollars", "usd", "bucks", "dollar", "$"):
        return True
    return not after or after[0].strip(",.!?") not in _UNITS


def parse_budget(low: str) -> tuple[str, list[Preference]]:
    """Price limits said in the text (min_price / max_price preferences) and the text with those phrases removed."""
    found: list[Preference] = []
    def cut(m: re.Match) -> str:
        nonlocal low
        low = low[:m.start()] + " " + low[m.end():]
        return low

    between = re.search(rf"(?:between|from)\s*\$?\s*{MONEY}\s*(?:dollars|usd|bucks)?\s*(?:and|to|-)\s*\$?\s*{MONEY}"
                        rf"\s*(?:dollars|usd|bucks)?", low) or re.search(
        rf"\$\s*{MONEY}\s*(?:-|–|to)\s*\$?\s*{MONEY}|{MONEY}\s*(?:-|–|to)\s*{MONEY}\s*(?:dollars|usd|bucks)", low)
    if between:
        lo, hi = sorted((float(between.group(1) or between.group(3)), float(between.group(2) or between.group(4))))
        found += [Preference("min_price", fmt(lo)), Preference("max_price", fmt(hi))]
        cut(between)
        return low, found
    for kind, pattern in (
            ("max", rf"(?:(?:don'?t|do not|won'?t|will not|not) (?:want to |wanna |willing to )?(?:spend|pay) "
                    rf"(?:more than|over|above)|"
                    rf"under|below|less than|cheaper than|up to|no more than|not more than|not over|not above|"
                    rf"nothing (?:over|above|more than)|"
                    rf"max(?:imum)?|at most|"
                    rf"within|budget(?: is| of)?|spend(?:ing)?(?: up to)?|<)\s*(?:a |of |around |like |about |roughly )?(\$?)\s*"
                    rf"{MONEY}"),
            ("max_after", rf"(\$)\s*{MONEY}\s*(?:or less|or under|max|tops|at most|or cheaper)"),
            ("min", rf"(?<!not )(?<!nothing )(?:over|above|more than|at least|starting at|min(?:imum)?|>)\s*(\$?)\s*"
                    rf"{MONEY}"),
            ("around", rf"(?:around|about|roughly|approximately|~)\s*(\$?)\s*{MONEY}"),
            ("bare", rf"(\$)\s*{MONEY}|(){MONEY}\s*(?:dollars|usd|bucks)")):
        m = re.search(pattern, low)
        if not m:
            continue
        explicit = bool(m.group(1)) or "budget" in m.group(0) or "spend" in m.group(0)
        amount_group = 2 if m.group(2) is not None else 4 if m.lastindex and m.lastindex >= 4 else 2
        amount = m.group(amount_group)
        if amount is None or not _money_context(low, m.end(), explicit or kind == "bare"):
            continue
        if kind in ("min",) and not explicit and not re.match(r"\s*(dollars|usd|bucks)", low[m.end():]):
            continue  # "over 2 kg" or "more than 2 people" are not prices
        value = float(amount)
        if kind == "around" and re.match(r"\s*(?:dollars|usd|bucks)?\s*(?:max|maximum|tops|at most|or less)\b",
                                         low[m.end():]):
            kind = "max"  # "about 100 bucks max"
        if kind == "around":
            found += [Preference("min_price", fmt(value * 0.75)), Preference("max_price", fmt(value * 1.25))]
        elif kind == "min":
            found.append(Preference("min_price", fmt(value)))
        else:
            found.append(Preference("max_price", fmt(value)))
        cut(m)
        break
    return low, found


def fmt(value: float) -> str:
    """An amount as the catalog would write it: 12.50 -> "12.5", 40.0 -> "40"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def spell_out_numbers(text: str) -> str:
    """Number words and short amounts as digits: "two hundred bucks" -> "200 bucks", "$1.5k" -> "$1500"."""
    text = _NUMBER_WORDS.sub(lambda m: str(_words_to_number(m.group(0))), text)
    return _SHORT_MONEY.sub(lambda m: str(int(float(m.group(1)) * 1000)), text)
