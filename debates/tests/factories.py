import factory

from debates.models import Debate, Persona, Seat
from providers.tests.factories import LLMModelFactory


class PersonaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Persona

    slug = factory.Sequence(lambda n: f"persona-{n}")
    name = factory.Sequence(lambda n: f"Persona {n}")
    prompt_template = "You argue {stance} with great care."


class DebateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Debate

    topic = "Cities should ban cars from their centres"
    rounds = 2
    judge_model = factory.SubFactory(LLMModelFactory)


class SeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seat

    debate = factory.SubFactory(DebateFactory)
    position = factory.Sequence(lambda n: n + 1)
    display_name = factory.Sequence(lambda n: f"Speaker {n}")
    stance = "for"
    system_prompt = "You are a debater."
    model = factory.SubFactory(LLMModelFactory)
    temperature = 0.0
    max_tokens = 100
