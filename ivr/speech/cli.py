"""`python -m ivr speech check`: are the configured intent phrases in the model's vocabulary?

Run it after unpacking a model (e.g. vosk-model-small-cn-0.22): every phrase is listed as used
or refused, with the words the model lacks, so the segmentation can be fixed before a call
finds out. Exit status 0: all phrases usable; 1: some refused; 2: no usable model.
"""

from __future__ import annotations

import argparse

from ivr.config import ConfigError, load_config
from ivr.speech.intents import build_intent_set
from ivr.speech.model import ModelUnavailable, has_word, load_model, resolve_model_dir
from ivr.speech.settings import MODEL_ENV, parse_speech_settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr speech", description=__doc__)
    parser.add_argument("command", choices=["check"])
    parser.add_argument("--config", help="settings file (default: config/ivr.yaml or IVR_CONFIG)")
    parser.add_argument(
        "--model", help=f"model directory or package:NAME (default: config/{MODEL_ENV})"
    )
    args = parser.parse_args(argv)
    try:
        settings = parse_speech_settings(load_config(args.config).section("speech"))
    except ConfigError as exc:
        print(f"invalid settings: {exc}")
        return 2
    setting = args.model or settings.model
    if not setting:
        print(f"no model: set speech.model in the config, {MODEL_ENV}, or --model")
        return 2
    try:
        model = load_model(resolve_model_dir(setting))
    except ModelUnavailable as exc:
        print(exc)
        return 2
    intents, problems = build_intent_set(
        settings.intents, settings.garbage_words, lambda word: has_word(model, word)
    )
    for intent, words in intents.phrases:
        print(f"ok       {intent}: {' '.join(words)}")
    for problem in problems:
        print(f"refused  {problem}")
    return 1 if problems else 0
