"""Base model: Python names in snake_case, wire names in S3 Control's PascalCase."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_pascal
from pydantic_core import PydanticCustomError

#: The pydantic error type of a field cosbatch parses but refuses (UnsupportedField).
UNSUPPORTED = "unsupported_field"


def unsupported(message: str) -> PydanticCustomError:
    """The error for a field (or a value of it) that cosbatch does not implement."""
    return PydanticCustomError(UNSUPPORTED, message)


class WireModel(BaseModel):
    """Parses and dumps the S3 Control / COS shape (PascalCase) and rejects unknown fields."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
    )

    #: Fields of the API shape that cosbatch parses but does not implement: refused when given
    #: (python name → why), so no field is accepted and then ignored.
    unsupported_fields: ClassVar[dict[str, str]] = {}

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> WireModel:
        for name, why in self.unsupported_fields.items():
            if getattr(self, name) is not None:
                alias = type(self).model_fields[name].alias or name
                raise unsupported(f"{alias} is not supported: {why}")
        return self

    def wire(self) -> dict:
        """The wire shape: PascalCase keys, no unset/None members."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
