#!/usr/bin/env bash
# Regenerates NotoSansCJKsc-Bold-subset.otf, the only font hegui-explicit ships.
#
# Source: Debian package `fonts-noto-cjk` (1:20220127+repack1-1 when this was written),
# file /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc, face 2 ("Noto Sans CJK SC Bold",
# version 2.004), licensed under the SIL Open Font License 1.1 (see OFL.txt beside this script).
#
# Needs: apt-get install -y fonts-noto-cjk; pip install fonttools (any recent version).
# Usage: crates/explicit/assets/subset.sh [path/to/NotoSansCJK-Bold.ttc]
#
# The subset holds only the glyphs of the default wordings ("AI生成", "人工智能生成", "合成",
# "本内容由人工智能生成") plus printable ASCII. To support more wording, add its characters to
# TEXT below, rerun, and commit the new font.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${1:-/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc}"
TEXT="AI生成人工智能合成本内容由"
pyftsubset "$src" \
  --font-number=2 \
  --text="$TEXT" \
  --unicodes="U+0020-007E" \
  --layout-features='' \
  --no-hinting \
  --desubroutinize \
  --name-IDs='*' \
  --output-file="$here/NotoSansCJKsc-Bold-subset.otf"
ls -l "$here/NotoSansCJKsc-Bold-subset.otf"
