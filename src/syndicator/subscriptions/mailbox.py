"""The mailbox an address delivers to, for keying rate limits: one key per inbox.

``Name+1@example.org`` and ``name+2@example.org`` reach one inbox, so a limit keyed on the
literal address lets a stranger mail it again and again. The key is the address with its
local part case-folded and its sub-address removed (RFC 5233's ``+tag``, which most mail
servers honour), the domain in its ASCII (IDNA) form, and the few providers' own rules
where they document them. Naver, Daum and Kakao document none, so they get the general
rule only.

Pure and table-driven: no DNS or MX lookup (the email-normalize package asks DNS which
provider hosts a domain, a network call per request that fails offline), so a domain
hosted by Google under its own name is keyed by the general rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import validate_email

__all__ = [
    "PROVIDERS",
    "MailboxRule",
    "canonical_domain",
    "canonical_mailbox",
    "domain_spellings",
]


@dataclass(frozen=True)
class MailboxRule:
    domain: str | None = None  # the provider's one domain for all its names; None: as given
    tag_separators: str = "+"  # a sub-address starts at the first of these
    dots_ignored: bool = False


_GMAIL = MailboxRule("gmail.com", "+", dots_ignored=True)
_MICROSOFT = MailboxRule(None, "+")
_YAHOO = MailboxRule(None, "-")

PROVIDERS: dict[str, MailboxRule] = {
    # Google: "dots don't matter in Gmail addresses"; "+anything" is delivered; googlemail.com
    # is the same mailbox.
    "gmail.com": _GMAIL,
    "googlemail.com": _GMAIL,
    # Microsoft: plus addressing in Outlook.com and Exchange Online; dots are significant.
    "outlook.com": _MICROSOFT,
    "hotmail.com": _MICROSOFT,
    "live.com": _MICROSOFT,
    "msn.com": _MICROSOFT,
    # Yahoo: disposable addresses are "basename-keyword"; a Yahoo ID has no hyphen.
    "yahoo.com": _YAHOO,
    "ymail.com": _YAHOO,
    "rocketmail.com": _YAHOO,
}
_GENERAL = MailboxRule()


def canonical_domain(address: str) -> str:
    """The domain an address belongs to, lower-cased ASCII (IDNA), provider aliases joined."""
    domain = validate_email(address, check_deliverability=False).ascii_domain.lower()
    return PROVIDERS.get(domain, _GENERAL).domain or domain


def canonical_mailbox(address: str) -> str:
    """``local@domain`` naming the inbox ``address`` (a valid address) delivers to."""
    checked = validate_email(address, check_deliverability=False)
    domain = checked.ascii_domain.lower()
    rule = PROVIDERS.get(domain, _GENERAL)
    local = checked.local_part.casefold()
    for separator in rule.tag_separators:
        base = local.split(separator, 1)[0]
        local = base or local  # "+x@…" has no base: the whole local part is the name
    if rule.dots_ignored:
        local = local.replace(".", "") or local
    return f"{local}@{rule.domain or domain}"


def domain_spellings(address: str) -> list[str]:
    """Every domain, as a stored address spells it (Unicode, lower-cased), that shares
    ``address``'s mailboxes: the domain itself, and a provider's other names."""
    checked = validate_email(address, check_deliverability=False)
    rule = PROVIDERS.get(checked.ascii_domain.lower(), _GENERAL)
    if rule.domain is None:
        return [checked.domain.lower()]
    return sorted(name for name, other in PROVIDERS.items() if other.domain == rule.domain)
