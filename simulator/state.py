"""Process-wide simulator state and its configuration from the environment."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from simulator.auth import ApiKey, load_keys
from simulator.callbacks import Callbacks
from simulator.feeds import Feed
from simulator.legacy_queue import IpQueues
from simulator.recorder import Recorder
from simulator.render import ImageCache

ENV_KEYS = "SIM_KEYS"  # accepted gen keys: ``key[:model|model]`` comma-separated
ENV_LEGACY_QUEUE = "SIM_LEGACY_QUEUE"  # ``1`` turns the legacy per-IP queue on for every request
ENV_LEGACY_INTERVAL_MS = "SIM_LEGACY_INTERVAL_MS"  # slot interval of that queue
DEFAULT_LEGACY_INTERVAL_MS = 1000


@dataclass
class State:
    """Everything handlers share: keys, caches, feeds, queues and the request log."""

    keys: dict[str, ApiKey]
    legacy_queue: bool = False
    queues: IpQueues = field(default_factory=lambda: IpQueues(DEFAULT_LEGACY_INTERVAL_MS / 1000))
    images: ImageCache = field(default_factory=ImageCache)
    image_feed: Feed = field(default_factory=Feed)
    text_feed: Feed = field(default_factory=lambda: Feed(pretty=True))
    recorder: Recorder = field(default_factory=Recorder)
    callbacks: Callbacks = field(default_factory=Callbacks)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "State":
        """Build the state from ``SIM_*`` environment variables."""
        interval_ms = int(environ.get(ENV_LEGACY_INTERVAL_MS, DEFAULT_LEGACY_INTERVAL_MS))
        return cls(
            keys=load_keys(environ.get(ENV_KEYS)),
            legacy_queue=environ.get(ENV_LEGACY_QUEUE, "") == "1",
            queues=IpQueues(interval_ms / 1000),
            callbacks=Callbacks.from_env(environ),
        )
