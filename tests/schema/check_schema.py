"""The session JSON Schema: a valid schema, equal to what the op registry generates, accepting
every example and seed session, and refusing sessions that break its rules.

Usage: check_schema.py ACTMAP_CLI REPO_ROOT. Exits 77 (skip) where python3-jsonschema is missing."""
import json
import pathlib
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed: skipping the schema check")
    sys.exit(77)

cli, root = sys.argv[1], pathlib.Path(sys.argv[2])
committed = json.loads((root / "assets/session.schema.json").read_text())
generated = json.loads(subprocess.run([cli, "ops", "--schema"], check=True, capture_output=True, text=True).stdout)
if committed != generated:
    sys.exit("assets/session.schema.json differs from 'actmap-cli ops --schema': regenerate it with\n"
             "  build/default/src/cli/actmap-cli ops --schema > assets/session.schema.json")

jsonschema.Draft202012Validator.check_schema(committed)
validator = jsonschema.Draft202012Validator(committed)
good = sorted((root / "assets/examples").glob("*.json")) + sorted((root / "tests/fuzz/corpus/session").glob("*.json"))
assert good, "no example sessions found"
for path in good:
    errors = list(validator.iter_errors(json.loads(path.read_text())))
    if errors:
        sys.exit(f"{path}: {errors[0].json_path}: {errors[0].message}")

base = json.loads((root / "assets/examples/ffhq64-bend.json").read_text())
bad = {
    "version 2": lambda d: d.update(actmap_session=2),
    "unknown op": lambda d: d["edits"][0].update(op="twirl"),
    "string degrees": lambda d: d["edits"][0]["params"].update(degrees="ninety"),
    "unknown param": lambda d: d["edits"][0]["params"].update(angle=3),
    "brush without points": lambda d: d["edits"][2]["params"].pop("points"),
    "even filter": lambda d: d["edits"].append({"tap": "t", "op": "mean_filter", "params": {"size": 4}}),
    "two latents": lambda d: d["latent"].update(z=[0.0]),
    "bad selector": lambda d: d["edits"][0].update(channels={"range": [1]}),
    "unknown key": lambda d: d.update(edit=[]),
    "class and c": lambda d: d.setdefault("synthesis", {}).update({"class": 1, "c": [0.0, 1.0]}),
    "negative class": lambda d: d.setdefault("synthesis", {}).update({"class": -1}),
    "empty c": lambda d: d.setdefault("synthesis", {}).update({"c": []}),
}
# A conditional model's class or label vector, and a checkpoint file as the model, are valid.
for extra in ({"synthesis": {"class": 3}}, {"synthesis": {"c": [0.25, 0.75]}},
              {"model": {"card": "../models/network-snapshot-000100.pkl", "sha256": "0" * 64}}):
    doc = json.loads(json.dumps(base))
    doc.update(extra)
    errors = list(validator.iter_errors(doc))
    if errors:
        sys.exit(f"the schema refuses a good session {extra}: {errors[0].message}")
for name, mutate in bad.items():
    doc = json.loads(json.dumps(base))
    mutate(doc)
    if validator.is_valid(doc):
        sys.exit(f"the schema accepts a bad session: {name}")
print(f"schema ok: {len(good)} sessions valid, {len(bad)} bad ones refused")
