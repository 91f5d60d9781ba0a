"""A person in Chromium against a live daphne: a debate streams word by word, survives a reload, and what a model
wrote shows as text while it streams and as sanitised Markdown once complete, never running or fetching anything."""
import json
import re
import time

import pytest

from debates.tests.conftest import is_preflight, scripted_responder, valid_verdict
from debates.tests.live_server import browser, daphne_server, fake_llm, llm, page, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

SPEECH = "Cars 🚗 crowd the old streets, slow every bus, and make the centre loud, dangerous and less pleasant."
XSS = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script>'
MARKDOWN = "Cars **choke** the centre:\n\n- noise\n- `CO2` fumes\n\nSo *ban* them, as [the study](https://example.org/) says."
PASSWORD = "correct horse battery staple"
STARTUP_MS = 60_000


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user("ada", password=PASSWORD)


def markdown_attacks(image_url: str) -> str:
    """XSS plus what Markdown adds: links to scripts however spelled, an autolink, an image, entities."""
    return "\n\n".join([
        XSS,
        "[one](javascript:window.__xss=3) [two](JaVaScRiPt:window.__xss=4) [three](java&#x09;script:window.__xss=5)",
        "[four](data:text/html,<script>window.__xss=6</script>) [five](vbscript:window.__xss=7) "
        "<javascript:window.__xss=8>",
        f'![six]({image_url}) &lt;script&gt;window.__xss=9&lt;/script&gt; <img src="{image_url}">',
    ])


def speaking(llm, text: str, chunk_delay: float = 0.15, judge_says: str | None = None) -> None:
    """Seats say `text` a word every `chunk_delay` seconds; the judge answers with a valid verdict at once, whose
    summary, key argument and every reasoning are `judge_says` when given."""
    judge = scripted_responder() if judge_says is None else judge_saying(judge_says)
    llm.responder = lambda body: judge(body) if "impartial debate judge" in str(body) else text
    llm.chunk_delay = chunk_delay


def judge_saying(words: str):
    def respond(body: dict) -> str:
        verdict = json.loads(valid_verdict(body))
        for criteria in verdict["scores"].values():
            for criterion in criteria.values():
                criterion["reasoning"] = words
        return json.dumps({**verdict, "summary": words, "key_arguments": [words]})

    return respond


def first_turn_text(page) -> tuple[str, str]:
    turn = page.locator("article.turn").first
    return turn.get_attribute("class") or "", turn.locator(".turn-text").text_content() or ""


def watch_first_turn(page, timeout: float = 30) -> list[str]:
    """The first turn's text each time it changed while it streamed, until it completed."""
    seen: list[str] = []
    # The server's first LLM call may wait for LiteLLM's import (seconds; more on a busy machine).
    page.locator("article.turn").first.wait_for(timeout=STARTUP_MS)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        classes, text = first_turn_text(page)
        if "turn-streaming" in classes and text and (not seen or seen[-1] != text):
            seen.append(text)
        if "turn-completed" in classes:
            return seen
        time.sleep(0.04)
    raise AssertionError(f"the first turn did not complete; seen {seen}")


def fill_new_debate_form(page, *, judge, seats) -> None:
    """/debates/new/ filled in for a one-round debate on the usual motion, with these models."""
    page.goto("/debates/new/")
    page.fill("textarea[name=topic]", "Cities should ban cars from their centres")
    page.fill("input[name=rounds]", "1")
    page.select_option("select[name=judge_model]", str(judge.pk))
    for index, model in enumerate(seats):
        page.select_option(f"select[name=seats-{index}-model]", str(model.pk))


def test_a_debate_made_with_the_form_streams_then_shows_the_verdict(page, llm, person, model_on):
    speaking(llm, SPEECH)
    model = model_on("openai", llm, display_name="Fake GPT")
    sign_in(page, "ada", PASSWORD)

    fill_new_debate_form(page, judge=model, seats=[model, model])
    page.fill("input[name=seats-0-display_name]", "Ada")
    page.fill("input[name=seats-1-display_name]", "Grace")
    assert page.locator("#judge-self-warning").is_visible()  # the judge's model also has a seat
    page.click("button:text('Start debate')")

    page.wait_for_url("**/debates/*/")
    seen = watch_first_turn(page)
    assert len(seen) >= 2, seen  # the text grew while the model was still writing
    assert all(SPEECH.startswith(text) for text in seen) and len(seen[0]) < len(seen[-1])
    assert first_turn_text(page)[1] == SPEECH

    page.locator(".verdict-card .winner").wait_for()
    assert page.locator(".verdict-card .winner").text_content() == "Winner: Ada"
    assert page.locator(".score-value").all_text_contents() == ["7.5/10", "6/10"]
    assert page.locator("#status-badge").text_content() == "completed"
    assert page.locator("#progress").text_content() == "Finished after 1 round"
    assert page.locator("article.turn .turn-text").all_text_contents() == [SPEECH, SPEECH]
    assert page.locator(".chip-winner .seat-name").text_content() == "Ada"
    # The fake model is in no price list: its cost is unknown, never shown as free, live and after a reload.
    for _ in range(2):
        # The seat-swap check: the judge read the debate in both orders and named Ada both times.
        assert page.locator(".verdict-card .labels").text_content() == (
            "The judge knew the seats only as Speaker A (Ada), Speaker B (Grace).")
        assert page.locator(".swap-note.swap-held").text_content() == (
            "Seat-swap check held: the judge named Ada in both orders. Scores are the mean of both readings.")
        assert page.locator(".self-judging").text_content().startswith(
            "The judge's model also argues in this debate (Ada, Grace)")
        assert "This judge's seat-swap checks held in 1 of 1 debate (100%)" in page.locator(
            ".verdict-card .muted.small").last.text_content()
        assert page.locator("#spend").text_content() == "Cost: unknown (3 calls could not be priced)"
        assert page.locator(".seat-cost").all_text_contents() == ["unknown (1 call could not be priced)"] * 2
        assert "cost unknown" in page.locator("article.turn .turn-meta").first.text_content()
        page.reload()


def test_a_reload_or_a_late_second_page_shows_what_was_said_and_carries_on(page, llm, person, debate_on):
    speaking(llm, SPEECH, chunk_delay=0.1)
    debate = debate_on(llm, rounds=1, created_by=person)
    sign_in(page, "ada", PASSWORD)
    page.goto(f"/debates/{debate.pk}/")
    page.click("form[data-action=start] button")
    page.wait_for_function("() => document.querySelector('article.turn .turn-text')?.textContent.length > 10",
                           timeout=STARTUP_MS)

    page.reload()
    text = first_turn_text(page)[1]
    assert SPEECH.startswith(text) and len(text) > 10  # what was said before the reload is there at once
    assert page.locator("#status-badge").text_content() == "running"

    late = page.context.new_page()
    late.goto(f"/debates/{debate.pk}/")
    text = first_turn_text(late)[1]
    assert SPEECH.startswith(text) and len(text) > 10

    for watcher in (page, late):
        watcher.locator(".verdict-card .winner").wait_for()
        assert watcher.locator("article.turn .turn-text").all_text_contents() == [SPEECH, SPEECH]
        assert watcher.locator("#status-badge").text_content() == "completed"
        assert watcher.locator("#connection").is_hidden()


def test_model_output_never_runs_nor_fetches_live_or_after_a_reload(page, llm, person, debate_on):
    image = f"{llm.url}/xss.png"  # a server that records every request: the image must never be asked for
    attacks = markdown_attacks(image)
    speaking(llm, attacks, chunk_delay=0.02, judge_says=attacks)
    images: list[str] = []
    page.on("request", lambda request: images.append(request.url) if request.resource_type == "image" else None)
    debate = debate_on(llm, rounds=1, created_by=person)
    sign_in(page, "ada", PASSWORD)
    page.goto(f"/debates/{debate.pk}/")
    page.click("form[data-action=start] button")

    page.locator(".verdict-card .winner").wait_for()
    for _ in range(2):  # live, then as the server renders it after a reload
        assert page.locator("#transcript img, #transcript script, #verdict img, #verdict script").count() == 0
        assert page.locator("#transcript a, #verdict a").count() == 0  # every link's scheme was dropped
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert images == [] and not [r.path for r in llm.requests if r.path.endswith(".png")]
        texts = page.locator("article.turn .turn-text").all_text_contents()
        assert len(texts) == 2 and all(text.startswith(XSS) for text in texts)  # raw HTML shows as the text it is
        assert all("one two three" in text and "<script>window.__xss=9</script>" in text for text in texts)
        assert "javascript:window.__xss=8" in page.locator(".verdict-card .summary").text_content()
        page.reload()


def test_a_completed_turn_shows_its_markdown_as_html_after_streaming_as_plain_text(page, llm, person, debate_on):
    speaking(llm, MARKDOWN, chunk_delay=0.1, judge_says="Ada was **clearer**.")
    debate = debate_on(llm, rounds=1, created_by=person)
    sign_in(page, "ada", PASSWORD)
    page.goto(f"/debates/{debate.pk}/")
    page.click("form[data-action=start] button")

    seen = watch_first_turn(page)
    assert any("**choke**" in text for text in seen), seen  # while it streamed: the Markdown, as plain text
    page.locator(".verdict-card .winner").wait_for()
    for _ in range(2):  # live, then as the server renders it after a reload
        first = page.locator("article.turn").first.locator(".turn-text")
        assert first.locator("strong").text_content() == "choke"
        assert first.locator("li").all_text_contents() == ["noise", "CO2 fumes"]
        assert first.locator("li code").text_content() == "CO2"
        assert first.locator("em").text_content() == "ban"
        link = first.locator("a")
        assert (link.get_attribute("href"), link.get_attribute("rel")) == (
            "https://example.org/", "nofollow noopener noreferrer")
        assert "**" not in first.text_content()
        assert page.locator(".verdict-card .summary strong").text_content() == "clearer"
        assert page.locator(".key-arguments li strong").all_text_contents() == ["clearer"]
        assert page.locator(".criterion .reasoning strong").count() == 6  # three criteria for each of two seats
        page.reload()


def test_a_broken_stream_is_shown_reset_and_a_fallback_answer_says_so(page, llm, person, model_on):
    from debates.services import SeatSpec, debate_create
    from providers.models import ModelFallback
    from providers.tests.servers import closed_port_server

    speaking(llm, SPEECH, chunk_delay=0.1)
    # The fallback's first streamed attempt (the pre-flight checks before it do not stream, and pass it by).
    llm.enqueue_stream_cut(after_chunks=4, text="Broken words that never end", stream_only=True)
    answering = model_on("openai", llm, model_name="answering")
    down = model_on("openai", closed_port_server(), model_name="down", max_retries=0)
    ModelFallback.objects.create(model=down, fallback=answering)
    debate = debate_create(topic="Cities should ban cars", rounds=1, judge_model_id=answering.pk, created_by=person,
                           seats=[SeatSpec(model_id=down.pk, stance="for", display_name="Ada"),
                                  SeatSpec(model_id=answering.pk, stance="against", display_name="Grace")])
    sign_in(page, "ada", PASSWORD)
    page.goto(f"/debates/{debate.pk}/")
    page.click("form[data-action=start] button")

    first = page.locator("article.turn").first
    first.locator(".turn-reset").wait_for(timeout=STARTUP_MS)  # while the new attempt streams
    assert "The last attempt broke (provider error" in first.locator(".turn-reset").text_content()
    assert "Broken words" not in first.locator(".turn-text").text_content()
    page.locator(".verdict-card .winner").wait_for()
    assert page.locator("article.turn .turn-text").all_text_contents() == [SPEECH, SPEECH]
    note = f"Answered by openai/answering, fallback for openai/down (openai/down failed (unreachable)"
    assert first.locator(".turn-fallback").text_content().startswith(note)
    page.reload()  # the server-rendered page says the same
    assert page.locator("article.turn").first.locator(".turn-fallback").text_content().startswith(note)


def test_the_form_says_which_seat_cannot_answer_and_starts_nothing(page, llm, person, model_on, monkeypatch):
    from debates.models import Debate

    monkeypatch.delenv("UNSET_KEY_FOR_THE_FORM", raising=False)
    ready = model_on("openai", llm, display_name="Ready GPT")
    keyless = model_on("openai", llm, display_name="Keyless GPT", api_key_env_var="UNSET_KEY_FOR_THE_FORM")
    llm.reset()
    sign_in(page, "ada", PASSWORD)

    fill_new_debate_form(page, judge=ready, seats=[ready, keyless])
    page.click("button:text('Start debate')")

    page.wait_for_load_state()
    assert "/debates/new/" in page.url
    second_seat = page.locator("select[name=seats-1-model]").locator("xpath=ancestor::fieldset[1]")
    assert "Keyless GPT cannot answer: the environment variable UNSET_KEY_FOR_THE_FORM" in second_seat.text_content()
    assert "cannot answer" not in page.locator("select[name=seats-0-model]").locator(
        "xpath=ancestor::fieldset[1]").text_content()
    assert not Debate.objects.exists()
    assert [r.body["messages"] for r in llm.requests if r.path.endswith("/chat/completions")] == [
        [{"role": "user", "content": "Say OK."}]]  # the ready model was asked for one token; nothing else spent


def test_a_budget_set_on_the_form_stops_before_the_verdict_and_a_raised_one_resumes_it(page, llm, person, model_on):
    from debates.models import Debate

    speaking(llm, SPEECH, chunk_delay=0.01)
    # gpt-4o is priced: each turn's worst case (400 tokens) fits in $0.006, the verdict's (two calls) does not.
    priced = model_on("openai", llm, model_name="gpt-4o", display_name="Priced GPT", pricing_tier="standard")
    sign_in(page, "ada", PASSWORD)

    fill_new_debate_form(page, judge=priced, seats=[priced, priced])
    page.fill("input[name=budget_usd]", "0.006")
    page.click("button:text('Start debate')")

    page.wait_for_url("**/debates/*/")
    page.locator("#failure:not([hidden])").wait_for(timeout=STARTUP_MS)
    assert page.locator("#failure-reason").text_content().startswith("Budget reached: $0.0007 of the $0.0060 budget")
    assert "the verdict could cost up to" in page.locator("#failure-reason").text_content()
    assert page.locator("#spend").text_content() == "Cost: $0.0007 of a $0.0060 budget"
    assert page.locator("article.turn .turn-text").all_text_contents() == [SPEECH, SPEECH]
    asked = len(llm.requests)

    page.fill("#resume-budget", "0.5")
    page.click("form[data-action=resume] button")

    page.locator(".verdict-card .winner").wait_for(timeout=STARTUP_MS)
    calls = [r.body for r in llm.requests[asked:] if not is_preflight(r.body)]  # (its result may be remembered)
    assert len(calls) == 2 and all("impartial debate judge" in str(c) for c in calls)  # the verdict's two readings
    # (the seat-swap check), and no turn redone
    assert Debate.objects.get().budget_usd == 0.5
    assert page.locator("#spend").text_content().endswith(" of a $0.5000 budget")


def test_a_panel_chosen_on_the_form_shows_each_judge_the_agreement_and_the_scores_per_criterion(
        page, llm, person, model_on):
    from debates.tests.conftest import valid_verdict, verdict_json

    def respond(body: dict) -> str:
        if "impartial debate judge" not in str(body):
            return "A short case."
        if body["model"] == "contrarian":  # names the seat arguing against, under either label
            against = "B" if valid_verdict(body) == verdict_json() else "A"
            return verdict_json(winner=against, scores={against: 9, "AB".replace(against, ""): 2},
                                summary="**Grace** made the case. <script>window.judged = 1</script>")
        return valid_verdict(body)

    llm.responder = respond
    seat = model_on("openai", llm, model_name="debater", display_name="Debater")
    judges = [model_on("openai", llm, model_name=name, display_name=title)
              for name, title in (("lead", "Lead Judge"), ("second", "Second Judge"), ("contrarian", "Contrarian"))]
    sign_in(page, "ada", PASSWORD)

    fill_new_debate_form(page, judge=judges[0], seats=[seat, seat])
    page.fill("input[name=seats-0-display_name]", "Ada")
    page.fill("input[name=seats-1-display_name]", "Grace")
    page.click("#panel-picker summary")
    assert not page.locator("#judge-self-warning").is_visible()
    page.check(f"input[name=panel][value='{seat.pk}']")
    assert page.locator("#judge-self-warning").is_visible()  # a panel judge that also debates
    page.uncheck(f"input[name=panel][value='{seat.pk}']")
    for judge in judges[1:]:
        page.check(f"input[name=panel][value='{judge.pk}']")
    page.click("button:text('Start debate')")

    page.wait_for_url("**/debates/*/")
    page.locator(".verdict-card .winner").wait_for(timeout=STARTUP_MS)
    for _ in range(2):  # live, then as the server renders it after a reload
        assert page.locator(".verdict-card .winner").text_content() == "Winner: Ada"
        assert page.locator(".panel-judge").all_inner_texts()[0].startswith("Lead Judge: named Ada")
        assert page.locator(".panel-judge .judge-result").all_text_contents() == [
            "named Ada", "named Ada", "named Grace"]
        # Each judge's own summary, its Markdown rendered, its HTML shown as the text it is and never run.
        assert page.locator(".panel-judge .judge-summary").all_inner_texts() == [
            "A close debate.", "A close debate.", "Grace made the case. <script>window.judged = 1</script>"]
        assert page.locator(".panel-judge .judge-summary strong").text_content() == "Grace"
        assert page.locator(".panel-judge .judge-summary script").count() == 0
        assert page.evaluate("window.judged") is None
        assert page.locator(".agreement").text_content() == "Panel agreement: 67%"
        assert "Ada wins by majority" in page.locator(".panel-note").text_content()
        # Per criterion, the mean of three judges: Ada 7.5, 7.5 and 2; Grace 6, 6 and 9.
        first = page.locator(".score").first
        assert first.locator(".criterion dt").all_text_contents()[0].split() == ["Argument", "strength", "5.7"]
        assert page.locator(".score-value").all_text_contents() == ["5.7/10", "7/10"]
        page.reload()


def test_a_finished_debate_is_replayed_with_another_judge_and_compared_side_by_side(page, llm, person, debate_on,
                                                                                      model_on):
    from debates.models import Debate, DebateStatus, Turn

    speaking(llm, "Short case.", chunk_delay=0.0)
    original = debate_on(llm, rounds=3, format="oxford", swap_check=False)
    original.created_by = person
    original.status = DebateStatus.COMPLETED
    original.save()
    for seat in original.seats.all():
        for number in (1, 2, 3):
            Turn.objects.create(debate=original, seat=seat, round=number, status="completed",
                                text=f"{seat.display_name} in round {number}.")
    judge = model_on("openai", llm, display_name="Judge B")
    sign_in(page, "ada", PASSWORD)

    page.goto(f"/debates/{original.pk}/")
    page.select_option("#replay-form select[name=target]", "judge")
    page.select_option("#replay-form select[name=model]", str(judge.pk))
    page.click("#replay-form button:text('Replay')")

    page.wait_for_url("**/debates/*/")
    page.locator(".verdict-card .winner").wait_for(timeout=STARTUP_MS)
    replay = Debate.objects.get(replay_of=original)
    assert page.url.endswith(f"/debates/{replay.pk}/")
    assert "A replay of debate" in page.locator("#replay-of").text_content()
    assert page.locator(".round-title").all_text_contents() == [
        "Round 1 · Opening statements", "Round 2 · Rebuttal", "Round 3 · Closing statements"]
    page.click("#replay-of a:text('Compare them')")

    page.wait_for_url(f"**/debates/{original.pk}/compare/{replay.pk}/")
    sides = page.locator("#compare .compare-side")
    assert sides.count() == 2 and "the judge: " in sides.nth(1).text_content()
    first_round = page.locator(".compare-round").first
    assert "Seat1 in round 1." in first_round.locator(".compare-side").first.text_content()
    assert "Short case." in first_round.locator(".compare-side").last.text_content()
    assert page.locator(".compare-verdicts .verdict-card").count() == 1  # the original was never judged
    assert page.locator(".compare-verdicts .winner").text_content() == "Winner: Seat1"


def test_a_page_whose_resync_is_refused_asks_again_and_catches_up(page, llm, person, debate_on):
    """The server refuses a resync past its rate (one a second after a burst); the page, which ignores events
    until a snapshot comes, must ask again rather than stay as it is for good."""
    speaking(llm, SPEECH, chunk_delay=0.05)
    debate = debate_on(llm, rounds=1, created_by=person)
    dropped, refused = [], []

    def between(ws) -> None:  # the page's socket, passed on to the real server but for two messages
        server = ws.connect_to_server()
        running = []  # this socket is the page's once the debate started (the start reloads the page)

        def to_page(message) -> None:
            event = json.loads(message)
            if event.get("type") == "snapshot" and event["payload"]["debate"]["status"] != "draft":
                running.append(True)
            elif running and event.get("type") == "turn.started" and not dropped:
                dropped.append(message)  # lost on the way: the next event shows the page a gap
                return
            ws.send(message)

        def to_server(message) -> None:
            if json.loads(message).get("type") == "resync" and not refused:
                refused.append(message)  # answered as the server answers one resync too many
                ws.send(json.dumps({"type": "error", "debate_id": debate.pk, "payload": {
                    "code": "rate_limited", "detail": "Too many resync requests: at most one a second."}}))
                return
            server.send(message)

        server.on_message(to_page)
        ws.on_message(to_server)

    page.route_web_socket(re.compile(r"/ws/debates/"), between)
    sign_in(page, "ada", PASSWORD)
    page.goto(f"/debates/{debate.pk}/")
    page.click("form[data-action=start] button")

    page.locator(".verdict-card .winner").wait_for(timeout=STARTUP_MS)
    assert dropped and refused
    assert page.locator("article.turn .turn-text").all_text_contents() == [SPEECH, SPEECH]
    assert page.locator("#status-badge").text_content() == "completed"
