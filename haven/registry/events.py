"""What the registry tells the rest of Haven once it has happened.

`households_registered` is sent after the transaction that registered households has committed
(never for a registration that was rolled back), with the new households' ids. Receivers do work
that follows from a registration but is not part of it (tracing re-matches its open requests); a
receiver's failure must not reach the registrar, whose registration stands.
"""

from django.dispatch import Signal

households_registered = Signal()  # kwargs: household_ids: list[int]
