"""Baseline for `aibomdb-bench secrets`: a Python regex pass with gitleaks'
own rules over a model directory's text files, as a user's script (or a
detect-secrets-style plugin) would do it: the rule file loaded with tomllib,
each rule's regex compiled with `re`, a rule run on a file only when one of
its keywords is in the lower-cased text (gitleaks' pre-filter). No entropy
check and no allow-lists: less work than gitleaks does. Files are read into
memory first; only the scan is timed.

Usage: python3 baseline_secrets.py DIR RULES.toml [RUNS]  → prints JSON.
"""
import json
import os
import re
import sys
import time
import tomllib


def compile_rules(path):
    with open(path, "rb") as f:
        config = tomllib.load(f)
    rules, total = [], 0
    for rule in config.get("rules", []):
        pattern = rule.get("regex")
        if not pattern:
            continue
        total += 1
        # Go's RE2 allows a flag group anywhere; Python wants global flags first.
        flags = 0
        if "(?i)" in pattern:
            pattern, flags = pattern.replace("(?i)", ""), re.IGNORECASE
        try:
            rx = re.compile(pattern.encode(), flags)
        except re.error:
            continue
        rules.append(([k.lower().encode() for k in rule.get("keywords", [])], rx))
    return rules, total


def scan(texts, rules):
    matches = 0
    for text in texts:
        lower = text.lower()
        for keywords, rx in rules:
            if keywords and not any(k in lower for k in keywords):
                continue
            matches += sum(1 for _ in rx.finditer(text))
    return matches


def main():
    directory, rules_path = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    texts = []
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                texts.append(f.read())
    rules, total = compile_rules(rules_path)
    scan(texts, rules)  # warm-up
    times, matches = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        matches = scan(texts, rules)
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"median_s": times[len(times) // 2], "matches": matches,
                      "compiled": len(rules), "rules": total,
                      "bytes": sum(len(t) for t in texts)}))


main()
