"""What every page handler is given: the open storage and how to name it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna.storages import BaseStorage

import autoopt
from autoopt.dashboard.rendering import render
from autoopt.dashboard.storage import redacted
from autoopt.errors import UserError


@dataclass(frozen=True)
class Site:
    """What every page needs: the storage, its URL, and how to name it on screen."""

    storage: BaseStorage
    storage_url: str

    @property
    def storage_label(self) -> str:
        return redacted(self.storage_url)

    def study_name(self, study_id: int) -> str:
        try:
            return self.storage.get_study_name_from_id(study_id)
        except KeyError:
            raise UserError(f"There is no study with id {study_id} in {self.storage_label}.") from None

    def render(self, template: str, **context: Any) -> str:
        return render(template, storage_label=self.storage_label, version=autoopt.__version__, **context)
