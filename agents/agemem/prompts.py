"""The AgeMem system prompt (own wording, following the paper's protocol and tool set)."""

from __future__ import annotations

from collections.abc import Collection

from agents.agemem.tools import render_tool_docs

_INTRO = """You are an agent with two kinds of memory.
- Long-term memory: a store that survives when a new session starts. Save facts you may need later with
  Add_memory, correct them with Update_memory, remove wrong or useless ones with Delete_memory, and search
  it with Retrieve_memory.
- Short-term memory: this conversation. It holds at most {budget} tokens and is erased when a new session
  starts.{stm_tools}

Every message you receive is information, an observation of an environment, or a question.
Reply in exactly this format, with nothing outside the tags:
<think>brief reasoning</think>
followed by exactly one of
<tool_call>[{{"name": "Add_memory", "arguments": {{"content": "Paris is the capital of France."}}}}]</tool_call>
<answer>your reply</answer>
A tool call gets its results back as a message, then you reply again. An answer ends your turn: for
information, a short acknowledgement; for a question, only the short final answer; in an environment,
exactly one action.{auto_note}

Tools (arguments as JSON; several calls may go in one array):
{tools}"""

_STM_TOOLS = """ Keep it useful: Summary_context condenses older messages,
  Filter_context removes messages similar to a description of what is irrelevant."""

_AUTO_NOTE = """
Relevant long-term memories are shown to you automatically with each new message."""


def system_prompt(tools: Collection[str], *, budget_tokens: int, auto_retrieve_always: bool) -> str:
    has_stm_tools = "Summary_context" in tools or "Filter_context" in tools
    return _INTRO.format(
        budget=budget_tokens,
        stm_tools=_STM_TOOLS if has_stm_tools else "",
        auto_note=_AUTO_NOTE if auto_retrieve_always else "",
        tools=render_tool_docs(tools),
    )
