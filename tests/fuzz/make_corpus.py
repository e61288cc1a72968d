#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): small valid and
near-valid inputs, plus copies of the matching malformed cases of tests/data/bad. The activation
store seeds are written by the fuzz target itself (CS_FUZZ_WRITE_SEEDS, see docs/robustness.md)
and left alone here. Run from anywhere: python3 tests/fuzz/make_corpus.py"""
import glob
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")
BAD = os.path.join(ROOT, "tests", "data", "bad")
MAX_COPY = 16 << 10  # fixtures larger than this are not copied: seeds must stay small


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def copy(target, prefix, pattern):
    for path in sorted(glob.glob(os.path.join(BAD, pattern))):
        if os.path.getsize(path) > MAX_COPY:
            continue
        rel = os.path.relpath(path, BAD).replace(os.sep, "_")
        with open(path, "rb") as f:
            write(target, prefix + rel, f.read())


def reset(target):
    shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)


# ---- safetensors -----------------------------------------------------------------------------
def safetensors(tensors, metadata=None, align=True):
    """tensors: [(name, dtype, shape, bytes)]"""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":"))
    if align:
        text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + data


F32 = lambda values: struct.pack("<%df" % len(values), *values)
reset("safetensors")
write("safetensors", "small_dtypes.safetensors", safetensors([
    ("wte.weight", "F32", [2, 3], F32([0.5, -1, 2, 3, 4, 5])),
    ("half", "F16", [2], b"\x00\x3c\x00\xc0"),
    ("bf", "BF16", [1, 2], b"\x80\x3f\x00\x40"),
    ("ids", "I64", [2], struct.pack("<2q", 7, -1)),
    ("mask", "BOOL", [3], b"\x01\x00\x01"),
    ("bytes", "U8", [2, 1], b"\xff\x00"),
    ("empty", "F32", [0, 4], b""),
    ("scalar", "F64", [], struct.pack("<d", 3.25)),
], metadata={"format": "pt"}))
write("safetensors", "unaligned.safetensors",
      safetensors([("a", "F32", [3], F32([1, 2, 3])), ("b", "I32", [1], b"\x01\0\0\0")], align=False))
write("safetensors", "gpt2_names.safetensors", safetensors([
    ("transformer.h.0.attn.c_attn.weight", "F32", [2, 6], F32(range(12))),
    ("transformer.h.0.attn.c_attn.bias", "F32", [6], F32(range(6))),
    ("transformer.ln_f.weight", "F16", [2], b"\x00\x3c\x00\x3c"),
], metadata={"format": "pt", "note": "seed"}))
write("safetensors", "empty_header.safetensors", safetensors([]))
copy("safetensors", "bad_", "safetensors/*.safetensors")

# ---- safetensors index -----------------------------------------------------------------------
# The shards are written by fuzz_safetensors_index itself; these names match them.
SHARD1, SHARD2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
reset("safetensors_index")
full = {"wte.weight": SHARD1, "h.0.ln.bias": SHARD1, "h.0.mlp.weight": SHARD2,
        "lm_head.weight": SHARD2}
write("safetensors_index", "valid.json",
      json.dumps({"metadata": {"total_size": 128}, "weight_map": full}, indent=2))
write("safetensors_index", "one_shard.json",
      json.dumps({"weight_map": {"wte.weight": SHARD1, "h.0.ln.bias": SHARD1}}))
write("safetensors_index", "wrong_shard.json",
      json.dumps({"weight_map": {"wte.weight": SHARD2, "lm_head.weight": SHARD2}}))
write("safetensors_index", "path_in_name.json",
      json.dumps({"weight_map": {"wte.weight": "../" + SHARD1}}))
write("safetensors_index", "missing_file.json",
      json.dumps({"weight_map": {"wte.weight": "model-00003-of-00003.safetensors"}}))
write("safetensors_index", "not_string.json", json.dumps({"weight_map": {"wte.weight": 1}}))
write("safetensors_index", "no_map.json", json.dumps({"metadata": {}}))

# ---- config.json -----------------------------------------------------------------------------
reset("config_json")
for family in ("gpt2-tiny", "llama-tiny", "vit-tiny"):
    with open(os.path.join(ROOT, "tests", "data", "hf", family, "config.json"), "rb") as f:
        write("config_json", family + ".json", f.read())
write("config_json", "qwen2.json", json.dumps({
    "model_type": "qwen2", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
    "num_key_value_heads": 2, "intermediate_size": 96, "max_position_embeddings": 64,
    "vocab_size": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "sliding_window": 32,
    "use_sliding_window": True, "tie_word_embeddings": True}))
write("config_json", "llama3_rope.json", json.dumps({
    "model_type": "llama", "num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
    "num_key_value_heads": 1, "intermediate_size": 48, "max_position_embeddings": 128,
    "vocab_size": 64, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
                                       "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                       "original_max_position_embeddings": 64}}))
write("config_json", "mistral.json", json.dumps({
    "model_type": "mistral", "num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 4,
    "num_key_value_heads": 4, "intermediate_size": 64, "max_position_embeddings": 32,
    "vocab_size": 32, "sliding_window": 16, "head_dim": 8}))
copy("config_json", "bad_", "config/*/config.json")
copy("config_json", "bad_", "native/*/config.json")

# ---- tokenizers ------------------------------------------------------------------------------
def byte_map():
    out, nxt = {}, 256
    for b in range(256):
        prints = ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or b >= 0xAE
        out[b] = chr(b if prints else nxt)
        if not prints:
            nxt += 1
    return out


BYTES = byte_map()
G = BYTES[ord(" ")]  # 'Ġ'
# A small byte-level vocabulary: printable ASCII, space, newline, a few merges.
VOCAB = {}
for b in list(range(ord("!"), ord("~") + 1)) + [ord(" "), ord("\n"), 0xC3, 0xA9]:
    VOCAB[BYTES[b]] = len(VOCAB)
MERGES = [(G, "t"), ("h", "e"), (G + "t", "he"), ("i", "n"), (G, "M"), ("a", "r"), (G + "M", "ar")]
for a, b in MERGES:
    VOCAB[a + b] = len(VOCAB)

reset("tokenizer_json")


def tokenizer_json(pre, post=None, added=None, merges_as_pairs=False, normalizer=None, **model):
    doc = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": added or [], "normalizer": normalizer, "pre_tokenizer": pre,
           "post_processor": post, "decoder": {"type": "ByteLevel"},
           "model": dict({"type": "BPE", "dropout": None, "unk_token": None, "vocab": VOCAB,
                          "merges": [[a, b] if merges_as_pairs else a + " " + b
                                     for a, b in MERGES]}, **model)}
    return json.dumps(doc, ensure_ascii=False)


SPECIAL = {"id": len(VOCAB), "content": "<|endoftext|>", "special": True}
write("tokenizer_json", "gpt2_style.json", tokenizer_json(
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    added=[SPECIAL]))
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
                r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
BOT = {"id": len(VOCAB) + 1, "content": "<|begin_of_text|>", "special": True}
write("tokenizer_json", "llama3_style.json", tokenizer_json(
    {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    post={"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [], "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>",
                                                               "ids": [BOT["id"]], "tokens": []}}}]},
    added=[SPECIAL, BOT], merges_as_pairs=True, ignore_merges=True))
write("tokenizer_json", "split_string.json", tokenizer_json(
    {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": " "}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": True, "use_regex": False}]}))
write("tokenizer_json", "no_regex_nfc.json", tokenizer_json(
    {"type": "ByteLevel", "add_prefix_space": True, "use_regex": False},
    normalizer={"type": "NFC"}))
copy("tokenizer_json", "bad_", "tokenizer/json_*/tokenizer.json")

reset("vocab_merges")
merges_txt = "#version: 0.2\n" + "".join(a + " " + b + "\n" for a, b in MERGES)
write("vocab_merges", "small.bin", json.dumps(VOCAB, ensure_ascii=False) + "\0" + merges_txt)
write("vocab_merges", "crlf.bin",
      json.dumps(VOCAB, ensure_ascii=False) + "\0" + merges_txt.replace("\n", "\r\n"))
write("vocab_merges", "no_merges.bin", json.dumps(VOCAB, ensure_ascii=False) + "\0")
for folder in sorted(glob.glob(os.path.join(BAD, "tokenizer", "*"))):
    if os.path.exists(os.path.join(folder, "vocab.json")):
        with open(os.path.join(folder, "vocab.json"), "rb") as v, \
                open(os.path.join(folder, "merges.txt"), "rb") as m:
            write("vocab_merges", "bad_" + os.path.basename(folder) + ".bin", v.read() + b"\0" + m.read())

# SentencePiece: the BPE fixture (the unigram one is too large to be a useful seed), and the same
# file cut short and with its first piece's score field damaged.
reset("tokenizer_model")
with open(os.path.join(ROOT, "tests", "data", "tokenizer", "sentencepiece", "bpe.model"), "rb") as f:
    SPM = f.read()
write("tokenizer_model", "bpe.model", SPM)
write("tokenizer_model", "bpe_cut.model", SPM[: len(SPM) // 2])
write("tokenizer_model", "bpe_damaged.model", SPM[:12] + bytes([SPM[12] ^ 0x07]) + SPM[13:])

# ---- masks -----------------------------------------------------------------------------------
# Made for the model fuzz_mask_json checks against: gpt2, 2 layers, 4 heads, 256 MLP neurons.
reset("mask_json")
MODEL = {"family": "gpt2", "model_type": "gpt2", "config_sha256": None, "weights_sha256": None,
         "n_layers": 2, "n_heads": [4, 4], "d_mlp": [256, 256]}
ENTRIES = [
    {"component": "head", "layer": 1, "index": 2, "mode": "zero", "hook": "blocks.1.attn.hook_z",
     "hf_module": "transformer.h.1.attn.c_proj"},
    {"component": "neuron", "layer": 0, "index": 117, "mode": "mean",
     "hook": "blocks.0.mlp.hook_post", "hf_module": "transformer.h.0.mlp.c_proj"},
    {"component": "attn", "layer": 0, "mode": "scale", "value": 1.5,
     "hook": "blocks.0.hook_attn_out", "hf_module": "transformer.h.0.attn"},
    {"component": "mlp", "layer": 1, "mode": "zero"},
    {"component": "block", "layer": 1, "mode": "resample", "hook": "blocks.1.hook_resid_post",
     "hf_module": "transformer.h.1"},
]
write("mask_json", "valid.json", json.dumps(
    {"format": "circuitscope-mask", "version": 1, "description": "seed", "model": MODEL,
     "entries": ENTRIES}, indent=2))
write("mask_json", "minimal.json", json.dumps(
    {"format": "circuitscope-mask", "version": 1, "model": MODEL, "entries": []}))
write("mask_json", "digests.json", json.dumps(
    {"format": "circuitscope-mask", "version": 1,
     "model": dict(MODEL, config_sha256="b" * 64, weights_sha256="0" * 64),
     "entries": ENTRIES[:1]}))
write("mask_json", "llama.json", json.dumps(
    {"format": "circuitscope-mask", "version": 1,
     "model": dict(MODEL, family="llama", model_type="llama"),
     "entries": [{"component": "head", "layer": 0, "index": 3, "mode": "scale", "value": -0.25}]}))
copy("mask_json", "bad_", "mask/*.json")

# ---- prompt lines ----------------------------------------------------------------------------
reset("prompt_lines")
write("prompt_lines", "ioi.jsonl", "".join(json.dumps(r) + "\n" for r in [
    {"prompt": "When Mary and John went to the store, John gave a drink to", "target": " Mary",
     "foil": " John"},
    {"prompt": "Then, Alice and Bob had a long day. Bob gave a book to", "target": " Alice",
     "foil": " Bob"}]))
write("prompt_lines", "no_foil.jsonl",
      '{"prompt": "The capital of France is", "target": " Paris"}\n\n'
      '{"prompt": "caf\\u00e9 <|endoftext|> 2 + 2 =", "target": " 4", "foil": null}\r\n')
write("prompt_lines", "unicode.jsonl",
      json.dumps({"prompt": "日本語のテキスト 🤗", "target": " ok"}, ensure_ascii=False) + "\n")
copy("prompt_lines", "bad_", "prompts/*.jsonl")

# ---- activation stores -----------------------------------------------------------------------
# Stores written by ActivationStoreWriter (through the fuzz target's CS_FUZZ_WRITE_SEEDS mode,
# when build/fuzz holds it), rechunked by h5repack to a few KiB: as written, each dataset's
# first chunk is ~100 KiB of zeros where mutations are wasted. One copy is in the latest file
# format (checksummed metadata, as circuitscope writes it), the others in HDF5's default format,
# whose unchecksummed metadata lets mutations reach HDF5's decoders. Without the build the
# existing seeds are kept.
STORE = os.path.join(CORPUS, "activation_store")
FUZZ_STORE = os.path.join(ROOT, "build", "fuzz", "fuzz", "fuzz_activation_store")
if os.path.exists(FUZZ_STORE) and shutil.which("h5repack"):
    import subprocess
    import tempfile
    reset("activation_store")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([FUZZ_STORE], env=dict(os.environ, CS_FUZZ_WRITE_SEEDS=tmp), check=True,
                       stdout=subprocess.DEVNULL)
        chunks = ["-l", "/inputs/tokens:CHUNK=2x3",
                  "-l", "/activations/blocks.0.hook_resid_post:CHUNK=2x3x2"]
        os.makedirs(STORE, exist_ok=True)
        for name in sorted(os.listdir(tmp)):
            subprocess.run(["h5repack"] + chunks + [os.path.join(tmp, name),
                                                    os.path.join(STORE, name)], check=True)
        subprocess.run(["h5repack", "-L"] + chunks + [
            os.path.join(tmp, "float32_complete.h5"), os.path.join(STORE, "latest_format.h5")],
            check=True)
copy("activation_store", "bad_", "store/*.h5")
print("wrote", CORPUS)
