#!/usr/bin/env bash
# Create the two peer-tool environments used by benchmarks/peers/run_*.py (see NOTES.md).
#   bash benchmarks/peers/setup_peer_envs.sh [PREFIX]     (default PREFIX=/work/peers-venv)
# -> PREFIX      : transformers 5.23.0 (= monoglot's); for textpruner (and vocabtrimmer with 2 shims)
# -> PREFIX-tf4  : transformers 4.57.6 + huggingface_hub<1; for vocabtrimmer without shims
# Both tools are installed with --no-deps: textpruner 1.1.post2 ships only an sdist whose setup.py
# compares version strings ("3.11.7" < "3.8" is True) and so pins numpy<1.22, which has no
# Python 3.11 wheel and fails to build; vocabtrimmer does not declare datasets/pandas, which it imports.
set -euo pipefail
PY=${PYTHON:-python3.11}
PREFIX=${1:-/work/peers-venv}
COMMON="tqdm sentencepiece==0.2.3 protobuf==7.36.2 numpy==2.4.6 pandas==3.1.1 requests"

make_env() {  # dir, extra pins
  local dir=$1; shift
  "$PY" -m venv "$dir"
  "$dir/bin/pip" install --quiet --upgrade pip
  "$dir/bin/pip" install --quiet torch==2.13.0          # CPU build; never a bare 'torch'
  "$dir/bin/pip" install --quiet --no-deps textpruner==1.1.post2 vocabtrimmer==0.0.2
  "$dir/bin/pip" install --quiet "$@" $COMMON
}

make_env "$PREFIX"      transformers==5.23.0 tokenizers==0.23.3 huggingface_hub==2.4.0 datasets==5.2.0
make_env "$PREFIX-tf4"  transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.36.2 datasets==5.0.1
"$PREFIX/bin/python" -c "import textpruner, transformers; print('ok', transformers.__version__)"
"$PREFIX-tf4/bin/python" -c "import vocabtrimmer, transformers; print('ok', transformers.__version__)"
