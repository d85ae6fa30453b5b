"""The `<think>...</think><answer>...</answer>` reply format, parsed defensively.

Model output is untrusted text: it may be empty, unclosed, nested, huge or in any script. Parsing never raises
and never evaluates anything; it reports whether the format was followed so invalid replies are counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ACTION_CHARS = 2000  # an action longer than this is cut: no benchmark needs more, and records stay small

_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)


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
