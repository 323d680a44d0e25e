"""Cambodia's 24 provinces and the capital, with their official codes.

Locations are stored by stable lowercase slug; the official two-digit code is published with
them (`GET /api/v1/provinces`) for integrations that use it.
"""

from __future__ import annotations

from enum import StrEnum


class Province(StrEnum):
    banteay_meanchey = "banteay_meanchey"
    battambang = "battambang"
    kampong_cham = "kampong_cham"
    kampong_chhnang = "kampong_chhnang"
    kampong_speu = "kampong_speu"
    kampong_thom = "kampong_thom"
    kampot = "kampot"
    kandal = "kandal"
    koh_kong = "koh_kong"
    kratie = "kratie"
    mondulkiri = "mondulkiri"
    phnom_penh = "phnom_penh"
    preah_vihear = "preah_vihear"
    prey_veng = "prey_veng"
    pursat = "pursat"
    ratanakiri = "ratanakiri"
    siem_reap = "siem_reap"
    preah_sihanouk = "preah_sihanouk"
    stung_treng = "stung_treng"
    svay_rieng = "svay_rieng"
    takeo = "takeo"
    oddar_meanchey = "oddar_meanchey"
    kep = "kep"
    pailin = "pailin"
    tbong_khmum = "tbong_khmum"


PROVINCE_CODES: dict[Province, str] = {p: f"{i:02d}" for i, p in enumerate(Province, start=1)}
PROVINCE_NAMES: dict[Province, str] = {
    p: ("Phnom Penh (capital)" if p is Province.phnom_penh else p.value.replace("_", " ").title())
    for p in Province
}
