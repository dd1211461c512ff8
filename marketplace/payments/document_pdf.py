"""The PDF of a document, drawn from its snapshot: PDF/A-3 (ISO 19005-3, level B).

PDF/A asks for every font embedded (DejaVu Sans, shipped in ``assets/`` with its licence), a
colour space tied to an output intent (the ICC's sRGB2014 profile, shipped with its licence)
and XMP metadata (fpdf2 writes it when compliance is enforced; the Factur-X step rewrites it
with the Factur-X extension schema). Labels are in the document's language; the wording the
law prescribes in French (the VAT mention) is printed as such in every language.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import OutputIntentSubType
from fpdf.output import PDFICCProfile

from marketplace.money import format_money

ASSETS = Path(__file__).resolve().parent / "assets"
FONT = "DejaVu"
GREY = (90, 90, 90)


def money(amount: int, currency: str, language: str) -> str:
    """Minor units in the document's language: ``120,50 €`` / ``€120.50``."""
    return format_money(amount, currency, locale=language)


def rate_text(rate_bp: int, language: str) -> str:
    """A VAT rate in basis points as a percentage: 2000 → ``20 %``, 550 → ``5,5 %``."""
    return f"{format_decimal(Decimal(rate_bp) / 100, locale=language)} %"


def day(value: str | None, language: str) -> str:
    """An ISO date of the snapshot, written out: ``2 décembre 2026``."""
    if not value:
        return "—"
    return format_date(date.fromisoformat(value), format="long", locale=language)


class _Page(FPDF):
    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 6, f"{self.page_no()}/{{nb}}", align="C")


def _new_pdf(snapshot: dict[str, Any]) -> _Page:
    pdf = _Page(format="A4", enforce_compliance="PDFA_3B")
    pdf.add_font(FONT, fname=str(ASSETS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, style="B", fname=str(ASSETS / "DejaVuSans-Bold.ttf"))
    pdf.add_output_intent(
        OutputIntentSubType.PDFA,
        output_condition_identifier="sRGB",
        output_condition="IEC 61966-2.1",
        registry_name="http://www.color.org",
        dest_output_profile=PDFICCProfile(
            contents=(ASSETS / "sRGB2014.icc").read_bytes(), n=3, alternate="DeviceRGB"
        ),
        info="sRGB2014 (v2)",
    )
    pdf.set_lang(snapshot["language"])
    pdf.set_title(snapshot["title"])
    pdf.set_author(snapshot["seller"]["name"])
    pdf.set_subject(f"{snapshot['title']} {snapshot['number']}")
    pdf.set_creator("alumni-marketplace")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    return pdf


def render(snapshot: dict[str, Any]) -> bytes:
    """The PDF/A-3 bytes of a document snapshot (invoice, credit note or attestation)."""
    language = snapshot["language"]
    with force_locale(language):
        pdf = _new_pdf(snapshot)
        _Writer(pdf, snapshot).draw()
        return bytes(pdf.output())


class _Writer:
    """Draws one snapshot on an A4 page, top to bottom."""

    def __init__(self, pdf: _Page, snapshot: dict[str, Any]) -> None:
        self.pdf = pdf
        self.s = snapshot
        self.language = snapshot["language"]
        self.currency = snapshot["currency"]

    # -- primitives

    def text(self, value: str, *, size: float = 9.5, bold: bool = False, height: float = 5) -> None:
        self.pdf.set_font(FONT, style="B" if bold else "", size=size)
        self.pdf.multi_cell(0, height, value, new_x="LMARGIN", new_y="NEXT")

    def pair(self, label: str, value: str) -> None:
        self.pdf.set_font(FONT, style="B", size=9.5)
        self.pdf.cell(62, 5.5, label)
        self.pdf.set_font(FONT, size=9.5)
        self.pdf.multi_cell(0, 5.5, value, new_x="LMARGIN", new_y="NEXT")

    def money(self, amount: int) -> str:
        return money(amount, self.currency, self.language)

    # -- blocks

    def draw(self) -> None:
        self.party(self.s["seller"], seller=True)
        self.pdf.ln(6)
        self.text(self.s["title"], size=16, bold=True, height=8)
        self.pair(_("Number"), self.s["number"])
        self.pair(_("Date of issue"), day(self.s["issued_on"], self.language))
        corrects = self.s.get("corrects")
        if corrects:
            self.pair(
                _("Corrects"),
                _(
                    "%(number)s of %(date)s",
                    number=corrects["number"],
                    date=day(corrects["issued_on"], self.language),
                ),
            )
        self.pdf.ln(4)
        if self.s.get("buyer"):
            self.text(_("Customer"), bold=True)
            self.party(self.s["buyer"], seller=False)
        else:
            self.text(_("Payer"), bold=True)
            self.text(self.s["payer"]["name"])
            if self.s["payer"].get("email"):
                self.text(self.s["payer"]["email"])
        self.pdf.ln(4)
        if self.s["kind"] == "attestation":
            self.attestation()
        else:
            self.lines()
            self.totals()
            self.payment()
        self.notes()

    def party(self, party: dict[str, Any], *, seller: bool) -> None:
        self.text(party["name"], size=12 if seller else 9.5, bold=True, height=6 if seller else 5)
        for line in party.get("address_lines") or []:
            self.text(line)
        place = " ".join(v for v in (party.get("postal_code"), party.get("city")) if v)
        if place:
            self.text(place)
        if party.get("country_name"):
            self.text(party["country_name"])
        if party.get("siret"):
            self.text(f"SIRET : {party['siret']}")
        elif party.get("siren"):
            self.text(f"SIREN : {party['siren']}")
        if party.get("rna"):
            self.text(f"RNA : {party['rna']}")
        if party.get("vat_number"):
            self.text(_("VAT number: %(number)s", number=party["vat_number"]))
        if party.get("email"):
            self.text(party["email"])
        if party.get("po_reference"):
            self.text(_("Your order reference: %(reference)s", reference=party["po_reference"]))

    def lines(self) -> None:
        pdf = self.pdf
        widths = (58, 16, 34, 18, 22, 0)
        headers = (
            _("Description"),
            _("Qty"),
            _("Unit price excl. VAT"),
            _("VAT rate"),
            _("VAT"),
            _("Total excl. VAT"),
        )
        pdf.set_font(FONT, style="B", size=8.5)
        for width, header in zip(widths, headers, strict=True):
            pdf.cell(width, 6, header, border="B", new_x="RIGHT", new_y="TOP")
        pdf.ln(7)
        pdf.set_font(FONT, size=8.5)
        for line in self.s["lines"]:
            top = pdf.get_y()
            designation = line["designation"]
            period = line.get("period")
            if period:
                designation += "\n" + _(
                    "Period: %(start)s to %(end)s inclusive",
                    start=day(period[0], self.language),
                    end=day(period[1], self.language),
                )
            pdf.multi_cell(widths[0], 4.5, designation, new_x="RIGHT", new_y="TOP")
            bottom = pdf.get_y() + 4.5 * (designation.count("\n") + 2)
            pdf.set_xy(pdf.l_margin + widths[0], top)
            cells = (
                format_decimal(Decimal(line["quantity"]), locale=self.language),
                self.money(line["unit_net"]),
                rate_text(line["vat_rate_bp"], self.language),
                self.money(line["vat"]),
                self.money(line["net"]),
            )
            for width, value in zip(widths[1:], cells, strict=True):
                pdf.cell(width, 4.5, value, new_x="RIGHT", new_y="TOP", align="R")
            pdf.set_xy(pdf.l_margin, max(bottom, pdf.get_y() + 6))
        pdf.ln(2)

    def totals(self) -> None:
        totals = self.s["totals"]
        self.pair(_("Total excl. VAT"), self.money(totals["net"]))
        self.pair(_("VAT"), self.money(totals["vat"]))
        self.pair(_("Total incl. VAT"), self.money(totals["gross"]))
        if self.s["kind"] == "credit_note":
            self.pair(_("Refunded"), self.money(totals["paid"]))
        else:
            self.pair(_("Paid"), self.money(totals["paid"]))
        self.pair(_("Amount due"), self.money(totals["due"]))
        self.pdf.ln(3)

    def payment(self) -> None:
        self.pair(_("Due date"), day(self.s["due_on"], self.language))
        label = _("Refunded on") if self.s["kind"] == "credit_note" else _("Paid on")
        self.pair(label, day(self.s["paid_on"], self.language))
        self.pair(_("Payment method"), _("Bank card (Stripe)"))
        self.pdf.ln(3)

    def attestation(self) -> None:
        att = self.s["attestation"]
        self.pair(_("Membership"), att["tier_name"])
        if att.get("period"):
            start, end = att["period"]
            self.pair(
                _("Period"),
                _(
                    "%(start)s to %(end)s inclusive",
                    start=day(start, self.language),
                    end=day(end, self.language),
                ),
            )
        elif att.get("ended"):
            self.pair(_("Period"), _("Ended by the refund"))
        self.pair(_("Amount paid"), self.money(att["paid"]))
        if att.get("refunded"):
            self.pair(_("Refunded"), self.money(att["refunded"]))
            self.pair(_("Dues kept"), self.money(att["paid"] - att["refunded"]))
        self.pair(_("Paid on"), day(self.s["paid_on"], self.language))
        self.pair(_("Payment method"), _("Bank card (Stripe)"))
        self.pdf.ln(4)

    def notes(self) -> None:
        self.pdf.set_text_color(*GREY)
        for note in self.s.get("notes") or []:
            self.text(note["text"], size=8.5, height=4.5)
            self.pdf.ln(1)
        self.pdf.set_text_color(0)
