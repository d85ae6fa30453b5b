from hypothesis import given, settings
from hypothesis import strategies as st

from agents.protocol import MAX_ACTION_CHARS, parse_answer


def test_well_formed():
    reply = parse_answer("<think>the capital</think>\n<answer> Paris </answer>")
    assert reply.answer == "Paris" and reply.well_formed


def test_unclosed_missing_and_several_blocks():
    assert parse_answer("<think>x</think><answer>Paris").answer == "Paris"
    assert not parse_answer("<think>x</think><answer>Paris").well_formed
    plain = parse_answer("<think>hmm</think> Paris")
    assert plain.answer == "Paris" and not plain.well_formed
    several = parse_answer("<answer>a</answer><answer>b</answer>")
    assert several.answer == "b" and not several.well_formed
    assert parse_answer("").answer == "" and parse_answer(None).answer == ""  # type: ignore[arg-type]


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(), max_size=300) | st.lists(
    st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", "x", " ", "é", "\u202e", "{"]), max_size=40
).map("".join))
def test_never_raises_and_bounded(text):
    reply = parse_answer(text * 20)
    assert isinstance(reply.answer, str) and len(reply.answer) <= MAX_ACTION_CHARS
    assert "<answer>" not in reply.answer.lower()


def test_restore_stop_only_restores_the_requested_stop_strings():
    from agents.protocol import restore_stop

    assert restore_stop("<think>t</think><answer>Paris", ("</answer>",)) == "<think>t</think><answer>Paris</answer>"
    assert restore_stop("<answer>a</answer> then", ("</answer>",)) == "<answer>a</answer> then"
    assert restore_stop("<answer>x <tool_call>[", ("</answer>",)) == "<answer>x <tool_call>["  # not a stop here
    assert restore_stop("<answer>x <tool_call>[") == "<answer>x <tool_call>[</tool_call>"
    assert restore_stop("plain text") == "plain text"
