#!/usr/bin/env python3
"""Writes the malformed-input corpus of tests/data/bad and its manifest cases.json.

Run from anywhere (python3 tests/data/bad/generate.py); it rewrites every case. Stores are made
with h5mkgrp (hdf5-tools). tests/data/malformed_inputs_test.cpp runs each case: the loader must
throw the named circuitscope error with the substring in its message, nothing else."""
import json
import os
import shutil
import struct
import subprocess
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
cases = []


def case(name, loader, path, error, message, why):
    cases.append({"name": name, "loader": loader, "path": path, "error": error,
                  "message": message, "why": why})


def write(rel, data):
    full = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return rel


def folder(rel, files):
    full = os.path.join(HERE, rel)
    shutil.rmtree(full, ignore_errors=True)
    for name, data in files.items():
        write(os.path.join(rel, name), data)
    return rel


def st(header, data=b""):
    h = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(h)) + h + data


def st_entries(entries, data):
    return st(json.dumps(entries), data)


# ---- safetensors ---------------------------------------------------------------------------
S = "safetensors"
case("SafetensorsShorterThanLengthPrefix", S, write("safetensors/short.safetensors", b"\x10\0\0\0"),
     "FormatError", "4 bytes is too short", "file ends inside the 8-byte header length")
case("SafetensorsHeaderLongerThanFile", S,
     write("safetensors/header_past_end.safetensors", struct.pack("<Q", 4096) + b"{}"),
     "FormatError", "header length 4096 runs past the end of the file",
     "header length larger than the file")
case("SafetensorsHugeHeaderLength", S,
     write("safetensors/huge_header_length.safetensors", struct.pack("<Q", 2**63 + 5) + b"{}" * 8),
     "FormatError", "runs past the end of the file",
     "a header length near 2^64 must not be allocated or wrap around")
case("SafetensorsHeaderNotJson", S,
     write("safetensors/not_json.safetensors", st('{"w": {"dtype": "F32", ')),
     "FormatError", "not valid JSON", "header cut mid-object")
case("SafetensorsHeaderIsArray", S, write("safetensors/array_header.safetensors", st("[1, 2]")),
     "FormatError", "header JSON is not an object", "header is JSON but not an object")
case("SafetensorsOffsetsOutOfRange", S,
     write("safetensors/offsets_out_of_range.safetensors",
           st_entries({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)),
     "FormatError", "data_offsets end 16", "tensor bytes run past the data area")
case("SafetensorsOverlappingTensors", S,
     write("safetensors/overlap.safetensors",
           st_entries({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12)),
     "FormatError", "overlap", "two tensors share bytes")
case("SafetensorsUnknownDtype", S,
     write("safetensors/unknown_dtype.safetensors",
           st_entries({"w": {"dtype": "Q4_K", "shape": [2], "data_offsets": [0, 2]}}, b"\0\0")),
     "FormatError", "unsupported dtype \"Q4_K\"", "a quantised dtype no loader knows")
case("SafetensorsShapeSizeMismatch", S,
     write("safetensors/shape_size_mismatch.safetensors",
           st_entries({"w": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 8]}}, b"\0" * 8)),
     "FormatError", "tensor 'w'", "9 floats declared, 8 bytes stored")
case("SafetensorsNegativeShape", S,
     write("safetensors/negative_shape.safetensors",
           st_entries({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8)),
     "FormatError", "shape [-2]", "a negative size")
case("SafetensorsOffsetsNotNumbers", S,
     write("safetensors/offsets_not_numbers.safetensors",
           st_entries({"w": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}}, b"\0" * 4)),
     "FormatError", "\"data_offsets\" must be two non-negative integers", "offsets given as text")
case("SafetensorsDeeplyNestedHeader", S,
     write("safetensors/deeply_nested.safetensors", st("[" * 5000 + "]" * 5000)),
     "FormatError", "nested more than", "recursion bomb in the header")
case("SafetensorsFolderNamesTheFile", "hf_model",
     folder("safetensors/gpt2_with_truncated_checkpoint", {
         "config.json": open(os.path.join(ROOT, "tests/data/hf/gpt2-tiny/config.json")).read(),
         "model.safetensors": struct.pack("<Q", 64) + b'{"wte.weight": '}),
     "FormatError", "model.safetensors", "a model folder whose checkpoint is cut short")

# ---- config.json (Hugging Face architectures) -----------------------------------------------
GPT2 = json.load(open(os.path.join(ROOT, "tests/data/hf/gpt2-tiny/config.json")))


def gpt2(**changes):
    c = dict(GPT2)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c, indent=2)


C = "hf_config"
case("ConfigNotJson", C, folder("config/not_json", {"config.json": '{"model_type": "gpt2",'}),
     "FormatError", "config.json", "config cut mid-object")
case("ConfigMissingModelType", C, folder("config/missing_model_type", {"config.json": gpt2(model_type=None)}),
     "ConfigError", "model_type", "no model_type: the architecture is unknown")
case("ConfigUnsupportedModelType", C,
     folder("config/unsupported_model_type", {"config.json": gpt2(model_type="bert")}),
     "ConfigError", "\"bert\"", "an encoder-only architecture")
case("ConfigMissingLayerCount", C, folder("config/missing_n_layer", {"config.json": gpt2(n_layer=None)}),
     "ConfigError", "n_layer", "required size absent")
case("ConfigWrongType", C, folder("config/n_head_is_text", {"config.json": gpt2(n_head="four")}),
     "ConfigError", "n_head", "a size given as a string")
case("ConfigNegativeSize", C, folder("config/negative_n_embd", {"config.json": gpt2(n_embd=-64)}),
     "ConfigError", "n_embd", "a negative width")
case("ConfigInconsistentHeads", C, folder("config/heads_do_not_divide", {"config.json": gpt2(n_head=5)}),
     "ConfigError", "n_head", "64 is not divisible by 5 heads")
case("ConfigLlamaKvHeadsDoNotDivide", C, folder("config/llama_kv_heads", {"config.json": json.dumps({
    "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 128,
    "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "hidden_act": "silu"})}),
     "ConfigError", "num_key_value_heads", "grouped-query heads that do not divide the heads")
case("ConfigUnknownActivation", C,
     folder("config/unknown_activation", {"config.json": gpt2(activation_function="swish_v9")}),
     "ConfigError", "swish_v9", "an activation no layer implements")

# ---- native checkpoints (model_type "circuitscope") -----------------------------------------
NATIVE = json.load(open(os.path.join(ROOT, "resources/models/modadd/config.json")))


def native(**changes):
    c = dict(NATIVE)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c, indent=2)


case("NativeMissingField", C, folder("native/missing_n_heads", {"config.json": native(n_heads=None)}),
     "ConfigError", "required field \"n_heads\" is missing", "native configs spell out every field")
case("NativePerLayerListTooLong", C,
     folder("native/n_heads_too_long", {"config.json": native(n_heads=[4, 4])}),
     "ConfigError", "n_heads", "two head counts for one layer")
case("NativeNewerFormatVersion", C,
     folder("native/newer_format", {"config.json": native(format_version=99)}),
     "ConfigError", "format_version", "written by a newer circuitscope")
case("NativeWrongTensorShape", "hf_model", folder("native/wrong_tensor_shape", {
    "config.json": native(),
    "model.safetensors": st_entries({"embed.W_E": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}},
                                    b"\0" * 16)}),
     "ShapeError", "embed.W_E", "a checkpoint whose embedding has the wrong shape")

# ---- tokenizers --------------------------------------------------------------------------------
T = "tokenizer"
BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


def tokenizer_json(model):
    return json.dumps({"version": "1.0", "added_tokens": [], "normalizer": None,
                       "pre_tokenizer": BYTE_LEVEL, "post_processor": None, "decoder": BYTE_LEVEL,
                       "model": model})


case("TokenizerJsonNotJson", T, folder("tokenizer/json_not_json", {"tokenizer.json": '{"model": {'}),
     "FormatError", "tokenizer.json", "tokenizer.json cut short")
case("TokenizerJsonWordPiece", T, folder("tokenizer/json_wordpiece", {"tokenizer.json": tokenizer_json(
    {"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"})}),
     "ConfigError", "WordPiece", "a tokenizer kind that is not byte-level BPE")
case("TokenizerJsonMergeOfUnknownToken", T, folder("tokenizer/json_unknown_merge", {
    "tokenizer.json": tokenizer_json({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                                      "merges": ["a c"]})}),
     "FormatError", "'c'", "a merge of a token the vocabulary lacks")
case("TokenizerJsonNegativeId", T, folder("tokenizer/json_negative_id", {
    "tokenizer.json": tokenizer_json({"type": "BPE", "vocab": {"a": -3}, "merges": []})}),
     "FormatError", "-3", "a negative token id")
case("VocabNotAnObject", T, folder("tokenizer/vocab_not_object", {
    "vocab.json": "[1, 2, 3]", "merges.txt": "#version: 0.2\n"}),
     "FormatError", "vocab.json", "vocab.json must map tokens to ids")
case("VocabDuplicateId", T, folder("tokenizer/vocab_duplicate_id", {
    "vocab.json": '{"a": 0, "b": 0}', "merges.txt": "#version: 0.2\n"}),
     "FormatError", "id 0 is given to both", "two tokens with one id")
case("MergesLineWithThreeTokens", T, folder("tokenizer/merges_three_tokens", {
    "vocab.json": '{"a": 0, "b": 1, "ab": 2}', "merges.txt": "#version: 0.2\na b c\n"}),
     "FormatError", "expected two tokens separated by one space", "a malformed merges line")

# ---- masks -------------------------------------------------------------------------------------


def mask(**changes):
    doc = {"format": "circuitscope-mask", "version": 1, "description": "corpus",
           "model": {"family": "gpt2", "model_type": "gpt2", "config_sha256": None,
                     "weights_sha256": None, "n_layers": 2, "n_heads": [4, 4], "d_mlp": [256, 256]},
           "entries": [{"component": "head", "layer": 1, "index": 2, "mode": "zero",
                        "hook": "blocks.1.attn.hook_z", "hf_module": "transformer.h.1.attn.c_proj"}]}
    for k, v in changes.items():
        if k == "model":
            doc["model"].update(v)
        elif v is None:
            doc.pop(k)
        else:
            doc[k] = v
    return json.dumps(doc, indent=2)


M, MG = "mask_file", "mask_for_gpt2_tiny"
case("MaskNotJson", M, write("mask/not_json.json", '{"format": "circuitscope-mask", "entries": ['),
     "FormatError", "not_json.json", "mask file cut short")
case("MaskOtherFormat", M, write("mask/other_format.json", mask(format="torch-prune")),
     "FormatError", "torch-prune", "a JSON file of another program")
case("MaskNewerVersion", M, write("mask/newer_version.json", mask(version=7)),
     "FormatError", "version", "a mask written by a newer circuitscope")
case("MaskEntriesNotArray", M, write("mask/entries_not_array.json", mask(entries={"head": 1})),
     "FormatError", "entries", "entries must be a list")
case("MaskUnknownMode", M, write("mask/unknown_mode.json", mask(entries=[
    {"component": "head", "layer": 1, "index": 2, "mode": "explode",
     "hook": "blocks.1.attn.hook_z", "hf_module": "transformer.h.1.attn.c_proj"}])),
     "FormatError", "explode", "an ablation mode that does not exist")
case("MaskHeadOutOfRange", MG, write("mask/head_out_of_range.json", mask(entries=[
    {"component": "head", "layer": 1, "index": 9, "mode": "zero",
     "hook": "blocks.1.attn.hook_z", "hf_module": "transformer.h.1.attn.c_proj"}])),
     "FormatError", "entries[0].index is 9 but layer 1 of the model has 4 heads",
     "head 9 of a 4-head layer")
case("MaskWrongFingerprint", MG, write("mask/wrong_family.json", mask(
    model={"family": "llama", "model_type": "llama"},
    entries=[{"component": "head", "layer": 1, "index": 2, "mode": "zero",
              "hook": "blocks.1.attn.hook_z", "hf_module": "model.layers.1.self_attn.o_proj"}])),
     "ConfigError", "llama", "a mask made for another model family")
case("MaskOtherLayerCount", MG, write("mask/three_layers.json", mask(
    model={"n_layers": 3, "n_heads": [4, 4, 4], "d_mlp": [256, 256, 256]})),
     "ConfigError", "n_layers 3 there, 2 here", "a mask made for a deeper model of the same family")

# ---- prompt datasets (.jsonl) ------------------------------------------------------------------
P = "prompt_lines"
case("PromptsLineNotJson", P, write("prompts/line_not_json.jsonl",
                                    '{"prompt": "a", "target": " b"}\n{"prompt": "c", \n'),
     "FormatError", "line_not_json.jsonl:2", "the second line is cut short")
case("PromptsLineNotObject", P, write("prompts/line_not_object.jsonl", '["a", " b"]\n'),
     "FormatError", "not a JSON object", "a line that is a list")
case("PromptsMissingTarget", P, write("prompts/missing_target.jsonl", '{"prompt": "a"}\n'),
     "FormatError", "\"target\"", "target absent")
case("PromptsTargetNotString", P, write("prompts/target_number.jsonl", '{"prompt": "a", "target": 5}\n'),
     "FormatError", "\"target\" must be a non-empty string", "target given as a number")
case("PromptsEmptyFile", P, write("prompts/empty.jsonl", "\n\n"), "FormatError", "no prompts",
     "blank lines only")

# ---- images ------------------------------------------------------------------------------------


def png(width, height, rows=None):
    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload +
                struct.pack(">I", zlib.crc32(kind + payload) & 0xffffffff))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = rows if rows is not None else b"".join(b"\0" + b"\x80" * (3 * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) +
            chunk(b"IEND", b""))


I = "image"
good = png(8, 8)
case("ImageTruncatedPng", I, write("image/truncated.png", good[: len(good) // 2]), "FormatError",
     "truncated.png", "a PNG cut in the middle of its pixel data")
case("ImageEmptyFile", I, write("image/empty.png", b""), "FormatError", "empty.png", "zero bytes")
case("ImageZeroWidth", I, write("image/zero_width.png", png(0, 8, rows=b"\0" * 8)), "FormatError",
     "declares 0x8 pixels: it holds no image", "IHDR declares a width of 0")
case("ImageHugeDimensions", I, write("image/huge.png", png(100000, 100000, rows=b"\0")), "FormatError",
     "declares 100000x100000 pixels, over the limit", "dimensions that would need 30 GB are refused from the header")
case("ImageTextFile", I, write("image/text.png", "this is not an image\n"), "FormatError", "text.png",
     "a text file named .png")

# ---- HDF5 stores and result tables -------------------------------------------------------------
A, R = "activation_store", "result_table"


def h5(rel, groups, latest=False):
    full = os.path.join(HERE, rel)
    if os.path.exists(full):
        os.remove(full)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    subprocess.run(["h5mkgrp", "-p"] + (["-l"] if latest else []) + [full] + groups, check=True)
    return rel


case("StoreNotHdf5", A, write("store/not_hdf5.h5", "HDF? no, plain text\n" * 40), "FormatError",
     "not_hdf5.h5", "a text file named .h5")
case("StoreWithoutHeader", A, h5("store/no_header.h5", ["/activations", "/inputs"]), "FormatError",
     "no 'format' attribute", "an HDF5 file with the groups but none of the header attributes")
full = h5("store/truncated.h5", ["/activations/blocks.0.hook_resid_post"])
data = open(os.path.join(HERE, full), "rb").read()
write("store/truncated.h5", data[: len(data) // 3])
case("StoreTruncated", A, "store/truncated.h5", "IoError", "truncated file",
     "an HDF5 file cut to a third of its length")
case("StoreEmptyFile", A, write("store/empty.h5", b""), "FormatError", "empty.h5", "zero bytes")
# Found by fuzz_activation_store (docs/robustness.md): in SWMR-read mode HDF5 re-reads a block
# whose checksum fails with a doubling sleep, 100 times by default, so the open never returned.
# (A damaged object header would do as well, but HDF5 1.10 leaks a block decoding one, which
# the asan preset would report; the superblock's own checksum does not.)
full = os.path.join(HERE, h5("store/bad_checksum.h5", ["/activations", "/inputs", "/model"],
                             latest=True))
with open(full, "rb") as f:
    data = bytearray(f.read())
assert data[8] >= 2, "h5mkgrp -l must write a checksummed (version 2+) superblock"
data[44] ^= 0xFF  # the superblock's checksum: its last 4 of 48 bytes
write("store/bad_checksum.h5", bytes(data))
case("StoreBadChecksumDoesNotHang", A, "store/bad_checksum.h5", "IoError",
     "incorrect metadata checksum",
     "a checksum error in the latest file format (as circuitscope writes it) must fail fast")
case("ResultsNotHdf5", R, write("store/results_not_hdf5.h5", "x,y\n1,2\n"), "FormatError",
     "is not an HDF5 file", "a CSV file named .h5")
case("ResultsMissingRun", R, h5("store/results_other_run.h5", ["/results/corpus/other"]), "ConfigError",
     "other", "the run asked for is absent; the message lists the runs there are")

manifest = {
    "about": "Malformed inputs, one per case: tests/data/malformed_inputs_test.cpp calls the loader "
             "on path (relative to this folder) and expects the error type with message in its "
             "text. Regenerate with generate.py.",
    "loaders": {
        "safetensors": "data::SafetensorsFile::open(file)",
        "hf_model": "models::loadHfModel(folder)",
        "hf_config": "models::readHfConfig(folder)",
        "tokenizer": "data::loadTokenizer(folder)",
        "mask_file": "models::readMaskFile(file)",
        "mask_for_gpt2_tiny": "models::loadMaskFile(file, fingerprint and config of hf/gpt2-tiny)",
        "prompt_lines": "data::readPromptLines(file)",
        "image": "data::decodeImage(file)",
        "activation_store": "data::ActivationStoreReader(file)",
        "result_table": "data::readResultTable(file, \"corpus\", \"run\")",
    },
    "cases": cases,
}
with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
print(len(cases), "cases")
