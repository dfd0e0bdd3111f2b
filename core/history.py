"""django-simple-history's records, indexed where the history is read.

simple-history indexes every foreign key and every unique field of a model's copy, so each
change of a row writes a dozen index entries into its history table (a payment's: 12). The
history is read per object (``instance.history``, the admin's history page, erasure: by ``id``)
in date order; those two indexes and the author's stay, the others go.
"""

from typing import Any

from django.db.models import Model
from simple_history.models import HistoricalRecords


class History(HistoricalRecords):
    """``HistoricalRecords`` without the indexes no history read uses."""

    def copy_fields(self, model: type[Model]) -> dict[str, Any]:
        # simple-history's own knob, computed per model: every copied field but the object's id.
        self.no_db_index = [
            field.name for field in model._meta.fields if field.name != model._meta.pk.name
        ]
        return super().copy_fields(model)
