"""Mistakes in routine files are reported as `file:line: field path: what is wrong`, by
the library and by `companion routines validate`, and never as a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from companion.storage.library import Library, RoutineError, load_routine_file, parse_routine

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
name: test_neck
title: Test neck
aliases: [test neck]
areas: [neck]
tool: tennis_ball
steps:
  - kind: sides
    label: base of skull
    steps:
      - kind: repeat
        label: base of skull
        times: 2
        rest_s: 60
        steps:
          - kind: position
            cue: Put the ball under the {side} side of your skull.
          - kind: press
            cue: Let your head sink in.
          - kind: hold
            hold_s: 45
            breaths: 5
            cue: Hold and breathe slowly.
          - kind: release
            cue: Lift your head off the ball.
  - kind: stretch
    label: chin tuck
    stretch_s: 30
    cue: Draw your chin back.
"""


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing needle."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def bad(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def problems(text: str, source: str = "bad.yaml") -> list[str]:
    with pytest.raises(RoutineError) as e:
        parse_routine(text, source)
    assert str(e.value) == "\n".join(e.value.problems)
    return e.value.problems


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, COMPANION_CONFIG_DIR=str(cwd / "config"))
    return subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60)


# --- the library's messages -------------------------------------------------------------

def test_good_text_parses():
    r = parse_routine(GOOD)
    assert r.name == "test_neck"
    assert [p.name for p in r.plan()][:2] == ["position (left, 1/2)", "press (left, 1/2)"]


def test_hold_out_of_range_names_line_and_path():
    text = bad("hold_s: 45", "hold_s: 400")
    assert problems(text) == [f"bad.yaml:{line_of(text, 'hold_s: 400')}: "
                              "steps[0].steps[0].steps[2].hold_s: must be between 5 and 180"]


def test_a_sides_block_that_names_its_sides_keeps_the_path():
    """pydantic's union tag 'sides' is also a field of a sides block: the path read
    steps[0].sides[0] for a hold inside it."""
    text = bad("hold_s: 45", "hold_s: 400").replace(
        "    label: base of skull\n", "    label: base of skull\n    sides: [right, left]\n", 1)
    assert problems(text) == [f"bad.yaml:{line_of(text, 'hold_s: 400')}: "
                              "steps[0].steps[0].steps[2].hold_s: must be between 5 and 180"]


def test_too_many_problems_are_cut_short():
    holds = "".join(f"  - {{kind: hold, cue: c, hold_s: {400 + i}}}\n" for i in range(80))
    text = "name: x\ntitle: t\naliases: [x]\nareas: [a]\ntool: wall\nsteps:\n" + holds
    found = problems(text)
    assert len(found) == 51 and found[-1] == "bad.yaml: ... and 30 more problems"


def test_unknown_field_suggests_the_right_one():
    text = bad("breaths: 5", "breths: 5")
    assert problems(text) == [f"bad.yaml:{line_of(text, 'breths')}: "
                              "steps[0].steps[0].steps[2].breths: unknown field "
                              "(did you mean 'breaths'?)"]


def test_unknown_top_level_field():
    text = bad("title: Test neck", "titel: Test neck")
    got = problems(text)
    assert f"bad.yaml:{line_of(text, 'titel')}: titel: unknown field (did you mean 'title'?)" \
        in got
    assert "bad.yaml: title: required field is missing" in got or \
        any(p.endswith(": title: required field is missing") for p in got)


def test_misspelt_kind():
    text = bad("kind: stretch", "kind: strech")
    (msg,) = problems(text)
    assert msg.startswith(f"bad.yaml:{line_of(text, 'strech')}: steps[1]: kind must be one of:")
    assert "stretch" in msg


def test_kind_not_allowed_inside_a_repeat_lists_only_what_is_allowed():
    text = bad("          - kind: release", "          - kind: sides")
    (msg,) = problems(text)
    assert msg.startswith(f"bad.yaml:{line_of(text, '          - kind: sides')}: "
                          "steps[0].steps[0].steps[3]: kind must be one of: ")
    allowed = msg.split("kind must be one of: ")[1].split(", ")
    assert "release" in allowed and "sides" not in allowed and "repeat" not in allowed


def test_step_without_kind():
    text = bad("  - kind: stretch\n", "  -\n")
    (msg,) = problems(text)
    assert msg == f"bad.yaml:{line_of(text, 'label: chin tuck')}: steps[1]: " \
                  "each step needs a 'kind'"


def test_missing_required_field_points_at_its_step():
    text = bad("    stretch_s: 30\n", "")
    assert problems(text) == [f"bad.yaml:{line_of(text, 'kind: stretch')}: "
                              "steps[1].stretch_s: required field is missing"]


def test_wrong_value_type():
    text = bad("times: 2", "times: twice")
    (msg,) = problems(text)
    assert msg.startswith(f"bad.yaml:{line_of(text, 'twice')}: steps[0].steps[0].times: ")
    assert "integer" in msg


def test_unknown_tool_lists_the_choices():
    text = bad("tool: tennis_ball", "tool: golf_ball")
    (msg,) = problems(text)
    assert msg.startswith(f"bad.yaml:{line_of(text, 'golf_ball')}: tool: ")
    assert "tennis_ball" in msg and "foam_roller" in msg


def test_several_problems_are_all_reported_in_file_order():
    text = bad("hold_s: 45", "hold_s: 2").replace("stretch_s: 30", "stretch_s: 300")
    got = problems(text)
    assert [p.split(":")[1] for p in got] == [str(line_of(text, "hold_s: 2")),
                                              str(line_of(text, "stretch_s: 300"))]


def test_broken_yaml_names_the_line():
    text = bad("aliases: [test neck]", "aliases: [test neck")
    (msg,) = problems(text)
    assert msg.startswith("bad.yaml:") and "not valid YAML" in msg
    assert int(msg.split(":")[1]) >= line_of(text, "aliases")


def test_tab_indentation_names_the_line():
    text = bad("    label: chin tuck", "\tlabel: chin tuck")
    (msg,) = problems(text)
    assert msg.startswith(f"bad.yaml:{line_of(text, 'chin tuck')}: not valid YAML")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a list\n- of things\n",
                                  "just words\n"])
def test_not_a_mapping(text):
    assert problems(text) == ["bad.yaml: a routine file must be a mapping of fields "
                              "(name:, title:, steps: ...)"]


def test_unreadable_file(tmp_path):
    f = tmp_path / "binary.yaml"
    f.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(RoutineError) as e:
        load_routine_file(f)
    assert str(e.value).startswith(f"{f}: cannot read")


def test_library_keeps_good_files_and_reports_bad_ones(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yml").write_text(bad("hold_s: 45", "hold_s: 400"), encoding="utf-8")
    (tmp_path / "readme.txt").write_text("ignored", encoding="utf-8")
    lib = Library([tmp_path])
    assert list(lib.routines) == ["test_neck"]
    assert len(lib.problems) == 1 and lib.problems[0].startswith("bad.yml:")
    assert lib.find("Test Neck").name == "test_neck"
    with pytest.raises(KeyError, match="Known: test_neck"):
        lib.find("elbow")


# --- `companion routines validate` --------------------------------------------------------

def test_validate_reports_each_mistake_and_fails(tmp_path):
    files = {
        "range.yaml": bad("hold_s: 45", "hold_s: 400"),
        "typo.yaml": bad("breaths: 5", "breths: 5"),
        "kind.yaml": bad("kind: stretch", "kind: strech"),
        "broken.yaml": bad("aliases: [test neck]", "aliases: [test neck"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")

    res = run_cli("routines", "validate", "good.yaml", *files, cwd=tmp_path)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stdout.splitlines() == ["ok: good.yaml"]
    err = res.stderr.splitlines()
    assert f"range.yaml:{line_of(files['range.yaml'], 'hold_s')}: " \
           "steps[0].steps[0].steps[2].hold_s: must be between 5 and 180" in err
    assert f"typo.yaml:{line_of(files['typo.yaml'], 'breths')}: " \
           "steps[0].steps[0].steps[2].breths: unknown field (did you mean 'breaths'?)" in err
    assert any(e.startswith(f"kind.yaml:{line_of(files['kind.yaml'], 'strech')}: steps[1]: "
                            "kind must be one of:") for e in err)
    assert any(e.startswith("broken.yaml:") and "not valid YAML" in e for e in err)
    assert len(err) == 4


def test_validate_missing_folder_and_non_yaml(tmp_path):
    (tmp_path / "notes.txt").write_text("Some notes about my neck.\n", encoding="utf-8")
    (tmp_path / "binary.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "folder").mkdir()
    res = run_cli("routines", "validate", "nothere.yaml", "folder", "notes.txt", "binary.yaml",
                  cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
    for expect in ("nothere.yaml: no such file", "folder: is a folder",
                   "notes.txt: routine files must end in .yaml or .yml",
                   "notes.txt: a routine file must be a mapping", "binary.yaml: cannot read"):
        assert expect in res.stderr, res.stderr


def test_validate_warns_about_aliases_a_recognizer_cannot_hear(tmp_path):
    (tmp_path / "odd.yaml").write_text(bad("aliases: [test neck]", "aliases: ['neck #2']"),
                                       encoding="utf-8")
    res = run_cli("routines", "validate", "odd.yaml", cwd=tmp_path)
    assert res.returncode == 0
    assert res.stdout == "ok: odd.yaml\n"
    assert "warning: odd.yaml: aliases: 'neck #2'" in res.stderr


def test_validate_with_no_file_checks_every_routine(tmp_path):
    """Issue 14: `routines validate` alone checks the shipped routines and the user's own,
    one line per file, and fails if any file does."""
    shipped = sorted((REPO / "routines").glob("*.yaml"))
    res = run_cli("routines", "validate", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [f"ok: {f}" for f in shipped]
    assert res.stderr == ""

    user = tmp_path / "config" / "routines"
    user.mkdir(parents=True)
    (user / "good.yaml").write_text(GOOD, encoding="utf-8")
    (user / "range.yaml").write_text(bad("hold_s: 45", "hold_s: 400").replace(
        "name: test_neck", "name: other_neck"), encoding="utf-8")
    res = run_cli("routines", "validate", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stdout.splitlines() == [f"ok: {f}" for f in shipped] + [f"ok: {user / 'good.yaml'}"]
    assert res.stderr.splitlines() == [
        f"range.yaml:{line_of(GOOD, 'hold_s')}: steps[0].steps[0].steps[2].hold_s: "
        "must be between 5 and 180"]


def test_show_a_file_with_mistakes(tmp_path):
    (tmp_path / "range.yaml").write_text(bad("hold_s: 45", "hold_s: 400"), encoding="utf-8")
    res = run_cli("routines", "show", "range.yaml", cwd=tmp_path)
    assert res.returncode != 0
    assert "range.yaml:" in res.stderr and "hold_s: must be between 5 and 180" in res.stderr
    assert "Traceback" not in res.stderr
