#!/usr/bin/env bash
# The wheel, installed alone (pip --no-index) into a fresh venv: DECISION notifications shaped
# as the Python SDK sends them become exposures; the library is the one inside the wheel.
# (bindings/python/test.sh covers the real SDK, fork safety and the wheel's manylinux tag.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
wheel="$(ls "$DIST"/flagwire-"$VERSION"-py3-none-*.whl)"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --no-index --disable-pip-version-check "$wheel"
cat > "$WORK/app.py" <<'PY'
import sys, flagwire
client = flagwire.Client(write_key="wheel-test", endpoint=sys.argv[1])
client.set_datafile(open(sys.argv[2]).read())
for i in range(20):
    experiment = i % 2 == 0
    variation = ("treatment" if i % 4 == 0 else "control") if experiment else "on"
    info = {"flag_key": "checkout_flow", "enabled": True, "variables": {}, "variation_key": variation,
            "rule_key": "checkout_ab" if experiment else "checkout_delivery", "reasons": [],
            "decision_event_dispatched": experiment}
    status = client.on_decision("flag", f"wheel-user-{i}", {"plan": "pro"}, info)
    assert status == (flagwire.Status.OK if experiment else flagwire.Status.SKIPPED), status
    if experiment:
        print(f"wheel-user-{i}={variation}")
assert client.close(10)
print("loaded", flagwire.library_path(), file=sys.stderr)
PY
start_collector
cd "$WORK"
expected="$(venv/bin/python app.py "$COLLECTOR_URL" "$DATAFILE" 2>app.err | paste -sd,)" || { cat app.err >&2; exit 1; }
cat app.err
expect_match "^loaded $WORK/venv/lib/python3[^/]*/site-packages/flagwire/" "$(cat app.err)" "the library inside the installed wheel"
expect_exposures "$expected"
echo "wheel: OK"
