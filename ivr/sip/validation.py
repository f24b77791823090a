"""What a UAS checks in a well-formed request before acting on it (RFC 3261 8.2, RFC 4475 3.3).

`parse_message` has already rejected what breaks the grammar or leaves a mandatory header
missing, duplicated or unreadable. The checks here are those of an endpoint (the IVR is not a
proxy): each is a small function returning the rejection, and `CHECKS` runs them in the
order RFC 3261 8.2 gives, first failure wins. Method support (405/501) and dialog matching
(481) belong to the user agent, which knows its methods and dialogs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ivr.sip.message import Request, Response, make_response

SIP_VERSION = "SIP/2.0"
SUPPORTED_SCHEMES = ("sip", "sips")
SESSION_TYPE = "application/sdp"
MAGIC_COOKIE = "z9hG4bK"
MAX_FORWARDS_LIMIT = 255
WARN_AGENT = "ivr12333"
# Headers RFC 3261 25.1 allows once; the mandatory ones are already checked by the parser.
SINGLE_VALUED = (
    "Max-Forwards",
    "Content-Type",
    "Content-Disposition",
    "Expires",
    "Min-Expires",
    "MIME-Version",
    "Date",
    "Timestamp",
    "Subject",
    "Priority",
    "Reply-To",
    "Session-Expires",
)


@dataclass(frozen=True)
class Rejection:
    status: int
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())


Check = Callable[[Request, Collection[str]], Rejection | None]


def _version(request: Request, supported: Collection[str]) -> Rejection | None:
    return Rejection(505) if request.version.upper() != SIP_VERSION else None


def _single_valued(request: Request, supported: Collection[str]) -> Rejection | None:
    for name in SINGLE_VALUED:
        if request.headers.count(name) > 1:
            return Rejection(400, f"Bad Request (more than one {name})")
    return None


def _cseq_method(request: Request, supported: Collection[str]) -> Rejection | None:
    if request.cseq[1] != request.method:
        return Rejection(400, "Bad Request (CSeq method does not match the Request-Line)")
    return None


def _max_forwards(request: Request, supported: Collection[str]) -> Rejection | None:
    value = request.headers.get("Max-Forwards")
    if value is not None and (
        not re.fullmatch(r"[0-9]+", value) or int(value) > MAX_FORWARDS_LIMIT
    ):
        return Rejection(400, f"Bad Request (Max-Forwards must be 0-{MAX_FORWARDS_LIMIT})")
    return None


def _branch(request: Request, supported: Collection[str]) -> Rejection | None:
    # RFC 4475 3.2.1: a bare cookie claims RFC 3261 matching but gives nothing to match on.
    if request.top_via.branch == MAGIC_COOKIE:
        return Rejection(400, "Bad Request (Via branch is only the magic cookie)")
    return None


def _uri_scheme(request: Request, supported: Collection[str]) -> Rejection | None:
    if request.uri.partition(":")[0].lower() not in SUPPORTED_SCHEMES:
        return Rejection(416)
    return None


def _require(request: Request, supported: Collection[str]) -> Rejection | None:
    if request.method in ("ACK", "CANCEL"):  # RFC 3261 8.2.2.3: never rejected for Require
        return None
    known = {tag.lower() for tag in supported}
    unknown = [tag for tag in request.headers.get_all("Require") if tag.lower() not in known]
    if unknown:
        return Rejection(420, headers=(("Unsupported", ", ".join(unknown)),))
    return None


def _content(request: Request, supported: Collection[str]) -> Rejection | None:
    if request.method != "INVITE" or not request.body:
        return None
    content_type = _media_type(request.headers.get("Content-Type") or "")
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if content_type != SESSION_TYPE or encoding != "identity":
        return Rejection(415, headers=(("Accept", SESSION_TYPE), ("Accept-Encoding", "identity")))
    return None


def _accept(request: Request, supported: Collection[str]) -> Rejection | None:
    # RFC 4475 3.3.15: an INVITE whose Accept rules out SDP cannot be answered with SDP.
    if request.method != "INVITE" or "Accept" not in request.headers:
        return None
    acceptable = {_media_type(value) for value in request.headers.get_all("Accept")}
    if acceptable & {SESSION_TYPE, "application/*", "*/*"}:
        return None
    warning = f'399 {WARN_AGENT} "Only {SESSION_TYPE} session descriptions are supported"'
    return Rejection(406, headers=(("Accept", SESSION_TYPE), ("Warning", warning)))


def _media_type(value: str) -> str:
    return value.partition(";")[0].strip().lower()


CHECKS: tuple[Check, ...] = (
    _version,
    _single_valued,
    _cseq_method,
    _max_forwards,
    _branch,
    _uri_scheme,
    _require,
    _content,
    _accept,
)


def check_request(
    request: Request, supported: Collection[str] = (), to_tag: str | None = None
) -> Response | None:
    """The error response a UAS must send for `request`, or None to process it.

    `supported` lists the option-tags the user agent implements (for Require); `to_tag` is
    the tag the user agent puts on its responses outside a dialog.
    """
    for check in CHECKS:
        rejection = check(request, supported)
        if rejection is not None:
            response = make_response(request, rejection.status, rejection.reason, to_tag=to_tag)
            for name, value in rejection.headers:
                response.headers.add(name, value)
            return response
    return None
