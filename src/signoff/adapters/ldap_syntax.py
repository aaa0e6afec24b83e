"""LDAP syntax: filters with every value escaped per RFC 4515, and DNs compared in one spelling.

Everything a person types, and every DN taken from the directory, reaches a filter only through
`escape_filter_chars`; DNs built from typed names use `escape_rdn` (RFC 4514).
"""

from __future__ import annotations

import string
import warnings

with warnings.catch_warnings():
    # ldap3 2.9 touches pyasn1's deprecated tagMap/typeMap at import time.
    warnings.filterwarnings("ignore", r"(tag|type)Map is deprecated", DeprecationWarning)
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn, parse_dn

from signoff.config import LdapSettings
from signoff.errors import InvalidInput

IN_CHAIN = "1.2.840.113556.1.4.1941"  # LDAP_MATCHING_RULE_IN_CHAIN (Active Directory)


def normalize_dn(dn: str) -> str:
    """A DN in one spelling: attribute types and values lower-cased, escapes decoded."""
    try:
        parts = parse_dn(dn, escape=True, strip=True)
    except LDAPException:
        raise InvalidInput(f"invalid DN {dn!r}", details={"dn": dn}) from None
    out, rdn = [], []
    for attr, value, sep in parts:
        # Decode every escape, then re-escape one way: one DN, one spelling, no ambiguity.
        rdn.append(f"{attr.strip().lower()}={escape_rdn(_unescape(value).strip().lower())}")
        if sep != "+":
            out.append("+".join(sorted(rdn)))
            rdn = []
    return ",".join(out)


def _unescape(value: str) -> str:
    """RFC 4514 escapes (`\\,` and `\\2C`) back to characters, so both spellings compare equal."""
    out, i = bytearray(), 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            pair = value[i + 1:i + 3]
            if len(pair) == 2 and all(c in string.hexdigits for c in pair):
                out += bytes.fromhex(pair)
                i += 3
                continue
            out += value[i + 1].encode()
            i += 2
            continue
        out += value[i].encode()
        i += 1
    return out.decode("utf-8", errors="replace")


def user_filter(settings: LdapSettings, attribute: str, value: str) -> str:
    """`(&(attribute=value)<user_filter>)` with `value` escaped per RFC 4515."""
    own = f"({attribute}={escape_filter_chars(value)})"
    return f"(&{own}{settings.user_filter})" if settings.user_filter else own


def in_chain_filter(settings: LdapSettings, dn: str) -> str:
    """Active Directory: every group that contains `dn`, directly or through other groups."""
    return f"(&{settings.group_filter}({settings.group_member_attribute}:{IN_CHAIN}:={escape_filter_chars(dn)}))"


def members_filter(settings: LdapSettings, dns: list[str]) -> str:
    """Groups that directly contain any of `dns`."""
    attr = settings.group_member_attribute
    either = "".join(f"({attr}={escape_filter_chars(dn)})" for dn in dns)
    return f"(&{settings.group_filter}(|{either}))"
