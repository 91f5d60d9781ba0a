"""ASGI entry point, in the order the Channels tutorial gives: Django first, then routing."""
import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debateproject.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from accounts.websocket_auth import auth_middleware_stack  # noqa: E402
from debates.routing import websocket_urlpatterns  # noqa: E402
from debates.takeover import watch_from_server_start  # noqa: E402

application = ProtocolTypeRouter(
    {
        # The project serves its own static files: the app must work with no CDN and no proxy.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(auth_middleware_stack(URLRouter(websocket_urlpatterns))),
    }
)

# Debates whose runner died (here before a restart, or in another process) are taken over from the start.
watch_from_server_start()

if settings.LLM_PREWARM:
    # Import LiteLLM beside the server starting up, so the first debate does not wait seconds for it.
    from providers.llm.litellm_client import load_litellm  # noqa: E402  (this module does not import litellm)

    threading.Thread(target=load_litellm, name="litellm-prewarm", daemon=True).start()
