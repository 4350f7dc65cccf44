"""Campaign attribution in form fields: UTM values, click ids and the landing page's query."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from chalicelib.domain.model import CLICK_ID_KEYS, UTM_KEYS

ATTRIBUTION_KEYS = frozenset(UTM_KEYS + CLICK_ID_KEYS)
# Normalised field names (see normalise_key) that carry the landing page and the referrer.
LANDING_PAGE_KEYS: tuple[str, ...] = (
    "landing_page",
    "landing_page_url",
    "landing_url",
    "page_url",
    "pageurl",
)
LANDING_PAGE_KEYS += ("url", "source_url")
REFERRER_KEYS = ("referrer", "referer", "document_referrer", "http_referer")
LIMITS = {key: 250 for key in UTM_KEYS} | {key: 500 for key in CLICK_ID_KEYS}
LIMITS |= {"landing_page": 2048, "referrer": 2048}

# Letters in any script count as alphanumeric, so non-English field names survive intact.
_NOT_ALNUM = re.compile(r"[\W_]+")
# Spaces, underscores, hyphens, dots and plus signs all separate words in a campaign name.
_UTM_SEPARATORS = re.compile(r"[\s_\-.+]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def normalise_key(key: str) -> str:
    """Lower-case a field name and turn each run of other characters into one underscore."""
    return _NOT_ALNUM.sub("_", key.strip().lower()).strip("_")


def normalise_utm(value: str) -> str:
    """Normalise a UTM value so spellings of one campaign ("LinkedIn_Q3", "linkedin-q3") match."""
    decoded = unquote_plus(value.strip()).lower()
    return _UTM_SEPARATORS.sub("-", decoded).strip("-")


def text_problem(value: str, limit: int, *, strict: bool = True) -> str | None:
    """Why a field value can't be kept (too long, broken Unicode, control characters), or None."""
    if len(value) > limit:
        return f"longer than {limit} characters"
    # Lone surrogates come from JSON escapes; no store or channel downstream can encode them.
    if _SURROGATE.search(value):
        return "not valid Unicode text"
    if strict and _CONTROL.search(value):
        return "contains control characters"
    return None


def query_attribution(url: str) -> dict[str, str]:
    """Return the UTM values and click ids in a URL's query string, the first of each kept."""
    try:
        query = urlsplit(url).query
    except ValueError:
        # A malformed URL (say, an unclosed IPv6 bracket) is still a landing page; it just
        # carries no attribution we can read.
        return {}
    found: dict[str, str] = {}
    for key, value in parse_qsl(query):
        name = normalise_key(key)
        value = value.strip()
        if name in ATTRIBUTION_KEYS and value and name not in found:
            found[name] = value
    return found


def split_utm(raw: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split UTM values into normalised ones and the originals that normalising changed."""
    utm: dict[str, str] = {}
    changed: dict[str, str] = {}
    for key, value in raw.items():
        normal = normalise_utm(value)
        # A value of only separators ("--") names no campaign, so it counts as absent.
        if not normal:
            continue
        utm[key] = normal
        if normal != value:
            changed[key] = value
    return utm, changed


def collect(found: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """UTM values, their changed originals and click ids; the landing page's query fills gaps."""
    values = {key: found[key] for key in ATTRIBUTION_KEYS if key in found}
    landing = found.get("landing_page")
    for key, value in (query_attribution(landing) if landing else {}).items():
        # The visitor did not type the URL, so a bad parameter in it costs only that parameter;
        # rejecting the whole lead over it would lose the lead.
        if key not in values and text_problem(value, LIMITS[key]) is None:
            values[key] = value
    utm, utm_raw = split_utm({key: values[key] for key in UTM_KEYS if key in values})
    return utm, utm_raw, {key: values[key] for key in CLICK_ID_KEYS if key in values}
