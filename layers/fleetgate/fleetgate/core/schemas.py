"""The base of every pydantic model in the layer.

``defer_build``: a model's validator is built the first time it is used, not at
import. A function imports every model of its context but a request touches two
or three, so this keeps unused models off the cold start.
"""

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(defer_build=True)


class Input(Schema):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")
