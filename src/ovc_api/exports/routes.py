from __future__ import annotations

from fastapi import APIRouter

from ovc_api import API_V1

router = APIRouter(prefix=API_V1, tags=["exports"])
