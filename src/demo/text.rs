//! The phrase book of the demo corpus: names, places, products and, per language, what
//! customers write and agents answer about orders, delivery, returns, refunds and invoices.
//! Placeholders in braces are filled in by the generator.

/// One support topic in one language.
pub(crate) struct Topic {
    pub tag: &'static str,
    pub subjects: &'static [&'static str],
    pub openings: &'static [&'static str],
    pub replies: &'static [&'static str],
}

/// Everything the generator needs for one language.
pub(crate) struct Language {
    pub first_names: &'static [&'static str],
    pub last_names: &'static [&'static str],
    pub cities: &'static [&'static str],
    pub streets: &'static [&'static str],
    pub products: &'static [&'static str],
    pub greetings: &'static [&'static str],
    pub agent_greetings: &'static [&'static str],
    pub sign_offs: &'static [&'static str],
    pub follow_ups: &'static [&'static str],
    pub agent_follow_ups: &'static [&'static str],
    pub notes: &'static [&'static str],
    pub topics: [Topic; 5],
}

pub(crate) const LANGUAGES: [Language; 6] = [EN, DE, FR, ES, IT, NL];

const EN: Language = Language {
    first_names: &[
        "Emma", "Oliver", "Amelia", "George", "Isla", "Harry", "Sophie", "Jack", "Grace", "Thomas",
    ],
    last_names: &[
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker", "Wright",
        "Hughes",
    ],
    cities: &["Dublin", "Cork", "Galway", "Limerick", "Valletta", "Sliema"],
    streets: &[
        "12 Harbour Road",
        "4 Church Lane",
        "88 Station Street",
        "7 Mill Court",
        "23 Park Avenue",
    ],
    products: &[
        "merino wool jumper",
        "leather backpack",
        "espresso machine",
        "running shoes",
        "linen bed set",
        "desk lamp",
        "rain jacket",
        "ceramic teapot",
    ],
    greetings: &["Hello,", "Hi there,", "Dear support team,", "Good morning,"],
    agent_greetings: &["Hello {first},", "Hi {first},", "Dear {first} {last},"],
    sign_offs: &[
        "Kind regards,\n{first} {last}",
        "Thanks,\n{first}",
        "Best wishes,\n{first} {last}\n{street}, {city}",
    ],
    follow_ups: &[
        "Thank you for the quick answer. The tracking number {tracking} still shows no movement though.",
        "Thanks, I have sent the parcel back today. Please let me know when it arrives.",
        "I still have not received the refund of {amount} EUR for order {order}. Could you check again?",
        "That solved it, thank you very much for your help!",
        "Could you please send the invoice to my new address, {street}, {city}?",
    ],
    agent_follow_ups: &[
        "I have checked with the carrier: the parcel {tracking} is in the local depot and will be delivered tomorrow.",
        "The return has arrived in our warehouse and the refund of {amount} EUR is on its way. It usually takes 3 to 5 working days.",
        "Glad we could help. I will close this conversation now; just reply if anything else comes up.",
        "I have attached the corrected invoice for order {order}.",
    ],
    notes: &[
        "Customer is a repeat buyer, handle generously.",
        "Carrier claim opened for {tracking}.",
        "Refund approved by finance.",
    ],
    topics: [
        Topic {
            tag: "delivery",
            subjects: &[
                "Where is my order {order}?",
                "Order {order} not delivered",
                "Delivery of {order} is late",
            ],
            openings: &[
                "I ordered a {product} on {date} (order {order}) and it still has not arrived. The tracking number {tracking} has not been updated for a week.",
                "My parcel with order number {order} was supposed to arrive yesterday. Can you tell me where it is? I need the {product} by the weekend.",
            ],
            replies: &[
                "I am sorry for the delay. I have looked up order {order}: the parcel left our warehouse on {date} with tracking number {tracking}. I have asked the carrier to investigate.",
                "Thank you for your patience. Your {product} was handed to the carrier and should arrive within two working days.",
            ],
        },
        Topic {
            tag: "return",
            subjects: &[
                "Return of {product}",
                "I want to return order {order}",
                "Return label for {order}",
            ],
            openings: &[
                "The {product} from order {order} does not fit. How can I return it? I would prefer an exchange for a larger size.",
                "I would like to send back the {product} I received last week. Please send me a return label.",
            ],
            replies: &[
                "Of course. You can return the {product} within 30 days. I have emailed you a prepaid return label for order {order}.",
                "No problem. Please pack the {product} in its original box and drop it at any post office with the attached label.",
            ],
        },
        Topic {
            tag: "refund",
            subjects: &[
                "Refund for order {order}",
                "Still waiting for my refund",
                "Money back for {product}",
            ],
            openings: &[
                "I returned the {product} two weeks ago but I have not received my refund of {amount} EUR yet. Order number {order}.",
                "I was charged twice for order {order}. Please refund the second payment of {amount} EUR.",
            ],
            replies: &[
                "I apologise for the wait. The refund of {amount} EUR for order {order} was issued today to your original payment method.",
                "You are right, the payment was taken twice. I have refunded {amount} EUR; you will see it on your statement within 5 days.",
            ],
        },
        Topic {
            tag: "damaged",
            subjects: &[
                "Damaged item in order {order}",
                "{product} arrived broken",
                "Broken {product}",
            ],
            openings: &[
                "The {product} arrived today but the box was crushed and the item is broken. I have attached photos. Order {order}.",
                "Unfortunately the {product} I received is damaged. What can you do?",
            ],
            replies: &[
                "I am very sorry that your {product} arrived damaged. We will send a replacement free of charge; no need to return the broken one.",
                "Thank you for the photos. I have opened a claim with the carrier and a new {product} is on its way (tracking {tracking}).",
            ],
        },
        Topic {
            tag: "invoice",
            subjects: &[
                "Invoice for order {order}",
                "Change of billing address",
                "VAT invoice needed",
            ],
            openings: &[
                "Could you send me an invoice with VAT for order {order}? My company address is {street}, {city}.",
                "I moved and need to change the delivery address for order {order} to {street}, {city}.",
            ],
            replies: &[
                "Here is the invoice for order {order}. I have added your company address as requested.",
                "I have updated the address of order {order} to {street}, {city}. It has not shipped yet, so it will go to the new address.",
            ],
        },
    ],
};

const DE: Language = Language {
    first_names: &[
        "Anna",
        "Lukas",
        "Sophie",
        "Jürgen",
        "Marie",
        "Felix",
        "Lena",
        "Jonas",
        "Käthe",
        "Maximilian",
    ],
    last_names: &[
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weiß",
        "Meyer",
        "Wagner",
        "Becker",
        "Schäfer",
        "Groß",
    ],
    cities: &[
        "München",
        "Köln",
        "Düsseldorf",
        "Nürnberg",
        "Wien",
        "Graz",
        "Zürich",
    ],
    streets: &[
        "Hauptstraße 12",
        "Gartenweg 4",
        "Bahnhofstraße 88",
        "Schloßallee 7",
        "Lindenstraße 23",
    ],
    products: &[
        "Wollpullover",
        "Lederrucksack",
        "Espressomaschine",
        "Laufschuhe",
        "Bettwäsche aus Leinen",
        "Schreibtischlampe",
        "Regenjacke",
        "Teekanne",
    ],
    greetings: &[
        "Hallo,",
        "Guten Tag,",
        "Sehr geehrte Damen und Herren,",
        "Liebes Support-Team,",
    ],
    agent_greetings: &[
        "Hallo {first},",
        "Guten Tag {first} {last},",
        "Liebe/r {first},",
    ],
    sign_offs: &[
        "Mit freundlichen Grüßen\n{first} {last}",
        "Viele Grüße\n{first}",
        "Beste Grüße\n{first} {last}\n{street}, {city}",
    ],
    follow_ups: &[
        "Danke für die schnelle Antwort. Die Sendungsnummer {tracking} zeigt aber immer noch keine Bewegung.",
        "Danke, ich habe das Paket heute zurückgeschickt. Bitte geben Sie mir Bescheid, wenn es angekommen ist.",
        "Ich habe die Erstattung von {amount} EUR für die Bestellung {order} immer noch nicht erhalten. Könnten Sie bitte nachsehen?",
        "Damit ist alles geklärt, vielen Dank für Ihre Hilfe!",
        "Könnten Sie die Rechnung bitte an meine neue Adresse schicken: {street}, {city}?",
    ],
    agent_follow_ups: &[
        "Ich habe beim Paketdienst nachgefragt: Die Sendung {tracking} liegt im Zustelldepot und wird morgen zugestellt.",
        "Ihre Rücksendung ist in unserem Lager eingegangen, die Erstattung von {amount} EUR ist veranlasst. Das dauert meist 3 bis 5 Werktage.",
        "Schön, dass wir helfen konnten. Ich schließe die Anfrage; antworten Sie einfach, falls noch etwas ist.",
        "Anbei die korrigierte Rechnung zur Bestellung {order}.",
    ],
    notes: &[
        "Stammkundin, bitte kulant behandeln.",
        "Nachforschungsauftrag für {tracking} gestellt.",
        "Erstattung von der Buchhaltung freigegeben.",
    ],
    topics: [
        Topic {
            tag: "delivery",
            subjects: &[
                "Wo ist meine Bestellung {order}?",
                "Bestellung {order} nicht angekommen",
                "Lieferung {order} verspätet",
            ],
            openings: &[
                "Ich habe am {date} einen {product} bestellt (Bestellung {order}), aber die Lieferung ist noch nicht angekommen. Die Sendungsverfolgung {tracking} wurde seit einer Woche nicht aktualisiert.",
                "Mein Paket mit der Bestellnummer {order} sollte gestern ankommen. Können Sie mir sagen, wo es ist? Ich brauche die {product} bis zum Wochenende.",
            ],
            replies: &[
                "Entschuldigen Sie bitte die Verzögerung. Ich habe die Bestellung {order} geprüft: Das Paket hat unser Lager am {date} mit der Sendungsnummer {tracking} verlassen. Ich habe einen Nachforschungsauftrag gestellt.",
                "Danke für Ihre Geduld. Ihr {product} wurde an den Paketdienst übergeben und sollte innerhalb von zwei Werktagen ankommen.",
            ],
        },
        Topic {
            tag: "return",
            subjects: &[
                "Rücksendung {product}",
                "Ich möchte die Bestellung {order} zurückschicken",
                "Retourenschein für {order}",
            ],
            openings: &[
                "Der {product} aus der Bestellung {order} passt leider nicht. Wie kann ich ihn zurückschicken? Am liebsten würde ich ihn gegen eine größere Größe umtauschen.",
                "Ich möchte den {product}, den ich letzte Woche erhalten habe, zurücksenden. Bitte schicken Sie mir einen Retourenschein.",
            ],
            replies: &[
                "Selbstverständlich. Sie können den {product} innerhalb von 30 Tagen zurückgeben. Ich habe Ihnen ein vorfrankiertes Rücksendeetikett für die Bestellung {order} gemailt.",
                "Kein Problem. Bitte verpacken Sie den {product} im Originalkarton und geben Sie ihn mit dem Etikett in jeder Postfiliale ab.",
            ],
        },
        Topic {
            tag: "refund",
            subjects: &[
                "Erstattung für Bestellung {order}",
                "Ich warte noch auf meine Rückerstattung",
                "Geld zurück für {product}",
            ],
            openings: &[
                "Ich habe den {product} vor zwei Wochen zurückgeschickt, aber meine Rückerstattung über {amount} EUR ist noch nicht eingegangen. Bestellnummer {order}.",
                "Mir wurde die Bestellung {order} doppelt abgebucht. Bitte erstatten Sie die zweite Zahlung über {amount} EUR.",
            ],
            replies: &[
                "Entschuldigen Sie die Wartezeit. Die Erstattung über {amount} EUR für die Bestellung {order} wurde heute auf Ihr ursprüngliches Zahlungsmittel veranlasst.",
                "Sie haben recht, die Zahlung wurde doppelt eingezogen. Ich habe {amount} EUR erstattet; die Gutschrift sehen Sie in etwa 5 Tagen.",
            ],
        },
        Topic {
            tag: "damaged",
            subjects: &[
                "Beschädigter Artikel in Bestellung {order}",
                "{product} kaputt angekommen",
                "Defekte Ware",
            ],
            openings: &[
                "Der {product} ist heute angekommen, aber der Karton war eingedrückt und der Artikel ist beschädigt. Fotos habe ich angehängt. Bestellung {order}.",
                "Leider ist der {product}, den ich erhalten habe, defekt. Was können Sie tun?",
            ],
            replies: &[
                "Es tut mir sehr leid, dass Ihr {product} beschädigt angekommen ist. Wir schicken Ihnen kostenlos Ersatz; den defekten Artikel müssen Sie nicht zurücksenden.",
                "Danke für die Fotos. Ich habe eine Schadensmeldung beim Paketdienst aufgegeben, ein neuer {product} ist unterwegs (Sendungsnummer {tracking}).",
            ],
        },
        Topic {
            tag: "invoice",
            subjects: &[
                "Rechnung zur Bestellung {order}",
                "Änderung der Rechnungsadresse",
                "Rechnung mit Mehrwertsteuer benötigt",
            ],
            openings: &[
                "Könnten Sie mir bitte eine Rechnung mit ausgewiesener Mehrwertsteuer für die Bestellung {order} schicken? Meine Firmenadresse lautet {street}, {city}.",
                "Ich bin umgezogen und muss die Lieferadresse der Bestellung {order} auf {street}, {city} ändern.",
            ],
            replies: &[
                "Anbei die Rechnung zur Bestellung {order}. Ich habe Ihre Firmenadresse wie gewünscht ergänzt.",
                "Ich habe die Adresse der Bestellung {order} auf {street}, {city} geändert. Sie wurde noch nicht versendet und geht an die neue Adresse.",
            ],
        },
    ],
};

const FR: Language = Language {
    first_names: &[
        "Camille", "Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel", "Zoé", "Théo", "Noémie",
    ],
    last_names: &[
        "Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Rousseau",
        "Mercier", "Bonnet",
    ],
    cities: &[
        "Lyon",
        "Marseille",
        "Bordeaux",
        "Nantes",
        "Strasbourg",
        "Liège",
        "Genève",
    ],
    streets: &[
        "12 rue de la République",
        "4 avenue Victor Hugo",
        "88 boulevard Saint-Michel",
        "7 place de l'Église",
        "23 rue des Écoles",
    ],
    products: &[
        "pull en laine",
        "sac à dos en cuir",
        "machine à expresso",
        "chaussures de course",
        "parure de lit en lin",
        "lampe de bureau",
        "veste de pluie",
        "théière en céramique",
    ],
    greetings: &[
        "Bonjour,",
        "Madame, Monsieur,",
        "Bonjour à l'équipe du service client,",
    ],
    agent_greetings: &[
        "Bonjour {first},",
        "Bonjour {first} {last},",
        "Chère cliente, cher client,",
    ],
    sign_offs: &[
        "Cordialement,\n{first} {last}",
        "Merci d'avance,\n{first}",
        "Bien à vous,\n{first} {last}\n{street}, {city}",
    ],
    follow_ups: &[
        "Merci pour votre réponse rapide. Le numéro de suivi {tracking} n'indique toujours aucun mouvement.",
        "Merci, j'ai renvoyé le colis aujourd'hui. Pouvez-vous me prévenir quand il sera arrivé ?",
        "Je n'ai toujours pas reçu le remboursement de {amount} EUR pour la commande {order}. Pourriez-vous vérifier ?",
        "C'est réglé, merci beaucoup pour votre aide !",
        "Pourriez-vous envoyer la facture à ma nouvelle adresse, {street}, {city} ?",
    ],
    agent_follow_ups: &[
        "J'ai contacté le transporteur : le colis {tracking} est au dépôt local et sera livré demain.",
        "Votre retour est arrivé dans notre entrepôt et le remboursement de {amount} EUR est en cours. Comptez 3 à 5 jours ouvrés.",
        "Ravis d'avoir pu vous aider. Je clôture la demande ; répondez simplement si besoin.",
        "Vous trouverez ci-joint la facture corrigée de la commande {order}.",
    ],
    notes: &[
        "Cliente fidèle, faire un geste commercial.",
        "Enquête transporteur ouverte pour {tracking}.",
        "Remboursement validé par la comptabilité.",
    ],
    topics: [
        Topic {
            tag: "delivery",
            subjects: &[
                "Où est ma commande {order} ?",
                "Commande {order} non livrée",
                "Retard de livraison {order}",
            ],
            openings: &[
                "J'ai commandé un {product} le {date} (commande {order}) et il n'est toujours pas arrivé. Le numéro de suivi {tracking} n'a pas été mis à jour depuis une semaine.",
                "Mon colis avec le numéro de commande {order} devait arriver hier. Pouvez-vous me dire où il se trouve ? J'ai besoin du {product} avant le week-end.",
            ],
            replies: &[
                "Je suis désolé pour ce retard. J'ai vérifié la commande {order} : le colis a quitté notre entrepôt le {date} avec le numéro de suivi {tracking}. J'ai demandé une enquête au transporteur.",
                "Merci de votre patience. Votre {product} a été remis au transporteur et devrait arriver sous deux jours ouvrés.",
            ],
        },
        Topic {
            tag: "return",
            subjects: &[
                "Retour du {product}",
                "Je souhaite retourner la commande {order}",
                "Étiquette de retour pour {order}",
            ],
            openings: &[
                "Le {product} de la commande {order} ne me va pas. Comment puis-je le retourner ? Je préférerais un échange contre une taille au-dessus.",
                "Je voudrais renvoyer le {product} reçu la semaine dernière. Merci de m'envoyer une étiquette de retour.",
            ],
            replies: &[
                "Bien sûr. Vous pouvez retourner le {product} sous 30 jours. Je vous ai envoyé une étiquette de retour prépayée pour la commande {order}.",
                "Aucun problème. Emballez le {product} dans sa boîte d'origine et déposez-le dans un bureau de poste avec l'étiquette jointe.",
            ],
        },
        Topic {
            tag: "refund",
            subjects: &[
                "Remboursement de la commande {order}",
                "J'attends toujours mon remboursement",
                "Remboursement du {product}",
            ],
            openings: &[
                "J'ai retourné le {product} il y a deux semaines mais je n'ai pas encore reçu mon remboursement de {amount} EUR. Numéro de commande {order}.",
                "La commande {order} m'a été débitée deux fois. Merci de rembourser le second paiement de {amount} EUR.",
            ],
            replies: &[
                "Toutes nos excuses pour l'attente. Le remboursement de {amount} EUR pour la commande {order} a été effectué aujourd'hui sur votre moyen de paiement.",
                "Vous avez raison, le paiement a été prélevé deux fois. J'ai remboursé {amount} EUR ; vous le verrez sur votre relevé sous 5 jours.",
            ],
        },
        Topic {
            tag: "damaged",
            subjects: &[
                "Article endommagé dans la commande {order}",
                "{product} arrivé cassé",
                "Produit abîmé",
            ],
            openings: &[
                "Le {product} est arrivé aujourd'hui mais le carton était écrasé et l'article est abîmé. Je joins des photos. Commande {order}.",
                "Malheureusement, le {product} que j'ai reçu est endommagé. Que pouvez-vous faire ?",
            ],
            replies: &[
                "Je suis vraiment désolé que votre {product} soit arrivé endommagé. Nous vous envoyons un remplacement gratuitement ; inutile de renvoyer l'article abîmé.",
                "Merci pour les photos. J'ai ouvert une réclamation auprès du transporteur et un nouveau {product} est en route (suivi {tracking}).",
            ],
        },
        Topic {
            tag: "invoice",
            subjects: &[
                "Facture de la commande {order}",
                "Changement d'adresse de facturation",
                "Besoin d'une facture avec TVA",
            ],
            openings: &[
                "Pourriez-vous m'envoyer une facture avec TVA pour la commande {order} ? L'adresse de ma société est {street}, {city}.",
                "J'ai déménagé et je dois changer l'adresse de livraison de la commande {order} pour {street}, {city}.",
            ],
            replies: &[
                "Voici la facture de la commande {order}. J'ai ajouté l'adresse de votre société comme demandé.",
                "J'ai modifié l'adresse de la commande {order} : {street}, {city}. Elle n'est pas encore expédiée et partira à la nouvelle adresse.",
            ],
        },
    ],
};

const ES: Language = Language {
    first_names: &[
        "Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Álvaro", "Paula", "Javier", "Carmen",
        "Íñigo",
    ],
    last_names: &[
        "García",
        "Fernández",
        "González",
        "Rodríguez",
        "López",
        "Martínez",
        "Sánchez",
        "Pérez",
        "Gómez",
        "Muñoz",
    ],
    cities: &[
        "Madrid",
        "Barcelona",
        "Valencia",
        "Sevilla",
        "Bilbao",
        "Málaga",
    ],
    streets: &[
        "Calle Mayor 12",
        "Avenida de la Constitución 4",
        "Calle del Sol 88",
        "Plaza de España 7",
    ],
    products: &[
        "jersey de lana",
        "mochila de cuero",
        "cafetera expreso",
        "zapatillas de correr",
        "juego de cama de lino",
        "lámpara de escritorio",
        "chaqueta impermeable",
    ],
    greetings: &[
        "Hola,",
        "Buenos días,",
        "Estimado equipo de atención al cliente,",
    ],
    agent_greetings: &["Hola {first},", "Buenos días, {first} {last}:"],
    sign_offs: &[
        "Un saludo,\n{first} {last}",
        "Gracias,\n{first}",
        "Atentamente,\n{first} {last}\n{street}, {city}",
    ],
    follow_ups: &[
        "Gracias por la rápida respuesta. Sin embargo, el número de seguimiento {tracking} sigue sin moverse.",
        "Gracias, he devuelto el paquete hoy. Por favor, avísenme cuando llegue.",
        "Todavía no he recibido el reembolso de {amount} EUR del pedido {order}. ¿Podrían comprobarlo?",
        "Eso lo ha resuelto, ¡muchas gracias por su ayuda!",
    ],
    agent_follow_ups: &[
        "He consultado con la empresa de transporte: el paquete {tracking} está en el almacén local y se entregará mañana.",
        "Su devolución ha llegado a nuestro almacén y el reembolso de {amount} EUR está en camino. Suele tardar de 3 a 5 días laborables.",
        "Nos alegra haber ayudado. Cierro la consulta; responda si necesita algo más.",
    ],
    notes: &[
        "Cliente habitual, ser flexibles.",
        "Reclamación abierta con el transportista para {tracking}.",
    ],
    topics: [
        Topic {
            tag: "delivery",
            subjects: &[
                "¿Dónde está mi pedido {order}?",
                "Pedido {order} no entregado",
                "Retraso en la entrega de {order}",
            ],
            openings: &[
                "Pedí una {product} el {date} (pedido {order}) y todavía no ha llegado. El número de seguimiento {tracking} no se ha actualizado desde hace una semana.",
                "Mi paquete con el número de pedido {order} debía llegar ayer. ¿Pueden decirme dónde está? Necesito la {product} antes del fin de semana.",
            ],
            replies: &[
                "Disculpe el retraso. He revisado el pedido {order}: el paquete salió de nuestro almacén el {date} con el número de seguimiento {tracking}. He pedido a la empresa de transporte que lo investigue.",
                "Gracias por su paciencia. Su {product} se entregó al transportista y debería llegar en dos días laborables.",
            ],
        },
        Topic {
            tag: "return",
            subjects: &[
                "Devolución de {product}",
                "Quiero devolver el pedido {order}",
            ],
            openings: &[
                "La {product} del pedido {order} no me queda bien. ¿Cómo puedo devolverla? Preferiría cambiarla por una talla más grande.",
                "Quisiera devolver la {product} que recibí la semana pasada. Por favor, envíenme una etiqueta de devolución.",
            ],
            replies: &[
                "Por supuesto. Puede devolver la {product} en un plazo de 30 días. Le he enviado una etiqueta de devolución prepagada para el pedido {order}.",
                "Ningún problema. Empaquete la {product} en su caja original y llévela a cualquier oficina de correos con la etiqueta adjunta.",
            ],
        },
        Topic {
            tag: "refund",
            subjects: &[
                "Reembolso del pedido {order}",
                "Sigo esperando mi reembolso",
            ],
            openings: &[
                "Devolví la {product} hace dos semanas pero todavía no he recibido el reembolso de {amount} EUR. Número de pedido {order}.",
                "Me han cobrado dos veces el pedido {order}. Por favor, reembolsen el segundo pago de {amount} EUR.",
            ],
            replies: &[
                "Disculpe la espera. Hoy hemos emitido el reembolso de {amount} EUR del pedido {order} a su método de pago original.",
                "Tiene razón, el pago se cobró dos veces. He reembolsado {amount} EUR; lo verá en su extracto en unos 5 días.",
            ],
        },
        Topic {
            tag: "damaged",
            subjects: &[
                "Artículo dañado en el pedido {order}",
                "{product} llegó rota",
            ],
            openings: &[
                "La {product} llegó hoy pero la caja estaba aplastada y el artículo está roto. Adjunto fotos. Pedido {order}.",
                "Lamentablemente la {product} que recibí está dañada. ¿Qué pueden hacer?",
            ],
            replies: &[
                "Siento mucho que su {product} llegara dañada. Le enviaremos un reemplazo gratis; no hace falta devolver la rota.",
                "Gracias por las fotos. He abierto una reclamación con el transportista y una nueva {product} está en camino (seguimiento {tracking}).",
            ],
        },
        Topic {
            tag: "invoice",
            subjects: &[
                "Factura del pedido {order}",
                "Cambio de dirección de facturación",
            ],
            openings: &[
                "¿Podrían enviarme una factura con IVA del pedido {order}? La dirección de mi empresa es {street}, {city}.",
                "Me he mudado y necesito cambiar la dirección de entrega del pedido {order} a {street}, {city}.",
            ],
            replies: &[
                "Aquí tiene la factura del pedido {order}. He añadido la dirección de su empresa.",
                "He cambiado la dirección del pedido {order} a {street}, {city}. Aún no se ha enviado, así que irá a la nueva dirección.",
            ],
        },
    ],
};

const IT: Language = Language {
    first_names: &[
        "Giulia",
        "Francesco",
        "Chiara",
        "Alessandro",
        "Sofia",
        "Lorenzo",
        "Aurora",
        "Matteo",
        "Niccolò",
        "Beatrice",
    ],
    last_names: &[
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
        "Greco",
    ],
    cities: &["Roma", "Milano", "Torino", "Bologna", "Firenze", "Napoli"],
    streets: &[
        "Via Roma 12",
        "Corso Italia 4",
        "Via Garibaldi 88",
        "Piazza del Duomo 7",
    ],
    products: &[
        "maglione di lana",
        "zaino in pelle",
        "macchina per espresso",
        "scarpe da corsa",
        "lenzuola di lino",
        "lampada da scrivania",
        "giacca impermeabile",
    ],
    greetings: &["Buongiorno,", "Salve,", "Gentile servizio clienti,"],
    agent_greetings: &["Buongiorno {first},", "Gentile {first} {last},"],
    sign_offs: &[
        "Cordiali saluti,\n{first} {last}",
        "Grazie,\n{first}",
        "Distinti saluti,\n{first} {last}\n{street}, {city}",
    ],
    follow_ups: &[
        "Grazie per la risposta rapida. Il numero di tracciamento {tracking} però non mostra ancora movimenti.",
        "Grazie, ho rispedito il pacco oggi. Fatemi sapere quando arriva.",
        "Non ho ancora ricevuto il rimborso di {amount} EUR per l'ordine {order}. Potete controllare?",
        "Problema risolto, grazie mille per l'aiuto!",
    ],
    agent_follow_ups: &[
        "Ho verificato con il corriere: il pacco {tracking} è nel deposito locale e sarà consegnato domani.",
        "Il reso è arrivato nel nostro magazzino e il rimborso di {amount} EUR è in corso. Di solito servono da 3 a 5 giorni lavorativi.",
        "Siamo felici di averla aiutata. Chiudo la richiesta; risponda pure se serve altro.",
    ],
    notes: &[
        "Cliente abituale, essere accomodanti.",
        "Reclamo aperto con il corriere per {tracking}.",
    ],
    topics: [
        Topic {
            tag: "delivery",
            subjects: &[
                "Dov'è il mio ordine {order}?",
                "Ordine {order} non consegnato",
                "Consegna in ritardo {order}",
            ],
            openings: &[
                "Ho ordinato uno {product} il {date} (ordine {order}) e non è ancora arrivato. Il numero di tracciamento {tracking} non è aggiornato da una settimana.",
                "Il mio pacco con numero d'ordine {order} doveva arrivare ieri. Potete dirmi dove si trova? Mi serve lo {product} entro il fine settimana.",
            ],
            replies: &[
                "Mi scuso per il ritardo. Ho controllato l'ordine {order}: il pacco è partito dal nostro magazzino il {date} con il numero di tracciamento {tracking}. Ho chiesto al corriere di verificare.",
                "Grazie per la pazienza. Il suo {product} è stato affidato al corriere e dovrebbe arrivare entro due giorni lavorativi.",
            ],
        },
        Topic {
            tag: "return",
            subjects: &["Reso di {product}", "Vorrei restituire l'ordine {order}"],
            openings: &[
                "Lo {product} dell'ordine {order} non mi sta bene. Come posso restituirlo? Preferirei cambiarlo con una taglia più grande.",
                "Vorrei restituire lo {product} ricevuto la settimana scorsa. Per favore mandatemi un'etichetta di reso.",
            ],
            replies: &[
                "Certamente. Può restituire lo {product} entro 30 giorni. Le ho inviato un'etichetta di reso prepagata per l'ordine {order}.",
                "Nessun problema. Imballi lo {product} nella scatola originale e lo consegni in un ufficio postale con l'etichetta allegata.",
            ],
        },
        Topic {
            tag: "refund",
            subjects: &[
                "Rimborso dell'ordine {order}",
                "Sto ancora aspettando il rimborso",
            ],
            openings: &[
                "Ho restituito lo {product} due settimane fa ma non ho ancora ricevuto il rimborso di {amount} EUR. Numero d'ordine {order}.",
                "L'ordine {order} mi è stato addebitato due volte. Vi prego di rimborsare il secondo pagamento di {amount} EUR.",
            ],
            replies: &[
                "Ci scusiamo per l'attesa. Il rimborso di {amount} EUR per l'ordine {order} è stato emesso oggi sul suo metodo di pagamento.",
                "Ha ragione, il pagamento è stato addebitato due volte. Ho rimborsato {amount} EUR; lo vedrà sull'estratto conto entro 5 giorni.",
            ],
        },
        Topic {
            tag: "damaged",
            subjects: &[
                "Articolo danneggiato nell'ordine {order}",
                "{product} arrivato rotto",
            ],
            openings: &[
                "Lo {product} è arrivato oggi ma la scatola era schiacciata e l'articolo è rotto. Allego le foto. Ordine {order}.",
                "Purtroppo lo {product} che ho ricevuto è danneggiato. Cosa potete fare?",
            ],
            replies: &[
                "Mi dispiace molto che il suo {product} sia arrivato danneggiato. Le spediremo un sostituto gratuitamente; non serve restituire quello rotto.",
                "Grazie per le foto. Ho aperto un reclamo con il corriere e un nuovo {product} è in viaggio (tracciamento {tracking}).",
            ],
        },
        Topic {
            tag: "invoice",
            subjects: &[
                "Fattura dell'ordine {order}",
                "Cambio dell'indirizzo di fatturazione",
            ],
            openings: &[
                "Potreste inviarmi una fattura con IVA per l'ordine {order}? L'indirizzo della mia azienda è {street}, {city}.",
                "Ho cambiato casa e devo modificare l'indirizzo di consegna dell'ordine {order} in {street}, {city}.",
            ],
            replies: &[
                "Ecco la fattura dell'ordine {order}. Ho aggiunto l'indirizzo della sua azienda come richiesto.",
                "Ho aggiornato l'indirizzo dell'ordine {order} in {street}, {city}. Non è ancora stato spedito e andrà al nuovo indirizzo.",
            ],
        },
    ],
};

const NL: Language = Language {
    first_names: &[
        "Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Fleur", "Bram", "Lotte", "Ruben",
    ],
    last_names: &[
        "de Jong",
        "Jansen",
        "de Vries",
        "van den Berg",
        "Bakker",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
    ],
    cities: &[
        "Amsterdam",
        "Rotterdam",
        "Utrecht",
        "Den Haag",
        "Gent",
        "Antwerpen",
    ],
    streets: &[
        "Kerkstraat 12",
        "Dorpsweg 4",
        "Stationsplein 88",
        "Molenlaan 7",
    ],
    products: &[
        "wollen trui",
        "leren rugzak",
        "espressomachine",
        "hardloopschoenen",
        "linnen dekbedovertrek",
        "bureaulamp",
        "regenjas",
    ],
    greetings: &["Hallo,", "Goedendag,", "Beste klantenservice,"],
    agent_greetings: &["Hallo {first},", "Beste {first} {last},"],
    sign_offs: &[
        "Met vriendelijke groet,\n{first} {last}",
        "Bedankt,\n{first}",
        "Groeten,\n{first} {last}\n{street}, {city}",
    ],
    follow_ups: &[
        "Bedankt voor het snelle antwoord. Het trackingnummer {tracking} laat echter nog steeds geen beweging zien.",
        "Bedankt, ik heb het pakket vandaag teruggestuurd. Laat u het weten wanneer het aankomt?",
        "Ik heb de terugbetaling van {amount} EUR voor bestelling {order} nog steeds niet ontvangen. Kunt u het nakijken?",
        "Daarmee is het opgelost, hartelijk dank voor uw hulp!",
    ],
    agent_follow_ups: &[
        "Ik heb navraag gedaan bij de vervoerder: het pakket {tracking} ligt in het lokale depot en wordt morgen bezorgd.",
        "Uw retour is in ons magazijn aangekomen en de terugbetaling van {amount} EUR is onderweg. Dat duurt meestal 3 tot 5 werkdagen.",
        "Fijn dat we konden helpen. Ik sluit dit gesprek; reageer gerust als er nog iets is.",
    ],
    notes: &[
        "Vaste klant, coulant behandelen.",
        "Onderzoek bij vervoerder gestart voor {tracking}.",
    ],
    topics: [
        Topic {
            tag: "delivery",
            subjects: &[
                "Waar is mijn bestelling {order}?",
                "Bestelling {order} niet bezorgd",
                "Levering {order} vertraagd",
            ],
            openings: &[
                "Ik heb op {date} een {product} besteld (bestelling {order}) en die is nog steeds niet aangekomen. Het trackingnummer {tracking} is al een week niet bijgewerkt.",
                "Mijn pakket met bestelnummer {order} zou gisteren aankomen. Kunt u mij vertellen waar het is? Ik heb de {product} voor het weekend nodig.",
            ],
            replies: &[
                "Excuses voor de vertraging. Ik heb bestelling {order} bekeken: het pakket heeft ons magazijn op {date} verlaten met trackingnummer {tracking}. Ik heb de vervoerder gevraagd het uit te zoeken.",
                "Bedankt voor uw geduld. Uw {product} is aan de vervoerder overgedragen en komt binnen twee werkdagen aan.",
            ],
        },
        Topic {
            tag: "return",
            subjects: &[
                "Retour van {product}",
                "Ik wil bestelling {order} retourneren",
            ],
            openings: &[
                "De {product} uit bestelling {order} past niet. Hoe kan ik die retourneren? Het liefst ruil ik hem voor een grotere maat.",
                "Ik wil de {product} die ik vorige week ontving terugsturen. Kunt u mij een retourlabel sturen?",
            ],
            replies: &[
                "Natuurlijk. U kunt de {product} binnen 30 dagen retourneren. Ik heb u een gefrankeerd retourlabel voor bestelling {order} gemaild.",
                "Geen probleem. Verpak de {product} in de originele doos en lever hem met het bijgevoegde label in bij een postkantoor.",
            ],
        },
        Topic {
            tag: "refund",
            subjects: &[
                "Terugbetaling voor bestelling {order}",
                "Ik wacht nog op mijn terugbetaling",
            ],
            openings: &[
                "Ik heb de {product} twee weken geleden teruggestuurd, maar ik heb mijn terugbetaling van {amount} EUR nog niet ontvangen. Bestelnummer {order}.",
                "Bestelling {order} is twee keer afgeschreven. Wilt u de tweede betaling van {amount} EUR terugstorten?",
            ],
            replies: &[
                "Excuses voor het wachten. De terugbetaling van {amount} EUR voor bestelling {order} is vandaag naar uw oorspronkelijke betaalmethode gestuurd.",
                "U heeft gelijk, de betaling is dubbel afgeschreven. Ik heb {amount} EUR teruggestort; u ziet het binnen 5 dagen op uw afschrift.",
            ],
        },
        Topic {
            tag: "damaged",
            subjects: &[
                "Beschadigd artikel in bestelling {order}",
                "{product} kapot aangekomen",
            ],
            openings: &[
                "De {product} kwam vandaag aan, maar de doos was ingedeukt en het artikel is beschadigd. Foto's zitten in de bijlage. Bestelling {order}.",
                "Helaas is de {product} die ik ontving beschadigd. Wat kunt u doen?",
            ],
            replies: &[
                "Het spijt me zeer dat uw {product} beschadigd aankwam. We sturen kosteloos een vervanging; het kapotte artikel hoeft u niet terug te sturen.",
                "Bedankt voor de foto's. Ik heb een claim bij de vervoerder ingediend en een nieuwe {product} is onderweg (tracking {tracking}).",
            ],
        },
        Topic {
            tag: "invoice",
            subjects: &["Factuur voor bestelling {order}", "Wijziging factuuradres"],
            openings: &[
                "Kunt u mij een factuur met btw sturen voor bestelling {order}? Mijn bedrijfsadres is {street}, {city}.",
                "Ik ben verhuisd en moet het bezorgadres van bestelling {order} wijzigen naar {street}, {city}.",
            ],
            replies: &[
                "Hierbij de factuur voor bestelling {order}. Ik heb uw bedrijfsadres toegevoegd zoals gevraagd.",
                "Ik heb het adres van bestelling {order} gewijzigd naar {street}, {city}. Hij is nog niet verzonden en gaat naar het nieuwe adres.",
            ],
        },
    ],
};
