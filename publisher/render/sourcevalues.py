"""Values copied from another feed into ours, made valid or dropped: pure functions, no I/O.

A source feed's id, its links and its entries' links are other people's strings: a malformed
`urn:uuid:`, an IRI host ("http://bücher.example/"), a `javascript:` id, "HTTP://Example.COM:80"
or nothing at all. What we publish must pass the W3C Feed Validator with no error and no warning
whatever came in, so each copied value goes through one of these:

- canonical_url: an absolute http(s) URL in the form the validator calls canonical (RFC 3986
  normalisation: lower-case scheme and host, the host in punycode, no default port, no user
  info, no dot segments, "/" for an empty path, percent-encoding of everything outside the URI
  characters, upper-case escapes, escapes of unreserved characters decoded); None when it cannot
  be made one (another scheme, no host, a bad port, bytes that are not UTF-8).
- source_id: the source feed's id when it is a valid http(s) URL, `tag:` or `urn:` URI (in
  canonical form); else one minted from it, stable: the same value always gives the same
  `urn:uuid:` (a name-based UUID, RFC 4122 version 5), so an entry whose feed has no usable id
  still gets one, the same in every publish.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from urllib.parse import quote

MAX_URL = 2048
_SUBDELIMS = "!$&'()*+,;="
_PCHAR = "-._~" + _SUBDELIMS + ":@"  # what a path segment holds as it is (RFC 3986 pchar)
_RESERVED = ":/?#[]@" + _SUBDELIMS
_URI = re.compile(r"^([^:/?#]+):(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_HOST = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$")
# the characters of a URI (the validator's list): anything else is not written
_URI_CHARS = re.compile(r"^[a-z][a-z0-9+.-]*://[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$")
_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{1,31}:[a-zA-Z0-9()+,.:=@;$_!*'-]+$")
_TAG = re.compile(r"^tag:(?:[a-z0-9._-]+@)?[a-z0-9.-]+,\d{4}(?:-\d\d(?:-\d\d)?)?:[0-9a-zA-Z;/?:@&=+$.\-_!~*'(),]*"
                  r"(?:#[0-9a-zA-Z;/?:@&=+$.\-_!~*'(),]*)?$")
DEFAULT_PORTS = {"http": 80, "https": 443}


class _Bad(ValueError):
    """A value that cannot be made a valid URL."""


def _component(text: str, safe: str) -> str:
    """One part of a URL (a path segment, the query, the fragment) in canonical form: the
    reserved characters in `safe` and their escapes kept as they are, everything else decoded,
    NFC-normalised and encoded again (non-ASCII as UTF-8, upper-case hex)."""
    out: list[str] = []
    pending = bytearray()

    def flush() -> None:
        try:
            decoded = pending.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad("escapes that are not UTF-8") from None
        out.append(quote(unicodedata.normalize("NFC", decoded), safe=safe))
        pending.clear()

    i = 0
    while i < len(text):
        m = _ESCAPE.match(text, i)
        char = chr(int(m.group(1), 16)) if m else text[i]
        if char in _RESERVED and char in safe:  # kept: literal, or escaped (an escape means "not a delimiter")
            flush()
            out.append("%" + m.group(1).upper() if m else char)
        elif m:
            pending.append(int(m.group(1), 16))
        else:
            pending.extend(char.encode("utf-8", "surrogatepass"))
        i += 3 if m else 1
    flush()
    return "".join(out)


def _path(path: str) -> str:
    """The path without dot segments (RFC 3986 5.2.4), each segment in canonical form."""
    segments: list[str] = []
    parts = path.split("/")[1:] if path.startswith("/") else path.split("/")
    for i, segment in enumerate(parts):
        last = i == len(parts) - 1
        if segment == ".":
            if last:
                segments.append("")
        elif segment == "..":
            if segments:
                segments.pop()
            if last:
                segments.append("")
        else:
            segments.append(segment)
    return "/" + "/".join(_component(s, _PCHAR) for s in segments)


def _host(host: str) -> str:
    host = host.lower()
    if host.endswith(".") and host.count(".") > 1:  # "example.com." is "example.com"
        host = host[:-1]
    if host.startswith("["):  # an IP literal: the validator's URL syntax has no brackets
        raise _Bad("IPv6 literal")
    try:
        ipaddress.IPv4Address(host)
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise _Bad("not a host name") from None
    if not _HOST.match(ascii_host) or ".." in ascii_host or any(len(label) > 63 for label in ascii_host.split(".")):
        raise _Bad("not a host name")
    return ascii_host


def _canonical(url: str) -> str:
    m = _URI.match(url)
    if not m or m.group(2) is None:
        raise _Bad("not an absolute URL with a host")
    scheme = m.group(1).lower()
    if scheme not in DEFAULT_PORTS:
        raise _Bad("not http(s)")
    authority = m.group(2).rpartition("@")[2]  # user info is dropped: no credentials are copied
    host, port = authority, None
    if ":" in authority and not authority.endswith("]"):
        host, _, digits = authority.rpartition(":")
        if digits and not (digits.isascii() and digits.isdigit() and 0 < int(digits) < 65536):
            raise _Bad("bad port")
        port = int(digits) if digits else None
    out = f"{scheme}://{_host(host)}"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        out += f":{port}"
    out += _path(m.group(3))
    if m.group(4) is not None:
        out += "?" + _component(m.group(4), _PCHAR + "/?")
    if m.group(5) is not None:
        out += "#" + _component(m.group(5), _PCHAR + "/?")
    return out


def canonical_url(url: str | None) -> str | None:
    """`url` as a canonical absolute http(s) URL (see the module's text), or None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or len(url) > MAX_URL or any(c.isspace() or not c.isprintable() for c in url):
        return None  # (browsers drop tabs and newlines inside URLs: "java\tscript:" is no URL of ours)
    try:
        out = _canonical(url)
    except _Bad:
        return None
    # the validator decodes an escaped "%" once more: "%2541" would not be canonical to it
    if len(out) > MAX_URL or not _URI_CHARS.match(out) or re.search(r"%25[0-9A-Fa-f]{2}", out):
        return None
    return out


def valid_id(value: str | None) -> str | None:
    """`value` as a valid, canonical id (http(s) URL, tag: or urn: URI), or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    scheme, colon, rest = value.partition(":")
    scheme = scheme.lower()
    if not colon:
        return None
    if scheme in DEFAULT_PORTS:
        return canonical_url(value)
    if scheme == "urn":
        candidate = "urn:" + rest
        if candidate[:9].lower() == "urn:uuid:":
            candidate = candidate.lower()
            return candidate if _UUID.match(candidate) else None
        return candidate if _URN.match(candidate) else None
    if scheme == "tag":
        return value if _TAG.match(value) else None
    return None


def minted_id(value: str) -> str:
    """A stable id made from `value` (the same value, the same id): a name-based urn:uuid."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, value)}"


def source_id(feed_id: str, feed_url: str | None = None) -> str:
    """The id written as a copied entry's atom:source id: the feed's own id when valid, else one
    minted from it (or, when it is empty, from the feed's URL)."""
    return valid_id(feed_id) or minted_id(feed_id.strip() or (feed_url or ""))
