"""The network: the web page and its JSON API, OSC in and out, mDNS, as surfaces of the control declaration.
Imports core/, engine/, controls/, play/ and itself (the app, device/remote.py, builds them from the config).

The servers run on threads of their own and hand the loop checked changes through a bounded queue that
the loop drains once per step, exactly like the keyboard or MIDI CC: the loop never waits on a socket.
Reads come from the loop's last StepReports, never from asking the loop. Every control's name, check
and reason comes from the declaration (engine/declaration.py), so a new control is on the page, in the
API and at its OSC address without an edit here.

    address     [HOST:]PORT to listen on, HOST:PORT to send to
    auth        the token writes need: made, stored (0600), found, compared in constant time
    changes     the bounded queue of checked changes, and NetControls, the loop's controls over the others
    live        the loop's last steps as the network sees them, and their JSON
    server      the HTTP server: threads bounded, bodies limited, quiet, on a thread of its own
    api         every route of the JSON API and the page, with its token check and its reasons
    captures    taking a capture, listing them, handing one out by a name from the listing only
    library     the installed models: listing, switching between two steps, checked uploads
    configfile  the box.toml the box started with: shown, checked as at start and replaced atomically
    osc         OSC in (every control and button) and out (notes and steps), junk ignored
    mdns        advertising the box on the local network with zeroconf, where it is installed
    static/     the page: index.html, app.js, style.css (no build step, nothing from the internet)
"""
