"""The engine: from the model's logits and the controls to the next token. No I/O and no time here.
Imports core/ and itself.

    curves        knob curves (linear, geometric, choices) and the checks of a control's values
    declaration   every musical control declared once: name, default, range, curve, help, key, CC
    controlstate  the control state (one frozen value per step) made from the declaration; the Controls protocol,
                  and the overlay of one controls over another (last moved wins)
    model         the step model: a .tflite run one token at a time, its state kept here
    sampling      the next token from logits: temperature, tail cut, scale, register, harmony, density
    dejavu        the last bars recorded step by step, so they can be replayed
    generator     step model + sampler + deja-vu: one token per call
    guard         notices a degenerate melody and sends the box back to its primed state
    dynamics      articulation: when a step plays, how loud a note starts, when it ends
"""
