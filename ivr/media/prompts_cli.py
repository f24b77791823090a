"""`python -m ivr prompts build|check`: make or verify the prompt recordings.

build [--force] [--prune]         synthesize missing or stale recordings (espeak-ng), then
                                  commit prompts/tts/ so the IVR itself never needs TTS;
                                  --prune removes synthesized files no prompt of this
                                  configuration uses (another configuration's, e.g. the
                                  bench's, may: build with a config naming every prompt file)
check                             list prompts without a recording; exit 1 if any
"""

from __future__ import annotations

import argparse
import sys

from ivr.config import ConfigError, load_config
from ivr.media.prompt_catalog import PromptCatalog, PromptError, PromptSettings
from ivr.media.tts import TtsError, TtsSettings, build


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ivr prompts", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", help="config file (default: config/ivr.yaml or $IVR_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="synthesize missing or stale recordings")
    build_parser.add_argument("--force", action="store_true", help="resynthesize every clip")
    build_parser.add_argument(
        "--prune", action="store_true", help="remove synthesized files no prompt here uses"
    )
    commands.add_parser("check", help="list clips that have no recording")
    args = parser.parse_args(argv)

    try:
        config = load_config(args.config)
        catalog = PromptCatalog.from_settings(PromptSettings.from_config(config))
        if args.command == "check":
            missing = catalog.missing_recordings()
            for clip in missing:
                print(f"missing recording: {clip.name}: {clip.text}")
            print(f"{len(catalog.clips())} clips, {len(missing)} without a recording")
            return 1 if missing else 0
        build(
            catalog,
            TtsSettings.from_section(config.section("prompts")),
            force=args.force,
            prune=args.prune,
        )
    except (ConfigError, PromptError, TtsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
