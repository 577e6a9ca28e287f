"""Structural fixes found by the independent blind2 measurement (benchmarks/data/BLIND2.md).

Each test pins one error *category* a real user hits, with prompts written for the test (never
copied from blind2): non-English asks with no English keyword, a reply to (or a continuation
of) pasted text, translating pasted text that names itself ("this email"), elliptic follow-ups
after an assistant's code or calculation, liar puzzles that "say" things, git errors pasted
alone, and a "think step by step" system prompt.
"""

from __future__ import annotations

import pytest

from zeta_router.analysis import HeuristicAnalyzer, Prompt, prompt_from_messages
from zeta_router.analysis.features import extract, split_ask

LETTER = (
    "Dear Mr Okafor,\n"
    "I am writing about the invoice we received for the June maintenance visit. It lists six "
    "hours of labour, but your technician was on site for a little under three hours, which our "
    "visitor log confirms. The invoice also charges for a replacement valve that, as far as we "
    "can tell, was never fitted; the old valve is still in place.\n"
    "We have always been happy with your service and would like to settle this quickly. Could "
    "you send a corrected invoice, or explain the difference, by the end of the month?\n"
    "Kind regards,\n"
    "Hanne Lindqvist, Facilities, Brookfield School"
)

TALE = (
    "The ferryman had not spoken to anyone in three winters. He rowed the travellers across the "
    "grey river, took their coins, and turned back without a word. The villagers said he had "
    "lost his voice the night his daughter left for the city, and that he waited at the landing "
    "each dusk in case she came home. One evening in early spring a young woman in a green coat "
    "stepped into his boat. She did not pay. Halfway across she took a folded letter from her "
    "sleeve, put it on the bench between them, and looked at the water as if she were the one "
    "who could not speak.\n"
)


def heuristic(prompt: Prompt) -> str:
    return HeuristicAnalyzer().analyze(prompt).task


def chat(*turns: tuple[str, str]) -> Prompt:
    return prompt_from_messages([{"role": r, "content": c} for r, c in turns])


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("Напиши функцию на питоне, которая удаляет дубликаты из списка", "code"),
        ("Докажи, что произведение двух нечётных чисел нечётно.", "reasoning"),
        ("Сколько дней нужно 4 рабочим, если 6 рабочих делают работу за 10 дней?", "reasoning"),
        (
            "次の文章を要約してください。\n\n"
            + "市立図書館は来年の春に改装工事のため三か月間休館する。" * 4,
            "retrieval",
        ),
        (
            "AとBのどちらかが嘘つきです。Aは「Bは正直者だ」と言いました。嘘つきはどちら？",
            "reasoning",
        ),
    ],
)
def test_non_english_asks_without_english_keywords(text: str, task: str) -> None:
    assert heuristic(Prompt.from_text(text)) == task


def test_reply_to_pasted_letter_is_retrieval_but_politer_letter_is_simple() -> None:
    reply = LETTER + "\n\nwrite a polite reply, we will reissue the invoice next week"
    f = extract(Prompt.from_text(reply))
    assert f.reply_ask and f.transform_ask
    assert heuristic(Prompt.from_text(reply)) == "retrieval"
    assert heuristic(Prompt.from_text("make this letter more polite:\n\n" + LETTER)) == "simple"


def test_translating_text_that_names_itself_is_still_a_rewrite() -> None:
    # "this email" / "the article" refer to the text, but translating it is not reading it.
    text = "Please translate this email into French:\n\n" + LETTER
    assert extract(Prompt.from_text(text)).retrieval_ask
    assert heuristic(Prompt.from_text(text)) == "simple"


def test_continuing_a_pasted_story_is_retrieval() -> None:
    prompt = chat(
        ("user", TALE),
        ("assistant", "A lovely, quiet opening. What should I do with it?"),
        ("user", "continue it, same tone, about 300 words"),
    )
    assert heuristic(prompt) == "retrieval"


def test_elliptic_follow_up_after_a_code_answer_stays_code() -> None:
    prompt = chat(
        ("user", "sort the people by age"),
        ("assistant", "```python\npeople.sort(key=lambda p: p['age'])\nprint(people)\n```"),
        ("user", "and oldest first?"),
    )
    assert extract(prompt).context_code >= 2
    assert heuristic(prompt) == "code"


def test_elliptic_follow_up_after_a_pasted_document_is_not_code() -> None:
    # Topic words of a pasted article ("library", "closure", "index") are no programming chat.
    article = (
        "The council approved the closure of the library branch on Mill Road. The index of "
        "visits fell by a third since 2016, and the building needs a new roof. Staff will move "
        "to the central library, and a mobile library will stop in the area twice a week. "
        "Residents collected 900 signatures against the plan."
    )
    prompt = chat(
        ("user", article),
        ("assistant", "Got it."),
        ("user", "how many signatures did they collect?"),
    )
    assert heuristic(prompt) == "retrieval"


def test_liar_puzzle_that_says_things_is_reasoning() -> None:
    text = (
        "In a town every person either always lies or always tells the truth. Ana says 'Ben "
        "lies'. Ben says 'Ana and I are alike'. What is each of them?"
    )
    assert heuristic(Prompt.from_text(text)) == "reasoning"


def test_git_rejection_pasted_alone_is_code() -> None:
    text = (
        " ! [rejected]        feature/login -> feature/login (non-fast-forward)\n"
        "error: failed to push some refs to 'gitlab.example.com:team/app.git'"
    )
    f = extract(Prompt.from_text(text))
    assert f.traceback
    assert heuristic(Prompt.from_text(text)) == "code"


def test_step_by_step_system_prompt_counts_for_reasoning() -> None:
    prompt = chat(
        ("system", "Solve the problem. Think step by step."),
        ("user", "A tank holds 240 litres and leaks 3 litres an hour. When is it half empty?"),
    )
    assert extract(prompt).context_reason > 0
    assert heuristic(prompt) == "reasoning"


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        (
            chat(
                ("user", TALE),
                ("assistant", "A lovely, quiet opening. What should I do with it?"),
                ("user", "continue it, same tone, about 300 words"),
            ),
            "retrieval",
        ),
        (Prompt.from_text(LETTER + "\n\nwrite a polite reply, we will reissue it"), "retrieval"),
        (Prompt.from_text("Please translate this email into French:\n\n" + LETTER), "simple"),
        (Prompt.from_text("Напиши функцию на питоне, которая удаляет дубликаты"), "code"),
    ],
)
def test_semantic_follows_the_blind2_fixes(prompt: Prompt, task: str) -> None:
    pytest.importorskip("numpy")
    from zeta_router.analysis.embedder import StaticEmbedder
    from zeta_router.analysis.semantic import Head, SemanticAnalyzer

    assert SemanticAnalyzer(StaticEmbedder(), Head.load()).analyze(prompt).task == task


def test_long_first_person_request_in_one_paragraph_is_the_ask() -> None:
    request = (
        "My brother and I inherited our parents' small flat and we can't agree what to do with "
        "it. I'd like to sell it now while prices are high and split the money, because I need "
        "a deposit for my own place in the next year. He wants to keep it and rent it out, "
        "since the rent would cover the service charge and leave about 450 a month to share, "
        "and he thinks prices will keep rising. The flat needs a new kitchen before anyone "
        "would rent it, maybe 8,000, and neither of us has that in cash. We also get on well "
        "and I really don't want this to turn into a fight. Could you help me lay out the "
        "options fairly, including one of us buying the other out, what each costs or earns "
        "over five years, and the risks on each side, so we can sit down with the numbers in "
        "front of us? We are both reasonable people but we see the risk very differently, and "
        "I suspect we are each underestimating something. Please be honest about the "
        "weaknesses of my position too, and show your reasoning rather than a verdict. For "
        "context, the flat is in a town with a university, so there is steady demand from "
        "students, but the building has had problems with damp, and the management company "
        "has warned that the roof may need work within three years, shared between owners."
    )
    assert len(request) > 1200 and "\n" not in request
    body, _ = split_ask(request)
    assert body == ""
    assert heuristic(Prompt.from_text(request)) == "reasoning"


def test_question_first_then_pasted_passage_is_retrieval() -> None:
    text = (
        "Segundo a ata, quantos sócios votaram a favor da proposta de aumento?\n\n"
        "Na assembleia de sábado estiveram presentes 41 sócios do clube. A proposta de aumentar "
        "a mensalidade em 8 reais foi aprovada com 29 votos a favor, 9 contra e 3 abstenções. "
        "As obras no campo começam em maio."
    )
    body, _ = split_ask(text)
    assert "assembleia" in body
    assert heuristic(Prompt.from_text(text)) == "retrieval"


def test_what_has_but_cannot_riddle_is_reasoning() -> None:
    assert heuristic(Prompt.from_text("what has teeth but can't bite")) == "reasoning"


def test_regex_answer_is_no_worked_calculation() -> None:
    # "[0-5]" and "2[0-3]" in an assistant's regex look like arithmetic to the math pattern.
    prompt = chat(
        ("user", "a regex for a 24h time like 23:59"),
        ("assistant", "^([01]\\d|2[0-3]):[0-5]\\d$"),
        ("user", "and seconds optional"),
    )
    assert extract(prompt).context_math == 0
    assert heuristic(prompt) == "code"


def test_semantic_features_flag_elliptic_follow_ups() -> None:
    pytest.importorskip("numpy")
    from zeta_router.analysis.semantic import FEATURE_COUNT, feature_vector

    follow_up = chat(
        ("user", "sort the people by age"),
        ("assistant", "```python\npeople.sort(key=lambda p: p['age'])\n```"),
        ("user", "and oldest first?"),
    )
    x = feature_vector(extract(follow_up))
    assert len(x) == FEATURE_COUNT
    code_follow_up = 36  # position of the flag in feature_vector()
    assert x[code_follow_up] == 1.0  # follow-up after code
    # The same words as a first message are no follow-up.
    assert feature_vector(extract(Prompt.from_text("and oldest first?")))[code_follow_up] == 0.0
