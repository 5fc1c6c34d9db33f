"""A scripted chat model: replays recorded chat completions, for offline tests and demos.

``ScriptedChatModel`` stands where ``openai.OpenAI().chat.completions.create`` would
(``Agent(..., chat_function=ScriptedChatModel([...]))``): each call returns the next scripted
response (or raises the next scripted exception) and records the request it got.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import UsageError

__all__ = ["ScriptedChatModel", "chat_completion"]


def chat_completion(content: str | None = None, tool_calls: list[tuple[str, Any]] | None = None,
                    call_prefix: str = "c") -> Any:
    """A real ``openai`` ``ChatCompletion`` with a text reply or tool calls ``[(name, arguments)]``."""
    from openai.types.chat import ChatCompletion

    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"{call_prefix}{i}", "type": "function",
             "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
            for i, (name, args) in enumerate(tool_calls)
        ]
    return ChatCompletion.model_validate({
        "id": "scripted", "object": "chat.completion", "created": 0, "model": "scripted",
        "choices": [{"index": 0, "finish_reason": "tool_calls" if tool_calls else "stop", "message": message}],
    })


class ScriptedChatModel:
    """Replays ``script`` (responses or exceptions) one per call; ``requests`` keeps what was sent."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, **request: Any) -> Any:
        self.requests.append(json.loads(json.dumps(request, default=str)))
        if not self.script:
            raise UsageError("the scripted chat model has no responses left")
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item
