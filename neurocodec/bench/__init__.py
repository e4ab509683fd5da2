"""Benchmarks: classical and learned codecs measured on the same files (`neurocodec bench`).

`image`, `video` and `audio` hold the harnesses, `classical` the codec adapters and the registry
lookup, `metrics` and `bdrate` the numbers, `report` the result files.
"""
