#!/usr/bin/env python3
"""Checks smol's layering: every #include "..." in src/ and include/smol/ reaches only its own
layer or the layers below it, and CMakeLists.txt links exactly the graph in LAYERS.

Usage: scripts/check-layering.py [ROOT]   (ROOT: a checkout, default the one holding this file)
Exit 0 when the layering holds; 1 with one line per violation otherwise.
"""
import os
import re
import sys

# The one table of the layering. Each layer: the layers it may use directly (it may also use
# everything those use), and the public headers in include/smol/ that belong to it. "core" is
# header-only (include/smol/ alone) and every layer may use it. CMakeLists.txt's
# smol_deps_<layer> must link the same graph (checked below).
LAYERS = {
    "core": ([], ["atomic_file.hpp", "error.hpp", "half.hpp", "utf8_encode.hpp"]),
    "formats": (["core"], ["dtype.hpp", "gguf.hpp", "pytorch_bin.hpp", "tensor_view.hpp", "json_file.hpp", "mapped_file.hpp", "model_config.hpp",
                           "safetensors.hpp"]),
    "jinja": (["core"], []),
    "tokenizer": (["jinja"], ["chat_template.hpp", "tokenizer.hpp"]),
    "kernels": (["core"], ["huge_page_buffer.hpp", "kernels.hpp", "quant.hpp", "thread_pool.hpp"]),
    "hub": (["core"], ["hub.hpp"]),
    "eval": (["core"], ["text_metrics.hpp"]),
    "model": (["formats", "kernels"], ["init_weights.hpp", "model.hpp", "seq2seq.hpp"]),
    "convert": (["model"], ["convert.hpp"]),
    "generate": (["model", "tokenizer"], ["generate.hpp", "gguf_tokenizer.hpp", "sampler.hpp", "generation_config.hpp",
                                       "search.hpp", "decoder_step_model.hpp", "seq2seq_generate.hpp", "extractive.hpp", "qa.hpp",
                                       "grammar.hpp"]),
    "train": (["model", "tokenizer"], ["train.hpp", "train_checkpoint.hpp", "train_data.hpp",
                                       "train_distributed.hpp", "train_layers.hpp", "train_model.hpp",
                                       "train_optim.hpp", "train_seq2seq.hpp"]),
    "server": (["generate"], ["server.hpp"]),
    "cli": (["server", "train", "convert", "hub", "eval"], []),
}
# A layer's tests (*_test.cpp) may also use these layers to build their inputs; CMake's
# smol_test_deps_<layer> links them. src/test_support/ (test doubles, header-only) is for
# tests alone: product code never includes it.
TEST_USES = {
    "hub": ["generate"],       # loads and generates from what it pulled
    "generate": ["convert"],   # converts a fixture folder to GGUF for the GGUF engine test
}
TEST_SUPPORT = "test_support"

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE = (".cpp", ".hpp", ".h", ".inc")


def below(layer, table=LAYERS):
    """Every layer `layer` may use, itself excluded (transitively, core always)."""
    seen, todo = {"core"}, list(table[layer][0])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(table[name][0])
    seen.discard(layer)
    return seen


def header_owner():
    owner = {}
    for layer, (_, headers) in LAYERS.items():
        for h in headers:
            owner[h] = layer
    return owner


def target_layer(root, src_file, inc, owner):
    """(layer, None) for an include inside the repo, (None, None) for an outside one, or
    (None, error) for a public header the table does not place."""
    if inc.startswith("smol/"):
        name = inc[len("smol/"):]
        if name in owner:
            return owner[name], None
        if os.path.exists(os.path.join(root, "include", inc)):
            return None, f"include/{inc} belongs to no layer: add it to LAYERS in scripts/check-layering.py"
        return None, None
    first = inc.split("/")[0]
    if "/" in inc and os.path.isdir(os.path.join(root, "src", first)):
        return first, None
    if os.path.exists(os.path.join(os.path.dirname(src_file), inc)):
        return "", None  # beside the including file: its own layer
    return None, None  # hwy/..., a system or third-party header


def check_includes(root):
    errors = []
    owner = header_owner()
    files = []
    for base in ("src", "include"):
        for dirpath, _, names in os.walk(os.path.join(root, base)):
            files += [os.path.join(dirpath, n) for n in sorted(names) if n.endswith(SOURCE)]
    for path in sorted(files):
        rel = os.path.relpath(path, root)
        parts = rel.split(os.sep)
        if parts[0] == "include":
            layer = owner.get(parts[-1])
            if layer is None:
                errors.append(f"{rel}: belongs to no layer: add it to LAYERS in scripts/check-layering.py")
                continue
        else:
            layer = parts[1] if len(parts) > 2 else None
            if layer is None:
                errors.append(f"{rel}: sources live in a layer folder src/<layer>/")
                continue
            if layer not in LAYERS and layer != TEST_SUPPORT:
                errors.append(f"{rel}: src/{layer}/ is not a layer: add it to LAYERS in scripts/check-layering.py")
                continue
        if layer == TEST_SUPPORT:
            continue  # included by tests only, which is checked where they include it
        is_test = rel.endswith("_test.cpp")
        allowed = below(layer) | {layer}
        if is_test:
            allowed.add(TEST_SUPPORT)
            for extra in TEST_USES.get(layer, []):
                allowed |= below(extra) | {extra}
        with open(path, encoding="utf-8", errors="replace") as f:
            for line_no, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                target, err = target_layer(root, path, inc, owner)
                if err:
                    errors.append(f"{rel}:{line_no}: {err}")
                    continue
                if target is None or target == "" or target in allowed:
                    continue
                if target == TEST_SUPPORT:
                    errors.append(f"{rel}:{line_no}: product code may not include {inc}: "
                                  "src/test_support/ is for *_test.cpp files")
                    continue
                uses = ", ".join(sorted(allowed - {layer, TEST_SUPPORT})) or "nothing"
                kind = "tests of " + layer if is_test else layer
                errors.append(f"{rel}:{line_no}: {kind} may not include {inc} (layer {target}); "
                              f"{layer} may use: {uses}")
    return errors


def cmake_lists(text, prefix):
    """{layer: [smol_* names]} from the `set(<prefix><layer> ...)` lines."""
    out = {}
    for m in re.finditer(r"^set\(" + prefix + r"(\w+)\s*([^)]*)\)", text, re.M):
        out[m.group(1)] = [w[len("smol_"):] for w in m.group(2).replace('"', " ").split() if w.startswith("smol_")]
    return out


def check_cmake(root):
    path = os.path.join(root, "CMakeLists.txt")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    errors = []
    m = re.search(r"^set\(SMOL_LAYERS\s+([^)]*)\)", text, re.M)
    cmake_layers = m.group(1).split() if m else []
    table_layers = [name for name in LAYERS if name != "core"]
    if sorted(cmake_layers) != sorted(table_layers):
        errors.append(f"CMakeLists.txt: SMOL_LAYERS is {' '.join(cmake_layers)} but the table in "
                      f"scripts/check-layering.py has {' '.join(table_layers)}")
    deps = cmake_lists(text, "smol_deps_")
    for layer in table_layers:
        linked = deps.get(layer, [])
        for name in linked:
            if name not in LAYERS:
                errors.append(f"CMakeLists.txt: smol_deps_{layer} links smol_{name}, which is not a layer")
        if any(name not in LAYERS for name in linked):
            continue
        graph = {k: (v[0], v[1]) for k, v in LAYERS.items()}
        graph[layer] = (linked or ["core"], [])
        if below(layer, graph) != below(layer):
            errors.append(f"CMakeLists.txt: smol_deps_{layer} links {' '.join('smol_' + n for n in linked) or 'no layer'}"
                          f", but the table says {layer} uses {', '.join(LAYERS[layer][0])}")
    test_deps = cmake_lists(text, "smol_test_deps_")
    for layer in table_layers:
        if sorted(test_deps.get(layer, [])) != sorted(TEST_USES.get(layer, [])):
            errors.append(f"CMakeLists.txt: smol_test_deps_{layer} links "
                          f"{' '.join('smol_' + n for n in test_deps.get(layer, [])) or 'no layer'}, but "
                          f"TEST_USES in scripts/check-layering.py says {', '.join(TEST_USES.get(layer, [])) or 'none'}")
    return errors


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    root = os.path.abspath(root)
    errors = check_includes(root) + check_cmake(root)
    for e in errors:
        print(f"layering: {e}")
    if errors:
        print(f"layering: {len(errors)} violation(s); the allowed graph is LAYERS in scripts/check-layering.py")
        return 1
    print(f"layering: ok ({len(LAYERS) - 1} layers, includes and CMake links agree)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
