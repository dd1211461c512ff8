"""The chart of accounts: which account number each accounting category is booked to.

Defaults live in code (the French *plan comptable associatif*); an admin may override a number
or a label, stored in ``AccountingAccount`` (one row per changed key) and audited. Exports read
the whole chart once (``chart()``), so their query count does not grow with the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace import audit
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.payments.models import PaymentKind
from marketplace.treasury.models import AccountingAccount

# Categories besides the payment kinds (whose category is the kind's value).
STRIPE_FEES = "stripe_fees"
BANK = "bank"
STRIPE_CLEARING = "stripe_clearing"
# Funds taken back by disputes (chargebacks); a won dispute's reinstatement comes back here.
DISPUTES = "disputes"


@dataclass(frozen=True)
class Account:
    """An accounting category with its account number and label."""

    key: str
    number: str
    label: str


# Refunds (and the credit notes that document them) are booked to the debit of the revenue
# account of the payment's kind.
# A partnership and a featured placement are both sponsorship (*parrainage*): services the
# association sells, with visibility as the counterpart, invoiced with VAT unless the franchise
# applies. They belong under 706 "Prestations de services", one sub-account each so the
# accountant reads them apart; 7083 "Locations diverses" (the previous default for
# placements) is rent of property and misstated them.
DEFAULT_ACCOUNTS: tuple[Account, ...] = (
    Account(PaymentKind.MEMBERSHIP.value, "756", "Cotisations"),
    Account(PaymentKind.PARTNER_PLAN.value, "7061", "Prestations de services - parrainage"),
    Account(PaymentKind.FEATURED.value, "7062", "Prestations de services - mises en avant"),
    Account(STRIPE_FEES, "627", "Services bancaires"),
    Account(BANK, "512", "Banque"),
    Account(STRIPE_CLEARING, "467", "Stripe (compte d'attente)"),
    Account(DISPUTES, "658", "Litiges de paiement (rétrofacturations)"),
)
DEFAULT_KEYS = tuple(account.key for account in DEFAULT_ACCOUNTS)


def category_names() -> dict[str, str]:
    """What each category is, as people read it."""
    return {
        PaymentKind.MEMBERSHIP.value: str(_l("Membership dues")),
        PaymentKind.PARTNER_PLAN.value: str(_l("Partner plans")),
        PaymentKind.FEATURED.value: str(_l("Featured placements")),
        STRIPE_FEES: str(_l("Stripe fees")),
        BANK: str(_l("Bank account")),
        STRIPE_CLEARING: str(_l("Stripe balance (clearing account)")),
        DISPUTES: str(_l("Disputes (chargebacks)")),
    }


class UnknownAccount(DomainError):
    status = 404
    code = "not_found"
    message = _l("No such accounting category.")


def chart() -> dict[str, Account]:
    """Every category with its account: the defaults overridden by the stored rows (1 query)."""
    accounts = {account.key: account for account in DEFAULT_ACCOUNTS}
    for row in db.session.scalars(select(AccountingAccount)):
        if row.key in accounts:
            accounts[row.key] = Account(row.key, row.number, row.label)
    return accounts


def set_account(*, key: str, number: str, label: str, actor: object) -> Account:
    """Set the account of a category (an admin's change, audited); flush only."""
    if key not in DEFAULT_KEYS:
        raise UnknownAccount()
    number, label = number.strip(), label.strip()
    row = db.session.scalar(select(AccountingAccount).where(AccountingAccount.key == key))
    previous = chart()[key]
    if row is None:
        row = AccountingAccount(key=key, number=number, label=label)
        db.session.add(row)
    else:
        row.number, row.label = number, label
    db.session.flush()
    if (previous.number, previous.label) != (number, label):
        audit.record(
            "accounting.account",
            actor=actor,
            object_type="accounting_account",
            object_id=row.id,
            key=key,
            number=number,
            label=label,
            previous_number=previous.number,
            previous_label=previous.label,
        )
    return Account(key, number, label)
