"""API keys (gen era) and tokens, tiers and referrers (legacy era)."""

import hashlib
from dataclasses import dataclass

from simulator.errors import INVALID_KEY_MESSAGE, SimError
from simulator.request import Request

DEFAULT_SECRET_KEY = "sk_simulatorsimulatorsimulator12345"  # noqa: S105 (a public test key)
DEFAULT_PUBLISHABLE_KEY = "pk_simulatorsimulat"
TIERS = ("anonymous", "seed", "flower", "nectar")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An accepted gen key; ``models`` limits which models it may use (``None`` = all)."""

    value: str
    models: frozenset[str] | None = None

    @property
    def kind(self) -> str:
        """``publishable`` for ``pk_`` keys, else ``secret``."""
        return "publishable" if self.value.startswith("pk_") else "secret"


def load_keys(spec: str | None) -> dict[str, ApiKey]:
    """Parse ``SIM_KEYS``: ``key[:model|model...]`` entries separated by commas.

    Unset means the two default keys, both allowed every model.
    """
    if not spec:
        return {key: ApiKey(key) for key in (DEFAULT_SECRET_KEY, DEFAULT_PUBLISHABLE_KEY)}
    keys: dict[str, ApiKey] = {}
    for entry in spec.split(","):
        value, _, models = entry.strip().partition(":")
        if value:
            allowed = frozenset(m for m in models.split("|") if m) if models else None
            keys[value] = ApiKey(value, allowed)
    return keys


def fingerprint(secret: str) -> str:
    """A short, stable, non-reversible stand-in for a credential in logs."""
    return "fp:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def extract_key(request: Request) -> str | None:
    """The gen API key, in the gateway's precedence: Bearer, then X-API-Key, then ``?key=``."""
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Bearer "):  # case-sensitive, as gen's extractApiKey is
        return authorization[7:].strip() or None
    return request.headers.get("x-api-key") or request.query.get("key") or None


def authenticate(request: Request, keys: dict[str, ApiKey]) -> ApiKey:
    """Resolve the request's gen key; 401 when missing, a distinct 401 when unknown."""
    value = extract_key(request)
    if value is None:
        raise SimError(401)
    key = keys.get(value)
    if key is None:
        raise SimError(401, INVALID_KEY_MESSAGE)
    return key


def check_model(request: Request, model: str) -> None:
    """Refuse (403) a model the request's key is not allowed to use."""
    key: ApiKey | None = request.auth
    if key is not None and key.models is not None and model not in key.models:
        raise SimError(403, f"Model '{model}' is not allowed for this API key")


def extract_token(request: Request) -> str | None:
    """The legacy token: ``?token=``, ``Authorization`` (Bearer stripped), then body ``token``."""
    token = request.query.get("token")
    if token:
        return token
    authorization = request.headers.get("authorization", "")
    if authorization:
        if authorization[:7].lower() == "bearer ":
            authorization = authorization[7:]
        return authorization.strip() or None
    if request.method == "POST" and b'"token"' in request.body:
        body = request.json()
        if isinstance(body, dict) and isinstance(body.get("token"), str):
            return body["token"]
    return None


def legacy_tier(token: str | None) -> str:
    """The tier of a legacy token: its prefix before ``_`` when that names a tier, else ``seed``.

    So ``nectar_abc`` is a nectar token and any other token is ``seed``; no token is anonymous.
    """
    if not token:
        return "anonymous"
    prefix = token.split("_", 1)[0].lower()
    return prefix if prefix in TIERS else "seed"


def tier_allows(user_tier: str, model_tier: str) -> bool:
    """Whether a user of ``user_tier`` may use a model gated at ``model_tier``."""
    return TIERS.index(user_tier) >= TIERS.index(model_tier)


def extract_referrer(request: Request) -> str | None:
    """The legacy referrer: query, then body, then the Referer/Referrer/Origin headers."""
    for name in ("referrer", "referer"):
        if request.query.get(name):
            return request.query[name]
    if request.method == "POST" and b'"refer' in request.body:
        body = request.json()
        if isinstance(body, dict):
            for name in ("referrer", "referer"):
                if isinstance(body.get(name), str):
                    return body[name]
    for name in ("referer", "referrer", "origin"):
        if request.headers.get(name):
            return request.headers[name]
    return None
