"""Structural check of a declarative Jenkinsfile, offline.

Jenkins validates a Jenkinsfile only with a running Jenkins (its ``declarative-linter``). This
check needs none and catches what breaks a pipeline most often: unbalanced braces, brackets
or parentheses; a missing ``agent``; a misspelt section; a stage without steps; no ``post``.

    python tools/check_jenkinsfile.py [Jenkinsfile]

It reads Groovy only as far as the declarative structure goes: comments and strings are
blanked out first (so braces inside them do not count), then ``name ... {`` blocks are nested.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# The sections a declarative `pipeline { }` may hold, and what a `stage` may hold.
PIPELINE_SECTIONS = frozenset(
    {"agent", "environment", "options", "parameters", "triggers", "tools", "libraries"}
    | {"stages", "post", "input", "when"}
)
STAGE_SECTIONS = frozenset(
    {"agent", "environment", "options", "tools", "input", "when", "post", "failFast"}
    | {"steps", "parallel", "stages", "matrix"}
)
# A stage does its work in exactly one of these.
STAGE_BODIES = frozenset({"steps", "parallel", "stages", "matrix"})
POST_CONDITIONS = frozenset(
    {"always", "changed", "fixed", "regression", "aborted", "failure", "success"}
    | {"unstable", "unsuccessful", "cleanup"}
)
CLOSING = {")": "(", "]": "[", "}": "{"}
# Groovy's string delimiters, longest first so that ''' is not read as '' + '.
QUOTES = ("'''", '"""', "'", '"')
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


class JenkinsfileError(Exception):
    """The text cannot be read as nested blocks (unbalanced delimiters)."""


@dataclass
class Block:
    """A ``head { ... }`` block: ``head`` is the text before the brace, e.g. stage('Test')."""

    head: str
    line: int
    children: list[Block] = field(default_factory=list)
    # The block's own statements: its text outside its child blocks.
    text: str = ""

    @property
    def keyword(self) -> str:
        """The head's first identifier: ``stage`` for ``stage('Test')``."""
        match = IDENTIFIER.match(self.head)
        return match.group(0) if match else ""

    def child(self, keyword: str) -> Block | None:
        """The first child block with this keyword."""
        return next((block for block in self.children if block.keyword == keyword), None)


def blank_comments_and_strings(text: str) -> str:
    """The text with every comment and string literal's content replaced by spaces.

    Lengths and newlines are kept, so positions and line numbers stay those of the original.
    """
    out = list(text)
    i = 0
    while i < len(text):
        span = _literal_at(text, i)
        if span is None:
            i += 1
            continue
        blank_from, blank_to, i = span
        for j in range(blank_from, blank_to):
            if out[j] != "\n":
                out[j] = " "
    return "".join(out)


def _literal_at(text: str, i: int) -> tuple[int, int, int] | None:
    """For a comment or string starting at ``i``: what to blank (from, to) and where to go on."""
    if text.startswith("//", i):
        end = text.find("\n", i)
        end = len(text) if end == -1 else end
        return i, end, end
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        if end == -1:
            raise JenkinsfileError(f"line {_line(text, i)}: comment never closed")
        return i, end + 2, end + 2
    quote = next((q for q in QUOTES if text.startswith(q, i)), None)
    if quote is None:
        return None
    # Keep the quotes themselves: `stage('x')` still looks like a call.
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text.startswith(quote, j):
            return i + len(quote), j, j + len(quote)
        else:
            j += 1
    raise JenkinsfileError(f"line {_line(text, i)}: string never closed")


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def parse(text: str) -> Block:
    """Nest the blocks of ``text``; the root block holds the top-level ones."""
    code = blank_comments_and_strings(text)
    root = Block(head="", line=0)
    stack: list[tuple[str, int, Block]] = []  # each opener, where it is, the block it is in
    current = root
    statement_start = 0  # where the text before the next `{` begins
    own_text: dict[int, list[str]] = {id(root): []}
    for index, char in enumerate(code):
        if char in "([":
            stack.append((char, index, current))
        elif char == "{":
            head = text[statement_start:index].strip()
            block = Block(head=head, line=_line(code, index))
            current.children.append(block)  # the head is the block's, not its parent's text
            own_text[id(block)] = []
            stack.append((char, index, current))
            current = block
            statement_start = index + 1
        elif char in CLOSING:
            if not stack or stack[-1][0] != CLOSING[char]:
                raise JenkinsfileError(f"line {_line(code, index)}: unexpected {char!r}")
            opener, _, parent = stack.pop()
            if opener == "{":
                own_text[id(current)].append(code[statement_start:index])
                current.text = "".join(own_text[id(current)])
                current = parent
                statement_start = index + 1
        elif char in "\n;" and not any(opener in "([" for opener, _, _ in stack[-1:]):
            own_text[id(current)].append(code[statement_start : index + 1])
            statement_start = index + 1
    if stack:
        opener, index, _ = stack[-1]
        raise JenkinsfileError(f"line {_line(code, index)}: {opener!r} never closed")
    own_text[id(root)].append(code[statement_start:])
    root.text = "".join(own_text[id(root)])
    return root


def check(text: str) -> list[str]:
    """Every structural problem of a declarative Jenkinsfile; empty when there is none."""
    try:
        root = parse(text)
    except JenkinsfileError as error:
        return [str(error)]
    if [block.keyword for block in root.children] != ["pipeline"] or root.text.strip():
        return ["the file must hold exactly one top-level `pipeline { }` block and nothing else"]
    pipeline = root.children[0]
    problems = [
        f"line {block.line}: unknown pipeline section `{block.keyword}`"
        for block in pipeline.children
        if block.keyword not in PIPELINE_SECTIONS
    ]
    if pipeline.child("agent") is None and not re.search(r"^\s*agent\s+\w+", pipeline.text, re.M):
        problems.append("the pipeline has no `agent`")
    stages = pipeline.child("stages")
    if stages is None:
        problems.append("the pipeline has no `stages { }`")
    else:
        problems += _check_stages(stages)
    post = pipeline.child("post")
    if post is None:
        problems.append("the pipeline has no `post { }`")
    elif not post.children or any(b.keyword not in POST_CONDITIONS for b in post.children):
        problems.append(f"line {post.line}: `post` needs conditions such as always, failure")
    return problems


def _check_stages(stages: Block) -> list[str]:
    problems: list[str] = []
    if not stages.children:
        problems.append(f"line {stages.line}: `stages` holds no stage")
    names: set[str] = set()
    for stage in stages.children:
        if stage.keyword != "stage":
            problems.append(f"line {stage.line}: `stages` may hold only `stage(...)` blocks")
            continue
        quoted = re.match(r"stage\s*\(\s*(['\"])(.*?)\1\s*\)", stage.head)
        name = f"'{quoted.group(2)}'" if quoted else stage.head
        if name in names:
            problems.append(f"line {stage.line}: stage {name} appears twice")
        names.add(name)
        problems += [
            f"line {block.line}: unknown section `{block.keyword}` in stage {name}"
            for block in stage.children
            if block.keyword not in STAGE_SECTIONS
        ]
        bodies = [block for block in stage.children if block.keyword in STAGE_BODIES]
        if len(bodies) != 1:
            problems.append(f"line {stage.line}: stage {name} needs one of steps/parallel/stages")
        elif bodies[0].keyword == "steps" and not (bodies[0].text.strip() or bodies[0].children):
            problems.append(f"line {bodies[0].line}: the steps of stage {name} are empty")
        elif bodies[0].keyword == "stages":
            problems += _check_stages(bodies[0])
    return problems


def main(argv: list[str] | None = None) -> int:
    """Check the file; print its problems; exit 1 if there are any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jenkinsfile", type=Path, nargs="?", default=Path("Jenkinsfile"))
    args = parser.parse_args(argv)
    problems = check(args.jenkinsfile.read_text(encoding="utf-8"))
    for problem in problems:
        print(f"{args.jenkinsfile}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.jenkinsfile}: declarative pipeline structure OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
