"""Statistical disclosure control of the population counts (docs/base-data.md, "Small counts").

Analysts read counts of persons per building and per grid cell, never a person; a count of 1
or 2 can still single out a household ("the one elderly person living alone in building 812").
Statistical offices publish counts under a **threshold rule** — a cell under a minimum
frequency is withheld (Eurostat's and the UK ONS's guidance name thresholds from 3 to 10; the
rule "fewer than 5 → suppress" is the US Census Bureau's and many health agencies') — and
protect a withheld cell against recovery by subtraction from a margin with **complementary
(secondary) suppression**, or by rounding or perturbing the margins (Statistics Canada rounds
census counts to multiples of 5; the ABS perturbs them). OneMap:

- **Buildings** (the finest level): a count from 1 to ``min_count − 1`` is withheld (None,
  named in ``suppressed``); zeros are shown (an empty group singles out nobody). Under
  ``min_count`` persons in all, the whole record is withheld. Registered + resident +
  floating = total, so one withheld part could be recovered as the total minus the other two:
  the smallest other part is withheld too (complementary suppression). The care counts
  (elderly living alone, disabled, low income) belong to no partition: the threshold alone.
- **Grid cells** are the **sums of their buildings' published counts**: a withheld building
  figure is in no cell figure, so subtracting a cell's buildings from the cell recovers
  nothing (the margin carries no information its parts do not). A cell figure that leaves out
  withheld building figures is named in ``partial`` (a lower bound); one that would be 0
  only because everything in it was withheld is None, named in ``suppressed``.

The rule runs in PostgreSQL, in the statement that reads the counts
(``geo.queries.base_data._PUBLISHED``): a cell's figures are summed from its buildings'
published counts there, so an answer for 46 cells reads 46 rows, not their 1,200 buildings
(bench/basedata). tests/test_population_suppression.py holds the rule in Python too, as the
oracle the statement is checked against building by building.

Exact margins with complementary suppression across the two levels was the alternative; it
needs a second withheld building in the cell for every withheld figure, and a cell with one
building cannot have one — rounding margins alone leaves the edges of its interval exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The counts of a record, in output order; the first is the total.
FIELDS = (
    "total", "registered", "resident", "floating", "elderly_alone", "disabled", "low_income",
)  # fmt: skip
#: The parts that add up to the total (a person has exactly one residence class).
PARTITION = ("registered", "resident", "floating")


@dataclass(frozen=True, slots=True)
class Protected:
    """A record's counts as published: None where withheld (named in ``suppressed``);
    ``partial``: figures that leave out withheld building figures (cells only)."""

    key: int
    counts: dict[str, int | None]
    suppressed: tuple[str, ...] = field(default=())
    partial: tuple[str, ...] = field(default=())
