#!/usr/bin/env bash
# test-seeds: the @fast features once per seed offset (default 1..20), from
# one test binary built once. Prints one line per seed and the scenarios
# that failed; exits 1 when any seed failed.
#   scripts/test-seeds.sh            # seeds 1..20
#   SEEDS="3 7" scripts/test-seeds.sh
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
SEEDS=${SEEDS:-$(seq 1 20)}
TAGS=${TAGS:-@fast && ~@slow}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$GO test -c -o "$work/steps.test" ./steps || exit 1
failed=()
for s in $SEEDS; do
	start=$(date +%s)
	if (cd steps && "$work/steps.test" -test.run '^TestFeatures$' -test.count=1 \
		-ptqspec.seed="$s" -godog.tags="$TAGS" -godog.format=progress >"$work/seed-$s.log" 2>&1); then
		echo "seed $s: ok ($(($(date +%s) - start)) s)"
	else
		echo "seed $s: FAILED ($(($(date +%s) - start)) s)"
		# One line per failed scenario, then its message cut to one repetition.
		grep -E '^ *--- FAIL: TestFeatures/' "$work/seed-$s.log" | sed -E 's/^ *--- FAIL: TestFeatures\//    failed: /; s/ \([0-9.]+s\)$//'
		grep -E '^ +suite.go:[0-9]+: ' "$work/seed-$s.log" | sed -E 's/^ +suite.go:[0-9]+: //; s/, (the|calibration|by|on) .*//' | cut -c1-200 | sed 's/^/      /'
		failed+=("$s")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "seeds failed: ${failed[*]} (replay one with: cd steps && go test -run '^TestFeatures\$' -ptqspec.seed=N -godog.tags='$TAGS')"
	exit 1
fi
echo "all seeds passed: $(echo $SEEDS | wc -w) runs"
