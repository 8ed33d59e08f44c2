"""The gateway's hot-path URLs (``/v1``, Pollinations paths), served by :class:`gateway.handler.HotPathHandler`.

:mod:`mcp_site.hot_urls` and :mod:`mcp_site.urls` mount them, beside the jobs app's ``/v1/jobs`` URLs.
"""

from django.urls import path, re_path

from gateway import images
from gateway.views import keyinfo, native, openai

urlpatterns = [
    # OpenAI-compatible
    path("v1/chat/completions", openai.chat_completions, name="v1-chat-completions"),
    path("v1/images/generations", openai.image_generations, name="v1-images-generations"),
    re_path(images.URL_PATTERN, images.image_file, name="v1-image-file"),
    path("v1/audio/speech", openai.audio_speech, name="v1-audio-speech"),
    path("v1/audio/transcriptions", openai.audio_transcriptions, name="v1-audio-transcriptions"),
    path("v1/models", openai.models, name="v1-models"),
    path("v1/key/info", keyinfo.key_info, name="v1-key-info"),
    # Model ids may hold slashes ("org/model"), as in OpenAI's fine-tuned ids.
    re_path(r"^v1/models/(?P<model_id>[\s\S]+)$", openai.model_detail, name="v1-model"),
    # Pollinations model lists (public)
    path("models", native.model_list, {"modality": "text"}, name="native-models"),
    path("text/models", native.model_list, {"modality": "text"}, name="native-text-models"),
    path("image/models", native.model_list, {"modality": "image"}, name="native-image-models"),
    path("audio/models", native.model_list, {"modality": "audio"}, name="native-audio-models"),
    path("openai/models", native.model_list, {"modality": "text", "host": "text"}, name="native-openai-models"),
    # Pollinations generation: gen.pollinations.ai paths, then the legacy image./text. ones. ``[\s\S]``,
    # not ``.``: a prompt may hold an encoded newline, and must not fall through to the legacy text route.
    re_path(r"^image/(?P<prompt>[\s\S]+)$", native.gen_image, name="native-image"),
    re_path(r"^text/(?P<prompt>[\s\S]+)$", native.gen_text, name="native-text"),
    path("text", native.gen_text, name="native-text-post"),
    re_path(r"^audio/(?P<text>[\s\S]+)$", native.gen_audio, name="native-audio"),
    re_path(r"^prompt/(?P<prompt>[\s\S]+)$", native.legacy_image, name="legacy-image"),
    path("openai", native.gen_text, name="native-openai"),
    # Only the legacy text host serves /openai/* (base_url="https://text.pollinations.ai/openai" in
    # Pollinations' own OpenAI SDK examples); gen answers it 404.
    re_path(r"^openai/(?P<prompt>[\s\S]*)$", native.legacy_text, name="native-openai-legacy"),
]
