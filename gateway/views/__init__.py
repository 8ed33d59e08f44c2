"""Hot-path views: OpenAI-compatible (``openai``) and Pollinations-native (``native``)."""
