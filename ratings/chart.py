"""The ratings chart as plain SVG geometry: a dot per model at its rating and a whisker over its 95% interval.
Drawn by the template, so it needs no JavaScript and no CDN."""
import math

WIDTH, ROW, LEFT, RIGHT, TOP = 720, 28, 190, 30, 30


def whiskers(models: list[dict]) -> dict | None:
    if not models:
        return None
    low = min(m["lower"] for m in models)
    high = max(m["upper"] for m in models)
    step = _nice_step(high - low)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    span = max(end - start, 1e-9)

    def x(value: float) -> float:
        return round(LEFT + (value - start) / span * (WIDTH - LEFT - RIGHT), 1)

    rows = [{"y": TOP + i * ROW, "label": m["display_name"], "x": x(m["rating"]), "x1": x(m["lower"]),
             "x2": x(m["upper"]), "rating": round(m["rating"]), "lower": round(m["lower"]),
             "upper": round(m["upper"])} for i, m in enumerate(models)]
    ticks = [{"x": x(value), "label": f"{value:.0f}"} for value in _frange(start, end, step)]
    height = TOP + len(models) * ROW
    return {"width": WIDTH, "height": height + 10, "rows": rows, "ticks": ticks, "axis_y": height - ROW / 2,
            "left": LEFT, "right": WIDTH - RIGHT}


def _nice_step(span: float) -> float:
    """A round tick spacing giving four to ten ticks."""
    raw = max(span, 1.0) / 6
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _frange(start: float, end: float, step: float) -> list[float]:
    count = int(round((end - start) / step))
    return [start + i * step for i in range(count + 1)]
