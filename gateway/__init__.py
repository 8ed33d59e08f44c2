"""The gateway hot path: auth → limits → route → provider → stream back → usage."""
