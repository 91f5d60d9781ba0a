from providers.llm.base import LLMResult

MESSAGES = [{"role": "user", "content": "Open the debate."}]


async def collect(stream) -> tuple[list[str], LLMResult]:
    """A client's stream, read to its end: the text deltas, then the final result."""
    deltas = []
    async for item in stream:
        if isinstance(item, LLMResult):
            return deltas, item
        deltas.append(item)
    raise AssertionError("the stream ended without a result")


async def gateway_answer(model, mode: str):
    """The gateway's Answer for `model`, asked once ("send") or streamed to its end ("stream")."""
    from providers.llm.gateway import Answer, answer, stream_answer

    if mode == "send":
        return await answer(model, MESSAGES, max_tokens=50)
    async for item in stream_answer(model, MESSAGES, max_tokens=50):
        if isinstance(item, Answer):
            return item
    raise AssertionError("the stream ended without an answer")
