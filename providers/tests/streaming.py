from providers.llm.base import LLMResult


async def collect(stream) -> tuple[list[str], LLMResult]:
    """A client's stream, read to its end: the text deltas, then the final result."""
    deltas = []
    async for item in stream:
        if isinstance(item, LLMResult):
            return deltas, item
        deltas.append(item)
    raise AssertionError("the stream ended without a result")
