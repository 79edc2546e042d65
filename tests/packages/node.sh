#!/usr/bin/env bash
# The npm tarball, installed offline into an empty project: DECISION notifications shaped as the
# JavaScript SDK sends them become exposures; the library is the one inside the package.
# (bindings/node/test.sh covers the real SDK, the TypeScript types and exit handling.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tarball="$DIST/flagwire-$VERSION.tgz"
mkdir "$WORK/app" && cd "$WORK/app"
echo '{"name":"app","version":"1.0.0","private":true}' > package.json
npm install --offline --no-audit --no-fund --loglevel=error "$tarball"
cat > app.js <<'JS'
const flagwire = require('flagwire');
const fs = require('node:fs');
const [url, datafile] = process.argv.slice(2);
const fw = new flagwire.Client({ writeKey: 'npm-test', endpoint: url, closeOnExit: false });
fw.setDatafile(fs.readFileSync(datafile, 'utf8'));
for (let i = 0; i < 20; i++) {
  const experiment = i % 2 === 0;
  const variationKey = experiment ? (i % 4 === 0 ? 'treatment' : 'control') : 'on';
  fw.onDecision({ type: 'flag', userId: `npm-user-${i}`, attributes: { plan: 'pro' }, decisionInfo: {
    flagKey: 'checkout_flow', enabled: true, variables: {}, variationKey, reasons: [],
    ruleKey: experiment ? 'checkout_ab' : 'checkout_delivery', decisionEventDispatched: experiment } });
  if (experiment) console.log(`npm-user-${i}=${variationKey}`);
}
fw.close(10000).then((ok) => {
  if (!ok) throw new Error('close failed');
  console.error(`loaded ${flagwire.libraryPath}`);
});
JS
start_collector
expected="$(node app.js "$COLLECTOR_URL" "$DATAFILE" 2>app.err | paste -sd,)" || { cat app.err >&2; exit 1; }
cat app.err
expect_match "^loaded $WORK/app/node_modules/flagwire/prebuilds/linux-x64/libflagwire.so" "$(cat app.err)" "the library inside the installed package"
expect_exposures "$expected"
echo "npm package: OK"
