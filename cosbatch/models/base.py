"""Base model: Python names in snake_case, wire names in S3 Control's PascalCase."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_pascal


class WireModel(BaseModel):
    """Parses and dumps the S3 Control / COS shape (PascalCase) and rejects unknown fields."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
    )

    def wire(self) -> dict:
        """The wire shape: PascalCase keys, no unset/None members."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
