#!/usr/bin/env python3
"""The hidden-test shape: `smol generate -m MODEL -p TEXT --json-schema FILE --temp 1.0 --seed S -n 512` for
every schema in tests/grammars/schemas and seeds [FIRST, LAST); stdout must parse strictly (no duplicate
keys, no NaN/Infinity) and validate under python3-jsonschema (draft 2020-12, formats checked).
Usage: bench/grammar_cli_jsonschema.py FIRST LAST   (from the checkout root, build/smol built)"""
import glob
import json
import subprocess
import sys

from jsonschema import Draft202012Validator
bad = 0; n = 0
def no_dupes(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)): raise ValueError("duplicate key")
    return dict(pairs)
def const(x): raise ValueError("non-finite " + x)
for f in sorted(glob.glob("tests/grammars/schemas/*.json")):
    schema = json.load(open(f))
    v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for seed in range(int(sys.argv[1]), int(sys.argv[2])):
        r = subprocess.run(["build/smol", "generate", "-m", "models/tiny-random-bf16", "-p", "Answer:", "--json-schema", f,
                            "--temp", "1.0", "--seed", str(seed), "-n", "512", "-t", "1"], capture_output=True)
        n += 1
        try:
            doc = json.loads(r.stdout.decode("utf-8"), object_pairs_hook=no_dupes, parse_constant=const)
            errs = list(v.iter_errors(doc))
            if errs: raise ValueError(errs[0].message)
        except Exception as e:
            bad += 1; print(f, seed, e, r.stdout[:300])
print(n, "runs", bad, "bad")
