"""Masking of personal numbers for logs, dashboards and agent screens.

Only the database holds full ID numbers and card numbers; PINs are never stored or shown at all.
Every log line, CDR note and screen goes through these functions.
"""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    """`11010519491231002X` -> `1101**********002X` (region prefix and last four kept)."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_card_number(value: str) -> str:
    """Keep only the last four characters of a card or bank number."""
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def mask_pin(value: str) -> str:
    """A PIN is never shown, not even its length."""
    return "******"


def mask_digits(value: str) -> str:
    """Digits a caller typed into an unknown field: show how many, never which."""
    return f"<{len(value)} digits>"
