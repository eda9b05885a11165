"""Generate a Gradescope-style export of synthetic submissions, for regrade tests and benchmarks.

    python tools/make_export.py --count 200 --output /tmp/export.zip [--problems problems]

Each submission has one file per problem: the reference (correct), one of the problem's
mistake examples (a classic mistake), or something broken (a syntax error, a missing
function, an exception, a crash). ``submission_metadata.yml`` names made-up submitters, as
Gradescope's "Export Submissions" does; ``<output>.truth.json`` records what each file is.
"""

from __future__ import annotations

import argparse
import json
import random
import zipfile
from pathlib import Path

import yaml

from autograder.spec import LoadedProblem, defined_functions, load_problems
from autograder.staff.validate import example_name

BROKEN = {
    "syntax": "def {function}(*args)\n    return None\n",
    "missing": "def {function}_draft(*args):\n    return None\n",
    "raises": "def {function}(*args):\n    raise ValueError('not finished')\n",
    "crash": "import os\n\n\ndef {function}(*args):\n    os.abort()\n",
}


def _mistake_file(problem: LoadedProblem, example: str) -> str:
    params = ", ".join(problem.spec.parameter_names)
    return (problem.mistakes_path.read_text() + f"\n\ndef {problem.spec.function}({params}):\n"
            f"    return {example}({params})\n")


def submission_files(problem: LoadedProblem, kind: str) -> dict[str, str]:
    name = f"{problem.spec.function}.py"
    if kind == "correct":
        return {name: problem.reference_path.read_text()}
    if kind.startswith("mistake:"):
        return {name: _mistake_file(problem, kind.split(":", 1)[1])}
    return {name: BROKEN[kind].format(function=problem.spec.function)}


def choose(problem: LoadedProblem, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return "correct"
    defined = defined_functions(problem.mistakes_path) or set()
    examples = [e for m in problem.spec.mistakes
                if (e := example_name(m, defined)) is not None and e in defined]
    if roll < 0.9 and examples:
        return f"mistake:{rng.choice(examples)}"
    return rng.choice(sorted(BROKEN))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--output", type=Path, required=True, help="the export zip to write")
    parser.add_argument("--problems", type=Path, default=Path("problems"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    problems = load_problems(args.problems)
    rng = random.Random(args.seed)
    metadata = {}
    truth: dict[str, dict[str, str]] = {}
    top = "assignment_export"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.output, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(1, args.count + 1):
            folder = f"submission_{100000 + i}"
            metadata[folder] = {
                ":submitters": [{":name": f"Student {i:03d}", ":sid": f"S{i:05d}",
                                 ":email": f"student{i:03d}@example.edu"}],
                ":created_at": f"2026-11-{1 + i % 20:02d}T10:00:00Z", ":score": 0.0}
            truth[folder] = {}
            for problem in problems:
                kind = choose(problem, rng)
                truth[folder][problem.spec.function] = kind
                for name, text in submission_files(problem, kind).items():
                    archive.writestr(f"{top}/{folder}/{name}", text)
        archive.writestr(f"{top}/submission_metadata.yml",
                         yaml.safe_dump(metadata, sort_keys=True))
    truth_path = args.output.with_name(args.output.name + ".truth.json")
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    print(f"Wrote {args.output} ({args.count} submissions) and {truth_path}")


if __name__ == "__main__":
    main()
