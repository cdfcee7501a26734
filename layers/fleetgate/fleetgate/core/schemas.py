"""The base of every pydantic model in the layer, and the name type every context uses.

``defer_build``: a model's validator is built the first time it is used, not at
import. A function imports every model of its context but a request touches two
or three, so this keeps unused models off the cold start.

Every model clips free-form JSON nested deeper than 32 levels (``core.limits.clip_depth``): request bodies
are refused beyond that depth before they are parsed, so this only ever changes JSON stored before the
limit existed, which would otherwise break every read and list that returns it.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

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
