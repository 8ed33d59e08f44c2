"""A stand-alone, protocol-faithful Pollinations.AI simulator (raw ASGI; see README.md)."""
