"""A prompt file is data a supervisor edits: it can say things, never run anything."""

from __future__ import annotations

import jinja2.sandbox
import pytest

from ivr.media import prompt_catalog
from ivr.media.prompt_catalog import PromptError, parse_prompt

ATTACKS = {
    "globals": "{% set _ = cycler.__init__.__globals__.os.system('touch /tmp/pwned') %}您好",
    "attribute": "{% if lapses_on.__class__ %}您好{% endif %}",
    "item": "{% if lapses_on['x'] %}您好{% endif %}",
    "call": "{% if range(3) %}您好{% endif %}",
    "import": "{% from 'x' import y %}您好",
    "macro": "{% macro m() %}您好{% endmacro %}您好",
}


@pytest.mark.parametrize("template", ATTACKS.values(), ids=ATTACKS.keys())
def test_attribute_access_calls_and_imports_are_refused_at_load(template: str) -> None:
    with pytest.raises(PromptError, match="may not access attributes"):
        parse_prompt("evil", template, "prompts/evil.yaml")


def test_the_environment_is_an_immutable_sandbox() -> None:
    environment = prompt_catalog._ENVIRONMENT
    assert isinstance(environment, jinja2.sandbox.ImmutableSandboxedEnvironment)
    with pytest.raises(jinja2.sandbox.SecurityError):
        environment.from_string("{{ cycler.__init__.__globals__ }}").render()


def test_conditions_on_variables_still_work() -> None:
    prompt = parse_prompt("ok", '{% if reason == "repeated" %}重复{% else %}其他{% endif %}')
    assert prompt.variables == {"reason"}
