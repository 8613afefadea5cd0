#!/usr/bin/env bash
# Checks the Prometheus alert rules and the Grafana dashboard in packaging/ against
# docs/metrics.md:
#
#   tests/prometheus.sh
#
# - promtool check rules on packaging/prometheus/alerts.yml;
# - promtool test rules on packaging/prometheus/alerts_test.yml (and tests/*.yml there);
# - every alert has a firing and a not-firing unit test, and a README entry;
# - packaging/grafana/ipvsd.json is valid JSON, a sane dashboard (datasource input,
#   template variables, unique panel ids), and every panel query parses as PromQL;
# - every ipvsd_* and process_* metric name used in the rules and the dashboard is
#   documented in docs/metrics.md (_bucket/_sum/_count map to a documented histogram).
#
# promtool: $PROMTOOL, else promtool on PATH, else taken from Debian's `prometheus` package
# with apt-get (download and unpack into target/prometheus-tools, so no server is
# installed or started; a full `apt-get install prometheus` if that fails). Needs root for
# apt-get. If promtool cannot be found or installed, its checks fail: they never pass
# silently. Prints TAP-like lines and ends with "prometheus: N passed, M failed";
# exit status 0 only if nothing failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)
RULES=packaging/prometheus/alerts.yml
README=packaging/prometheus/README.md
DASHBOARD=packaging/grafana/ipvsd.json
DOC=docs/metrics.md
TOOLS="$REPO/target/prometheus-tools"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: ok if the command succeeds, else not ok with its output.
check() {
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then
    ok "$desc"
  else
    not_ok "$desc"
    printf '%s\n' "$out" | sed 's/^/#   /'
  fi
}
finish() {
  echo "prometheus: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

TEST_FILES=(packaging/prometheus/alerts_test.yml)
if [ -d packaging/prometheus/tests ]; then
  while IFS= read -r f; do TEST_FILES+=("$f"); done \
    < <(find packaging/prometheus/tests -name '*.yml' | sort)
fi

# --- tools ---------------------------------------------------------------------------
apt_updated=0
apt_quiet() {
  local log="$WORK/apt.log"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; return 1; }
    apt_updated=1
  fi
  "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
}

find_promtool() {
  if [ -n "${PROMTOOL:-}" ]; then
    echo "$PROMTOOL"
  elif command -v promtool >/dev/null 2>&1; then
    command -v promtool
  elif [ -x "$TOOLS/usr/bin/promtool" ]; then
    echo "$TOOLS/usr/bin/promtool"
  else
    return 1
  fi
}

install_promtool() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "promtool not found; install Debian's prometheus package as root or set PROMTOOL" >&2
    return 1
  fi
  echo "# promtool not found: fetching Debian's prometheus package with apt-get" >&2
  mkdir -p "$TOOLS"
  # Only the binary: unpacking the .deb installs no server, user or service.
  if (cd "$WORK" && apt_quiet apt-get download prometheus) &&
    dpkg-deb -x "$WORK"/prometheus_*.deb "$TOOLS" &&
    "$TOOLS/usr/bin/promtool" --version >/dev/null 2>&1; then
    return 0
  fi
  echo "# apt-get download failed; trying apt-get install prometheus" >&2
  apt_quiet apt-get install -y -qq --no-install-recommends prometheus
}

PROMTOOL_BIN=$(find_promtool) || { install_promtool && PROMTOOL_BIN=$(find_promtool); } ||
  PROMTOOL_BIN=
if [ -n "$PROMTOOL_BIN" ] && version=$("$PROMTOOL_BIN" --version 2>&1); then
  version=${version%%$'\n'*}
  ok "promtool available: $version"
else
  not_ok "promtool available (not found and could not be installed: every promtool check fails)"
  PROMTOOL_BIN=
fi

if ! command -v python3 >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 &&
    apt_quiet apt-get install -y -qq --no-install-recommends python3
fi
if command -v python3 >/dev/null 2>&1; then
  ok "python3 available"
  HAVE_PY=1
else
  not_ok "python3 available (not found and could not be installed: the JSON checks fail)"
  HAVE_PY=0
fi

promtool() {
  if [ -z "$PROMTOOL_BIN" ]; then
    echo "promtool is missing"
    return 1
  fi
  "$PROMTOOL_BIN" "$@"
}

# --- alert rules ---------------------------------------------------------------------
check "promtool check rules $RULES" promtool check rules "$RULES"
for f in "${TEST_FILES[@]}"; do
  check "promtool test rules $f" promtool test rules "$f"
done

# Alert names, in order.
mapfile -t ALERTS < <(sed -n 's/^[[:space:]]*-[[:space:]]*alert:[[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "$RULES")
if [ "${#ALERTS[@]}" -gt 0 ]; then
  ok "$RULES defines ${#ALERTS[@]} alerts: ${ALERTS[*]}"
else
  not_ok "$RULES defines alerts"
fi

# For every alert: a test where it fires (exp_alerts with entries) and one where it must
# not (exp_alerts: []), and a section in the README.
coverage=$(awk '
  /^[[:space:]]*alertname:/ { name = $2 }
  /^[[:space:]]*exp_alerts:[[:space:]]*\[\][[:space:]]*$/ { if (name != "") neg[name] = 1; next }
  /^[[:space:]]*exp_alerts:[[:space:]]*$/ { if (name != "") pos[name] = 1 }
  END { for (n in pos) print n, "fires"; for (n in neg) print n, "silent" }
' "${TEST_FILES[@]}")
for a in "${ALERTS[@]}"; do
  missing=()
  grep -qx "$a fires" <<<"$coverage" || missing+=("a firing case")
  grep -qx "$a silent" <<<"$coverage" || missing+=("a not-firing case")
  if [ "${#missing[@]}" -eq 0 ]; then
    ok "$a has a firing and a not-firing unit test"
  else
    not_ok "$a unit tests: missing ${missing[*]}"
  fi
  if grep -q "$a" "$README" 2>/dev/null; then
    ok "$a is explained in $README"
  else
    not_ok "$a is explained in $README"
  fi
  for key in 'severity: (critical|warning)' 'summary:' 'description:'; do
    if awk -v a="$a" '
        $0 ~ "^[[:space:]]*- alert:[[:space:]]*" a "[[:space:]]*$" { on = 1; next }
        /^[[:space:]]*- (alert|record):/ { on = 0 }
        on { print }' "$RULES" | grep -E "^[[:space:]]*$key" >/dev/null; then
      :
    else
      not_ok "$a has $key"
      continue 2
    fi
  done
  ok "$a has a severity (critical or warning), a summary and a description"
done

# --- dashboard -----------------------------------------------------------------------
if [ "$HAVE_PY" = 1 ]; then
  check "$DASHBOARD is valid JSON (python3 -m json.tool)" python3 -m json.tool "$DASHBOARD"

  # Structure; writes the panel queries into a rule file for promtool to parse.
  check "$DASHBOARD: datasource input, template variables, panels" python3 - "$DASHBOARD" "$WORK/dashboard_rules.yml" <<'EOF'
import json, re, sys

d = json.load(open(sys.argv[1]))
errors = []
inputs = [i.get("name") for i in d.get("__inputs", [])]
if "DS_PROMETHEUS" not in inputs:
    errors.append("no DS_PROMETHEUS in __inputs")
if not 36 <= d.get("schemaVersion", 0) <= 41:
    errors.append("schemaVersion %r not around 39" % d.get("schemaVersion"))
variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
for name in ("job", "virtual_server", "vrrp_instance"):
    if name not in variables:
        errors.append("no template variable " + name)

def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))

panels = list(walk(d.get("panels", [])))
ids = [p.get("id") for p in panels]
if len(ids) != len(set(ids)):
    errors.append("duplicate panel ids")
rows = [p["title"] for p in panels if p.get("type") == "row"]
for want in ("VRRP", "Real servers", "Virtual servers", "IPVS traffic", "Reconcile", "Process"):
    if want not in rows:
        errors.append("no row " + want)
exprs = []
for p in panels:
    g = p.get("gridPos", {})
    if g.get("x", 0) + g.get("w", 0) > 24:
        errors.append("panel %r is wider than the grid" % p.get("title"))
    if p.get("type") == "row":
        continue
    ds = json.dumps(p.get("datasource"))
    if "${DS_PROMETHEUS}" not in ds:
        errors.append("panel %r does not use ${DS_PROMETHEUS}" % p.get("title"))
    if not p.get("targets"):
        errors.append("panel %r has no query" % p.get("title"))
    for t in p.get("targets", []):
        if not t.get("expr"):
            errors.append("panel %r has an empty query" % p.get("title"))
        exprs.append((p.get("title"), t.get("expr", "")))
for a in d.get("annotations", {}).get("list", []):
    if a.get("expr"):
        exprs.append(("annotation " + a.get("name", ""), a["expr"]))

# Grafana's variables, replaced by something PromQL accepts.
def concrete(e):
    e = e.replace("$__rate_interval", "5m").replace("$__range", "6h").replace("$__interval", "1m")
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", ".*", e)

with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, e) in enumerate(exprs):
        f.write("      # %s\n      - record: dashboard_query_%d\n        expr: %s\n"
                % (title, i, json.dumps(concrete(e))))
if errors:
    print("\n".join(errors))
    sys.exit(1)
print("%d panels, %d queries" % (len(panels), len(exprs)))
EOF
  if [ -s "$WORK/dashboard_rules.yml" ]; then
    check "$DASHBOARD: every query is valid PromQL (promtool check rules)" \
      promtool check rules "$WORK/dashboard_rules.yml"
  else
    not_ok "$DASHBOARD: every query is valid PromQL (queries could not be extracted)"
  fi
else
  not_ok "$DASHBOARD is valid JSON (python3 missing)"
fi

# --- metric names against docs/metrics.md --------------------------------------------
# Documented: `name` | type in the tables, and the process_ names listed in backticks.
doc_names="$WORK/doc_names"
{
  sed -n 's/^| `\([a-z_:][a-z0-9_:]*\)` | \([a-z]*\) |.*/\1 \2/p' "$DOC"
  grep -o '`process_[a-z_]*`' "$DOC" | tr -d '`' | sed 's/$/ process/'
} | sort -u >"$doc_names"
if [ -s "$doc_names" ]; then
  ok "$DOC documents $(wc -l <"$doc_names") metrics"
else
  not_ok "$DOC documents metrics (none parsed)"
fi

documented() { # NAME: 0 if NAME, or its histogram for _bucket/_sum/_count, is documented
  local n=$1 base
  grep -q "^$n " "$doc_names" && return 0
  for suffix in _bucket _sum _count; do
    case $n in
      *"$suffix")
        base=${n%"$suffix"}
        grep -q "^$base histogram$" "$doc_names" && return 0
        ;;
    esac
  done
  return 1
}

for f in "$RULES" "${TEST_FILES[@]}" "$DASHBOARD"; do
  [ -f "$f" ] || { not_ok "$f exists"; continue; }
  mapfile -t used < <(grep -oE '\b(ipvsd|process)_[a-z0-9_]+' "$f" | sort -u)
  undocumented=()
  for n in "${used[@]}"; do documented "$n" || undocumented+=("$n"); done
  if [ "${#used[@]}" -eq 0 ]; then
    not_ok "$f uses ipvsd metrics (found none)"
  elif [ "${#undocumented[@]}" -eq 0 ]; then
    ok "$f: all ${#used[@]} metric names are in $DOC"
  else
    not_ok "$f: metric names not in $DOC: ${undocumented[*]}"
  fi
done

finish
