"""The one place where entities become stored documents and documents become entities."""

import datetime as dt
import functools

import attrs

from .errors import StoreError


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if attrs.has(type(value)):
        return to_document(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def to_document(entity) -> dict:
    """A JSON-ready dict of an entity's fields."""
    return {field.name: _plain(getattr(entity, field.name)) for field in attrs.fields(type(entity))}


@functools.lru_cache(maxsize=None)
def _fields(cls) -> tuple:
    """(name, nested entity class or None) of each field; cached, as it is asked per document."""
    return tuple((field.name, field.metadata.get("of")) for field in attrs.fields(cls))


def from_document(cls, document: dict):
    """Rebuild an entity of `cls`; unknown keys (from newer plugins) are ignored."""
    values = {}
    for name, nested in _fields(cls):
        if name not in document:
            continue
        value = document[name]
        if nested is not None:
            value = [from_document(nested, item) if isinstance(item, dict) else item for item in value]
        values[name] = value
    try:
        # Stored documents were validated when they were written; converters still give types.
        with attrs.validators.disabled():
            return cls(**values)
    except (TypeError, ValueError) as error:
        raise StoreError(f"stored {cls.__name__} {document.get('id', '')} is unreadable: {error}")
