"""The benchmarks `melodybox bench` runs, on a desktop or a Pi (figures in BENCHMARKS.md). May import anything of
device/; nothing imports them but the CLI, lazily.

    run    the entry point: step latency, start-up, memory, note timing, and the others on request
    clock  follow-mode note timing and lead-mode pulse jitter, each against a perfect reference
    answer call and response: a player, calls, and the reference answer
    soak   weeks of playing, accelerated, with faults thrown in
    net    note timing with the page, API and OSC open, idle and with 200 requests a second, against a reference
"""
