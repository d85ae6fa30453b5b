"""ALFWorld game files: the real json_2.1.1 set from the data dir, and self-written fixture games built from specs.

A game is a folder holding `traj_data.json` (task type and targets) and `game.tw-pddl` (JSON: pddl_domain, grammar
with the task sentence filled in, pddl_problem, solvable), the layout ALFWorld's own loader reads.

Fixture games are built at load time from the small specs in fixtures/*.json (rooms as receptacle lists, objects and
where they lie, the goal) with the ALFRED domain and grammar that ship in the installed alfworld wheel (never copied
into this repository), into a cache folder keyed by a hash of everything that goes into them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.errors import SuiteError, require

REAL_FOLDER = "alfworld/json_2.1.1/valid_unseen"
FIXTURE_DIR = Path(__file__).with_name("fixtures")
BUILDER = "agemem-bench alfworld fixture builder v1"  # part of the cache key: bump when the builder's output changes
GAME_FILES = ("game.tw-pddl", "traj_data.json")  # what the env reads (initial_state.pddl is folded into game.tw-pddl)

# ALFWorld's six task types (folder prefix / traj_data task_type) and the short names results are broken down by.
TASK_TYPES = {
    "pick_and_place_simple": "pick_and_place",
    "look_at_obj_in_light": "look_at_obj_in_light",
    "pick_clean_then_place_in_recep": "clean",
    "pick_heat_then_place_in_recep": "heat",
    "pick_cool_then_place_in_recep": "cool",
    "pick_two_obj_and_place": "pick_two",
}
_TASK_RULE = re.compile(r'"task"\s*:\s*\[\s*\{\s*"rhs"\s*:\s*"Your task is to: (.*?)"', re.DOTALL)


@dataclass(frozen=True)
class AlfGame:
    task_id: str
    folder: Path
    task_type: str  # ALFWorld's name, e.g. pick_clean_then_place_in_recep
    object_target: str  # ALFRED class names, e.g. "Mug"; "" when the task has none
    parent_target: str
    toggle_target: str
    goal: str  # the task sentence, e.g. "put a mug in desk."
    plan_length: int  # reference plan: ALFRED's high-level expert plan (real) or the spec's reference plan (fixture)
    fixture: bool
    reference_plan: tuple[str, ...] = ()  # fixture only: commands that solve the game (checked by tests)

    @property
    def game_file(self) -> Path:
        return self.folder / "game.tw-pddl"

    def info(self) -> dict[str, Any]:
        return {
            "task_type": TASK_TYPES[self.task_type],
            "alfworld_task_type": self.task_type,
            "object": self.object_target,
            "receptacle": self.parent_target,
            "toggle": self.toggle_target,
            "goal": self.goal,
            "expert_plan_length": self.plan_length,
            "fixture": self.fixture,
            "source": "ALFWorld-style fixture (self-written)" if self.fixture else "ALFWorld json_2.1.1 valid_unseen",
        }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SuiteError(f"alfworld game file '{path}' is missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(f"alfworld game file '{path}' is not readable JSON: {exc}") from exc


def _goal_sentence(grammar: str, where: Path) -> str:
    match = _TASK_RULE.search(grammar)
    if match is None or "UNKNOWN GOAL" in match.group(1):
        raise SuiteError(f"alfworld game '{where}' has no task sentence in its grammar")
    return match.group(1).strip()


def _alfred_plan_length(traj: dict[str, Any]) -> int:
    """Steps of ALFRED's high-level expert plan (GotoLocation, PickupObject, ...) without the closing NoOp."""
    plan = traj.get("plan")
    steps = plan.get("high_pddl") if isinstance(plan, dict) else None
    if not isinstance(steps, list):
        return 0
    actions = [step.get("discrete_action") for step in steps if isinstance(step, dict)]
    return sum(1 for action in actions if isinstance(action, dict) and action.get("action") != "NoOp")


def _game_from_folder(task_id: str, folder: Path, fixture: bool) -> AlfGame | None:
    """Read one game folder; None when ALFWorld itself marks the game unsolvable (its loader skips those)."""
    traj = _read_json(folder / "traj_data.json")
    game = _read_json(folder / "game.tw-pddl")
    if not isinstance(traj, dict) or not isinstance(game, dict):
        raise SuiteError(f"alfworld game '{folder}' has malformed traj_data.json or game.tw-pddl")
    missing = [key for key in ("pddl_domain", "grammar", "pddl_problem") if not isinstance(game.get(key), str)]
    if missing:
        raise SuiteError(f"alfworld game '{folder / 'game.tw-pddl'}' lacks {', '.join(missing)}")
    if game.get("solvable") is not True:
        return None
    task_type = traj.get("task_type")
    params = traj.get("pddl_params")
    if task_type not in TASK_TYPES or not isinstance(params, dict):
        raise SuiteError(f"alfworld game '{folder}' has an unsupported task_type {task_type!r}")
    if params.get("object_sliced") or params.get("mrecep_target"):
        raise SuiteError(f"alfworld game '{folder}': sliced or movable-receptacle tasks are not supported")
    reference = tuple(traj.get("agemem_fixture", {}).get("reference_plan", ())) if fixture else ()
    plan_length = len(reference) if fixture else _alfred_plan_length(traj)
    return AlfGame(
        task_id=task_id,
        folder=folder,
        task_type=task_type,
        object_target=str(params.get("object_target") or ""),
        parent_target=str(params.get("parent_target") or ""),
        toggle_target=str(params.get("toggle_target") or ""),
        goal=_goal_sentence(game["grammar"], folder),
        plan_length=plan_length,
        fixture=fixture,
        reference_plan=reference,
    )


def load_real(root: Path) -> tuple[list[AlfGame], list[dict[str, Any]], list[str]]:
    """The games under <root>/alfworld/json_2.1.1/valid_unseen in lexicographic id order, their file hashes, and
    the ids ALFWorld's loader would skip (marked unsolvable)."""
    base = root / REAL_FOLDER
    folders = sorted(path.parent for path in base.glob("*/*/traj_data.json"))
    if not folders:
        raise SuiteError(f"alfworld data folder '{base}' holds no games (<task>/<trial>/traj_data.json)")
    games, files, skipped = [], [], []
    for folder in folders:
        task_id = folder.relative_to(base).as_posix()
        game = _game_from_folder(task_id, folder, fixture=False)
        if game is None:
            skipped.append(task_id)
            continue
        games.append(game)
        files += [{"path": f"{REAL_FOLDER}/{task_id}/{name}", "sha256": sha256(folder / name)} for name in GAME_FILES]
    return games, files, skipped


def game_set_digest(files: list[dict[str, Any]]) -> str:
    """One hash over every file of the set, so two runs can be compared at a glance."""
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda e: e["path"]):
        digest.update(f"{entry['path']}\0{entry['sha256']}\n".encode())
    return digest.hexdigest()


# --- fixture games ---------------------------------------------------------------------------------------------------


def wheel_logic() -> tuple[Path, Path]:
    """The ALFRED PDDL domain and text grammar shipped in the installed alfworld wheel."""
    info = require("alfworld.info", "alfworld")
    domain, grammar = Path(info.ALFRED_PDDL_PATH), Path(info.ALFRED_TWL2_PATH)
    if not domain.is_file() or not grammar.is_file():
        raise SuiteError(f"the installed alfworld lacks its ALFRED domain/grammar ({domain}, {grammar})")
    return domain, grammar


def fixture_specs() -> list[Path]:
    return sorted(FIXTURE_DIR.glob("*.json"))


def cache_root(explicit: str | Path | None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("AGEMEM_CACHE") or Path.home() / ".cache" / "agemem-bench") / "alfworld-fixture"


def _mangled(kind: str, number: int, count: int) -> str:
    """An ALFRED-style id whose demangled name is '<kind> <number>' (lower-cased by the env).

    alfworld's Demangler numbers the sorted ids of one class from `count` down to 1, so name k gets suffix count-k+1.
    A sink basin is named like ALFRED's ("Sink_bar_..._bar_SinkBasin"): the demangler appends "basin" itself.
    """
    suffix = count - number + 1
    if kind.endswith("Basin"):
        stem = kind[: -len("Basin")]
        return f"{stem}_bar__plus_{suffix:02d}_dot_00_bar_{kind}"
    return f"{kind}_bar__plus_{suffix:02d}_dot_00"


def build_fixture(spec: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    """(PDDL problem text, traj_data) of one spec, checked against ALFRED's compatibility tables."""
    constants = require("alfworld.gen.constants", "alfworld")
    goals = require("alfworld.gen.goal_library", "alfworld")
    task_type = spec.get("task_type")
    if task_type not in TASK_TYPES:
        raise SuiteError(f"alfworld fixture '{name}': unknown task_type {task_type!r}")
    known = set(constants.OBJECTS)
    rtypes = set(constants.RECEPTACLES) - set(constants.MOVABLE_RECEPTACLES)  # as ALFRED's problems declare them
    otypes = known - rtypes
    receptacle_kinds = list(spec.get("receptacles", []))
    objects = list(spec.get("objects", []))
    for kind, allowed in [(k, rtypes) for k in receptacle_kinds] + [(o.get("type"), otypes) for o in objects]:
        if kind not in allowed:
            raise SuiteError(f"alfworld fixture '{name}': '{kind}' is not an ALFRED receptacle/object class here")
    counts = Counter(receptacle_kinds)
    receptacles: dict[str, tuple[str, str, str]] = {}  # "drawer 2" -> (id, kind, location)
    seen: Counter[str] = Counter()
    for index, kind in enumerate(receptacle_kinds, start=1):
        seen[kind] += 1
        rid = _mangled(kind, seen[kind], counts[kind])
        receptacles[f"{kind.lower()} {seen[kind]}"] = (rid, kind, f"loc_bar_{index}_bar_0_bar_0_bar_0")
    object_counts = Counter(obj["type"] for obj in objects)
    placed: list[tuple[str, str, str]] = []  # (id, kind, receptacle name)
    seen.clear()
    for obj in objects:
        kind, where = obj["type"], obj.get("in", "")
        if where not in receptacles:
            raise SuiteError(f"alfworld fixture '{name}': {kind} is in unknown receptacle '{where}'")
        pickupable = kind not in constants.VAL_ACTION_OBJECTS["Toggleable"]
        holder = receptacles[where][1]
        if pickupable and kind not in constants.VAL_RECEPTACLE_OBJECTS.get(holder, set()):
            raise SuiteError(f"alfworld fixture '{name}': a {kind} cannot be in a {holder} (ALFRED's tables)")
        seen[kind] += 1
        placed.append((_mangled(kind, seen[kind], object_counts[kind]), kind, where))
    for role in ("object_target", "parent_target", "toggle_target"):
        if spec.get(role) and spec[role] not in known:
            raise SuiteError(f"alfworld fixture '{name}': {role} '{spec[role]}' is not an ALFRED object class")

    lines = [
        "(define (problem fixture_" + re.sub(r"\W", "_", name) + ")",
        "(:domain alfred)",
        "(:objects",
        "agent1 - agent",
    ]
    lines += [f"{kind}Type - otype" for kind in sorted(otypes)] + [f"{kind}Type - rtype" for kind in sorted(rtypes)]
    lines += [f"{oid} - object" for oid, _, _ in placed]
    lines += [f"{rid} - receptacle" for rid, _, _ in receptacles.values()]
    lines += ["loc_bar_0_bar_0_bar_0_bar_0 - location"] + [f"{loc} - location" for _, _, loc in receptacles.values()]
    lines += [")", "(:init", "(atLocation agent1 loc_bar_0_bar_0_bar_0_bar_0)"]
    for rid, kind, loc in receptacles.values():
        lines += [f"(receptacleType {rid} {kind}Type)", f"(receptacleAtLocation {rid} {loc})"]
        if kind in constants.OPENABLE_CLASS_LIST:
            lines.append(f"(openable {rid})")
    placed_kinds = sorted({kind for _, kind, _ in placed})
    for holder in sorted(set(receptacle_kinds)):
        allowed = constants.VAL_RECEPTACLE_OBJECTS.get(holder, set())
        lines += [f"(canContain {holder}Type {kind}Type)" for kind in placed_kinds if kind in allowed]
    actions = constants.VAL_ACTION_OBJECTS
    for oid, kind, where in placed:
        rid, _, loc = receptacles[where]
        lines += [f"(objectType {oid} {kind}Type)", f"(inReceptacle {oid} {rid})", f"(objectAtLocation {oid} {loc})"]
        for flag, table in (("cleanable", "Cleanable"), ("heatable", "Heatable"), ("coolable", "Coolable")):
            if kind in actions[table]:
                lines.append(f"({flag} {oid})")
        if kind in actions["Toggleable"]:
            lines.append(f"(toggleable {oid})")
        else:
            lines.append(f"(pickupable {oid})")
        if kind in constants.RECEPTACLES:
            lines.append(f"(isReceptacleObject {oid})")
    lines.append(")")
    goal = goals.gdict[task_type]["pddl"].format(
        obj=spec.get("object_target", ""), recep=spec.get("parent_target", ""),
        toggle=spec.get("toggle_target", ""), mrecep="",
    ).replace("#", "-")  # fmt: skip
    problem = "\n".join(lines) + "\n" + goal
    task = str(spec.get("task", "")).strip().rstrip(".")
    if not task:
        raise SuiteError(f"alfworld fixture '{name}' has no task sentence")
    traj = {
        "task_id": f"fixture_{name}",
        "task_type": task_type,
        "pddl_params": {
            "object_target": spec.get("object_target", ""),
            "parent_target": spec.get("parent_target", ""),
            "toggle_target": spec.get("toggle_target", ""),
            "mrecep_target": "",
            "object_sliced": False,
        },
        "turk_annotations": {"anns": [{"task_desc": task, "high_descs": [], "votes": []}]},
        "agemem_fixture": {"spec": name, "reference_plan": list(spec.get("reference_plan", [])), "builder": BUILDER},
    }
    return problem, traj


def load_fixture(cache: str | Path | None) -> tuple[list[AlfGame], list[dict[str, Any]], Path]:
    """Build (or reuse) every fixture game in the cache; returns the games, the hashed inputs and the build folder."""
    domain_path, grammar_path = wheel_logic()
    domain, grammar = domain_path.read_text(encoding="utf-8"), grammar_path.read_text(encoding="utf-8")
    specs = fixture_specs()
    inputs = [{"path": f"benchmarks/alfworld/fixtures/{p.name}", "sha256": sha256(p)} for p in specs]
    inputs += [
        {"path": f"site-packages/alfworld/data/{domain_path.name}", "sha256": sha256(domain_path)},
        {"path": f"site-packages/alfworld/data/{grammar_path.name}", "sha256": sha256(grammar_path)},
    ]
    key = hashlib.sha256((BUILDER + game_set_digest(inputs)).encode()).hexdigest()[:16]
    folder = cache_root(cache) / key
    if not all((folder / p.stem / name).is_file() for p in specs for name in GAME_FILES):
        _build_all(specs, domain, grammar, folder)
    games = []
    for path in specs:
        game = _game_from_folder(path.stem, folder / path.stem, fixture=True)
        if game is None:
            raise SuiteError(f"alfworld fixture '{path.stem}' was built unsolvable")
        games.append(game)
    return games, inputs, folder


def _build_all(specs: list[Path], domain: str, grammar: str, folder: Path) -> None:
    """Write the games into a temporary sibling and rename it into place, so readers never see half a build."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    except OSError as exc:
        raise SuiteError(f"cannot create the alfworld fixture cache under '{folder.parent}': {exc}") from exc
    try:
        for path in specs:
            spec = _read_json(path)
            problem, traj = build_fixture(spec, path.stem)
            task = traj["turk_annotations"]["anns"][0]["task_desc"]
            game = {
                "pddl_domain": domain,
                "grammar": grammar.replace("UNKNOWN GOAL", task),
                "pddl_problem": problem,
                "solvable": True,  # checked by tests: the planner expert and the reference plan both win
            }
            target = staging / path.stem
            target.mkdir()
            (target / "initial_state.pddl").write_text(problem, encoding="utf-8")
            (target / "traj_data.json").write_text(json.dumps(traj, indent=1), encoding="utf-8")
            (target / "game.tw-pddl").write_text(json.dumps(game), encoding="utf-8")
        try:
            staging.rename(folder)
        except OSError:  # another process finished the same build first: theirs is identical
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
