#!/usr/bin/env python3
"""Lethe's PII detector beside Presidio and euredact on the labeled corpus (see pii_peers.sh).

Scoring is the one of src/privacy/pii/accuracy_tests.rs: a finding is correct when a gold span
of the same kind overlaps it, a gold span is found when a finding of the same kind overlaps it,
POSTCODE counts as ADDRESS. Peer findings of types with no Lethe kind are left out.

Peers, and how their types map to Lethe kinds:
  Presidio (presidio-analyzer): its predefined pattern recognizers, called directly with
    nlp_artifacts=None for the mail's language (no NLP engine: the official spaCy models are
    not on the registries, and a blank spaCy pipeline has no NER, so Presidio's SpacyRecognizer
    would find nothing either; context enhancement needs NLP artifacts and is off). Every
    result counts (score threshold 0). Recognizers: EmailRecognizer, PhoneRecognizer
    (python-phonenumbers, regions GB IE DE AT CH FR BE ES IT NL), IbanRecognizer,
    CreditCardRecognizer, IpRecognizer, UrlRecognizer.
    EMAIL_ADDRESS->EMAIL, PHONE_NUMBER->PHONE, IBAN_CODE->IBAN, CREDIT_CARD->CARD,
    IP_ADDRESS->IP, URL->URL, PERSON->NAME, LOCATION->ADDRESS (the last two never occur).
  euredact: euredact.redact(text) in its default rules mode (no cloud), all countries.
    EMAIL->EMAIL, PHONE->PHONE, BANK_ACCOUNT->IBAN, CREDIT_CARD->CARD,
    IP_ADDRESS/IPV6_ADDRESS->IP, URL->URL, PERSON_NAME->NAME, ADDRESS/POSTAL_CODE->ADDRESS
    (PERSON_NAME and ADDRESS are cloud-only types: the rule engine never emits them).
  Presidio's email check uses tldextract with its bundled public suffix snapshot (no network).
  Lethe: `lethe privacy redact --json --known KIND=value…` with the mail's customer record.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

KINDS = ["EMAIL", "PHONE", "IBAN", "CARD", "IP", "URL", "NAME", "ADDRESS"]


def parse(raw):
    known, body = [], raw
    if raw.startswith("known:"):
        head, body = raw.split("\n---\n", 1)
        for line in head.splitlines():
            known.append(line[len("known:"):].strip())
    text, gold, rest = "", [], body
    while "{{" in rest:
        i = rest.index("{{")
        text += rest[:i]
        after = rest[i + 2:]
        j = after.index("}}")
        kind, value = after[:j].split(":", 1)
        gold.append((merge(kind), len(text), len(text) + len(value)))
        text += value
        rest = after[j + 2:]
    text += rest
    return text, gold, known


def merge(kind):
    return "ADDRESS" if kind == "POSTCODE" else kind


def load(folder):
    mails = []
    for p in sorted(Path(folder).glob("*.txt")):
        text, gold, known = parse(p.read_text(encoding="utf-8"))
        mails.append({"name": p.name, "lang": p.name[:2], "text": text, "gold": gold, "known": known})
    return mails


def lethe(binary):
    def find(mail):
        args = [binary, "privacy", "redact", "--json"]
        for k in mail["known"]:
            args += ["--known", k]
        out = subprocess.run(args, input=mail["text"].encode(), capture_output=True, check=True)
        data = mail["text"].encode()
        res = []
        for f in json.loads(out.stdout):
            # byte offsets -> character offsets
            s = len(data[: f["start"]].decode())
            e = len(data[: f["end"]].decode())
            res.append((merge(f["type"]), s, e))
        return res
    return find


def presidio():
    # tldextract (Presidio's email check) would fetch the public suffix list from the network;
    # use the snapshot it ships instead.
    import tldextract
    import tldextract.tldextract as tx
    tx.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer, EmailRecognizer, IbanRecognizer, IpRecognizer,
        PhoneRecognizer, UrlRecognizer)
    regions = ["GB", "IE", "DE", "AT", "CH", "FR", "BE", "ES", "IT", "NL"]
    mapping = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN",
               "CREDIT_CARD": "CARD", "IP_ADDRESS": "IP", "URL": "URL", "PERSON": "NAME",
               "LOCATION": "ADDRESS"}
    cache = {}

    def recognizers(lang):
        if lang not in cache:
            cache[lang] = [
                EmailRecognizer(supported_language=lang),
                PhoneRecognizer(supported_language=lang, supported_regions=regions),
                IbanRecognizer(supported_language=lang),
                CreditCardRecognizer(supported_language=lang),
                IpRecognizer(supported_language=lang),
                UrlRecognizer(supported_language=lang),
            ]
        return cache[lang]

    def find(mail):
        res = []
        for r in recognizers(mail["lang"]):
            for x in r.analyze(mail["text"], r.supported_entities, None) or []:
                if x.entity_type in mapping:
                    res.append((mapping[x.entity_type], x.start, x.end))
        return res
    return find


def euredact_():
    import euredact
    mapping = {"EMAIL": "EMAIL", "PHONE": "PHONE", "BANK_ACCOUNT": "IBAN",
               "CREDIT_CARD": "CARD", "IP_ADDRESS": "IP", "IPV6_ADDRESS": "IP", "URL": "URL",
               "PERSON_NAME": "NAME", "ADDRESS": "ADDRESS", "POSTAL_CODE": "ADDRESS"}

    def find(mail):
        r = euredact.redact(mail["text"])
        res = []
        for d in r.detections:
            t = d.entity_type.value if hasattr(d.entity_type, "value") else str(d.entity_type)
            if t in mapping:
                res.append((mapping[t], d.start, d.end))
        return res
    return find


def score(mails, find):
    table = {k: [0, 0, 0, 0] for k in KINDS}  # gold, found, tp_found, tp_gold
    for m in mails:
        found = find(m)
        for (k, s, e) in found:
            if k not in table:
                continue
            table[k][1] += 1
            if any(g[0] == k and g[1] < e and s < g[2] for g in m["gold"]):
                table[k][2] += 1
        for (k, s, e) in m["gold"]:
            if k not in table:
                continue
            table[k][0] += 1
            if any(f[0] == k and f[1] < e and s < f[2] for f in found):
                table[k][3] += 1
    return table


def fmt(t):
    gold, found, tpf, tpg = t
    r = tpg / gold if gold else 1.0
    p = tpf / found if found else float("nan")
    return f"{r:.3f} / " + ("  -  " if found == 0 else f"{p:.3f}")


def main():
    root = Path(sys.argv[1])
    binary = os.environ["LETHE_BIN"]
    sets = [("dev", root)]
    if (root / "heldout").is_dir():
        sets.append(("heldout", root / "heldout"))
    peers = [("Lethe", lethe(binary)), ("Presidio", presidio()), ("euredact", euredact_())]
    for label, folder in sets:
        mails = load(folder)
        tables = [(n, score(mails, f)) for n, f in peers]
        print(f"\n{label}: {len(mails)} mails; recall / precision per kind")
        print("| kind | n | " + " | ".join(n for n, _ in tables) + " |")
        print("| --- | ---: | " + " | ".join("---:" for _ in tables) + " |")
        for k in KINDS:
            print(f"| {k} | {tables[0][1][k][0]} | " + " | ".join(fmt(t[k]) for _, t in tables) + " |")


if __name__ == "__main__":
    main()
