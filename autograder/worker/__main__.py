"""``python -I -m autograder.worker``: a worker (``--reply-fd``) or a template (``--template``)."""

from __future__ import annotations

import argparse
import json
import sys

from autograder.worker.forkserver import template
from autograder.worker.serve import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograder.worker")
    parser.add_argument("--reply-fd", type=int)
    parser.add_argument("--jail", default="{}", help="JSON settings for autograder.worker.jail")
    parser.add_argument("--template", type=int, metavar="CONTROL_FD",
                        help="serve as a fork server on this Unix socket")
    options = parser.parse_args(argv)
    if options.template is not None:
        return template(options.template)
    if options.reply_fd is None:
        parser.error("--reply-fd or --template is required")
    return serve(json.loads(options.jail), options.reply_fd)


if __name__ == "__main__":
    sys.exit(main())
