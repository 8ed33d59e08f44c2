from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing, limits and usage"

    def ready(self) -> None:
        from accounts.services import key_limit_ceilings_register, key_models_check_register
        from billing import checks  # noqa: F401 - registers the deployment checks
        from billing._keyceilings import plan_key_limit_ceilings
        from billing.services.subscriptions import unknown_models

        key_limit_ceilings_register(plan_key_limit_ceilings)
        # A key's allowed_models are checked against the providers as a plan's are.
        key_models_check_register(unknown_models)
