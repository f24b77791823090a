"""SIP addressing: SIP/SIPS URIs (RFC 3261 19.1), name-addr values (From, To, Contact, Route)
and Via values.

Every `parse` raises `ValueError` on text the RFC 3261 grammar does not allow; the message
parser turns that into `400 Bad Request`. URI components are stored unescaped (`%41` -> `A`,
decoded exactly once, RFC 4475 3.1.1.3) and escaped again by `str()`, so equal URIs compare
equal however their sender escaped them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN = re.compile(f"[{TOKEN_CHARS}]+")
QUOTED_STRING = re.compile(r'"(?:[^"\\\r\n]|\\[^\r\n])*"')
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9\-._]*")
_DISPLAY_TOKENS = re.compile(f"[{TOKEN_CHARS}]+(?:\\s+[{TOKEN_CHARS}]+)*")
# `;name`, `;name=value`: LWS allowed around ';' and '=' (RFC 3261 25.1 SEMI, EQUAL).
_HEADER_PARAM = re.compile(
    f'\\s*;\\s*([{TOKEN_CHARS}]+)(?:\\s*=\\s*("(?:[^"\\\\]|\\\\.)*"|[^\\s;,"]+))?\\s*'
)
_VIA_PROTOCOL = re.compile(
    f"\\s*([{TOKEN_CHARS}]+\\s*/\\s*[{TOKEN_CHARS}]+)\\s*/\\s*([{TOKEN_CHARS}]+)\\s+"
)

# Characters each URI component may carry unescaped (RFC 3261 25.1).
_UNRESERVED = "A-Za-z0-9\\-_.!~*'()"
_USER_SAFE = "&=+$,;?/"
_PASSWORD_SAFE = "&=+$,"
_PARAM_SAFE = "[]/:&+$"
_HEADER_SAFE = "[]/?:+$"


def _component(safe: str) -> re.Pattern[str]:
    return re.compile(f"(?:[{_UNRESERVED}{re.escape(safe)}]|%[0-9A-Fa-f]{{2}})+")


_USER = _component(_USER_SAFE)
_PASSWORD = re.compile(f"(?:{_component(_PASSWORD_SAFE).pattern})?")
_PARAM = _component(_PARAM_SAFE)
_HEADER = _component(_HEADER_SAFE)


def _unescape(text: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(text):
        raise ValueError(f"invalid characters in URI {what}: {text!r}")
    return unquote(text, errors="surrogateescape")


def _escape(text: str, safe: str) -> str:
    return quote(text, safe=safe + "-_.!~*'()", errors="surrogateescape")


def unquote_string(quoted: str) -> str:
    """The content of a quoted-string, with its quoted-pairs resolved."""
    return re.sub(r"\\(.)", r"\1", quoted[1:-1], flags=re.DOTALL)


def quote_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str) -> dict[str, str | None]:
    """`;a=1 ; b ;c="x y"` -> {"a": "1", "b": None, "c": '"x y"'}; names lower-cased."""
    params: dict[str, str | None] = {}
    pos = 0
    while pos < len(text):
        match = _HEADER_PARAM.match(text, pos)
        if match is None:
            raise ValueError(f"malformed parameters: {text[pos:]!r}")
        params[match.group(1).lower()] = match.group(2)
        pos = match.end()
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(
        f";{name}" if value is None else f";{name}={value}" for name, value in params.items()
    )


def _split_hostport(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]") + 1
        host, rest = text[:end], text[end:]
    else:
        host, colon, port_text = text.partition(":")
        rest = colon + port_text
    if not _HOST.fullmatch(host):
        raise ValueError(f"invalid host: {text!r}")
    if not rest:
        return host, None
    if not re.fullmatch(r":[0-9]{1,5}", rest) or int(rest[1:]) > 65535:
        raise ValueError(f"invalid port: {text!r}")
    return host, int(rest[1:])


def _format_hostport(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


@dataclass
class SipUri:
    """A `sip:` or `sips:` URI; `params` and `headers` hold unescaped text."""

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        scheme, colon, rest = text.partition(":")
        if not colon or scheme.lower() not in ("sip", "sips"):
            raise ValueError(f"not a SIP URI: {text!r}")
        uri = cls(scheme=scheme.lower())
        # '@' cannot occur unescaped after the userinfo, while ';' '?' ',' can occur inside it.
        userinfo, at, hostpart = rest.rpartition("@")
        if at:
            user, colon, password = userinfo.partition(":")
            uri.user = _unescape(user, _USER, "user")
            if colon:
                uri.password = _unescape(password, _PASSWORD, "password") if password else ""
        hostpart, question, headers = hostpart.partition("?")
        hostport, *params = hostpart.split(";")
        uri.host, uri.port = _split_hostport(hostport)
        for param in params:
            name, equals, value = param.partition("=")
            uri.params[_unescape(name, _PARAM, "parameter").lower()] = (
                _unescape(value, _PARAM, "parameter") if equals else None
            )
        if question:
            for header in headers.split("&"):
                name, _, value = header.partition("=")
                uri.headers[_unescape(name, _HEADER, "header")] = (
                    _unescape(value, _HEADER, "header") if value else ""
                )
        return uri

    def __str__(self) -> str:
        text = f"{self.scheme}:"
        if self.user is not None:
            text += _escape(self.user, _USER_SAFE)
            if self.password is not None:
                text += ":" + _escape(self.password, _PASSWORD_SAFE)
            text += "@"
        text += _format_hostport(self.host, self.port)
        for name, value in self.params.items():
            text += ";" + _escape(name, _PARAM_SAFE)
            if value is not None:
                text += "=" + _escape(value, _PARAM_SAFE)
        if self.headers:
            text += "?" + "&".join(
                f"{_escape(name, _HEADER_SAFE)}={_escape(value, _HEADER_SAFE)}"
                for name, value in self.headers.items()
            )
        return text


def parse_uri(text: str) -> SipUri | str:
    """A SipUri for sip/sips; any other absolute URI is kept as opaque text."""
    scheme, colon, rest = text.partition(":")
    if scheme.lower() in ("sip", "sips"):
        return SipUri.parse(text)
    if not colon or not rest or not _SCHEME.fullmatch(scheme) or re.search(r"[\s<>\"]", text):
        raise ValueError(f"not an absolute URI: {text!r}")
    return text


@dataclass
class NameAddr:
    """A From/To/Contact/Route value: `"display" <uri>;params` or a bare addr-spec."""

    display: str | None = None
    uri: SipUri | str = ""
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        display: str | None = None
        if text.startswith('"'):
            quoted = QUOTED_STRING.match(text)
            if quoted is None:
                raise ValueError("unterminated quoted display name")
            display = unquote_string(quoted.group(0)) or None
            rest = text[quoted.end() :].lstrip()
            if not rest.startswith("<"):
                raise ValueError("quoted display name must be followed by <uri>")
        elif (angle := text.find("<")) >= 0:
            # RFC 4475 3.1.1.6: no LWS is needed between a token display name and '<'.
            tokens = text[:angle].strip()
            if tokens and not _DISPLAY_TOKENS.fullmatch(tokens):
                raise ValueError(f"display name must be tokens or quoted: {tokens!r}")
            display = tokens or None
            rest = text[angle:]
        else:
            # addr-spec: parameters after the first ';' belong to the header, not the URI,
            # and a URI with ',' or '?' would need <> (RFC 3261 20).
            uri_text, semicolon, params_text = text.partition(";")
            uri_text = uri_text.rstrip()
            if not uri_text or re.search(r"[\s,?]", uri_text):
                raise ValueError(f"URI must be enclosed in <>: {text!r}")
            return cls(None, parse_uri(uri_text), parse_params(semicolon + params_text))
        end = rest.find(">")
        if end < 0:
            raise ValueError("missing '>'")
        uri_text = rest[1:end]
        if not uri_text or re.search(r"\s", uri_text):
            raise ValueError(f"whitespace inside <>: {uri_text!r}")
        return cls(display, parse_uri(uri_text), parse_params(rest[end + 1 :]))

    def __str__(self) -> str:
        display = f"{quote_string(self.display)} " if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


@dataclass
class Via:
    """One Via value: `SIP/2.0/UDP host:port;branch=...;rport;received=...`."""

    protocol: str = "SIP/2.0"
    transport: str = "UDP"
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @classmethod
    def parse(cls, text: str) -> Via:
        protocol = _VIA_PROTOCOL.match(text)
        if protocol is None:
            raise ValueError(f"malformed Via: {text!r}")
        sent_by, semicolon, params = text[protocol.end() :].partition(";")
        host, port = _split_hostport(re.sub(r"\s*:\s*", ":", sent_by.strip()))
        return cls(
            protocol=re.sub(r"\s+", "", protocol.group(1)),
            transport=protocol.group(2).upper(),
            host=host,
            port=port,
            params=parse_params(semicolon + params),
        )

    def __str__(self) -> str:
        return (
            f"{self.protocol}/{self.transport} {_format_hostport(self.host, self.port)}"
            f"{format_params(self.params)}"
        )
