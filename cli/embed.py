#!/usr/bin/env python3
"""Writes a C file defining `const char SYMBOL[]` with the bytes of a file (the built-in catalog)."""
import sys

src, out, symbol = sys.argv[1:4]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write(f"/* Generated from {src.split('/')[-1]} by cli/embed.py. */\n")
    f.write(f"const char {symbol}[] = {{\n")
    for i in range(0, len(data), 16):
        f.write("    " + " ".join(f"0x{b:02x}," for b in data[i:i + 16]) + "\n")
    f.write("    0x00};\n")
