"""Checks of the company identifiers printed on invoices: SIREN, SIRET, intra-EU VAT numbers.

A SIREN (9 digits, INSEE's number of a company) and a SIRET (14 digits: the SIREN and an
establishment number) end with a Luhn check digit. An intra-EU VAT number is the country's
code and a national part of a known shape (the VIES formats); a French one is
``FR`` + a 2-digit key + the SIREN, the key being ``(12 + 3 × (SIREN mod 97)) mod 97``.
"""

from __future__ import annotations

import re

# The national part of each member state's VAT number (VIES), Greece's prefix being EL.
VAT_FORMATS = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"\d{2,10}",
    "SE": r"\d{12}",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
    "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
}


def digits_only(value: str | None) -> str:
    """The value without spaces, dots or dashes (how people type these numbers)."""
    return re.sub(r"[\s.\-]", "", value or "")


def luhn_ok(number: str) -> bool:
    """Whether a string of digits ends with a right Luhn check digit."""
    if not number.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def siren_is_valid(value: str) -> bool:
    """9 digits whose Luhn key is right."""
    return len(value) == 9 and luhn_ok(value)


def siret_is_valid(value: str) -> bool:
    """14 digits whose Luhn key is right (La Poste's establishments excepted by INSEE: their
    digits sum to a multiple of 5)."""
    if len(value) != 14 or not value.isdigit():
        return False
    if value.startswith("356000000"):
        return sum(int(char) for char in value) % 5 == 0
    return luhn_ok(value)


def normalise_vat_number(value: str | None) -> str:
    """Upper case, without spaces or punctuation."""
    return digits_only(value).upper()


def vat_number_is_valid(value: str) -> bool:
    """An intra-EU VAT number of a known shape; a French one with its key and SIREN checked."""
    value = normalise_vat_number(value)
    country, national = value[:2], value[2:]
    pattern = VAT_FORMATS.get(country)
    if pattern is None or not re.fullmatch(pattern, national):
        return False
    if country == "FR" and national[:2].isdigit():
        siren = national[2:]
        return int(national[:2]) == (12 + 3 * (int(siren) % 97)) % 97
    return True
