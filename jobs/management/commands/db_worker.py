"""``manage.py db_worker``: the task queue's worker, with the jobs watchdog (:mod:`jobs.watchdog`) beside it.

The jobs app comes before ``django_tasks_db`` in INSTALLED_APPS, so this command is the one run.
"""

from __future__ import annotations

import os

from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from jobs.watchdog import watchdog_start


class Command(db_worker.Command):
    def handle(self, *args, reload: bool, batch: bool, **options) -> None:
        # With --reload, only the child process that the reloader starts runs tasks.
        if not batch and (not reload or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true"):
            watchdog_start()
        super().handle(*args, reload=reload, batch=batch, **options)
