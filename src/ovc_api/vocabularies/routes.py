"""Code lists over HTTP: English or Khmer labels by Accept-Language, cacheable by ETag."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Response
from pydantic import BaseModel

from ovc_api import API_V1
from ovc_api.auth.principal import AnyPrincipal
from ovc_api.errors import NotFound, error_responses
from ovc_api.vocabularies import service

router = APIRouter(prefix=f"{API_V1}/vocabularies", tags=["vocabularies"])
AcceptLanguage = Annotated[
    str | None,
    Header(description="`km` for Khmer labels, `en` (the default) for English"),
]
IfNoneMatch = Annotated[str | None, Header(description="The ETag of a copy you hold")]
CACHE = "private, max-age=3600"


class VocabularyItem(BaseModel):
    code: str
    label: str


class Vocabulary(BaseModel):
    name: str
    language: Literal["en", "km"]
    items: list[VocabularyItem]


class Vocabularies(BaseModel):
    language: Literal["en", "km"]
    vocabularies: list[Vocabulary]


def _answer(response: Response, document: dict[str, Any], if_none_match: str | None) -> Any:
    etag = service.etag_of(document)
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE,
        "Vary": "Accept-Language",
        "Content-Language": str(document["language"]),
    }
    if if_none_match and etag in {
        tag.strip().removeprefix("W/") for tag in if_none_match.split(",")
    }:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return document


@router.get(
    "",
    summary="Every code list the API accepts, with labels in English or Khmer",
    description="Choose the language with `Accept-Language: km` (or `en`, the default). "
    "Send the ETag back in `If-None-Match` to get 304 while the lists are unchanged.",
    response_model=Vocabularies,
    responses={**error_responses(401), 304: {"description": "Unchanged since your copy"}},
)
async def list_vocabularies(
    response: Response,
    principal: AnyPrincipal,
    accept_language: AcceptLanguage = None,
    if_none_match: IfNoneMatch = None,
) -> Any:
    document = service.all_vocabularies(service.language_of(accept_language))
    return _answer(response, document, if_none_match)


@router.get(
    "/{name}",
    summary="One code list, with labels in English or Khmer",
    response_model=Vocabulary,
    responses={**error_responses(401, 404), 304: {"description": "Unchanged since your copy"}},
)
async def get_vocabulary(
    name: Annotated[str, Path(max_length=60)],
    response: Response,
    principal: AnyPrincipal,
    accept_language: AcceptLanguage = None,
    if_none_match: IfNoneMatch = None,
) -> Any:
    if name not in service.VOCABULARIES:
        raise NotFound(f"No vocabulary named {name!r}: GET /api/v1/vocabularies lists them")
    document = service.vocabulary(name, service.language_of(accept_language))
    return _answer(response, document, if_none_match)
