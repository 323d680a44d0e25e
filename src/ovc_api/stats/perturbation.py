"""Network figures that cannot be differenced: a closed query space, cell-key perturbation,
and small-count suppression, together.

Why all three. Suppression alone is applied per request, and requests can be combined: the
total for `district=<every other district>` minus the total gives the withheld district;
`from=D` minus `from=D+1` gives the cases opened on day D; a label shows that a withheld
cell exists at all. Complementary suppression (ovc_api.stats.suppression) stops the
arithmetic inside one table and its marginals, but it cannot see the other requests a
reader may make. So, as official statisticians do (the Australian Bureau of Statistics'
TableBuilder, the UK 2021 census):

1. A closed query space (ovc_api.stats.network_space): the network endpoints group and
   filter by closed code lists only (province, sex, age band, concern, closure reason,
   service type, organisation kind), one value per filter, over whole quarters or whole
   years. No free-text district (labels, complements of multi-valued filters), no
   day-by-day ranges: the number of distinct cells a reader can ask about is small and
   every one of them is a cell of a fixed table.
2. Cell-key perturbation (this module): every counted record carries a permanent random
   key (`record_key`, drawn once when the record is made: migration 0007). A cell's key is
   the sum of its records' keys modulo 256, computed in the same aggregate query as its
   count (for a count of distinct children, the children's keys, each child once; a case
   counts with its child's key, so that where each child has one case the counts of cases
   and of children, the same number, get the same noise instead of two independent ones
   that together would narrow it down). The
   published value is the count plus the noise found in a fixed table at (cell key,
   min(count, 32)): at most 2 away from the true count, zero on average for counts of 3 and
   more, never making a non-zero count zero or negative. Totals and marginals are cells of
   their own (their own records, their own key, their own noise), so rows need not add up
   to the total, and a difference of published numbers is the withheld count plus a sum of
   noises the reader cannot know.
3. Suppression stays: a cell whose true count is below the threshold is withheld, with its
   complements, as before; perturbation covers what a reader might combine across requests.

Why the same cell always gets the same noise: the noise is a function of the cell's set of
records (through their keys) and of its count, nothing else. Asking again, asking through a
filter instead of a group (`province=kandal` or the kandal row of `group_by=province`), or
on another day gives the same number, so repeating a request and averaging the answers
learns nothing: averaging only helps against noise drawn afresh.

What remains possible: the published values are true within +/- 2; a reader who combines
several published numbers gets an estimate of a withheld count (its likely range) but never
knows it exactly; a count the reader could already see (their own organisation's figures)
helps narrow others. Counts at or above the threshold are only approximately protected
(a published 3 with threshold 5 says the true count is 5), as intended: only counts below
the threshold identify children. The record keys are the secret: they are never returned
by the API, exported, or logged. Medians (outcomes) are not perturbed; they are withheld
with the count they describe.
"""

from __future__ import annotations

from hashlib import blake2b

KEY_RANGE = 256  # cell keys are in [0, 256): the sum of the records' keys modulo this
TABLE_SIZE = 32  # columns for counts 1..31, and one for every count from 32 up
MAX_PERTURBATION = 2

# How many of the 256 cell keys draw each noise, per count: zero mean and a variance of
# about 1.2 from a count of 3 up; for counts 1 and 2, no noise takes the value to zero.
_NOISE_FROM_3 = {-2: 26, -1: 51, 0: 102, 1: 51, 2: 26}
_NOISE_OF_COUNT = {
    1: {0: 128, 1: 77, 2: 51},
    2: {-1: 64, 0: 128, 1: 40, 2: 24},
}


def _column(count: int) -> list[int]:
    """The noise for each cell key at one count: the counts' shares of the keys, handed out
    in a fixed order of the keys that differs per count (a keyed hash: no state, no seed)."""
    shares = _NOISE_OF_COUNT.get(count, _NOISE_FROM_3)
    noises = [noise for noise, keys in sorted(shares.items()) for _ in range(keys)]
    order = sorted(
        range(KEY_RANGE),
        key=lambda key: blake2b(
            f"{count}:{key}".encode(), digest_size=8, person=b"ovc-ptab"
        ).digest(),
    )
    column = [0] * KEY_RANGE
    for key, noise in zip(order, noises, strict=True):
        column[key] = noise
    return column


# PERTURBATION[cell key][min(count, TABLE_SIZE)]: the fixed table (column 0 unused: zero).
_COLUMNS = [[0] * KEY_RANGE] + [_column(count) for count in range(1, TABLE_SIZE + 1)]
PERTURBATION: tuple[tuple[int, ...], ...] = tuple(
    tuple(_COLUMNS[count][key] for count in range(TABLE_SIZE + 1)) for key in range(KEY_RANGE)
)


def perturbed(count: int, cell_key: int) -> int:
    """The published value of a cell of `count` records whose keys sum to `cell_key`."""
    if count <= 0:
        return count
    return count + PERTURBATION[cell_key % KEY_RANGE][min(count, TABLE_SIZE)]
