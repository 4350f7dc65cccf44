"""Read a web form's webhook body, from whichever form tool sent it, into a FormSubmission."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from chalicelib.domain import attribution
from chalicelib.domain.attribution import normalise_key, text_problem
from chalicelib.domain.errors import InvalidPayloadError, UnsupportedContentTypeError
from chalicelib.domain.model import Contact, FormSubmission

_JSON = "application/json"
_URLENCODED = "application/x-www-form-urlencoded"

# Each role a field can play, and the normalised field names that play it.
_ALIASES = {
    "name": "name full_name fullname your_name contact_name",
    "first_name": "first_name firstname first fname given_name name_first",
    "last_name": "last_name lastname last lname surname family_name name_last",
    "email": "email e_mail email_address emailaddress e_mail_address your_email "
    "your_email_address work_email business_email",
    "phone": "phone phone_number phonenumber mobile mobile_phone mobilephone mobile_number cell "
    "cell_phone cell_number tel telephone your_phone phone_no contact_number work_phone",
    "company": "company company_name organization organisation business business_name "
    "organization_name organisation_name",
    "message": "message your_message comments comment notes note question enquiry inquiry "
    "details how_can_we_help how_can_we_help_you",
    "consent": "consent sms_consent opt_in optin marketing_consent gdpr agree agree_to_terms "
    "accept sms_opt_in text_opt_in marketing_opt_in",
    "landing_page": " ".join(attribution.LANDING_PAGE_KEYS),
    "referrer": " ".join(attribution.REFERRER_KEYS),
    "form_id": "form_id formid form_name form",
}
_ROLES = {alias: role for role, names in _ALIASES.items() for alias in names.split()}
_ROLES |= {key: key for key in attribution.ATTRIBUTION_KEYS}

_LIMITS = {"name": 200, "first_name": 200, "last_name": 200, "company": 200, "consent": 200}
_LIMITS |= {"email": 254, "phone": 40, "message": 5000, "form_id": 200, "provider_event_id": 200}
_LIMITS |= attribution.LIMITS
_FIELD_LIMIT, _FIELD_NAME_LIMIT, _MAX_FIELDS = 2000, 100, 100

# Unbounce posts its fields twice, as JSON and as XML; we read the JSON and drop both copies.
_NOISE = frozenset({"data_json", "data_xml"})
# Consent is a yes unless it says no: an odd but non-empty value still reads as agreement.
_NO = frozenset({"no", "false", "0", "off", "n", "unchecked", "disagree", "declined"})
_TYPED_ROLES = {"email": "email", "phone_number": "phone"}


class _Item(NamedTuple):
    key: str  # as sent
    values: list[str]
    role: str | None = None  # set when the shape itself says what the field is


def parse_form(body: bytes, content_type: str | None) -> FormSubmission:
    """Read a JSON or form-urlencoded form webhook body into a FormSubmission."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in (_JSON, _URLENCODED):
        shown = repr(media[:100]) if media else "missing"
        raise UnsupportedContentTypeError(
            f"content type {shown} is not accepted; send {_JSON} or {_URLENCODED}"
        )
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InvalidPayloadError(f"not valid UTF-8 at byte {exc.start}", field="body") from None
    if media == _URLENCODED:
        return _assemble(_read_urlencoded(text), None)
    return _assemble(*_read_json(_load_object(text, "body")))


def _load_object(text: str, field: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidPayloadError("invalid JSON: nested too deeply", field=field) from None
    except ValueError as exc:
        raise InvalidPayloadError(f"invalid JSON: {exc}", field=field) from None
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InvalidPayloadError(f"the top level must be an object, not {kind}", field=field)
    return data


def _read_urlencoded(text: str) -> list[_Item]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=1000)
    except UnicodeDecodeError:
        raise InvalidPayloadError("a percent-encoded value is not UTF-8", field="body") from None
    except ValueError:
        raise InvalidPayloadError("more than 1000 fields", field="body") from None
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    if "data.json" in grouped:
        return _read_unbounce(grouped, grouped["data.json"][0])
    return [_Item(key, values) for key, values in grouped.items()]


def _read_json(data: dict[str, Any]) -> tuple[list[_Item], str | None]:
    response, payload = data.get("form_response"), data.get("payload")
    if isinstance(response, dict):
        return _read_typeform(data, response)
    if isinstance(payload, dict) and (
        data.get("triggerType") == "form_submission" or isinstance(payload.get("data"), dict)
    ):
        return _read_webflow(payload)
    # Webflow's v1 webhooks send the payload bare, without the triggerType envelope.
    if isinstance(data.get("data"), dict) and "site" in data and "_id" in data:
        return _read_webflow(data)
    if "data.json" in data:
        return _read_unbounce(data, data["data.json"]), None
    items: list[_Item] = []
    for key, value in data.items():
        nested = _container(value) if normalise_key(key) in ("data", "fields") else None
        items += nested if nested is not None else [_Item(key, _texts(value))]
    return items, None


def _container(value: Any) -> list[_Item] | None:
    """Items of a nested object of fields or a list of {name, value} records, else None."""
    if isinstance(value, dict):
        return [_Item(key, _texts(inner)) for key, inner in value.items()]
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        return None
    items = []
    for entry in value:
        key = _first(entry.get("name") or entry.get("key") or entry.get("label") or entry.get("id"))
        if key is None:
            return None
        items.append(_Item(key, _texts(entry.get("value", entry.get("values")))))
    return items


def _read_unbounce(outer: Mapping[str, Any], data_json: Any) -> list[_Item]:
    fields = _load_object(data_json, "data.json") if isinstance(data_json, str) else data_json
    if not isinstance(fields, dict):
        raise InvalidPayloadError("data.json must hold an object", field="data.json")
    page_id = _first(outer.get("page_id"))
    items = [_Item("page_id", [page_id], "form_id")] if page_id else []
    items += [_Item(key, _texts(value)) for key, value in fields.items()]
    return items + [_Item(key, _texts(value)) for key, value in outer.items() if key != "page_id"]


def _read_typeform(
    data: dict[str, Any], response: dict[str, Any]
) -> tuple[list[_Item], str | None]:
    titles: dict[str, str] = {}
    for field in map(_as_dict, _as_list(_as_dict(response.get("definition")).get("fields"))):
        if isinstance(field.get("id"), str) and isinstance(field.get("title"), str):
            titles[field["id"]] = field["title"]
    form_id = _first(response.get("form_id"))
    items = [_Item("form_id", [form_id], "form_id")] if form_id else []
    for answer in map(_as_dict, _as_list(response.get("answers"))):
        field = _as_dict(answer.get("field"))
        ref, field_id = _first(field.get("ref")) or "", _first(field.get("id")) or ""
        title = titles.get(field_id, "")
        kind = answer.get("type")
        role = _TYPED_ROLES.get(kind) if isinstance(kind, str) else None
        role = role or _ROLES.get(normalise_key(ref)) or _ROLES.get(normalise_key(title))
        # Titles read best in an alert, but a long question is no field name; refs are short.
        key = title if title and len(title) <= _FIELD_NAME_LIMIT else ref or field_id or "answer"
        items.append(_Item(key, _answer_values(answer), role))
    items += [_Item(key, _texts(value)) for key, value in _as_dict(response.get("hidden")).items()]
    referer = _first(_as_dict(response.get("metadata") or data.get("metadata")).get("referer"))
    items += [_Item("referer", [referer], "referrer")] if referer else []
    return items, _first(data.get("event_id")) or _first(response.get("token"))


def _answer_values(answer: dict[str, Any]) -> list[str]:
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if kind == "choice" and isinstance(value, dict):
        value = value.get("label") or value.get("other")
    elif kind == "choices" and isinstance(value, dict):
        value = [*_as_list(value.get("labels")), value.get("other")]
    return _texts(value)


def _read_webflow(payload: dict[str, Any]) -> tuple[list[_Item], str | None]:
    form_id = _first(payload.get("formId")) or _first(payload.get("name"))
    items = [_Item("formId", [form_id], "form_id")] if form_id else []
    items += [_Item(key, _texts(value)) for key, value in _as_dict(payload.get("data")).items()]
    page_url = _first(payload.get("pageUrl"))
    items += [_Item("pageUrl", [page_url], "landing_page")] if page_url else []
    return items, _first(payload.get("id")) or _first(payload.get("_id"))


def _assemble(items: list[_Item], event_id: str | None) -> FormSubmission:
    found: dict[str, str] = {}
    kept: dict[str, str] = {}
    blank_consent = False
    for item in items:
        if normalise_key(item.key) in _NOISE or not item.key.strip():
            continue
        role = item.role or _ROLES.get(normalise_key(item.key))
        values = [value.strip() for value in item.values if value.strip()]
        if role is not None and role not in found:
            if values:
                found[role] = _checked(role, values[0], _LIMITS[role], strict=True)
            elif role == "consent":
                blank_consent = True
        elif values and not (role is not None and values == [found[role]]):
            # A second email or phone is still the lead's own words: keep it, don't drop it.
            _keep(kept, item.key.strip(), ", ".join(values))
    utm, utm_raw, click_ids = attribution.collect(found)
    consent = found.get("consent")
    contact = Contact(
        name=found.get("name"),
        first_name=found.get("first_name"),
        last_name=found.get("last_name"),
        email=found.get("email"),
        phone=found.get("phone"),
        company=found.get("company"),
        message=found.get("message"),
        consent=consent.lower() not in _NO if consent else (False if blank_consent else None),
    )
    if event_id is not None:
        _checked("provider_event_id", event_id, _LIMITS["provider_event_id"], strict=True)
    return FormSubmission(
        contact=contact,
        utm=utm,
        utm_raw=utm_raw,
        click_ids=click_ids,
        landing_page=found.get("landing_page"),
        referrer=found.get("referrer"),
        form_id=found.get("form_id"),
        fields=kept,
        provider_event_id=event_id,
    )


def _keep(kept: dict[str, str], key: str, value: str) -> None:
    if len(key) > _FIELD_NAME_LIMIT:
        message = f"field name is over {_FIELD_NAME_LIMIT} characters"
        raise InvalidPayloadError(message, field=key[:_FIELD_NAME_LIMIT])
    if key not in kept and len(kept) >= _MAX_FIELDS:
        raise InvalidPayloadError(f"more than {_MAX_FIELDS} unmapped fields", field="fields")
    if kept.get(key) == value:
        return  # Unbounce sends some fields both inside data.json and beside it.
    joined = f"{kept[key]}, {value}" if key in kept else value
    kept[key] = _checked(key, joined, _FIELD_LIMIT, strict=False)


def _checked(field: str, value: str, limit: int, *, strict: bool) -> str:
    problem = text_problem(value, limit, strict=strict)
    if problem is not None:
        raise InvalidPayloadError(problem, field=field)
    return value


def _texts(value: Any) -> list[str]:
    """A JSON value as strings: one per list element, nested objects and lists as JSON text."""
    if isinstance(value, dict) and "value" in value:
        # HubSpot's property objects wrap each value as {"value": ..., "versions": [...]}.
        value = value["value"]
    entries = value if isinstance(value, list) else [value]
    return [text for text in map(_text, entries) if text is not None]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except RecursionError:
        raise InvalidPayloadError("nested too deeply", field="body") from None


def _first(value: Any) -> str | None:
    return next((text.strip() for text in _texts(value) if text.strip()), None)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
