"""The controls: how a musician turns the declared controls (engine/declaration.py) and presses the buttons.
Imports core/, engine/, midi/ and itself.

    gpio      knobs (MCP3008 pots, a rotary encoder), buttons and the LED through gpiozero
    keyboard  the desktop's keys: every control's letter, down and up
    cc        MIDI CC on the input: any control on a CC number
"""
