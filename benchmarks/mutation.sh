#!/usr/bin/env bash
# Mutation testing of the round loop's core with mutmut 3 (issue 20, item 7).
#
# Usage (from the repository root):
#   benchmarks/mutation.sh                    # every group below, one after the other
#   benchmarks/mutation.sh ledger loop        # only these groups
#   MUTMUT_JOBS=1 benchmarks/mutation.sh samplers
#   MUTMUT_SAMPLE=60 benchmarks/mutation.sh oracles      # a seeded uniform sample of 60
#   MUTMUT_SAMPLE=60 MUTMUT_EXCLUDE=old.txt benchmarks/mutation.sh loop
#                          # a sample of the mutants that old.txt does not record as checked
#
# Groups: ledger (hardsample/_ledger.py), loop (hardsample/_loop.py),
#   samplers (hardsample/samplers/*, or one module: latent, nearest, uncertainty, base,
#   bayesian, greedy, coreset, interpolation, ascent, cluster_margin, representative,
#   latent_uncertainty, random, samplers_init = samplers/__init__.py),
#   oracles (hardsample/oracles.py), tool_runner (hardsample/_tool_runner.py),
#   journal (hardsample/journal.py).
# The files mutated and the test files run are configured in setup.cfg [mutmut]
# (mutmut runs, for each mutant, only the selected tests that call the mutated
# function). A group's results are written to benchmarks/results/mutation_<group>.txt
# (`mutmut results --all true` filtered to the group); mutants/ is mutmut's working copy.
set -euo pipefail
cd "$(dirname "$0")/.."

MUTMUT=${MUTMUT:-mutmut}
JOBS=${MUTMUT_JOBS:-2}
SAMPLE=${MUTMUT_SAMPLE:-}
SEED=${MUTMUT_SEED:-0}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

declare -A MODULE=(
    [ledger]=_ledger.py [loop]=_loop.py [oracles]=oracles.py [tool_runner]=_tool_runner.py
    [journal]=journal.py [latent]=samplers/_latent.py [nearest]=samplers/nearest.py
    [uncertainty]=samplers/uncertainty.py [base]=samplers/_base.py
    [bayesian]=samplers/bayesian.py [greedy]=samplers/greedy.py [coreset]=samplers/coreset.py
    [interpolation]=samplers/interpolation.py [ascent]=samplers/_ascent.py
    [cluster_margin]=samplers/cluster_margin.py [representative]=samplers/representative.py
    [latent_uncertainty]=samplers/latent_uncertainty.py [random]=samplers/random.py
    [samplers_init]=samplers/__init__.py
)
declare -A PATTERN=(
    [ledger]='hardsample._ledger.*'
    [loop]='hardsample._loop.*'
    [samplers]='hardsample.samplers.*'
    [latent]='hardsample.samplers._latent.*'
    [nearest]='hardsample.samplers.nearest.*'
    [uncertainty]='hardsample.samplers.uncertainty.*'
    [base]='hardsample.samplers._base.*'
    [bayesian]='hardsample.samplers.bayesian.*'
    [greedy]='hardsample.samplers.greedy.*'
    [coreset]='hardsample.samplers.coreset.*'
    [interpolation]='hardsample.samplers.interpolation.*'
    [ascent]='hardsample.samplers._ascent.*'
    [cluster_margin]='hardsample.samplers.cluster_margin.*'
    [representative]='hardsample.samplers.representative.*'
    [latent_uncertainty]='hardsample.samplers.latent_uncertainty.*'
    [random]='hardsample.samplers.random.*'
    [samplers_init]='hardsample.samplers.x_*'
    [oracles]='hardsample.oracles.*'
    [tool_runner]='hardsample._tool_runner.*'
    [journal]='hardsample.journal.*'
)
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(ledger loop samplers oracles tool_runner journal)

mkdir -p benchmarks/results
for group in "${groups[@]}"; do
    pattern=${PATTERN[$group]:?unknown group $group (one of: ${!PATTERN[*]})}
    echo "== $group ($pattern), $JOBS jobs, $("$MUTMUT" --version)"
    start=$(date +%s)
    if [ -n "$SAMPLE" ]; then
        module=hardsample/${MODULE[$group]:?no single module for group $group}
        # mutmut generates mutants/ on its first run; a run naming no mutant only does that
        [ -f "mutants/$module.meta" ] || "$MUTMUT" run --max-children "$JOBS" "no.such.mutant" \
            > /dev/null 2>&1 || true
        exclude=()
        [ -n "${MUTMUT_EXCLUDE:-}" ] && exclude=(--exclude "$MUTMUT_EXCLUDE")
        python benchmarks/mutation_sample.py "$module" --n "$SAMPLE" --seed "$SEED" \
            "${exclude[@]}" > "benchmarks/results/mutation_${group}_sample.txt"
        mapfile -t names < "benchmarks/results/mutation_${group}_sample.txt"
    else
        names=("$pattern")
    fi
    # mutmut 3.8.1 saves its test-to-function map empty after a run, and a later run that
    # loads it judges every named mutant "no tests": collect the map afresh each time
    rm -f mutants/mutmut-stats.json
    # naming the mutants re-runs them even when mutants/ holds an earlier result
    "$MUTMUT" run --max-children "$JOBS" "${names[@]}" | tail -n 5 || true
    echo "== $group took $(( $(date +%s) - start )) s"
    "$MUTMUT" results --all true | grep -F "${pattern%\*}" \
        > "benchmarks/results/mutation_${group}.txt" || true
    awk -F': ' '{print $NF}' "benchmarks/results/mutation_${group}.txt" | sort | uniq -c
done
