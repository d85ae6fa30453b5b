"""The `<think>...</think><answer>...</answer>` reply format, parsed defensively.

Model output is untrusted text: it may be empty, unclosed, nested, huge or in any script. Parsing never raises
and never evaluates anything; it reports whether the format was followed so invalid replies are counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_ACTION_CHARS = 2000  # an action longer than this is cut: no benchmark needs more, and records stay small

_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)
ACTION_TAGS = ("<tool_call>", "<answer>")


@dataclass(frozen=True)
class ParsedReply:
    answer: str
    well_formed: bool  # exactly one closed <answer> block


def parse_answer(text: str) -> ParsedReply:
    """The last `<answer>` block's content; without one, the reply minus its thinking, marked malformed."""
    text = text or ""
    blocks = _ANSWER.findall(text)
    closed = len(re.findall(r"</answer>", text, re.IGNORECASE))
    if blocks:
        answer = blocks[-1]
        well_formed = len(blocks) == 1 and closed == 1
    else:
        answer = _THINK.sub(" ", text)
        well_formed = False
    answer = " ".join(_TAG.sub(" ", answer).split())
    return ParsedReply(answer=answer[:MAX_ACTION_CHARS], well_formed=well_formed)


def restore_stop(text: str, stops: Sequence[str] = ("</tool_call>", "</answer>")) -> str:
    """Re-append the closing tag a backend cut as a stop string (as the OpenAI API does), if the last opened action
    block is unclosed and its closing tag was one of the request's `stops`."""
    opened = max(ACTION_TAGS, key=text.rfind)
    start = text.rfind(opened)
    closing = "</" + opened[1:]
    if start == -1 or closing not in stops or text.find(closing, start) != -1:
        return text
    return text + closing
