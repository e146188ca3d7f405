#!/usr/bin/env python3
"""Regenerates src/privacy/pii/patterns/names.txt, the name gazetteer of the PII detector.

Sources (PyPI, installed into a scratch venv by the caller):
  names-dataset 3.x  first and last names with their popularity rank per country
  wordfreq 3.x       the most frequent words of en/de/fr/es/it/nl

Output: one line per name, `folded-name<TAB>flags`, sorted; flags are F (first name),
L (surname) and W (also one of the most frequent ordinary words of one of the six languages,
so it is a name only with context: "Mark", "Will", "Rose", "Frank", "Ende"). Names are folded
the way the detector folds text (lower case, accents stripped, ß -> ss).

Usage:
  python3 -m venv /tmp/gaz && /tmp/gaz/bin/pip install names-dataset wordfreq
  /tmp/gaz/bin/python scripts/gen_name_gazetteer.py > src/privacy/pii/patterns/names.txt
"""
import gzip
import os
import pickle
import sys
import unicodedata

import names_dataset
import wordfreq

# Countries whose customers write in the six languages, and the countries most of their
# residents' families come from (names of neighbours and couriers are not all local).
MAIN = ["GB", "IE", "DE", "AT", "CH", "FR", "BE", "ES", "IT", "NL"]
OTHER = ["TR", "PL", "PT", "RO", "MA", "DZ", "GR", "HR", "RS", "AL", "US", "IN", "NG", "BR"]
FIRST_RANK = {**{c: 1500 for c in MAIN}, **{c: 600 for c in OTHER}}
LAST_RANK = {**{c: 3000 for c in MAIN}, **{c: 600 for c in OTHER}}
LANGS = ["en", "de", "fr", "es", "it", "nl"]
COMMON_WORDS = 6000  # top words per language that make a name ambiguous ...
VERY_COMMON = 300  # ... and the top words that are dropped altogether (noise: "Hallo", "Frau")
WELL_KNOWN = 40  # a name ranked this high in one of MAIN is a name first, a word second
POPULAR_FIRST = 200  # a first name this popular in one of MAIN is no ordinary word
RATIO = 30  # first-name rank vs surname rank beyond which a name is only the other kind
# Names that are ordinary words whatever their rank.
AMBIGUOUS = """mark will rose frank hope bill grace faith joy may june april august dean rich
jack sunny summer autumn amber ruby pearl crystal hunter miles chase lane page young king
bishop baker cook smith miller taylor fisher wood green brown black white gray grey long
little hill street house church bank christian victoria florence paris london chance""".split()
# Very common words that are also common names: kept, as ambiguous.
KEEP = "dan allen elke donna sue ella anders anni bent ans han elle".split()
# Words the names data holds as names that are no names in running text.
NOT_NAMES = """herr frau hallo danke bitte mein meine mijn ma mon my liebe dear team shop
madame monsieur senor senora signora signor meneer mevrouw heer mister miss mrs
dublin cork galway limerick london manchester liverpool leeds bristol glasgow edinburgh
cardiff belfast berlin hamburg munchen koln frankfurt stuttgart dresden leipzig wien graz
zurich basel bern geneve lyon marseille lille nantes toulouse bordeaux nice rennes bruxelles
brussel antwerpen gent madrid barcelona sevilla valencia bilbao malaga zaragoza roma milano
napoli torino firenze bologna venezia genova palermo amsterdam rotterdam utrecht eindhoven
groningen haarlem leiden delft amazon paypal google apple samsung ikea zalando""".split()


def fold(s):
    s = s.lower().replace("ß", "ss").replace("æ", "ae").replace("œ", "oe").replace("ø", "o")
    s = "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))
    return s.replace("’", "'")


def usable(name):
    if not (2 <= len(name) <= 20):
        return False
    if not name[0].isupper():
        return False
    return all(c.isalpha() or c in "'-" for c in name) and any(c.islower() for c in name)


def load(kind):
    path = os.path.join(os.path.dirname(names_dataset.__file__), "v3", f"{kind}.pkl.gz")
    with gzip.open(path) as f:
        return pickle.load(f)


def pick(table, limits):
    """The names within the rank limits, each with its best rank in a MAIN country."""
    out = {}
    for name, info in table.items():
        if not usable(name):
            continue
        ranks = info.get("rank") or {}
        if any(ranks.get(c, 10**9) <= limit for c, limit in limits.items()):
            best = min([ranks.get(c, 10**9) for c in MAIN])
            key = fold(name)
            out[key] = min(best, out.get(key, 10**9))
    return out


def main():
    first = pick(load("first_names"), FIRST_RANK)
    last = pick(load("last_names"), LAST_RANK)
    common, very_common = set(), set()
    for lang in LANGS:
        top = [fold(w) for w in wordfreq.top_n_list(lang, COMMON_WORDS)]
        common.update(top)
        very_common.update(top[:VERY_COMMON])
    out = sys.stdout
    for name in sorted(set(first) | set(last)):
        best = min(first.get(name, 10**9), last.get(name, 10**9))
        if name in NOT_NAMES or (name in very_common and best > WELL_KNOWN and name not in KEEP):
            print(f"dropped {name}", file=sys.stderr)
            continue
        # A name that is far more often the other kind is only that kind ("Fischer" is a
        # surname, noise of the data as a first name).
        fb, lb = first.get(name, 10**9), last.get(name, 10**9)
        is_first = name in first and (name not in last or fb <= RATIO * lb)
        is_last = name in last and (name not in first or lb <= RATIO * fb)
        flags = ("F" if is_first else "") + ("L" if is_last else "")
        popular_first = first.get(name, 10**9) <= POPULAR_FIRST
        if name in AMBIGUOUS or name in very_common or (
            name in common and best > WELL_KNOWN and not popular_first
        ):
            flags += "W"
        out.write(f"{name}\t{flags}\n")


if __name__ == "__main__":
    main()
