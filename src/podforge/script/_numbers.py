"""Numbers as American-English words, and the passes of ``to_speech`` that read quantities.

Hundreds take no "and" ("one hundred fifty") and tens are hyphenated ("twenty-one"), which is
how US hosts say them and how most English TTS voices were trained.  Functions that take a
``str`` accept digit strings of any length: a string too long to be a quantity is an ID or a
code, is read digit by digit, and never goes through ``int()`` (which refuses huge strings).
"""

from __future__ import annotations

import re

Match = re.Match[str]


def words(text: str) -> tuple[str, ...]:
    """Word tables are written as one string: a long list literal buries the words in quotes."""
    return tuple(text.split())


_ONES = words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = words("- - twenty thirty forty fifty sixty seventy eighty ninety")
_SCALES = (
    (10**15, "quadrillion"),
    (10**12, "trillion"),
    (10**9, "billion"),
    (10**6, "million"),
    (10**3, "thousand"),
)
# Past quadrillions nobody says the number as a quantity; it is an ID, so digits it is.
_MAX_CARDINAL_DIGITS = 18
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_LAST_WORD = re.compile(r"[a-z]+$")
# Denominators people say as "thirds", "eighths"; others read better as "out of" (ratings, odds).
_FRACTION_DENOMINATORS = frozenset({2, 3, 4, 6, 8, 12, 16, 32, 64})


def digits(text: str) -> str:
    """Read each decimal digit of ``text`` on its own: "042" -> "zero four two"."""
    return " ".join(_ONES[int(ch)] for ch in text if ch.isdecimal())


def _under_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        parts.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest:
        parts.append(_ONES[rest])
    return " ".join(parts)


def cardinal(n: int) -> str:
    """``1250`` -> "one thousand two hundred fifty"."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n == 0:
        return "zero"
    if n >= 10**_MAX_CARDINAL_DIGITS:
        return digits(str(n))
    parts = []
    for size, name in _SCALES:
        count, n = divmod(n, size)
        if count:
            parts.append(f"{_under_thousand(count)} {name}")
    if n:
        parts.append(_under_thousand(n))
    return " ".join(parts)


def integer(text: str) -> str:
    """A digit string as a quantity; leading zeros ("007") and IDs are read digit by digit."""
    if len(text) > _MAX_CARDINAL_DIGITS or (len(text) > 1 and text.startswith("0")):
        return digits(text)
    return cardinal(int(text))


def _last_word_to(words: str, irregular: dict[str, str], y_ending: str, suffix: str) -> str:
    found = _LAST_WORD.search(words)
    if found is None:
        return words
    stem, last = words[: found.start()], found.group()
    if last in irregular:
        return stem + irregular[last]
    if last.endswith("y"):
        return stem + last[:-1] + y_ending
    return stem + last + suffix


def ordinal(text: str) -> str:
    """``"21"`` -> "twenty-first"."""
    return _last_word_to(integer(text.lstrip("0") or "0"), _IRREGULAR_ORDINALS, "ieth", "th")


def plural(words: str) -> str:
    """Pluralise spoken number words: "nineteen ninety" -> "nineteen nineties"."""
    return _last_word_to(words, {"six": "sixes"}, "ies", "s")


def number(text: str) -> str:
    """Any written number: "1,250", "-3.14", ".5", "2.50"; fraction digits are read singly."""
    sign = ""
    if text[:1] in ("-", "−"):
        sign, text = "minus ", text[1:]
    whole, _, fraction_digits = text.replace(",", "").partition(".")
    spoken = integer(whole) if whole else ""
    if fraction_digits:
        spoken = f"{spoken} point {digits(fraction_digits)}".strip()
    return sign + spoken


def year(n: int) -> str:
    """Years the way they are said: 1999 -> "nineteen ninety-nine", 2005 -> "two thousand five"."""
    century, rest = divmod(n, 100)
    if not 1000 <= n <= 9999 or n % 1000 == 0 or 2000 <= n < 2010:
        return cardinal(n)
    if rest == 0:
        return f"{cardinal(century)} hundred"
    if rest < 10:
        return f"{cardinal(century)} oh {cardinal(rest)}"
    return f"{cardinal(century)} {cardinal(rest)}"


def fraction(numerator: int, denominator: int) -> str:
    """``1/2`` -> "one half", ``2/3`` -> "two thirds", ``8/10`` -> "eight out of ten"."""
    if denominator in _FRACTION_DENOMINATORS and 0 < numerator < denominator:
        if denominator == 2:
            name = "half" if numerator == 1 else "halves"
        elif denominator == 4:
            name = "quarter"
        else:
            name = ordinal(str(denominator))
        if numerator != 1 and denominator != 2:
            name += "s"
        return f"{cardinal(numerator)} {name}"
    link = "out of" if numerator <= denominator else "over"
    return f"{cardinal(numerator)} {link} {cardinal(denominator)}"


# --- passes over text -----------------------------------------------------------------------

# A written number: 1,250 / 3.14 / 42.  Thousands groups must be exact so "1,2,3" stays a list.
NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
_SIGN = r"(?:(?<![\w.,)])([-−])\s?)?"
MONTHS = words("January February March April May June July August September October November December")
_SCALE_WORDS = dict(k="thousand", K="thousand", M="million", m="million", mn="million")
_SCALE_WORDS |= dict(B="billion", b="billion", bn="billion", T="trillion")
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
}
_YEAR_CUES = frozenset(
    words(
        "in since by from until till of before after during circa around the to through and or "
        "early late mid year summer winter spring fall autumn"
    )
) | {month.lower() for month in MONTHS}


def _unit_table(spec: str) -> dict[str, tuple[str, str]]:
    table = {}
    for entry in spec.split(","):
        symbol, _, singular = entry.strip().partition(":")
        first, _, rest = singular.partition(" ")
        many = first if first.endswith("z") else first + "s"  # "hertz" has no plural
        table[symbol] = (singular, f"{many} {rest}".strip())
    return table


_UNITS = _unit_table(
    "km/h:kilometer per hour, km:kilometer, kg:kilogram, cm:centimeter, mm:millimeter, mg:milligram,"
    "ml:milliliter, ms:millisecond, min:minute, KB:kilobyte, MB:megabyte, GB:gigabyte, TB:terabyte,"
    "kbps:kilobit per second, Mbps:megabit per second, Gbps:gigabit per second, GHz:gigahertz,"
    "MHz:megahertz, kHz:kilohertz, Hz:hertz, dB:decibel, fps:frame per second, bpm:beat per minute,"
    "mph:mile per hour, lbs:pound, lb:pound"
)


def _say_money(m: Match) -> str:
    # "US$5": keep the prefix a separate word rather than gluing it to the amount.
    sign = (" " if m.string[m.start() - 1 : m.start()].isalpha() else "") + ("minus " if m[1] else "")
    one, many, cent, cents = _CURRENCIES[m[2]]
    amount, scale = m[3], _SCALE_WORDS.get(m[4] or "", m[5] or "")
    if scale:
        return f"{sign}{number(amount)} {scale} {many}"
    whole, _, minor_digits = amount.replace(",", "").partition(".")
    if minor_digits and (len(minor_digits) != 2 or not cents):
        return f"{sign}{number(amount)} {many}"
    main = f"{integer(whole)} {one if whole.lstrip('0') == '1' else many}"
    minor = int(minor_digits or "0")
    if not minor:
        return sign + main
    small = f"{cardinal(minor)} {cent if minor == 1 else cents}"
    if whole.strip("0") == "":
        return sign + small
    if m[2] == "£":
        return f"{sign}{main} {cardinal(minor)}"
    return f"{sign}{main} and {small}"


def _say_span(m: Match, unit: str) -> str:
    """Shared reader for "<sign><num>[-<num>] <unit>" matches (groups 1-3)."""
    sign = "minus " if m[1] else ""
    upper = f" to {number(m[3])}" if m[3] else ""
    return f"{sign}{number(m[2])}{upper} {unit}"


def _say_unit(m: Match) -> str:
    singular, plural = _UNITS[m[4]]
    return _say_span(m, singular if m[2] == "1" and not m[3] and not m[1] else plural)


def _say_degrees(m: Match) -> str:
    scale = {"C": " Celsius", "F": " Fahrenheit"}.get(m[4] or "", "")
    return _say_span(m, "degree" + ("" if m[2] == "1" and not m[3] else "s") + scale)


def speak_measures(text: str) -> str:
    """Money, percentages, units and degrees: a number together with what it counts."""
    money = rf"{_SIGN}([$€£¥])\s?({NUM})(?:(k|K|M|m|mn|B|b|bn|T)\b|\s+(thousand|million|billion|trillion)\b)?"
    text = re.sub(money, _say_money, text)
    span = rf"{_SIGN}(?<![\w.])({NUM})(?:\s?[-–]\s?({NUM}))?"
    text = re.sub(rf"{span}\s?%", lambda m: _say_span(m, "percent"), text)
    units = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    text = re.sub(rf"{span}\s?({units})(?![\w/])", _say_unit, text)
    return re.sub(rf"{span}\s?°\s?([CF](?!\w))?", _say_degrees, text)


def _say_range(m: Match) -> str:
    low, high = m[1], m[2]
    if _is_year_shaped(low) and (_is_year_shaped(high) or re.fullmatch(r"\d\d", high)):
        high_words = year(int(high)) if len(high) == 4 else cardinal(int(high))
        return f"{year(int(low))} to {high_words}"
    return f"{number(low)} to {number(high)}"


def _is_year_shaped(text: str) -> bool:
    return re.fullmatch(r"1[1-9]\d\d|20\d\d", text) is not None


def _say_fraction(m: Match) -> str:
    numerator, denominator = int(m[1]), int(m[2])
    spoken = {(24, 7): "twenty-four seven", (9, 11): "nine eleven"}.get((numerator, denominator))
    if spoken:
        return spoken
    if numerator == denominator:
        return f"{cardinal(numerator)}-{cardinal(denominator)}"
    return fraction(numerator, denominator)


def _say_scaled(m: Match) -> str:
    if m[2] == "K" and re.fullmatch(r"\d", m[1]):
        return f"{cardinal(int(m[1]))} K"  # "4K", "5K run": a name, not four thousand
    return f"{number(m[1])} {_SCALE_WORDS[m[2]]}"


def speak_ranges_and_ratios(text: str) -> str:
    """Phone numbers, ranges, signs, fractions, multipliers and "2.5M"-style scales."""
    phone = r"(?<![\w-])\d{1,4}(?:-\d{2,4}){2,}(?![\w-])"
    text = re.sub(phone, lambda m: ", ".join(digits(g) for g in m.group().split("-")), text)
    edge_before, edge_after = r"(?<![\w.,:/-])", r"(?![\w:/-]|[.,]\d)"
    text = re.sub(rf"{edge_before}({NUM})\s?[-–—]\s?({NUM}){edge_after}", _say_range, text)
    text = re.sub(r"(?<![\w.,)])[-−](?=\.?\d)", "minus ", text)
    text = re.sub(r"(?<![\w./])(\d{1,3})/(\d{1,3})(?![\w/]|\.\d)", _say_fraction, text)
    text = re.sub(rf"(?<![\w.])({NUM})\s?[x×]\s?(\d+)(?!\w)", lambda m: f"{number(m[1])} by {number(m[2])}", text)
    text = re.sub(rf"(?<![\w.])({NUM})[xX×](?!\w)", lambda m: f"{number(m[1])} times", text)
    return re.sub(rf"(?<![\w.])({NUM})(k|K|M|B|bn|T)\b", _say_scaled, text)


def _reads_as_year(m: Match) -> bool:
    """A bare 1100-2099 is a year unless it is clearly counting something ("sold 1500 copies")."""
    before, after = m.string[: m.start()], m.string[m.end() :]
    previous = re.search(r"([A-Za-z]+)\W*$", before)
    if previous and previous.group(1).lower() in _YEAR_CUES:
        return True
    following = re.match(r"\s*([A-Za-z])", after)
    if following is None or following.group(1).isupper():
        return True
    return not before.strip() or before.rstrip()[-1] in ".!?"


def _say_bare_number(m: Match) -> str:
    """Last resort for any digits left: pads with spaces so "MP3" becomes "MP three"."""
    before = m.string[m.start() - 1 : m.start()]
    after = m.string[m.end() : m.end() + 1]
    pad_left = " " if before.isalpha() else ""
    pad_right = " " if after.isalpha() else ""
    return pad_left + number(m.group()) + pad_right


def speak_numbers(text: str) -> str:
    """Decades, ordinals, years, then every remaining digit run, so no digit survives."""
    text = re.sub(r"(?<![\w.])(\d{3}0)['’]?s\b", lambda m: plural(year(int(m[1]))), text)
    text = re.sub(r"(?<![\w.'’])['’‘]([1-9])0s\b", lambda m: plural(cardinal(int(m[1]) * 10)), text)
    text = re.sub(r"(?<![\w.'’])([2-9])0['’]?s\b", lambda m: plural(cardinal(int(m[1]) * 10)), text)
    text = re.sub(r"(?<![\w.])(\d[\d,]*)(?:st|nd|rd|th)\b", lambda m: ordinal(m[1].replace(",", "")), text)
    bare_year = r"(?<![\w.,])(1[1-9]\d\d|20\d\d)(?![\w]|[.,]\d)"
    text = re.sub(bare_year, lambda m: year(int(m[1])) if _reads_as_year(m) else cardinal(int(m[1])), text)
    text = re.sub(r"(?:(?<=\s)|^)\.(\d+)\b", lambda m: "point " + digits(m[1]), text)
    return re.sub(rf"(?<!\d){NUM}", _say_bare_number, text)
