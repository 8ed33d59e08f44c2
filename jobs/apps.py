from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs and webhooks"

    def ready(self) -> None:
        # Queue-depth gauges are read from the database when /metrics is scraped (the worker serves no HTTP).
        from core.metrics import register_scrape_hook
        from jobs.metrics import refresh_job_gauges

        register_scrape_hook(refresh_job_gauges)
