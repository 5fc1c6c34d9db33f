"""Session-8 bad-input review, M9 (qa row): wrong argument types to ``answer_question`` are a
``UsageError`` naming the argument, not a raw ValueError/AttributeError."""

from __future__ import annotations

import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.qa import EcgAttributes, answer_question


@pytest.mark.parametrize("args,words", [
    ((1, ["normal ecg"], EcgAttributes()), r"slots must be a mapping of slot name to value such as \{'scp_code': \.\.\.\}"),
    ((1, "scp_code", EcgAttributes()), "slots must be a mapping"),
    ((1, {"scp_code": "sinus rhythm"}, "attrs"), "attrs must be an EcgAttributes .* got str"),
    ((1, {"scp_code": "sinus rhythm"}, None), "attrs must be an EcgAttributes .* got None"),
    ((1, {"scp_code": "sinus rhythm"}, {"statements": {}}), "attrs must be an EcgAttributes .* got dict"),
    ((61, {}, EcgAttributes(), "second"), "attrs2 must be an EcgAttributes .* got str"),
])
def test_wrong_argument_types_name_the_argument(args, words):
    with pytest.raises(UsageError, match=words):
        answer_question(*args)


def test_right_types_still_answer():
    attrs = EcgAttributes(statements={"sinus rhythm": 100.0})
    assert answer_question(1, {"scp_code": "sinus rhythm"}, attrs) == ["yes"]
