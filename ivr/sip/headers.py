"""SIP header fields: canonical names, compact forms, list splitting and the Headers multi-map.

Header values are kept as the (unfolded, trimmed) text that arrived; typed views such as
`Via` or `NameAddr` are parsed on demand. That keeps forwarding and re-serialising lossless
and the parser small.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# RFC 3261 7.3.3 and later RFCs (3265, 3515, 3841, 3892, 4028, 4474).
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_KNOWN_NAMES = [
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Transfer-Encoding",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "Identity",
    "Identity-Info",
    "In-Reply-To",
    "Max-Forwards",
    "Min-Expires",
    "Min-SE",
    "MIME-Version",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Session-Expires",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
]
_CANONICAL: dict[str, str] = {name.lower(): name for name in _KNOWN_NAMES}
_CANONICAL.update(COMPACT_FORMS)

# Headers whose values are comma-separated lists (RFC 3261 7.3.1): get_all() splits them.
# Authorization & co. contain commas but are not lists, so they are deliberately absent.
LIST_HEADERS = frozenset(
    [
        "accept",
        "accept-contact",
        "accept-encoding",
        "accept-language",
        "alert-info",
        "allow",
        "allow-events",
        "call-info",
        "contact",
        "content-encoding",
        "content-language",
        "error-info",
        "in-reply-to",
        "p-asserted-identity",
        "proxy-require",
        "reason",
        "record-route",
        "reject-contact",
        "require",
        "route",
        "supported",
        "unsupported",
        "via",
        "warning",
    ]
)


def canonical_name(name: str) -> str:
    """`v` -> `Via`, `cALL-id` -> `Call-ID`; unknown names keep their own spelling."""
    return _CANONICAL.get(name.lower(), name)


def _key(name: str) -> str:
    return canonical_name(name).lower()


def split_list(value: str) -> list[str]:
    """Split a header value at commas that are outside quotes and angle brackets.

    Empty elements (`a,,b`) are dropped: they carry nothing and sloppy peers send them.
    """
    parts: list[str] = []
    start = 0
    in_quotes = in_angle = escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif in_quotes:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


class Headers:
    """Ordered, case-insensitive multi-map of header fields; compact names are expanded."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = [
            (canonical_name(name), value) for name, value in fields
        ]

    def get(self, name: str) -> str | None:
        """The first value of `name` (the whole line, even for list headers)."""
        key = _key(name)
        for field_name, value in self._fields:
            if field_name.lower() == key:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every value of `name` in order; comma lists are split for list headers."""
        key = _key(name)
        lines = [value for field_name, value in self._fields if field_name.lower() == key]
        if key not in LIST_HEADERS:
            return lines
        return [element for line in lines for element in split_list(line)]

    def count(self, name: str) -> int:
        """How many header lines named `name` there are (commas not split)."""
        key = _key(name)
        return sum(1 for field_name, _ in self._fields if field_name.lower() == key)

    def add(self, name: str, value: str) -> None:
        self._fields.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every `name` field by one, kept where the first one was (else appended)."""
        self.set_all(name, [value])

    def set_all(self, name: str, values: list[str]) -> None:
        """Replace every `name` field by one field per value, kept where the first one was
        (else appended). One field per value: joining them with commas would let a `<` or
        `"` in one value swallow the values after it when the list is split again."""
        key = _key(name)
        new = [(canonical_name(name), value) for value in values]
        replaced: list[tuple[str, str]] = []
        placed = False
        for field in self._fields:
            if field[0].lower() != key:
                replaced.append(field)
            elif not placed:
                replaced += new
                placed = True
        if not placed:
            replaced += new
        self._fields = replaced

    def remove(self, name: str) -> None:
        key = _key(name)
        self._fields = [field for field in self._fields if field[0].lower() != key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def copy(self) -> Headers:
        return Headers(self._fields)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._fields))

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._fields == other._fields

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"
