"""``autograder catalogue RESULTS_DIR GROUP --id ID``: a group of answers becomes a mistake.

The group of the class's unexplained answers (:mod:`.groups`, as the report names it) is
found again from the regrade's folder; its example submission's code becomes the mistake's
example in the problem's ``mistakes.py`` (:mod:`.example_code`: the function renamed to the
id with dashes as underscores, with the problem's parameters and what it uses), and a
``mistakes:`` entry is added to ``problem.yaml`` with ``detect: {variant: <function>}`` and
a summary and fix marked TO FILL IN. Both files are added to as text (the YAML is never
dumped again, so its comments and layout stay), and the problem is loaded again before the
command returns: on any error both files are put back as they were. An id or function
already there is refused, never overwritten. ``autograder validate`` then proves the
mistake is recognised. The files written name no submission: a problem bank is shared more
widely than grades.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from autograder.errors import GraderError, SpecError, UsageError
from autograder.files import parse_python, write_atomically
from autograder.spec import LoadedProblem, discover_problems, load_problem
from autograder.staff.authoring import TO_FILL_IN
from autograder.staff.example_code import binds, example, extract
from autograder.staff.gradebook import RECORD
from autograder.staff.groups import Group, load_groups

MISTAKE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Catalogued:
    """What the command added, for the message that says so."""

    problem: LoadedProblem
    group: Group
    mistake: str
    function: str
    index: int  # of the new entry in ``mistakes``
    imports: int
    helpers: int
    notes: tuple[str, ...]


def find_group(results_dir: Path, group_id: str) -> Group:
    found = load_groups(results_dir)
    group = found.find(group_id)
    if group is None:
        listed = ", ".join(f"{g.id} ({g.size})" for g in found.groups[:8])
        more = ", ..." if len(found.groups) > 8 else ""
        raise UsageError(f"no group {group_id!r} in {results_dir}: "
                         + (f"its groups are {listed}{more} (see its report.html)" if listed
                            else "it has no unexplained answers (is it a regrade's folder?)"))
    if not group.has_output:
        raise UsageError(f"the group {group.id} kept no output ({', '.join(group.failures)}: "
                         "an error, or an output over 64 kB): a `variant` rule compares "
                         "outputs, so it cannot recognise these; declare the mistake by hand, "
                         "with an `error:` or `has`/`lacks` rule (docs/authoring.md)")
    return group


def find_problem(problems_dir: Path, function: str) -> LoadedProblem:
    for folder in discover_problems(problems_dir):
        try:
            problem = load_problem(folder)
        except SpecError:
            continue
        if problem.spec.function == function:
            return problem
    raise UsageError(f"no problem in {problems_dir} grades `{function}` (give the bank the "
                     "regrade used: --problems DIR)")


def submission_folder(results_dir: Path, submission: str) -> Path:
    """Where the regrade found the submission (its record says; else its extraction)."""
    try:
        path = json.loads((results_dir / "submissions" / submission / RECORD)
                          .read_text(encoding="utf-8")).get("path")
    except (OSError, ValueError):
        path = None
    if path and Path(path).is_dir():
        return Path(path)
    found = [p for p in (results_dir / "export").rglob(submission) if p.is_dir()]
    if not found:
        raise UsageError(f"the files of {submission} are not where the regrade found them; "
                         f"regrade again from the export to {results_dir}")
    return found[0]


def _entry(mistake: str, function: str, group: Group, dash: int, key: int) -> list[str]:
    pad = " " * key
    return [" " * dash + "-" + " " * (key - dash - 1) + f"id: {mistake}",
            f"{pad}# From `autograder catalogue`: the answer of group {group.id} "
            f"({group.size} submission(s)).",
            f'{pad}summary: "{TO_FILL_IN}: what went wrong, in one sentence to the student."',
            f"{pad}fix: |",
            f"{pad}  {TO_FILL_IN}: why it is wrong and how to fix it, with code.",
            f"{pad}detect: {{variant: {function}}}"]


def _last_line(lines: list[str], node: yaml.Node, column: int) -> int:
    """The last line (0-based) of ``node``'s own text, trailing comments and blank lines
    left out; ``column``: the indentation of the key or dash that holds it."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        key, value = node.value[-1]
        return _last_line(lines, value, key.start_mark.column)
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _last_line(lines, node.value[-1], node.start_mark.column)
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        last = node.start_mark.line
        for i in range(node.start_mark.line + 1, min(node.end_mark.line + 1, len(lines))):
            text = lines[i]
            if text.strip() and len(text) - len(text.lstrip()) > column:
                last = i
            elif text.strip():
                break
        return last
    end = node.end_mark
    return end.line if end.column > 0 else end.line - 1


def append_entry(text: str, mistake: str, function: str, group: Group, where: Path) -> str:
    """``text`` (a problem.yaml) with a ``mistakes:`` entry added after the last one."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        raise UsageError(f"{where} is not a mapping")
    lines = text.splitlines()
    value = next((v for k, v in root.value if k.value == "mistakes"), None)
    if value is None:
        block = ["", "mistakes:", *_entry(mistake, function, group, 2, 4)]
        return text.rstrip("\n") + "\n" + "\n".join(block) + "\n"
    if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
        first = value.value[0]
        at = _last_line(lines, value, value.start_mark.column)
        block = _entry(mistake, function, group, value.start_mark.column,
                       first.start_mark.column if isinstance(first, yaml.MappingNode)
                       else value.start_mark.column + 2)
        return "\n".join([*lines[:at + 1], *block, *lines[at + 1:]]) + "\n"
    empty = (isinstance(value, yaml.SequenceNode) and not value.value) or (
        isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null"))
    if not empty:
        raise UsageError(f"{where}: `mistakes` is not a block list (`- id: ...` items): write "
                         "it as one, then run the command again")
    key = next(k for k, v in root.value if k.value == "mistakes")
    line = key.start_mark.line
    cut = lines[line]
    if value.start_mark.line == line:  # ``mistakes: []``, with what follows it (a comment)
        rest = cut[value.end_mark.column:].strip()
        cut = cut[:value.start_mark.column].rstrip() + ("  " + rest if rest else "")
    block = _entry(mistake, function, group, key.start_mark.column + 2,
                   key.start_mark.column + 4)
    return "\n".join([*lines[:line], cut, *block, *lines[line + 1:]]) + "\n"


_HEADER = ("# Mistake `{id}`, from `autograder catalogue`: the answer of group {group}\n"
           "# ({size} submission(s)), its example's code renamed. " + TO_FILL_IN + ": the\n"
           "# mistake it makes, in a sentence. It is a student's code: read it before you\n"
           "# validate (mistakes.py runs on the grader's trusted side).\n")


def top_level_names(tree: ast.Module | None) -> set[str]:
    """The names a module binds at its top level (definitions, assignments, imports)."""
    return {name for node in (tree.body if tree else []) for name in binds(node)}


def _add_imports(text: str, imports: tuple[str, ...], tree: ast.Module | None) -> str:
    if not imports:
        return text
    lines = text.splitlines()
    body = tree.body if tree else []
    last = [n for n in body if isinstance(n, ast.Import | ast.ImportFrom)]
    docstring = body[:1] if body and isinstance(body[0], ast.Expr) and isinstance(
        getattr(body[0], "value", None), ast.Constant) else []
    after = (last[-1].end_lineno or 0) if last else (
        (docstring[0].end_lineno or 0) if docstring else 0)
    block = ([""] if after and not last else []) + list(imports)
    return "\n".join([*lines[:after], *block, *lines[after:]]) + "\n"


def catalogue(results_dir: Path, group_id: str, mistake: str,
              problems_dir: Path) -> Catalogued:
    """Add the group's answer to its problem's catalogue as ``mistake``."""
    if not MISTAKE_ID.match(mistake):
        raise UsageError(f"{mistake!r} cannot be a mistake id: lowercase words joined by "
                         "dashes, e.g. relu-after-linear")
    group = find_group(results_dir, group_id)
    problem = find_problem(problems_dir, group.problem)
    if any(m.id == mistake for m in problem.spec.mistakes):
        raise UsageError(f"{problem.spec_path} already declares the mistake {mistake!r}: "
                         "choose another id (the catalogue is never overwritten)")
    function = mistake.replace("-", "_")
    source = submission_folder(results_dir, group.example.submission)
    extracted = extract(source, group.problem)
    spec_text = problem.spec_path.read_text(encoding="utf-8")
    path = problem.mistakes_path
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        tree = parse_python(old) if old is not None else None
    except SyntaxError as exc:
        raise UsageError(f"{path} does not parse (line {exc.lineno}: {exc.msg}): fix it "
                         "first") from None
    if function in top_level_names(tree):
        raise UsageError(f"{path} already defines `{function}`: choose another id (a "
                         "mistake's example is never overwritten)")
    made = example(extracted, function, problem.spec.parameter_names, tree,
                   _HEADER.format(id=mistake, size=group.size, group=group.id))
    base = old if old is not None else (f'"""Known-wrong versions of {group.problem}, each '
                                        'making one mistake of the catalogue."""\n')
    text = _add_imports(base, made.imports, tree).rstrip("\n") + "\n\n\n" + made.body + "\n"
    parse_python(text)  # what it adds parses, or nothing is written
    new_spec = append_entry(spec_text, mistake, function, group, problem.spec_path)
    mode = problem.spec_path.stat().st_mode & 0o777
    try:
        write_atomically(path, text, path.stat().st_mode & 0o777 if old is not None else mode)
        write_atomically(problem.spec_path, new_spec, mode)
        loaded = load_problem(problem.directory)
        index = next(i for i, m in enumerate(loaded.spec.mistakes) if m.id == mistake)
    except (GraderError, StopIteration, OSError) as exc:
        write_atomically(problem.spec_path, spec_text, mode)
        if old is None:
            path.unlink(missing_ok=True)
        else:
            write_atomically(path, old, path.stat().st_mode & 0o777)
        raise GraderError(f"the catalogue entry did not load, so nothing was changed: "
                          f"{exc}") from None
    return Catalogued(loaded, group, mistake, function, index, len(made.imports), made.helpers,
                      made.notes)


def said(done: Catalogued) -> list[str]:
    """What the command tells the TA."""
    problem = done.problem
    folder = problem.directory
    also = [f"{n} import(s)" for n in [done.imports] if n] + [
        f"{n} helper(s) it uses" for n in [done.helpers] if n]
    lines = [f"Added the mistake `{done.mistake}` to {folder} from the group {done.group.id} "
             f"({done.group.size} submission(s); its example is {done.group.example.submission}"
             f"'s code):",
             f"  {problem.mistakes_path}: def {done.function}"
             f"({', '.join(problem.spec.parameter_names)})"
             + (f", with {' and '.join(also)}" if also else ""),
             f"  {problem.spec_path}: mistakes[{done.index}], detect: {{variant: "
             f"{done.function}}}"]
    lines += [f"Note: {note}." for note in done.notes]
    lines += ["It is a student's code, and mistakes.py runs on the grader's trusted side: read "
              "it before you validate.",
              f"Next: write the mistake's summary and fix in {problem.spec_path} (marked "
              f"{TO_FILL_IN}), then run `autograder validate {folder}`, which proves the "
              "mistake is recognised on at least one test."]
    return lines
