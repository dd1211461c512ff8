"""Factur-X, profile EN 16931: the Cross-Industry-Invoice XML of an invoice or credit note,
embedded in its PDF/A-3 by the ``factur-x`` package (which checks the XML against the XSD).

The XML follows EN 16931 and the French CTC rules (the *BR-FR* schematron of the e-invoicing
reform): the seller's and buyer's SIREN (scheme 0002) and electronic addresses (scheme 0225,
the SIREN; an e-mail address, scheme EM, for a buyer without a SIREN), the invoicing mode
``S2`` (a service invoice already paid: paid amount = total, nothing due, due date = payment
date), and the notes PMD (late-payment penalties), PMT (the 40 € recovery indemnity), AAB
(no early-payment discount) and BAR (B2B, or B2BINT for a buyer abroad). Under the VAT
franchise the lines are exempt (category E, reason VATEX-FR-FRANCHISE) and the seller is
identified for tax by its SIREN (BT-32, scheme FC) when it has no VAT number.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import facturx as facturx_lib
from lxml import etree

from marketplace.money import from_minor

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
EN16931 = "urn:cen.eu:en16931:2017"
# UNTDID 1001: commercial invoice, credit note.
TYPE_CODES = {"invoice": "380", "credit_note": "381"}
# UNTDID 4461: 48 = bank card.
CARD = "48"
SERVICE_ALREADY_PAID = "S2"
FRANCHISE_CODE = "VATEX-FR-FRANCHISE"


# Further checks every generated XML goes through (the test suite adds the EN 16931 and
# French CTC schematrons here); a check raises to refuse the document.
XML_CHECKS: list[Callable[[bytes], None]] = []


def register_xml_check(check: Callable[[bytes], None]) -> None:
    """Run ``check`` on every CII XML generated from now on (it raises to refuse it)."""
    if check not in XML_CHECKS:
        XML_CHECKS.append(check)


def _element(parent: etree._Element, tag: str, text: str | None = None, **attrs: str):
    prefix, name = tag.split(":")
    node = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    if text is not None:
        node.text = text
    return node


def _amount(minor: int, currency: str) -> str:
    """Minor units as the decimal CII expects, with the currency's own decimals (JPY: none)."""
    return str(from_minor(minor, currency))


def _rate(rate_bp: int) -> str:
    """A rate the French list accepts: ``20``, ``5.5``, ``2.1``, ``0``."""
    return format((Decimal(rate_bp) / 100).normalize(), "f")


def _date(parent: etree._Element, tag: str, iso: str, *, qualified: bool = False) -> None:
    holder = _element(parent, tag)
    _element(
        holder,
        "qdt:DateTimeString" if qualified else "udt:DateTimeString",
        iso.replace("-", ""),
        format="102",
    )


def _party(parent: etree._Element, tag: str, party: dict[str, Any], *, vat_scheme: str) -> None:
    node = _element(parent, tag)
    _element(node, "ram:Name", party["name"])
    if party.get("siren"):
        legal = _element(node, "ram:SpecifiedLegalOrganization")
        _element(legal, "ram:ID", party["siren"], schemeID="0002")
    address = _element(node, "ram:PostalTradeAddress")
    if party.get("postal_code"):
        _element(address, "ram:PostcodeCode", party["postal_code"])
    lines = party.get("address_lines") or []
    for tag_name, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), lines, strict=False):
        _element(address, tag_name, line)
    if party.get("city"):
        _element(address, "ram:CityName", party["city"])
    _element(address, "ram:CountryID", party["country"])
    if party.get("siren"):
        uri = _element(node, "ram:URIUniversalCommunication")
        _element(uri, "ram:URIID", party["siren"], schemeID="0225")
    elif party.get("email"):
        uri = _element(node, "ram:URIUniversalCommunication")
        _element(uri, "ram:URIID", party["email"], schemeID="EM")
    if party.get("vat_number"):
        registration = _element(node, "ram:SpecifiedTaxRegistration")
        _element(registration, "ram:ID", party["vat_number"], schemeID="VA")
    elif vat_scheme == "FC" and party.get("siren"):
        registration = _element(node, "ram:SpecifiedTaxRegistration")
        _element(registration, "ram:ID", party["siren"], schemeID="FC")


def build_xml(snapshot: dict[str, Any]) -> bytes:
    """The CII XML (Factur-X EN 16931) of an invoice or credit note snapshot."""
    vat = snapshot["vat"]
    currency = snapshot["currency"].upper()
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    context = _element(root, "rsm:ExchangedDocumentContext")
    process = _element(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _element(process, "ram:ID", SERVICE_ALREADY_PAID)
    guideline = _element(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _element(guideline, "ram:ID", EN16931)

    document = _element(root, "rsm:ExchangedDocument")
    _element(document, "ram:ID", snapshot["number"])
    _element(document, "ram:TypeCode", TYPE_CODES[snapshot["kind"]])
    _date(document, "ram:IssueDateTime", snapshot["issued_on"])
    for note in snapshot["notes"]:
        if note.get("code"):
            included = _element(document, "ram:IncludedNote")
            _element(included, "ram:Content", note["text"])
            _element(included, "ram:SubjectCode", note["code"])

    transaction = _element(root, "rsm:SupplyChainTradeTransaction")
    for index, line in enumerate(snapshot["lines"], start=1):
        item = _element(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _element(_element(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(index))
        _element(_element(item, "ram:SpecifiedTradeProduct"), "ram:Name", line["designation"])
        price = _element(
            _element(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice"
        )
        _element(price, "ram:ChargeAmount", _amount(line["unit_net"], currency))
        delivery = _element(item, "ram:SpecifiedLineTradeDelivery")
        _element(delivery, "ram:BilledQuantity", line["quantity"], unitCode="C62")
        settlement = _element(item, "ram:SpecifiedLineTradeSettlement")
        tax = _element(settlement, "ram:ApplicableTradeTax")
        _element(tax, "ram:TypeCode", "VAT")
        _element(tax, "ram:CategoryCode", vat["category"])
        _element(tax, "ram:RateApplicablePercent", _rate(line["vat_rate_bp"]))
        if line.get("period"):
            period = _element(settlement, "ram:BillingSpecifiedPeriod")
            _date(period, "ram:StartDateTime", line["period"][0])
            _date(period, "ram:EndDateTime", line["period"][1])
        summation = _element(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _element(summation, "ram:LineTotalAmount", _amount(line["net"], currency))

    agreement = _element(transaction, "ram:ApplicableHeaderTradeAgreement")
    seller_scheme = "FC" if vat["category"] == "E" else "VA"
    _party(agreement, "ram:SellerTradeParty", snapshot["seller"], vat_scheme=seller_scheme)
    buyer = snapshot["buyer"]
    _party(agreement, "ram:BuyerTradeParty", buyer, vat_scheme="VA")
    if buyer.get("po_reference"):
        order = _element(agreement, "ram:BuyerOrderReferencedDocument")
        _element(order, "ram:IssuerAssignedID", buyer["po_reference"])

    delivery = _element(transaction, "ram:ApplicableHeaderTradeDelivery")
    if snapshot.get("delivered_on"):
        event = _element(delivery, "ram:ActualDeliverySupplyChainEvent")
        _date(event, "ram:OccurrenceDateTime", snapshot["delivered_on"])

    settlement = _element(transaction, "ram:ApplicableHeaderTradeSettlement")
    _element(settlement, "ram:InvoiceCurrencyCode", currency)
    means = _element(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    _element(means, "ram:TypeCode", CARD)
    totals = snapshot["totals"]
    tax = _element(settlement, "ram:ApplicableTradeTax")
    _element(tax, "ram:CalculatedAmount", _amount(totals["vat"], currency))
    _element(tax, "ram:TypeCode", "VAT")
    if vat["category"] == "E":
        _element(tax, "ram:ExemptionReason", vat["mention"])
    _element(tax, "ram:BasisAmount", _amount(totals["net"], currency))
    _element(tax, "ram:CategoryCode", vat["category"])
    if vat["category"] == "E":
        _element(tax, "ram:ExemptionReasonCode", FRANCHISE_CODE)
    _element(tax, "ram:RateApplicablePercent", _rate(vat["rate_bp"]))
    if snapshot.get("period"):
        period = _element(settlement, "ram:BillingSpecifiedPeriod")
        _date(period, "ram:StartDateTime", snapshot["period"][0])
        _date(period, "ram:EndDateTime", snapshot["period"][1])
    terms = _element(settlement, "ram:SpecifiedTradePaymentTerms")
    _element(terms, "ram:Description", snapshot["payment_terms"])
    _date(terms, "ram:DueDateDateTime", snapshot["due_on"])
    summation = _element(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _element(summation, "ram:LineTotalAmount", _amount(totals["net"], currency))
    _element(summation, "ram:TaxBasisTotalAmount", _amount(totals["net"], currency))
    _element(summation, "ram:TaxTotalAmount", _amount(totals["vat"], currency), currencyID=currency)
    _element(summation, "ram:GrandTotalAmount", _amount(totals["gross"], currency))
    _element(summation, "ram:TotalPrepaidAmount", _amount(totals["paid"], currency))
    _element(summation, "ram:DuePayableAmount", _amount(totals["due"], currency))
    corrects = snapshot.get("corrects")
    if corrects:
        reference = _element(settlement, "ram:InvoiceReferencedDocument")
        _element(reference, "ram:IssuerAssignedID", corrects["number"])
        _date(reference, "ram:FormattedIssueDateTime", corrects["issued_on"], qualified=True)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    for check in XML_CHECKS:
        check(xml)
    return xml


def embed(pdf: bytes, xml: bytes, snapshot: dict[str, Any]) -> bytes:
    """The Factur-X PDF: ``pdf`` (PDF/A-3) with ``xml`` attached as ``factur-x.xml``.

    The package checks the XML against the Factur-X EN 16931 XSD first (an invalid XML
    raises: nothing is issued). The schematrons are run by the test suite.
    """
    return facturx_lib.generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        check_schematron=False,
        pdf_metadata={
            "author": snapshot["seller"]["name"],
            "keywords": "Factur-X",
            "title": f"{snapshot['title']} {snapshot['number']}",
            "subject": f"{snapshot['title']} {snapshot['number']} ({snapshot['issued_on']})",
        },
        lang={"fr": "fr-FR", "en": "en-GB"}.get(snapshot["language"], snapshot["language"]),
    )
