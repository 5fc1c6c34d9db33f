"""One cheap check, before a session or a run, that an OpenAI-compatible endpoint is there."""

from __future__ import annotations

__all__ = ["check_endpoint"]


def check_endpoint(base_url: str, api_key: str | None = None, timeout_s: float = 10.0,
                   fix: str = "start the server, or fix --base-url / ECGQA_LLM_BASE_URL",
                   key_hint: str = "set ECGQA_LLM_API_KEY (or --api-key-env VAR)") -> tuple[str, ...]:
    """``GET <base_url>/models`` once; the model ids it lists (empty when it lists none or another
    4xx says the server is there). Raises ``LLMError`` naming the URL when the endpoint is
    unreachable, not an HTTP server, refuses the key (``key_hint``), is not the API root (404) or
    fails (5xx); ``fix`` says what to change. The key is sent, never printed."""
    import http.client
    import json
    import urllib.error
    import urllib.request

    from ..errors import LLMError

    url = base_url.rstrip("/") + "/models"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http(s) checked by callers
            body = response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise LLMError(f"the LLM endpoint {base_url} refused the API key (HTTP {exc.code} on GET {url}); "
                           f"{key_hint}") from None
        if exc.code == 404:
            raise LLMError(f"GET {url} answered HTTP 404: is {base_url} the server's OpenAI-compatible API root "
                           "(e.g. http://127.0.0.1:8080/v1)?") from None
        if exc.code >= 500:
            raise LLMError(f"the LLM endpoint {base_url} is failing (HTTP {exc.code} on GET {url})") from None
        return ()  # another 4xx: the server is there and speaks HTTP
    except http.client.HTTPException as exc:  # a service that is not HTTP (BadStatusLine), a body cut short
        detail = f"{type(exc).__name__}: {str(exc)[:120]!r}" if str(exc) else type(exc).__name__
        raise LLMError(f"the LLM endpoint {base_url} did not answer as an HTTP server (GET {url}: {detail}); is "
                       f"that the port of the OpenAI-compatible server? {fix}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LLMError(f"cannot reach the LLM endpoint {base_url} (GET {url}: {reason}); {fix}") from None
    try:
        return tuple(str(m.get("id")) for m in json.loads(body).get("data", []) if isinstance(m, dict))
    except (ValueError, AttributeError):
        return ()
