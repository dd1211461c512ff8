# ruff: noqa: E501 - Markdown prose: one list item per line
"""The default texts of the legal pages, shown until an admin saves their own version.

Bodies are Markdown; ``{association}`` and ``{contact}`` are replaced when a page is shown
(the association's name and contact address), in these texts and in admins' versions alike.
The retention periods repeat the ones the code applies (DESIGN "Privacy"): applications 3
months after a refusal or withdrawal (2 years with the candidate's consent), unconfirmed
registrations 30 days, CVs of closed jobs 6 months, accounting records 10 years, accounts 7
days after a deletion request.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIVACY = "privacy"
LEGAL = "legal"
PARTNERS = "partners"
REGISTER = "register"
# Pages anyone may read; the register of processing activities is for admins only.
PUBLIC_SLUGS = (PRIVACY, LEGAL, PARTNERS)
SLUGS = (PRIVACY, LEGAL, PARTNERS, REGISTER)


@dataclass(frozen=True)
class DefaultPage:
    slug: str
    title_fr: str
    title_en: str
    body_fr: str
    body_en: str


PRIVACY_FR = """\
## Responsable du traitement

{association} (l'association) est responsable des traitements de données personnelles de
cette plateforme. Contact pour toute question ou demande sur vos données : {contact}.

## Finalités et bases légales

- **Compte, connexion et vérification du statut d'ancien élève** — Exécution du contrat (conditions d'utilisation)
- **Adhésion, paiements, reçus et comptabilité** — Exécution du contrat ; obligation légale (comptabilité)
- **Offres des partenaires et codes de réduction** — Exécution du contrat
- **Offres d'emploi et candidatures transmises aux partenaires** — Exécution de mesures précontractuelles à votre demande
- **Alertes de recherches enregistrées (digests)** — Consentement, retirable à tout moment
- **Nouvelles de l'association** — Consentement, retirable à tout moment
- **Portail partenaires** — Exécution du contrat avec le partenaire
- **Journaux de sécurité et d'audit** — Intérêt légitime (sécurité du service, preuve des décisions)

## Durées de conservation

- Candidatures : 3 mois après un refus ou un retrait, 2 ans après un refus si vous y avez consenti.
- CV des offres d'emploi clôturées ou expirées : 6 mois après la fin de l'offre.
- Inscriptions dont l'adresse e-mail n'a jamais été confirmée : 30 jours.
- Pièces comptables (paiements, remboursements, reçus) : 10 ans (Code de commerce, art. L123-22) ;
  après la suppression d'un compte, elles restent rattachées à un enregistrement anonymisé.
- Compte : jusqu'à sa suppression ; une demande de suppression prend effet après 7 jours,
  pendant lesquels vous pouvez l'annuler.

## Destinataires

Les équipes de l'association habilitées (modération, trésorerie, administration) ; les
partenaires, uniquement pour les candidatures que vous leur envoyez et les codes que vous
utilisez ; notre prestataire de paiement (Stripe) pour les paiements. Aucune donnée n'est vendue.

## Vos droits

Vous pouvez accéder à vos données et les télécharger, les rectifier depuis votre profil,
supprimer votre compte, retirer vos consentements et vous opposer aux traitements fondés sur
l'intérêt légitime, depuis la page « Mes données » ou en écrivant à {contact}. Vous pouvez
saisir la CNIL (www.cnil.fr).

## Cookies

Seuls des cookies essentiels sont déposés : la session, la protection contre la falsification
de requêtes et le choix de langue. Aucun cookie de mesure d'audience ni de publicité.
"""

PRIVACY_EN = """\
## Data controller

{association} (the association) is the controller of the personal data processed by this
platform. Contact for any question or request about your data: {contact}.

## Purposes and legal bases

- **Account, sign-in and verification of your alumni status** — Performance of the contract (terms of use)
- **Membership, payments, receipts and accounting** — Performance of the contract; legal obligation (accounting)
- **Partners' offers and discount codes** — Performance of the contract
- **Job postings and applications sent to partners** — Steps taken at your request before a contract
- **Saved-search alerts (digests)** — Consent, which you may withdraw at any time
- **News from the association** — Consent, which you may withdraw at any time
- **Partner portal** — Performance of the contract with the partner
- **Security and audit logs** — Legitimate interest (security of the service, proof of decisions)

## Retention periods

- Applications: 3 months after a refusal or a withdrawal, 2 years after a refusal if you agreed.
- CVs sent to job postings that are closed or expired: 6 months after the posting ended.
- Registrations whose e-mail address was never confirmed: 30 days.
- Accounting records (payments, refunds, receipts): 10 years (French Commercial Code,
  art. L123-22); once an account is deleted they stay linked to an anonymised record.
- Account: until you delete it; a deletion request takes effect after 7 days, during which
  you can cancel it.

## Recipients

The association's authorised teams (moderation, treasury, administration); partners, only for
the applications you send them and the codes you use; our payment provider (Stripe) for
payments. No data is sold.

## Your rights

You can access and download your data, correct it from your profile, delete your account,
withdraw your consents and object to processing based on legitimate interest, from the
"My data" page or by writing to {contact}. You may lodge a complaint with the CNIL
(www.cnil.fr).

## Cookies

Only essential cookies are set: the session, the protection against request forgery and the
language choice. No audience measurement or advertising cookie.
"""

LEGAL_FR = """\
## Éditeur

Ce site est édité par {association}, association. Contact : {contact}.

## Directeur de la publication

Le président ou la présidente de l'association.

## Hébergement

L'hébergeur du service est indiqué par l'association sur demande à {contact}.

## Contenus des partenaires

Les offres et les offres d'emploi sont rédigées par les partenaires, qui en sont responsables ;
l'association les modère avant publication.
"""

LEGAL_EN = """\
## Publisher

This site is published by {association}, an association. Contact: {contact}.

## Publication director

The association's president.

## Hosting

The association gives the name of the hosting provider on request at {contact}.

## Partners' content

Offers and job postings are written by the partners, who are responsible for them; the
association reviews them before publication.
"""

PARTNERS_FR = """\
## Vous êtes responsable des candidatures que vous recevez

Quand un ancien élève postule à l'une de vos offres d'emploi, vous recevez sa candidature
(nom, lettre, CV) en tant que **responsable de traitement** au sens du RGPD, pour votre
recrutement. Vous vous engagez à :

- n'utiliser les candidatures que pour le poste concerné ;
- les garder confidentielles au sein de votre équipe ;
- informer les candidats et répondre à leurs demandes (accès, rectification, suppression) ;
- ne pas conserver de copie au-delà de vos propres durées légales de conservation.

La plateforme supprime de son côté les candidatures refusées ou retirées après 3 mois (2 ans
avec le consentement du candidat) et les CV des offres terminées après 6 mois.
Questions : {contact}.
"""

PARTNERS_EN = """\
## You control the applications you receive

When an alumnus applies to one of your job postings, you receive their application (name,
letter, CV) as a **data controller** under the GDPR, for your recruitment. You agree to:

- use applications only for the job they were sent to;
- keep them confidential within your team;
- inform the candidates and answer their requests (access, correction, erasure);
- keep no copy beyond your own legal retention periods.

On its side, the platform deletes refused or withdrawn applications after 3 months (2 years
with the candidate's consent) and the CVs of ended postings after 6 months.
Questions: {contact}.
"""

_REGISTER_ROWS_FR = """\
### Comptes et vérification

- **Finalité** : Accès au service, vérification du statut d'ancien élève
- **Base légale** : Contrat
- **Catégories de données** : Identité, e-mail, école, année, pays, ville, justificatif
- **Destinataires** : Modérateurs, administrateurs
- **Conservation** : Jusqu'à la suppression du compte ; inscriptions non confirmées 30 jours ; anonymisation 7 jours après une demande de suppression
- **Transferts hors UE** : Aucun

### Adhésion et paiements

- **Finalité** : Adhésions, reçus, comptabilité
- **Base légale** : Contrat ; obligation légale
- **Catégories de données** : Nom et e-mail du payeur, montants, références Stripe (jamais le numéro de carte)
- **Destinataires** : Trésoriers, Stripe
- **Conservation** : 10 ans (pièces comptables) ; payeur anonymisé à la suppression du compte
- **Transferts hors UE** : Stripe (États-Unis, clauses contractuelles types)

### Offres et codes

- **Finalité** : Avantages des partenaires
- **Base légale** : Contrat
- **Catégories de données** : Codes attribués, dates d'utilisation
- **Destinataires** : Le partenaire concerné (statistiques, validation)
- **Conservation** : Durée du compte, puis rattachés à un enregistrement anonymisé
- **Transferts hors UE** : Aucun

### Emplois et candidatures

- **Finalité** : Transmission des candidatures aux partenaires
- **Base légale** : Mesures précontractuelles
- **Catégories de données** : Nom, lettre, CV, statut de la candidature
- **Destinataires** : Le partenaire destinataire (lui-même responsable de traitement)
- **Conservation** : 3 mois après un refus ou un retrait (2 ans avec consentement) ; CV 6 mois après la fin de l'offre
- **Transferts hors UE** : Aucun

### Alertes et nouvelles

- **Finalité** : Digests des recherches enregistrées, nouvelles de l'association
- **Base légale** : Consentement
- **Catégories de données** : E-mail, critères de recherche, preuve du consentement
- **Destinataires** : Aucun
- **Conservation** : Jusqu'au retrait ; preuves conservées pendant la durée du compte
- **Transferts hors UE** : Aucun

### Portail partenaires

- **Finalité** : Gestion des offres et des candidatures par les équipes des partenaires
- **Base légale** : Contrat
- **Catégories de données** : Nom, e-mail, rôle dans l'équipe
- **Destinataires** : Administrateurs
- **Conservation** : Durée du partenariat ; membres désactivés, jamais supprimés
- **Transferts hors UE** : Aucun

### Journaux

- **Finalité** : Sécurité, preuve des décisions du personnel et des paiements
- **Base légale** : Intérêt légitime
- **Catégories de données** : Identifiant, action, adresse IP
- **Destinataires** : Administrateurs
- **Conservation** : Durée du compte ; identifiant anonymisé ensuite
- **Transferts hors UE** : Aucun
"""

_REGISTER_ROWS_EN = """\
### Accounts and verification

- **Purpose**: Access to the service, verification of alumni status
- **Legal basis**: Contract
- **Categories of data**: Identity, e-mail, school, year, country, city, evidence file
- **Recipients**: Moderators, admins
- **Retention**: Until the account is deleted; unconfirmed registrations 30 days; anonymised 7 days after a deletion request
- **Transfers outside the EU**: None

### Membership and payments

- **Purpose**: Memberships, receipts, accounting
- **Legal basis**: Contract; legal obligation
- **Categories of data**: Payer's name and e-mail, amounts, Stripe references (never the card number)
- **Recipients**: Treasurers, Stripe
- **Retention**: 10 years (accounting records); payer anonymised when the account is deleted
- **Transfers outside the EU**: Stripe (United States, standard contractual clauses)

### Offers and codes

- **Purpose**: Partners' benefits
- **Legal basis**: Contract
- **Categories of data**: Codes given, dates of use
- **Recipients**: The partner concerned (statistics, checks)
- **Retention**: Life of the account, then linked to an anonymised record
- **Transfers outside the EU**: None

### Jobs and applications

- **Purpose**: Sending applications to partners
- **Legal basis**: Pre-contractual steps
- **Categories of data**: Name, letter, CV, application status
- **Recipients**: The receiving partner (itself a controller)
- **Retention**: 3 months after a refusal or withdrawal (2 years with consent); CVs 6 months after the posting ended
- **Transfers outside the EU**: None

### Alerts and news

- **Purpose**: Saved-search digests, news from the association
- **Legal basis**: Consent
- **Categories of data**: E-mail, search criteria, proof of consent
- **Recipients**: None
- **Retention**: Until withdrawn; proofs kept for the life of the account
- **Transfers outside the EU**: None

### Partner portal

- **Purpose**: Offers and applications managed by partners' teams
- **Legal basis**: Contract
- **Categories of data**: Name, e-mail, team role
- **Recipients**: Admins
- **Retention**: Life of the partnership; members disabled, never deleted
- **Transfers outside the EU**: None

### Logs

- **Purpose**: Security, proof of staff and payment decisions
- **Legal basis**: Legitimate interest
- **Categories of data**: User id, action, IP address
- **Recipients**: Admins
- **Retention**: Life of the account; user anonymised afterwards
- **Transfers outside the EU**: None
"""

REGISTER_FR = (
    "Registre des activités de traitement de {association} (RGPD, art. 30). "
    "Responsable : {association}, {contact}.\n\n" + _REGISTER_ROWS_FR
)
REGISTER_EN = (
    "Register of the processing activities of {association} (GDPR, art. 30). "
    "Controller: {association}, {contact}.\n\n" + _REGISTER_ROWS_EN
)

DEFAULT_PAGES: dict[str, DefaultPage] = {
    PRIVACY: DefaultPage(
        PRIVACY, "Politique de confidentialité", "Privacy policy", PRIVACY_FR, PRIVACY_EN
    ),
    LEGAL: DefaultPage(LEGAL, "Mentions légales", "Legal notice", LEGAL_FR, LEGAL_EN),
    PARTNERS: DefaultPage(
        PARTNERS,
        "Partenaires : responsables des candidatures",
        "Partners: controllers of applications",
        PARTNERS_FR,
        PARTNERS_EN,
    ),
    REGISTER: DefaultPage(
        REGISTER,
        "Registre des activités de traitement",
        "Register of processing activities",
        REGISTER_FR,
        REGISTER_EN,
    ),
}
