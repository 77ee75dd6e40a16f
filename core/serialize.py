"""The one place where entities become stored documents and documents become entities."""

import contextlib
import datetime as dt
import functools
import types
import typing
from typing import Any

import attrs

from .errors import UnreadableDocument


_SCALARS = frozenset({str, int, float, bool, type(None)})  # stored as they are: most values, asked first


def _plain(value):
    if type(value) in _SCALARS:
        return value
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
    """A JSON-ready dict of an entity's fields (every change stores one, and audits its before
    and after: thousands in a state-wide re-judgement)."""
    cls: Any = type(entity)
    return {name: _plain(getattr(entity, name)) for name in _field_names(cls)}


@functools.lru_cache(maxsize=None)
def _field_names(cls) -> tuple:
    return tuple(field.name for field in attrs.fields(cls))


@functools.lru_cache(maxsize=None)
def _fields(cls) -> tuple:
    """(name, nested entity class or None, loader) of each field; cached, as it is asked per document."""
    return tuple((field.name, field.metadata.get("of"), _loader(field.converter)) for field in attrs.fields(cls))


def _loader(converter):
    """What turns a stored value back into the field's value: the converter, or a cheaper
    equivalent for stored (already clean) values; None where the stored value is the value."""
    from . import entities

    cheaper = {entities.parse_date: dt.date.fromisoformat, entities.optional_date: dt.date.fromisoformat,
               entities.parse_timestamp: dt.datetime.fromisoformat, entities.clean_text: None,
               entities.frozen_dict: None, entities.text_tuple: tuple, entities.as_tuple: tuple}
    return cheaper.get(converter, converter)


@functools.lru_cache(maxsize=None)
def _rebuilder(cls):
    """A function document -> entity for complete documents, generated once per class (as attrs
    generates `__init__`): no per-field loop, no validators, converters only where needed."""
    fields = _fields(cls)
    namespace = {"new": object.__new__, "cls": cls}
    lines = ["def rebuild(document):", "    entity = new(cls)"]
    for index, (name, nested, load) in enumerate(fields):
        namespace[f"set{index}"] = _slot_setter(cls, name)
        if nested is None and load is None:
            lines.append(f"    set{index}(entity, document[{name!r}])")
        elif nested is None:  # what _value does, inline: a state's listing rebuilds a million fields
            namespace[f"load{index}"] = load
            lines.append(f"    field = document[{name!r}]")
            lines.append(f"    set{index}(entity, None if field is None else load{index}(field))")
        else:
            namespace[f"nested{index}"] = _nested_loader(nested)
            lines.append(f"    set{index}(entity, nested{index}(document[{name!r}]))")
    lines.append("    return entity")
    exec("\n".join(lines), namespace)  # noqa: S102 - the source is built above from field names only
    return namespace["rebuild"], frozenset(name for name, _, _ in fields)


def _nested_loader(nested):
    """What _value does for a field of `nested` entities, with their complete documents rebuilt
    directly (a state's peers hold tens of thousands of stage changes)."""
    rebuild, names = _rebuilder(nested)

    def load(items):
        try:
            return tuple([rebuild(item) if type(item) is dict and names <= item.keys()
                          else from_document(nested, item) if isinstance(item, dict) else item for item in items])
        except (TypeError, ValueError, AttributeError):
            return _value(items, nested, None)  # raises again, naming the entity as from_document does

    return load


def _slot_setter(cls, name: str):
    """A function (entity, value) setting field `name` past a frozen class's __setattr__: the
    slot's own descriptor where the class has slots (twice as fast as object.__setattr__)."""
    slot = next((klass.__dict__[name] for klass in cls.__mro__ if name in klass.__dict__), None)
    if isinstance(slot, types.MemberDescriptorType):
        return slot.__set__
    return lambda entity, value: object.__setattr__(entity, name, value)


def from_document(cls, document: dict):
    """Rebuild an entity of `cls`; unknown keys (from newer plugins) are ignored.

    Stored documents were validated when they were written, so a complete one is rebuilt
    without running validators and converters again (listing a state's peers would spend most
    of its time there); an incomplete one (older data) goes through the class for its defaults.
    """
    rebuild, names = _rebuilder(cls)
    try:
        if names <= document.keys():
            return rebuild(document)
        values = {name: _value(document[name], nested, None) for name, nested, _ in _fields(cls) if name in document}
        with attrs.validators.disabled():
            return cls(**values)
    except (TypeError, ValueError, AttributeError) as error:
        raise UnreadableDocument(f"{cls.__name__} {document.get('id', '')} is unreadable: {error}", document) from None


@contextlib.contextmanager
def unreadable_refused(cls, documents):
    """For code that reads stored documents' fields without rebuilding them: an error it meets
    in a damaged document is refused as rebuilding the document would refuse it (an
    UnreadableDocument, which the store reports naming the file that holds it)."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError):
        for document in documents:
            from_document(cls, document)
        raise


def _value(value, nested, load):
    if nested is not None:
        return tuple(from_document(nested, item) if isinstance(item, dict) else item for item in value)
    if load is None or value is None:
        return value
    return load(value)


# The JSON types a stored value of each field type may have (None only where the field is Optional).
_JSON_TYPES = {str: (str,), tuple: (list,), dict: (dict,), dt.date: (str,), dt.datetime: (str,),
               float: (int, float), int: (int,), bool: (bool,)}


@functools.lru_cache(maxsize=None)
def _stored_types(cls) -> tuple:
    """(field, JSON types allowed) of each field of `cls` whose type says what is stored."""
    checks = []
    for field in attrs.fields(cls):
        kind: Any = field.type
        options: tuple = ()
        if typing.get_origin(kind) is typing.Union:
            options = typing.get_args(kind)
            kind = next((arg for arg in options if arg is not type(None)), None)
        if kind in _JSON_TYPES:
            checks.append((field.name, _JSON_TYPES[kind] + ((type(None),) if type(None) in options else ())))
    return tuple(checks)


class _Missing:
    """The type of what a field missing from a document reads as: allowed (older data has defaults)."""


@functools.lru_cache(maxsize=None)
def _shape_test(cls):
    """A function document -> bool, True when every field has an allowed JSON type; generated once
    per class, as it runs for every row of each table a write loads."""
    namespace: dict[str, Any] = {"missing": _Missing()}
    tests = []
    for index, (name, allowed) in enumerate(_stored_types(cls)):
        namespace[f"allowed{index}"] = frozenset(allowed + (_Missing,))
        tests.append(f"type(get({name!r}, missing)) in allowed{index}")
    source = "def test(document):\n    get = document.get\n    return " + (" and ".join(tests) or "True")
    exec(source, namespace)  # noqa: S102 - the source is built above from field names only
    return namespace["test"]


def shape_problem(cls, document: dict) -> str:
    """What makes a stored document unfit to be a `cls` (a field of the wrong JSON type), or ""."""
    if _shape_test(cls)(document):
        return ""
    for name, allowed in _stored_types(cls):
        if name in document and type(document[name]) not in allowed:
            return f"its {name} is {type(document[name]).__name__}, not {' or '.join(t.__name__ for t in allowed)}"
    return ""
