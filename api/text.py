"""How long each kind of text a client sends may be, and pydantic types that say so in the OpenAPI schema.

One table for every text field the API stores or looks up (names, codes, phones,
descriptions, notes): a request over a limit is a 422 naming the field, so a client cannot
grow the store by hundreds of kilobytes a request (the second hardening round found 97 MiB
in 8 s of Open311 posts).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = ["CODE_CHARS", "DESCRIPTION_CHARS", "NAME_CHARS", "NOTE_CHARS", "PHONE_CHARS", "Code", "Description",
           "Name", "Note", "Phone"]  # fmt: skip

CODE_CHARS = 64  # taxonomy codes, grid codes, state names, district names
NAME_CHARS = 200  # people's and plans' names
PHONE_CHARS = 40
DESCRIPTION_CHARS = 4000  # what an incident report says (a few paragraphs)
NOTE_CHARS = 2000  # a note on a workflow step

Code = Annotated[str, Field(min_length=1, max_length=CODE_CHARS)]
Name = Annotated[str, Field(max_length=NAME_CHARS)]
Phone = Annotated[str, Field(max_length=PHONE_CHARS)]
Description = Annotated[str, Field(max_length=DESCRIPTION_CHARS)]
Note = Annotated[str, Field(max_length=NOTE_CHARS)]
