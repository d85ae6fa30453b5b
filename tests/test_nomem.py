from agents.api import Models
from agents.nomem import NoMemoryAgent, render_observation
from benchmarks.api import Observation, TaskRef
from tests.fakes import ScriptedModel

TASK = TaskRef("hotpotqa", "dev", "t1")


def test_answer_extracted_and_usage_reported():
    model = ScriptedModel("<think>it is Paris</think><answer>Paris</answer>")
    agent = NoMemoryAgent(Models(policy=model))
    agent.reset(TASK)
    step = agent.act(Observation("Question: capital of France?", goal="capital of France?"))
    assert step.action == "Paris" and step.trace["well_formed"]
    assert step.usage["policy"].calls == 1 and step.usage["policy"].prompt_tokens > 0
    assert model.requests[0].stop == ("</answer>",)


def test_new_session_forgets_the_dialogue():
    model = ScriptedModel()
    agent = NoMemoryAgent(Models(policy=model))
    agent.reset(TASK)
    agent.act(Observation("The secret code is 4471."))
    agent.act(Observation("Distractor text.", new_session=True))
    prompt = " ".join(m["content"] for m in model.requests[-1].messages)
    assert "4471" not in prompt and "Distractor" in prompt
    assert agent.episode_stats()["sessions"] == 2


def test_context_truncated_from_the_front_within_budget():
    model = ScriptedModel()
    agent = NoMemoryAgent(Models(policy=model), context_tokens=300, max_new_tokens=10)
    agent.reset(TASK)
    for i in range(30):
        agent.act(Observation(f"turn {i} " + "word " * 20))
    last = model.requests[-1].messages
    assert last[0]["role"] == "system" and last[1]["role"] == "user"
    assert "turn 29" in last[-1]["content"] and "turn 0 " not in " ".join(m["content"] for m in last)
    assert model.count_tokens(last) <= 300 - 10
    assert agent.episode_stats()["truncated_messages"] > 0


def test_malformed_reply_counted_and_reset_clears_stats():
    agent = NoMemoryAgent(Models(policy=ScriptedModel("just text")))
    agent.reset(TASK)
    assert agent.act(Observation("q")).action == "just text"
    assert agent.episode_stats()["malformed_replies"] == 1
    agent.reset(TASK)
    assert agent.episode_stats()["malformed_replies"] == 0


def test_render_observation_shows_goal_and_valid_actions():
    text = render_observation(Observation("You see a door.", goal="open the door", valid_actions=("open door", "look")))
    assert text.startswith("Goal: open the door") and "Valid actions: open door, look" in text


def test_reply_cut_at_the_stop_string_counts_as_well_formed():
    from agents.llm.api import Completion, Usage

    class StopCutModel(ScriptedModel):
        def generate(self, requests):
            return [Completion("<think>t</think><answer>Paris", Usage(1, 1, 1), finish_reason="stop")]

    agent = NoMemoryAgent(Models(policy=StopCutModel()))
    agent.reset(TASK)
    step = agent.act(Observation("q"))
    assert step.action == "Paris" and step.trace["well_formed"]
    assert agent.episode_stats()["malformed_replies"] == 0
