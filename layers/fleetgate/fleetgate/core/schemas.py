"""The base of every pydantic model in the layer, the name type every context uses, and the partial-update rule
every PUT follows.

``defer_build``: a model's validator is built the first time it is used, not at
import. A function imports every model of its context but a request touches two
or three, so this keeps unused models off the cold start.

Every model clips free-form JSON nested deeper than 32 levels (``core.limits.clip_depth``): request bodies
are refused beyond that depth before they are parsed, so this only ever changes JSON stored before the
limit existed, which would otherwise break every read and list that returns it.
"""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from fleetgate.core.errors import InvalidInput
from fleetgate.core.limits import clip_depth, printable_name


class Schema(BaseModel):
    model_config = ConfigDict(defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _clip_deep_json(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: clip_depth(v) for k, v in data.items()}
        return data


class Input(Schema):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# The one validator of every name field (core.limits.printable_name); a context with another length writes
# Annotated[str, Field(...), Printable].
Printable = AfterValidator(printable_name)
Name = Annotated[str, Field(min_length=1, max_length=128), Printable]


def sent_fields(update: Input, *, nullable: Iterable[str] = ()) -> dict[str, Any]:
    """The fields a partial update sets: the ones the request sent (absent fields keep their value). ``null`` is
    refused, naming the field, except for the ``nullable`` ones (which it clears)."""
    given = update.model_dump(exclude_unset=True)
    for name, value in given.items():
        if value is None and name not in nullable:
            raise InvalidInput(f"{name} cannot be null", field=name)
    return given


def changed(current: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` that differ from ``current``'s attributes: what an update really changes."""
    return {k: v for k, v in values.items() if v != getattr(current, k)}


def changes(update: Input, current: Any, *, nullable: Iterable[str] = ()) -> dict[str, Any]:
    """The partial-update rule of every PUT: the fields sent (see :func:`sent_fields`) that change ``current``."""
    return changed(current, sent_fields(update, nullable=nullable))
