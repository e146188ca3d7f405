#!/usr/bin/env python3
"""Writes a synthetic mbox of realistic multilingual shop mail for the import benchmark.

Usage: gen_mbox.py CONVERSATIONS MESSAGES_PER_CONVERSATION OUT [SEED]
Every conversation has a first customer mail and replies threading onto it (In-Reply-To).
The names and addresses are invented; nothing here is real personal data.
"""
import random
import sys

FIRST = ["Anna", "Lukas", "Marie", "Jean", "Sofia", "Luca", "Emma", "Daan", "Lucía", "Javier", "Giulia", "Noah"]
LAST = ["Schmidt", "Müller", "Dubois", "Martin", "Rossi", "Bianchi", "de Vries", "Jansen", "García", "López", "Smith", "Brown"]
SUBJECTS = {
    "de": ["Wo bleibt meine Bestellung {o}?", "Rücksendung Bestellung {o}", "Rechnung zu {o} fehlt"],
    "fr": ["Où est ma commande {o} ?", "Retour de la commande {o}", "Facture pour {o}"],
    "en": ["Where is my order {o}?", "Return for order {o}", "Refund for {o}"],
    "es": ["¿Dónde está mi pedido {o}?", "Devolución del pedido {o}"],
    "it": ["Dov'è il mio ordine {o}?", "Reso dell'ordine {o}"],
    "nl": ["Waar blijft mijn bestelling {o}?", "Retour bestelling {o}"],
}
BODIES = {
    "de": "Hallo,\n\nich habe am 12.03. bestellt (Bestellnummer {o}) und noch nichts erhalten. Die Sendungsnummer funktioniert nicht.\nKönnen Sie bitte nachsehen?\n\nViele Grüße\n{n}\n",
    "fr": "Bonjour,\n\nj'ai passé la commande {o} il y a deux semaines et je n'ai toujours rien reçu. Pouvez-vous vérifier ?\n\nCordialement,\n{n}\n",
    "en": "Hi,\n\nI ordered two shirts (order {o}) ten days ago and the tracking page still shows nothing. Could you check?\n\nThanks,\n{n}\n",
    "es": "Hola,\n\nhice el pedido {o} hace una semana y todavía no ha llegado. ¿Pueden revisarlo?\n\nSaludos,\n{n}\n",
    "it": "Buongiorno,\n\nho ordinato {o} la settimana scorsa ma non è ancora arrivato. Potete controllare?\n\nGrazie,\n{n}\n",
    "nl": "Hallo,\n\nik heb bestelling {o} vorige week geplaatst maar nog niets ontvangen. Kunt u dit nakijken?\n\nMet vriendelijke groet,\n{n}\n",
}


def main():
    conversations, per, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    with open(out, "w", encoding="utf-8") as f:
        for c in range(conversations):
            lang = rng.choice(list(SUBJECTS))
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            address = f"customer{c}@example.{lang}"
            order = f"ORD-2026-{c:06d}"
            subject = rng.choice(SUBJECTS[lang]).format(o=order)
            previous = None
            for m in range(per):
                mid = f"c{c}m{m}@bench.example"
                minute = m % 60
                f.write(f"From {address} Tue Nov  3 10:{minute:02d}:00 2026\n")
                f.write(f"From: {name} <{address}>\nTo: support@shop.example\n")
                f.write(f"Subject: {'Re: ' if m else ''}{subject}\nMessage-ID: <{mid}>\n")
                f.write(f"Date: Tue, 3 Nov 2026 10:{minute:02d}:00 +0100\n")
                if previous:
                    f.write(f"In-Reply-To: <{previous}>\nReferences: <{previous}>\n")
                f.write("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
                f.write(BODIES[lang].format(o=order, n=name))
                f.write("\n")
                previous = mid


if __name__ == "__main__":
    main()
