"""One model load at a time per process.

transformers' `from_pretrained` monkeypatches process-global state while it runs (torch.nn.init functions and
`PreTrainedModel.init_weights` / `tie_weights` are swapped for no-ops, then restored). Two threads loading at once
can restore each other's no-ops, and from then on every load in the process silently gets uninitialised, untied
weights (seen here: a memory baseline's episode threads loading MiniLM left the next model with a garbage
lm_head). Memory libraries load models inside their own calls, so the lock goes on `from_pretrained` itself.
"""

from __future__ import annotations

import functools
import threading

_lock = threading.RLock()  # re-entrant: a load may load sub-models
_installed = False


def serialize_model_loading() -> None:
    """Make every `PreTrainedModel.from_pretrained` in this process take one lock (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from transformers import PreTrainedModel

        original = PreTrainedModel.from_pretrained.__func__

        @functools.wraps(original)
        def locked(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
            with _lock:
                return original(cls, *args, **kwargs)

        PreTrainedModel.from_pretrained = classmethod(locked)  # type: ignore[assignment]
        _installed = True
