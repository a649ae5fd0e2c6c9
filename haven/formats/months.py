"""The month names a date takes inside a sentence ("26 սեպտեմբերի 2023", "26 сентября 2023").

Django writes long dates with its "alt. month" names (the `E` format), which its own catalogue
lacks for Armenian. Marking them here brings them into Haven's catalogues, where they are
translated; Haven's catalogues are read before Django's.
"""

from django.utils.translation import pgettext_lazy

MONTHS_IN_A_DATE = (
    pgettext_lazy("alt. month", "January"),
    pgettext_lazy("alt. month", "February"),
    pgettext_lazy("alt. month", "March"),
    pgettext_lazy("alt. month", "April"),
    pgettext_lazy("alt. month", "May"),
    pgettext_lazy("alt. month", "June"),
    pgettext_lazy("alt. month", "July"),
    pgettext_lazy("alt. month", "August"),
    pgettext_lazy("alt. month", "September"),
    pgettext_lazy("alt. month", "October"),
    pgettext_lazy("alt. month", "November"),
    pgettext_lazy("alt. month", "December"),
)
